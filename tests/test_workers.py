"""Work whose worker stopped goes back in its queue, by itself; the queues keep one kind of
work from waiting behind another. (The same with real killed processes:
tests/test_crash_recovery.py.)"""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from participants import tasks
from participants.models import Upload
from participants.notifications import send_rejection_digests
from participants.parsers import TEMPLATE_HEADERS
from participants.reverification import verify_pending
from participants.services.uploads import check_upload, commit_upload
from participants.transmission import transmit_to_board
from participants.workers import recover_stalled_work

# Uploaded and generated files go to each test's own folder.
pytestmark = pytest.mark.usefixtures("media_root")


def queued(task, *args, worker="worker-1", started=None):
    """A task as the database backend stores it, claimed by `worker` at `started`."""
    backend = DatabaseBackend("default", {"QUEUES": tasks.QUEUES})
    result = DBTaskResult.objects.get(pk=backend.enqueue(task, args, {}).id)
    result.claim(worker)
    if started:
        DBTaskResult.objects.filter(pk=result.pk).update(started_at=started)
    return result


@pytest.fixture
def received(client_of, editor_a, activity_a, roster):
    """An upload its check never finished: the worker stopped while it was received."""
    line = f"add,{activity_a.pars_id},ABIM,123456,Jane,Smith,7,14,12/18/2015,MK,10,,Y,"
    content = f"{','.join(TEMPLATE_HEADERS)}\r\n{line}\r\n".encode()
    client_of(editor_a).post(reverse("upload_create"),
                             {"file": SimpleUploadedFile("p.csv", content)})  # fmt: skip
    upload = Upload.objects.get()
    Upload.objects.filter(pk=upload.pk).update(status=Upload.Status.VALIDATING, processed_rows=0)
    return upload


def test_the_task_of_a_dead_worker_is_failed_and_queued_again(received):
    stopped = queued(check_upload, received.pk)
    assert recover_stalled_work(dead_workers=["worker-1"]) == ["check_upload"]
    stopped.refresh_from_db()
    assert stopped.status == TaskResultStatus.FAILED
    assert "stopped" in stopped.traceback
    received.refresh_from_db()
    assert received.status == Upload.Status.PREVIEW  # queued again, and checked
    assert recover_stalled_work(dead_workers=["worker-1"]) == []  # once


def test_an_upload_without_progress_for_a_while_is_queued_again(received, settings):
    settings.TASK_STALE_MINUTES = 10
    long_ago = timezone.now() - dt.timedelta(minutes=11)
    stopped = queued(check_upload, received.pk, started=long_ago)
    Upload.objects.filter(pk=received.pk).update(heartbeat_at=long_ago)
    assert recover_stalled_work() == ["check_upload"]
    received.refresh_from_db()
    assert received.status == Upload.Status.PREVIEW
    stopped.refresh_from_db()
    assert stopped.status == TaskResultStatus.FAILED


def test_an_upload_still_making_progress_is_left_alone(received, settings):
    settings.TASK_STALE_MINUTES = 10
    running = queued(check_upload, received.pk,
                     started=timezone.now() - dt.timedelta(hours=2))  # fmt: skip
    Upload.objects.filter(pk=received.pk).update(heartbeat_at=timezone.now())
    assert recover_stalled_work() == []
    running.refresh_from_db()
    assert running.status == TaskResultStatus.RUNNING


def test_another_task_running_too_long_is_queued_again(db, settings):
    settings.TASK_STALE_MINUTES = 10
    stopped = queued(transmit_to_board, started=timezone.now() - dt.timedelta(minutes=30))
    recent = queued(verify_pending, worker="worker-2")
    assert recover_stalled_work() == ["transmit_to_board"]
    stopped.refresh_from_db()
    recent.refresh_from_db()
    assert (stopped.status, recent.status) == (TaskResultStatus.FAILED, TaskResultStatus.RUNNING)


def test_each_kind_of_work_has_its_own_queue():
    assert (check_upload.queue_name, commit_upload.queue_name) == ("uploads",) * 2
    assert (transmit_to_board.queue_name, verify_pending.queue_name) == ("board",) * 2
    assert send_rejection_digests.queue_name == "default"


def test_the_workers_know_the_upload_tasks_by_their_real_paths():
    """The workers watch uploads by task path; a task moved without its path would leave
    its uploads unwatched after a worker dies."""
    assert (check_upload.module_path, commit_upload.module_path) == tasks.UPLOAD_TASKS
