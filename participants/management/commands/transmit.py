from django.core.management.base import BaseCommand

from participants.transmission import transmit


class Command(BaseCommand):
    help = "Send verified records (and deletions the board must hear about) to the board."

    def handle(self, *args, **options):
        batches = transmit()
        for batch in batches:
            self.stdout.write(
                f"batch {batch.pk}: {batch.board.code} {batch.additions} records, "
                f"{batch.deletions} deletions, {batch.get_status_display()} ({batch.file.name})"
            )
        if not batches:
            self.stdout.write("nothing to send")
