"""Work whose worker stopped goes back in its queue, by itself; the queues keep one kind of
work from waiting behind another. (The same with real killed processes:
tests/test_crash_recovery.py.)"""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult

from participants import tasks
from participants.models import Upload
from participants.notifications import send_rejection_digests
from participants.parsers import TEMPLATE_HEADERS
from participants.reverification import verify_pending
from participants.services.uploads import check_upload, commit_upload
from participants.transmission import transmit_to_board
from participants.workers import QuietWorker, recover_stalled_work

# Uploaded and generated files go to each test's own folder.
pytestmark = pytest.mark.usefixtures("media_root")


def queued(task, *args, worker="worker-1", started=None):
    """A task as the database backend stores it, claimed by `worker` at `started`."""
    result = stored(task, *args)
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


# --- The worker that waits quietly (participants.workers.QuietWorker) ------------------------


def quiet_worker(queues="uploads", excluded="", **options):
    return QuietWorker(
        queue_names=queues.split(","), excluded_queue_names=[q for q in excluded.split(",") if q],
        interval=0, backend_name="default", max_tasks=options.get("max_tasks"),
        worker_id="quiet-test",
    )  # fmt: skip


def stored(task, *args, later=None):
    """A task queued as the database backend stores it (`later`: deferred by that long)."""
    backend = DatabaseBackend("default", {"QUEUES": tasks.QUEUES})
    result = DBTaskResult.objects.get(pk=backend.enqueue(task, args, {}).id)
    if later is not None:
        result.run_after = timezone.now() + later
        result.save(update_fields=["run_after"])
    return result


def test_an_idle_worker_only_reads_until_a_task_of_its_queues_is_ready(received, monkeypatch):
    """While its queues are empty (a task deferred to later, another queue's task), a worker
    reads, one plain SELECT a poll: no transaction, so none of the database's write lock
    (the library's idle loop took it at every poll); the poll after a task is queued ends
    the wait."""
    stored(check_upload, received.pk, later=dt.timedelta(hours=1))
    stored(transmit_to_board)
    polls, enqueued = [], []

    def sleep(seconds):
        polls.append(seconds)
        if len(polls) == 3:  # the provider uploads a file
            before = len(queries.captured_queries)
            stored(check_upload, received.pk)
            enqueued.extend(queries.captured_queries[before:])

    monkeypatch.setattr("participants.workers.time.sleep", sleep)
    worker = quiet_worker()
    with CaptureQueriesContext(connection) as queries:
        worker.wait_for_work()
    assert len(polls) == 3
    worker_queries = [q["sql"] for q in queries.captured_queries if q not in enqueued]
    assert len(worker_queries) == 4
    assert all(sql.startswith("SELECT 1 FROM") for sql in worker_queries), worker_queries


def test_a_worker_runs_what_is_ready_in_its_queues_and_leaves_the_rest(received, monkeypatch):
    # The library's loop closes a connection found inside a transaction, as every test's
    # is (its own test database transaction); real workers: tests/test_crash_recovery.py.
    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)
    deferred = stored(check_upload, received.pk, later=dt.timedelta(hours=1))
    other_queue = stored(transmit_to_board)
    ready = stored(check_upload, received.pk)
    quiet_worker(max_tasks=1).run()
    ready.refresh_from_db()
    assert ready.status == TaskResultStatus.SUCCESSFUL
    received.refresh_from_db()
    assert received.status == Upload.Status.PREVIEW  # checked by the worker
    for task in (deferred, other_queue):
        task.refresh_from_db()
        assert task.status == TaskResultStatus.READY


@pytest.mark.parametrize(
    "queues,excluded", [("uploads", ""), ("board,default", ""), ("*", ""), ("*", "uploads")]
)
def test_the_workers_plain_poll_finds_what_the_librarys_claim_would(db, queues, excluded):
    """The poll's own SQL and the library's filter (`ready_tasks`, what its loop claims from)
    agree, task after task: deferred to later or to a moment passed, running, in another
    queue or for another backend."""
    worker = quiet_worker(queues, excluded)
    steps = [
        lambda: stored(verify_pending, later=dt.timedelta(minutes=5)),
        lambda: DBTaskResult.objects.filter(pk=stored(send_rejection_digests).pk).update(
            backend_name="elsewhere"),
        lambda: stored(check_upload, 1).claim("someone"),
        lambda: stored(send_rejection_digests),
        lambda: stored(transmit_to_board, later=-dt.timedelta(seconds=1)),
        lambda: stored(commit_upload, 1),
    ]  # fmt: skip
    seen = [worker.something_ready()]
    for step in steps:
        step()
        assert worker.something_ready() == worker.ready_tasks().exists()
        seen.append(worker.something_ready())
    assert seen[0] is False and seen[-1] is True


def test_a_worker_that_finds_its_task_taken_waits_before_looking_again(db, monkeypatch):
    """Two idle workers see the same task; one claims it. The other must wait a poll before
    looking again, not loop at full speed while the first one runs the task."""
    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)  # (see above)
    worker = quiet_worker()
    monkeypatch.setattr(worker, "something_ready", lambda: True)  # seen, then taken
    naps, claims = [], []
    library_run = db_worker.Worker.run

    def claim_and_run(self):
        claims.append(1)
        if len(claims) == 3:
            self.running = False  # (stop the test)
        library_run(self)

    monkeypatch.setattr(db_worker.Worker, "run", claim_and_run)
    monkeypatch.setattr("participants.workers.time.sleep", naps.append)
    worker.run()
    assert len(claims) == 3
    assert len(naps) >= 2  # a poll's wait after each claim that found nothing
