from django.core.management.base import CommandError
from django_tasks_db.management.commands import db_worker

from participants.workers import QuietWorker


class Command(db_worker.Command):
    help = (
        "Run a task worker: django_tasks_db's `db_worker`, with its options, waiting quietly "
        "between tasks (one read per poll: no new connection, no write lock). `run_workers` "
        "starts these."
    )

    def handle(self, *args, queue_name, exclude_queues, batch, reload, **options):
        """As `db_worker` (with --batch, exactly it), without the reloader: `run_workers`
        restarts a worker that stops."""
        if batch:
            return super().handle(*args, queue_name=queue_name, exclude_queues=exclude_queues,
                                  batch=batch, reload=False, **options)  # fmt: skip
        self.configure_logging(options.pop("verbosity"))
        queue_names = queue_name.split(",")
        excluded = exclude_queues.split(",") if exclude_queues else []
        if excluded and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = QuietWorker(
            queue_names=queue_names, excluded_queue_names=excluded, interval=options["interval"],
            backend_name=options["backend_name"], max_tasks=options["max_tasks"],
            worker_id=options["worker_id"],
        )  # fmt: skip
        worker.configure_signals()
        worker.run()
