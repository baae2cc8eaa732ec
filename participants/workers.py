"""The task workers: which run, and what happens to work whose worker stopped.

`manage.py run_workers` starts one `db_worker` per queue of `tasks.QUEUES` (UPLOAD_WORKERS
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
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

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
            [sys.executable, "manage.py", "db_worker", "--queue-name", queues,
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
