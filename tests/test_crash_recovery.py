"""Crash recovery (issue #8), for real: a task worker (`manage.py task_worker`) killed with
SIGKILL in the middle of saving a large upload leaves it resumable and never half-written,
and a restarted worker picks up the work that was queued.

Everything runs as the portal runs in production: separate processes with the normal
settings (`pars_portal.settings`, tasks queued in the database by django-tasks-db, not run
at once as in the other tests), on a throwaway database — a SQLite file always, and a
throwaway PostgreSQL database too when DATABASE_URL points to a PostgreSQL server (as in
CI). The test process never touches that database itself: this same file, run as a script,
sets up, inspects and acts as a user would (`python tests/test_crash_recovery.py <command>`).

What a user would notice, checked after the kill: the upload still says "Saving records…",
the records saved are exactly the batches whose progress was saved (a whole number of
batches, each with its history entry, none twice), and once the worker has been silent for
UPLOAD_STALE_MINUTES the page offers *Resume saving*; resuming, with a new worker, ends with
every row saved exactly once and the upload done.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

# Real processes on a throwaway database, a worker killed mid-save: minutes, not seconds.
pytestmark = pytest.mark.slow

BASE_DIR = Path(__file__).resolve().parent.parent
ROWS = 24_000
BATCH = 400  # INTAKE_BATCH_SIZE for the workers: 60 batches, each in its own transaction
SMALL_ROWS = 10  # a second upload, queued while the first one is being saved
STALE_MINUTES = 10


# === The test ==================================================================================


def _postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty database that only this test's processes use."""
    if request.param == "sqlite":
        if _postgres_url():
            # (This file also runs as a script, before Django is set up: no conftest import.)
            pytest.skip("the SQLite variant runs on a SQLite file of its own, whatever "
                        "DATABASE_URL says; CI's SQLite pass ran it")  # fmt: skip
        yield f"sqlite:///{tmp_path / 'db.sqlite3'}"
        return
    server = _postgres_url()
    if server is None:
        pytest.skip("DATABASE_URL is not a PostgreSQL server (the SQLite variant runs)")
    import psycopg

    parts = urlsplit(server)
    name = f"pars_crash_{uuid.uuid4().hex[:12]}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Portal:
    """The portal's processes on one throwaway database."""

    def __init__(self, database_url, folder: Path):
        self.folder = folder
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"TASKS_BACKEND", "UPLOAD_STALE_MINUTES", "DJANGO_SETTINGS_MODULE"}
        }
        self.env.update(
            DJANGO_SETTINGS_MODULE="pars_portal.settings",
            DATABASE_URL=database_url,
            MEDIA_ROOT=str(folder / "media"),
            INTAKE_BATCH_SIZE=str(BATCH),
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
            DEBUG="",
        )
        self.workers: list[subprocess.Popen] = []

    def run(self, *args, timeout=120) -> dict:
        """Run a command of this file's script part; return the JSON it prints last."""
        return self.result(self.spawn(*args), timeout)

    def spawn(self, *args) -> subprocess.Popen:
        """Start a command of this file's script part (see `result`)."""
        return subprocess.Popen(
            [sys.executable, __file__, *map(str, args)], cwd=BASE_DIR, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    @staticmethod
    def result(process: subprocess.Popen, timeout=120) -> dict:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        assert process.returncode == 0, f"{process.args}: {stdout[-3000:]}\n{stderr[-3000:]}"
        return json.loads(stdout.strip().splitlines()[-1])

    def manage(self, *args, timeout=120):
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR, env=self.env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    def start_worker(self) -> subprocess.Popen:
        number = len(self.workers) + 1
        log = open(self.folder / f"worker-{number}.log", "wb")  # noqa: SIM115 - kept open
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "task_worker", "--interval", "0.1", "--queue-name", "*",
             "--no-startup-delay", "--no-reload", "--worker-id", f"crash-test-{number}"],
            cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.workers.append(worker)
        return worker

    def start_supervisor(self, upload_workers: int) -> subprocess.Popen:
        """`manage.py run_workers`, as `make run` and production run the workers."""
        log = open(self.folder / "supervisor.log", "wb")  # noqa: SIM115 - kept open
        supervisor = subprocess.Popen(
            [sys.executable, "manage.py", "run_workers", "--upload-workers",
             str(upload_workers), "--interval", "0.1"],
            cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.workers.append(supervisor)
        return supervisor

    def supervised(self) -> dict[int, str]:
        """The supervisor's workers now alive: pid → queue."""
        text = (self.folder / "supervisor.log").read_text(errors="replace")
        started = re.findall(r"worker (\S+): queue (\S+) \(pid (\d+)\)", text)
        stopped = set(re.findall(r"worker (\S+) stopped", text))
        return {int(pid): queue for worker, queue, pid in started if worker not in stopped}

    def log(self, number) -> str:
        return (self.folder / f"worker-{number}.log").read_text(errors="replace")[-3000:]

    def stop(self):
        for worker in self.workers:
            if worker.poll() is None:
                worker.terminate()  # only the workers this test started
                try:
                    worker.wait(30)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait(10)


@pytest.fixture
def portal(database_url, tmp_path):
    portal = Portal(database_url, tmp_path)
    yield portal
    portal.stop()


def test_worker_killed_mid_save_leaves_the_upload_resumable_and_a_new_worker_finishes_it(
    portal,
):
    started = time.monotonic()
    portal.manage("migrate", "--noinput")
    setup = portal.run("setup", ROWS)
    upload_id = setup["upload"]

    # Uploaded while no worker runs: its check waits in the queue...
    state = portal.run("state", upload_id)
    assert state["status"] == "received"
    assert state["tasks_of_upload"] == [["check_upload", "READY"]]

    # ...and the first worker to start picks it up.
    first = portal.start_worker()
    state = portal.run("wait", upload_id, "preview", 90)
    assert state["status"] == "preview", portal.log(1)
    assert state["preview_totals"] == {
        "created": ROWS, "already_reported": 0, "deleted": 0, "error": 0,
    }  # fmt: skip
    assert state["records"] == 0  # the check writes no record

    # Confirm as the user would; a second file is uploaded while the first is being saved
    # (one worker runs one task at a time: its check waits); kill the worker mid-save.
    killed = portal.run("confirm_and_kill", upload_id, first.pid, ROWS // 4)
    first.wait(10)
    assert first.returncode == -signal.SIGKILL
    seen = killed["committed_rows_seen"]
    assert BATCH <= seen < ROWS, "the save ended before the kill"

    state = portal.run("state", upload_id)
    second = killed["second_upload"]
    committed = state["committed_rows"]
    # Never half-written: the records saved are exactly the batches whose progress was
    # saved with them, each with its history entry, none twice.
    assert state["status"] == "committing"
    assert 0 < committed < ROWS
    # Killed while a batch's transaction was open: that batch is not there (give or take the
    # batch that might have committed between the last look and the kill).
    assert committed in (seen, seen + BATCH)
    assert committed % BATCH == 0, f"{committed} rows is not a whole number of batches"
    assert state["records"] == committed
    assert state["record_rows"] == list(range(2, committed + 2))  # file rows 2.. (header 1)
    assert state["events"] == committed
    assert state["duplicate_keys"] == 0
    assert state["result_totals"]["created"] == committed
    assert state["integrity"] == "ok"
    # The killed task stays "running" in the queue (nobody is left to say otherwise); the
    # second upload's check is still queued.
    assert state["tasks_of_upload"] == [
        ["check_upload", "SUCCESSFUL"],
        ["commit_upload", "RUNNING"],
    ]
    assert state["tasks"][str(second)] == [["check_upload", "READY"]]

    # What the user sees: still saving, no retry offered while the worker may be alive...
    assert state["page"] == {"saving": True, "resume": False, "no_progress": False}
    assert state["can_retry"] is False
    # ...and after UPLOAD_STALE_MINUTES without progress, "Resume saving".
    later = portal.run("state", upload_id, STALE_MINUTES + 1)
    assert later["can_retry"] is True
    assert later["page"] == {"saving": True, "resume": True, "no_progress": True}

    # The user resumes while no worker runs: the save is queued, and a new worker runs it
    # and the second upload's check.
    resumed = portal.run("retry", upload_id, STALE_MINUTES + 1)
    assert resumed["status"] == "committing"
    assert resumed["tasks_of_upload"] == [
        ["check_upload", "SUCCESSFUL"],
        ["commit_upload", "RUNNING"],  # the killed one
        ["commit_upload", "READY"],
    ]
    portal.start_worker()
    state = portal.run("wait", upload_id, "done", 120)
    assert state["status"] == "done", portal.log(2)
    assert state["committed_rows"] == ROWS
    assert state["records"] == ROWS
    assert state["record_rows"] == list(range(2, ROWS + 2))
    assert state["events"] == ROWS
    assert state["duplicate_keys"] == 0
    assert state["result_totals"] == {
        "created": ROWS, "already_reported": 0, "deleted": 0, "error": 0,
    }  # fmt: skip
    assert state["page"] == {"saving": False, "resume": False, "no_progress": False}
    assert state["integrity"] == "ok"
    assert portal.run("wait", second, "preview", 60)["preview_totals"]["created"] == SMALL_ROWS
    print(f"crash recovery on {portal.env['DATABASE_URL'].split(':')[0]}: killed while "
          f"writing the batch after row {seen}; {committed} of {ROWS} rows kept; resumed to "
          f"{state['records']}; {time.monotonic() - started:.1f} s")  # fmt: skip


def test_a_killed_worker_is_replaced_and_its_check_runs_again_by_itself(portal):
    """`run_workers` (as `make run` and production run the workers): SIGKILL the uploads
    worker in the middle of checking a file; the supervisor starts another, marks the killed
    run failed (never "running" forever) and queues the check again: the user sees the
    preview without doing anything."""
    portal.manage("migrate", "--noinput")
    upload_id = portal.run("setup", ROWS)["upload"]
    portal.start_supervisor(upload_workers=1)
    portal.run("wait_progress", upload_id, 60)
    (pid,) = [pid for pid, queue in portal.supervised().items() if queue == "uploads"]
    os.kill(pid, signal.SIGKILL)
    state = portal.run("wait", upload_id, "preview", 120)
    assert state["status"] == "preview", (portal.folder / "supervisor.log").read_text()[-3000:]
    assert state["preview_totals"]["created"] == ROWS
    assert state["tasks_of_upload"] == [["check_upload", "FAILED"], ["check_upload", "SUCCESSFUL"]]
    assert pid not in portal.supervised()
    assert len([q for q in portal.supervised().values() if q == "uploads"]) == 1


FAIR_ROWS = 60_000


def test_another_providers_upload_and_the_board_do_not_wait_behind_a_large_upload(portal):
    """While one provider's large file is checked: another provider's upload starts within
    seconds (UPLOAD_WORKERS), so does a transmission (its own queue); the same provider's
    next file waits for its first (one provider, one upload at a time)."""
    portal.manage("migrate", "--noinput")
    large = portal.run("setup", FAIR_ROWS)["upload"]
    portal.run("second_provider")
    portal.start_supervisor(upload_workers=2)
    portal.run("wait_progress", large, 60)
    same_provider = portal.run("upload", "editor", SMALL_ROWS, 300000)["upload"]
    other_provider = portal.run("upload", "editor-b", SMALL_ROWS, 100000)["upload"]
    portal.run("enqueue_transmission")
    assert portal.run("wait", other_provider, "preview", 60)["status"] == "preview"
    portal.run("wait", large, "preview", 300)
    assert portal.run("wait", same_provider, "preview", 60)["status"] == "preview"
    times = portal.run("task_times")
    waited = times["waited"]
    assert waited[str(other_provider)] <= 5.0, times
    assert waited["transmit_to_board"] <= 5.0, times
    # The same provider's second file was checked only after its first.
    assert times["checked_from"][str(same_provider)] >= times["checked_until"][str(large)], times
    print(f"fairness: another provider's upload started after {waited[str(other_provider)]:.2f} s,"
          f" a transmission after {waited['transmit_to_board']:.2f} s, while a "
          f"{FAIR_ROWS}-row file was checked")  # fmt: skip


# === The script part: runs in the portal's own processes ======================================


def _django():
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def _client(user):
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def _csv(rows, first_learner) -> bytes:
    lines = [
        "Action,PARS Activity ID,Board,Board ID,First Name,Last Name,Birth Month,Birth Day,"
        "Completion Date (MM/DD/YYYY),Credit Type,MOC Points,CME Credits,"
        "Learner Permission (Y/N),Credit ID"
    ]
    for n in range(first_learner, first_learner + rows):
        lines.append(f"add,100000001,ABIM,{n},Pat,Lee{n},3,9,12/18/2015,MK,10,,Y,")
    return ("\r\n".join(lines) + "\r\n").encode()


def _upload(user, name, content):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from participants.models import Upload

    response = _client(user).post(
        reverse("upload_create"), {"file": SimpleUploadedFile(name, content)}
    )
    assert response.status_code == 302, response.content[:2000]
    return Upload.objects.order_by("-pk").first()


def cmd_setup(rows, upload=True):
    """A provider, its editor, a registered activity, the roster and a large upload."""
    import datetime as dt
    from decimal import Decimal

    from django.contrib.auth.models import User

    from activities import services
    from activities.models import Activity, Attestation, Board, Provider, ProviderMembership
    from participants.models import RosterEntry

    rows = int(rows)
    provider = Provider.objects.create(accme_id="0001234", name="Northwind Medical Society")
    editor = User.objects.create_user("editor", "editor@example.org", "not used")
    ProviderMembership.objects.create(user=editor, provider=provider, role="editor")
    activity = services.activity_create(
        provider=provider, actor=editor, title="Hypertension Update",
        activity_type=Activity.Type.COURSE, start_date=dt.date(2015, 10, 1),
        end_date=dt.date(2015, 12, 30), reporting_year=2015, cme_credits=Decimal("10"),
    )  # fmt: skip
    assert activity.pars_id == "100000001"
    abim = Board.objects.get(code="ABIM")
    services.registration_create(
        activity=activity, actor=editor, moc_points=Decimal("10"),
        credit_types=list(abim.credit_types.filter(code="MK")),
        attested=Attestation.Statement.values,
    )  # fmt: skip
    RosterEntry.objects.bulk_create(
        (
            RosterEntry(board=abim, learner_id=str(n), first_name="Pat", last_name=f"Lee{n}",
                        birth_month=3, birth_day=9)
            for n in range(100000, 100000 + rows + SMALL_ROWS)
        ),
        batch_size=2000,
    )  # fmt: skip
    if not upload:
        return {}
    return {"upload": _upload(editor, "large.csv", _csv(rows, 100000)).pk}


def _tasks() -> dict[str, list]:
    """The task queue, by upload: [[task name, status], …] in the order they were queued."""
    from django_tasks_db.models import DBTaskResult

    found = {}
    for task in DBTaskResult.objects.order_by("enqueued_at", "pk"):
        if not task.args_kwargs["args"]:
            continue  # not an upload's task
        (upload_id,) = task.args_kwargs["args"]
        found.setdefault(str(upload_id), []).append(
            [task.task_path.rsplit(".", 1)[-1], task.status]
        )
    return found


def cmd_state(upload_id, minutes_later=0):
    """Everything a check needs about an upload; `minutes_later`: as seen that much later."""
    import datetime as dt

    from django.db import connection
    from django.db.models import Count
    from django.urls import reverse
    from django.utils import timezone

    from participants.models import Completion, CompletionEvent, Upload

    upload = Upload.objects.get(pk=int(upload_id))
    records = Completion.objects.filter(upload=upload)
    duplicates = (
        Completion.objects.exclude(status="deleted")
        .values("activity", "board", "learner_id", "credit_type", "completion_date", "is_sandbox")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    rows = sorted(
        CompletionEvent.objects.filter(completion__upload=upload, from_status="").values_list(
            "detail__row", flat=True
        )
    )
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            integrity = cursor.execute("PRAGMA integrity_check").fetchone()[0]
    else:
        integrity = "ok"
    import time_machine

    later = timezone.now() + dt.timedelta(minutes=float(minutes_later))
    with time_machine.travel(later, tick=True):
        can_retry = upload.can_retry
        page = _client(upload.uploaded_by).get(reverse("upload_detail", args=[upload.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    return {
        "status": upload.status,
        "message": upload.message,
        "committed_rows": upload.committed_rows,
        "preview_totals": upload.preview_totals,
        "result_totals": upload.result_totals,
        "records": records.count(),
        "record_rows": rows,
        "events": CompletionEvent.objects.filter(completion__upload=upload).count(),
        "duplicate_keys": duplicates,
        "integrity": integrity,
        "can_retry": can_retry,
        "page": {
            "saving": "Saving records…" in text,
            "resume": "Resume saving" in text,
            "no_progress": "No progress for a while" in text,
        },
        "tasks": _tasks(),
        "tasks_of_upload": _tasks()[str(upload.pk)],
    }


def cmd_wait(upload_id, status, timeout):
    from participants.models import Upload

    deadline = time.monotonic() + float(timeout)
    while time.monotonic() < deadline:
        current = Upload.objects.filter(pk=upload_id).values_list("status", flat=True).get()
        if current == status or current in {"refused", "failed"}:
            break
        time.sleep(0.1)
    return cmd_state(upload_id)


def _writing() -> bool:
    """Is another process in the middle of a write transaction right now?"""
    import sqlite3

    from django.db import connection

    if connection.vendor == "sqlite":
        # The portal's transactions are BEGIN IMMEDIATE: a writer holds the write lock from
        # its first statement to its commit. Try to take it, without waiting.
        probe = sqlite3.connect(connection.settings_dict["NAME"], timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # database is locked
            return True
        else:
            probe.execute("ROLLBACK")
            return False
        finally:
            probe.close()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
        )
        return cursor.fetchone()[0] > 0


def cmd_confirm_and_kill(upload_id, worker_pid, threshold):
    """Confirm the upload as its editor; upload a second file while it is being saved; once
    `threshold` rows are saved, kill the worker with SIGKILL in the middle of writing a
    batch (while its transaction holds uncommitted writes).

    Each look freezes the worker first (SIGSTOP) and lets it go again (SIGCONT) unless the
    look kills it: however fast the save, it cannot slip past a look's moment, and the
    second file is uploaded only while the frozen worker holds no write lock."""
    from django.urls import reverse

    from participants.models import Upload

    pid = int(worker_pid)
    upload = Upload.objects.get(pk=int(upload_id))
    response = _client(upload.uploaded_by).post(reverse("upload_confirm", args=[upload.pk]))
    assert response.status_code == 302
    progress = Upload.objects.filter(pk=upload.pk).values_list("committed_rows", flat=True)
    deadline = time.monotonic() + 60
    second = None
    seen = 0
    while time.monotonic() < deadline:
        time.sleep(0.002)  # the worker runs between looks
        os.kill(pid, signal.SIGSTOP)
        try:
            seen = progress.get()
            writing = _writing()
            if seen and second is None and not writing:
                second = _upload(upload.uploaded_by, "small.csv", _csv(SMALL_ROWS, 200000)).pk
            elif second is not None and (seen >= int(threshold) and writing or seen >= ROWS):
                os.kill(pid, signal.SIGKILL)
                return {"committed_rows_seen": seen, "second_upload": second}
        finally:
            os.kill(pid, signal.SIGCONT)  # a no-op once killed
    os.kill(pid, signal.SIGKILL)
    raise SystemExit(f"no progress within 60 s (saw {seen} rows)")


def cmd_retry(upload_id, minutes_later):
    """Click "Resume saving" on the upload's page, `minutes_later` after the last progress."""
    import datetime as dt

    import time_machine
    from django.urls import reverse
    from django.utils import timezone

    from participants.models import Upload

    upload = Upload.objects.get(pk=upload_id)
    later = timezone.now() + dt.timedelta(minutes=float(minutes_later))
    with time_machine.travel(later, tick=True):
        response = _client(upload.uploaded_by).post(reverse("upload_retry", args=[upload.pk]))
    assert response.status_code == 302
    upload.refresh_from_db()
    return {"status": upload.status, "tasks_of_upload": _tasks()[str(upload.pk)]}


def cmd_wait_progress(upload_id, timeout):
    """Wait until a worker is checking or saving the upload and has made progress."""
    from participants.models import Upload

    deadline = time.monotonic() + float(timeout)
    while time.monotonic() < deadline:
        if Upload.objects.filter(pk=upload_id, processed_rows__gt=0).exists():
            return {}
        time.sleep(0.02)
    raise SystemExit(f"no progress on upload {upload_id} within {timeout} s")


def cmd_second_provider():
    """Another provider with its editor and a registered activity (100000002)."""
    import datetime as dt
    from decimal import Decimal

    from django.contrib.auth.models import User

    from activities import services
    from activities.models import Activity, Attestation, Board, Provider, ProviderMembership

    provider = Provider.objects.create(accme_id="0005678", name="Lakeside Health CME")
    editor = User.objects.create_user("editor-b", "editor-b@example.org", "not used")
    ProviderMembership.objects.create(user=editor, provider=provider, role="editor")
    activity = services.activity_create(
        provider=provider, actor=editor, title="Grand Rounds",
        activity_type=Activity.Type.COURSE, start_date=dt.date(2015, 10, 1),
        end_date=dt.date(2015, 12, 30), reporting_year=2015, cme_credits=Decimal("10"),
    )  # fmt: skip
    services.registration_create(
        activity=activity, actor=editor, moc_points=Decimal("10"),
        credit_types=list(Board.objects.get(code="ABIM").credit_types.filter(code="MK")),
        attested=Attestation.Statement.values,
    )  # fmt: skip
    return {"activity": activity.pars_id}


def cmd_upload(username, rows, first_learner):
    from django.contrib.auth.models import User

    user = User.objects.get(username=username)
    content = _csv(int(rows), int(first_learner))
    if username == "editor-b":
        content = content.replace(b",100000001,", b",100000002,")
    return {"upload": _upload(user, f"{username}.csv", content).pk}


def cmd_enqueue_transmission():
    from participants.transmission import transmit_to_board

    transmit_to_board.enqueue()
    return {}


def cmd_task_times():
    """How long each task waited in its queue (the first run of each upload's check), and
    when each upload's real check ran (the run that did the work: the last successful)."""
    from django_tasks_db.models import DBTaskResult

    waited, checked_from, checked_until = {}, {}, {}
    for task in DBTaskResult.objects.order_by("enqueued_at"):
        name = task.task_path.rsplit(".", 1)[-1]
        key = str(task.args_kwargs["args"][0]) if task.args_kwargs["args"] else name
        if task.started_at and key not in waited:
            waited[key] = (task.started_at - task.enqueued_at).total_seconds()
        if name == "check_upload" and task.status == "SUCCESSFUL":
            checked_from[key] = task.started_at.timestamp()
            checked_until[key] = task.finished_at.timestamp()
    return {"waited": waited, "checked_from": checked_from, "checked_until": checked_until}


# For tests/test_concurrency.py: processes racing on the same database (SQLite file).


def cmd_setup_race(learners):
    """A provider with two editors, a registered activity and `learners` diplomates."""
    from django.contrib.auth.models import User

    from activities.models import ProviderMembership

    cmd_setup(int(learners) - SMALL_ROWS, upload=False)
    provider = ProviderMembership.objects.get().provider
    editor = User.objects.create_user("editor-2", "editor-2@example.org", "not used")
    ProviderMembership.objects.create(user=editor, provider=provider, role="editor")
    return {"editors": ["editor", "editor-2"]}


def cmd_submit(username, start_at, rounds, learners):
    """From `start_at` (a wall-clock time), submit every learner's completion for one
    date per round through the pipeline, as `username`; count the writes the database
    refused because another process had just written the same records."""
    import datetime as dt
    from decimal import Decimal

    from django.db import IntegrityError

    from activities.models import Channel, ProviderMembership
    from participants import intake, statuses
    from participants.rows import ParticipantRow, Result

    membership = ProviderMembership.objects.select_related("provider", "user").get(
        user__username=username
    )
    refused = 0
    real_write = intake._Batch.write

    def write(batch):
        nonlocal refused
        try:
            return real_write(batch)
        except (IntegrityError, statuses.StatusConflict):
            refused += 1
            raise

    intake._Batch.write = write
    totals = {result.value: 0 for result in Result}
    time.sleep(max(0.0, float(start_at) - time.time()))
    for round_number in range(int(rounds)):
        rows = [
            ParticipantRow(
                row_number=n + 1,
                activity_ref="100000001",
                learner_id=str(100000 + n),
                first_name="Pat",
                last_name=f"Lee{100000 + n}",
                birth_month=3,
                birth_day=9,
                completion_date=dt.date(2015, 10, 2) + dt.timedelta(days=round_number),
                credit_type="MK",
                moc_points=Decimal("10"),
                learner_permission=True,
            )  # fmt: skip
            for n in range(int(learners))
        ]
        result = intake.intake_submit(
            provider=membership.provider, rows=rows, actor=membership.user, channel=Channel.FORM
        )
        for key, value in result.totals.items():
            totals[key] += value
    return {"totals": totals, "refused": refused}


def cmd_count():
    from django.db.models import Count

    from participants.models import Completion, CompletionEvent

    current = Completion.objects.exclude(status="deleted")
    return {
        "records": Completion.objects.count(),
        "events": CompletionEvent.objects.count(),
        "duplicate_keys": current.values(
            "activity", "board", "learner_id", "credit_type", "completion_date", "is_sandbox"
        )
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count(),
        "creators": sorted(set(current.values_list("created_by__username", flat=True))),
    }


if __name__ == "__main__":
    _django()
    command, *arguments = sys.argv[1:]
    result = globals()[f"cmd_{command}"](*arguments)
    print(json.dumps(result, default=str))
