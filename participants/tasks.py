"""Background work (django-tasks; `manage.py run_workers` runs it, tests run it at once).

Each task is defined beside the work it does: `services.uploads` (check_upload,
commit_upload), `reverification` (verify_pending), `transmission`
(transmit_to_board), `notifications` (send_rejection_digests). This module names the three
queues, each with its own workers (`participants.workers`), so that one kind of work never
waits behind another: a provider's large upload never delays the board's transmission or
the rejection digests.
"""

UPLOADS = "uploads"  # checking and saving uploaded files
BOARD = "board"  # transmission to the board, verification the board could not answer
DEFAULT = "default"  # rejection digests (email)
QUEUES = [DEFAULT, UPLOADS, BOARD]

# The upload tasks by path, for the workers that watch them (tests hold them equal to the
# tasks' own paths).
UPLOAD_TASKS = (
    "participants.services.uploads.check_upload",
    "participants.services.uploads.commit_upload",
)
