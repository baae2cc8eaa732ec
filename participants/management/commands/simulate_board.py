"""SIMULATED BOARD — for demos and tests only; it is not ABIM and never talks to ABIM."""

from django.core.management.base import BaseCommand

from participants.models import TransmissionBatch
from participants.transmission import ingest_answers, simulated_board_answers


class Command(BaseCommand):
    help = "Demo only: answer the latest transmission batches as a board would, from the roster."

    def add_arguments(self, parser):
        parser.add_argument("--batches", type=int, default=1)

    def handle(self, *args, batches, **options):
        for batch in TransmissionBatch.objects.exclude(status="failed")[:batches]:
            report = ingest_answers(simulated_board_answers(batch), board_code=batch.board.code)
            self.stdout.write(
                f"batch {batch.pk} (simulated board): {report.confirmed} confirmed, "
                f"{report.rejected} rejected, {report.unchanged} unchanged"
            )
