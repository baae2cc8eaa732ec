"""The task workers: which run, and what happens to work whose worker stopped.

`manage.py run_workers` starts one `task_worker` per queue of `tasks.QUEUES` (UPLOAD_WORKERS
for uploads), restarts one that dies and puts its task back in the queue at once, and every
minute puts back tasks that stopped making progress elsewhere (a worker on another machine
killed or restarted). Our tasks are safe to run again: an upload's check starts over, its
save resumes after its last saved batch, transmission never sends a record twice,
re-verification changes only records still waiting.
"""

import datetime as dt
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.db import connections
from django.db.utils import OperationalError
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks.base import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult, get_date_max

from activities.models import Channel
from activities.services import portal_event_record

from .models import Upload
from .tasks import BOARD, DEFAULT, UPLOAD_TASKS, UPLOADS

logger = logging.getLogger(__name__)
WORKER_STOPPED = "The worker running this task stopped (killed or restarted); it was queued again."


class WorkerStopped(Exception):
    """Recorded as the failure of a task whose worker stopped."""


def _upload_of(result) -> int | None:
    if result.task_path in UPLOAD_TASKS:
        (upload_id,) = result.args_kwargs["args"]
        return upload_id
    return None


def running_upload_ids() -> set[int]:
    """Uploads a worker is checking or saving right now."""
    running = DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING, task_path__in=UPLOAD_TASKS
    )
    return {_upload_of(result) for result in running}


def recover_stalled_work(*, dead_workers=(), now=None) -> list[str]:
    """Put back in its queue every task whose worker stopped: a worker known to be dead
    (`dead_workers`, from the supervisor), an upload with no progress for
    TASK_STALE_MINUTES, any other task running that long. The stopped run is marked failed,
    so nothing stays "running" forever. Returns what was put back."""
    now = now or timezone.now()
    stale = now - dt.timedelta(minutes=settings.TASK_STALE_MINUTES)
    dead = set(dead_workers)
    requeued = []
    for result in DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING):
        upload_id = _upload_of(result)
        if result.worker_ids and result.worker_ids[-1] in dead:
            stopped = True
        elif upload_id is not None:
            upload = Upload.objects.filter(pk=upload_id).only("heartbeat_at").first()
            last = (upload.heartbeat_at if upload else None) or result.started_at
            stopped = last is not None and last < stale
        else:
            stopped = result.started_at is not None and result.started_at < stale
        if not stopped:
            continue
        # Only if it is still the run we looked at (another supervisor may be here too).
        claimed = DBTaskResult.objects.filter(
            pk=result.pk, status=TaskResultStatus.RUNNING, started_at=result.started_at
        ).update(status=TaskResultStatus.FAILED, finished_at=now,
                 exception_class_path=f"{__name__}.WorkerStopped",
                 traceback=WORKER_STOPPED)  # fmt: skip
        if not claimed:
            continue
        task = import_string(result.task_path)
        task.enqueue(*result.args_kwargs["args"], **result.args_kwargs["kwargs"])
        portal_event_record(
            action="task.requeue", channel=Channel.SYSTEM,
            text=f"{result.task_path.rsplit('.', 1)[-1]} queued again: {WORKER_STOPPED}",
            detail={"task": str(result.pk), "args": result.args_kwargs["args"]},
        )  # fmt: skip
        if upload_id is not None:
            Upload.objects.filter(pk=upload_id).update(heartbeat_at=now)
        logger.warning("Task %s (%s) put back in its queue: %s", result.pk, result.task_path,
                       WORKER_STOPPED)  # fmt: skip
        requeued.append(result.task_path.rsplit(".", 1)[-1])
    return requeued


# --- A worker that waits quietly ------------------------------------------------------------


class _BatchRunNoise(logging.Filter):
    """The library's batch mode logs a start and an end each time the queue empties: here
    that is every task, not news."""

    def filter(self, record):
        return not str(record.msg).startswith(("Starting worker", "No more tasks to run"))


