"""Background work (django-tasks; `manage.py run_workers` runs it, tests run it at once).

Three queues, each with its own workers (`participants.workers`), so that one kind of work
never waits behind another: a provider's large upload never delays the board's
transmission or the rejection digests.
"""

from django_tasks import task

from . import services

UPLOADS = "uploads"  # checking and saving uploaded files
BOARD = "board"  # transmission to the board, verification the board could not answer
DEFAULT = "default"  # rejection digests (email)
QUEUES = [DEFAULT, UPLOADS, BOARD]


@task(queue_name=UPLOADS)
def check_upload(upload_id: int) -> None:
    services.upload_check(upload_id=upload_id)


@task(queue_name=UPLOADS)
def commit_upload(upload_id: int) -> None:
    services.upload_commit(upload_id=upload_id)


@task(queue_name=BOARD)
def verify_pending() -> dict:
    return services.completions_verify_pending()


@task(queue_name=BOARD)
def transmit_to_board(requested_by: int | None = None) -> int:
    from django.contrib.auth import get_user_model

    from .transmission import transmit  # transmission → tasks (digests) → transmission

    actor = get_user_model().objects.filter(pk=requested_by).first() if requested_by else None
    return len(transmit(actor=actor))


@task(queue_name=DEFAULT)
def send_rejection_digests(record_ids: list[int], by_board: bool = False) -> int:
    from .notifications import notify_rejections  # notifications → models only; kept lazy

    return notify_rejections(record_ids, by_board=by_board)
