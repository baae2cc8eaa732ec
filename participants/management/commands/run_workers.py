from django.conf import settings
from django.core.management.base import BaseCommand

from participants.workers import Supervisor


class Command(BaseCommand):
    help = (
        "Run the background workers: UPLOAD_WORKERS for uploads, one for the board's work and "
        "digests; restart a worker that dies and put its task back in the queue."
    )

    def add_arguments(self, parser):
        parser.add_argument("--upload-workers", type=int, default=settings.UPLOAD_WORKERS)
        parser.add_argument(
            "--interval", type=float, default=0.1, help="seconds between polls when idle"
        )

    def handle(self, *args, upload_workers, interval, **options):
        Supervisor(upload_workers=upload_workers, interval=interval, stdout=self.stdout).run()