class QuietWorker(Worker):
    """django_tasks_db's worker, waiting quietly between tasks.

    The library's worker, when its queues are empty, opens a new database connection and
    takes the database's write lock (an EXCLUSIVE transaction, for its claim) at every
    poll: with 0.1 s polls, three idle workers took SQLite's write lock 30 times a second,
    against the uploads and pages that write, and used 16–20% of a core doing it. This one
    asks only "is a task of my queues ready?" (one read, on a connection it keeps) every
    `interval` seconds, and when one is, hands over to the library's own loop in its batch
    mode, which claims and runs tasks until none is ready (the claim, its lock and the
    run are the library's, unchanged). A task still starts within `interval` of being
    queued."""

    def __init__(self, **options):
        super().__init__(**{**options, "batch": True, "startup_delay": False})
        self._ready_sql = None
        library_logger = logging.getLogger("django_tasks_db")
        if not any(isinstance(f, _BatchRunNoise) for f in library_logger.filters):
            library_logger.addFilter(_BatchRunNoise())

    def ready_tasks(self):
        """The tasks the library's loop would claim now (its own filter)."""
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        return tasks

    def _ready_query(self, connection) -> tuple[str, list, list]:
        """`ready_tasks().exists()` as plain SQL: the statement, the parameters before the
        current time and those after it."""
        meta = DBTaskResult._meta
        quote = connection.ops.quote_name
        status, backend, run_after, queue = (
            quote(meta.get_field(name).column)
            for name in ("status", "backend_name", "run_after", "queue_name")
        )
        # READY written out, as the partial index of ready tasks says it (behind a
        # parameter, SQLite would not use that index).
        where = [f"{status} = '{TaskResultStatus.READY.value}'", f"{backend} = %s",
                 f"({run_after} = %s OR {run_after} <= %s)"]  # fmt: skip
        queues, match = [], ""  # every queue
        if not self.process_all_queues:
            queues, match = self.queue_names, "IN"
        elif self.excluded_queue_names:
            queues, match = self.excluded_queue_names, "NOT IN"
        if queues:
            where.append(f"{queue} {match} ({', '.join(['%s'] * len(queues))})")
        sql = f"SELECT 1 FROM {quote(meta.db_table)} WHERE {' AND '.join(where)} LIMIT 1"  # noqa: S608 - names
        adapt = connection.ops.adapt_datetimefield_value
        return sql, [self.backend_name, adapt(get_date_max())], list(queues)

    def something_ready(self) -> bool:
        """Whether the library's loop would find a task to claim now (`ready_tasks()`), as
        one plain SELECT built once: a poll costs a tenth of a millisecond instead of the
        ORM's millisecond of building the query again."""
        connection = connections[DBTaskResult.objects.db]
        if self._ready_sql is None:
            self._ready_sql = self._ready_query(connection)
        sql, before, after = self._ready_sql
        with connection.cursor() as cursor:
            cursor.execute(sql, [*before, connection.ops.adapt_datetimefield_value(timezone.now()),
                                 *after])  # fmt: skip
            return cursor.fetchone() is not None

    def wait_for_work(self) -> None:
        """Return once a task is ready (or the worker is stopping): reads only."""
        while self.running:
            try:
                if self.something_ready():
                    return
            except OperationalError as error:  # the database restarted, say: look again
                logger.warning("Worker %s could not look for tasks: %s", self.worker_id, error)
                connections.close_all()
            time.sleep(self.interval)

    def run(self) -> None:
        logger.info("Worker %s started: queues %s", self.worker_id, ",".join(self.queue_names))
        while self.running:
            self.wait_for_work()
            if not self.running:
                break
            ran = self._run_tasks
            super().run()  # batch mode: claims and runs tasks until none is ready
            if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                break
            if self._run_tasks == ran:  # another worker claimed it first: no busy loop
                time.sleep(self.interval)


# --- The supervisor -------------------------------------------------------------------------


class Supervisor:
    """Runs the workers of every queue until stopped (SIGINT or SIGTERM: each worker finishes
    its task, then everything ends cleanly)."""

    RECOVER_EVERY = 60  # seconds

    def __init__(self, *, upload_workers: int, interval: float, stdout=sys.stdout):
        self.plan = [UPLOADS] * upload_workers + [f"{BOARD},{DEFAULT}"]
        self.interval = interval
        self.stdout = stdout
        self.children: dict[int, tuple[subprocess.Popen, str, str]] = {}  # slot → child
        self.stopping = False
        self.host = socket.gethostname()[:24]

    def _start(self, slot: int, queues: str):
        worker_id = f"{self.host}-{os.getpid()}-{slot}-{random.randrange(10**6)}"
        process = subprocess.Popen(  # noqa: S603 - this interpreter and manage.py
            [sys.executable, "manage.py", "task_worker", "--queue-name", queues,
             "--worker-id", worker_id, "--interval", str(self.interval), "--no-reload",
             "--no-startup-delay"],
            cwd=settings.BASE_DIR,
        )  # fmt: skip
        self.children[slot] = (process, queues, worker_id)
        self.stdout.write(f"worker {worker_id}: queue {queues} (pid {process.pid})\n")

    def _stop(self, *_):
        self.stopping = True

    def run(self):
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGTERM, self._stop)
        recover_stalled_work()  # what stopped while no supervisor ran
        for slot, queues in enumerate(self.plan):
            self._start(slot, queues)
        last_recovery = time.monotonic()
        while not self.stopping:
            time.sleep(0.5)
            dead = []
            for slot, (process, queues, worker_id) in list(self.children.items()):
                if process.poll() is not None and not self.stopping:
                    self.stdout.write(f"worker {worker_id} stopped ({process.returncode})\n")
                    dead.append(worker_id)
                    self._start(slot, queues)
            if dead or time.monotonic() - last_recovery > self.RECOVER_EVERY:
                for name in recover_stalled_work(dead_workers=dead):
                    self.stdout.write(f"put back in its queue: {name}\n")
                last_recovery = time.monotonic()
        for process, _, _ in self.children.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _, _ in self.children.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
