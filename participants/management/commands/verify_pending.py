from django.core.management.base import BaseCommand

from participants.reverification import completions_verify_pending


class Command(BaseCommand):
    help = "Verify again the records the board could not answer for (they stay submitted)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=10_000)

    def handle(self, *args, limit, **options):
        counts = completions_verify_pending(limit=limit)
        for name, value in counts.items():
            self.stdout.write(f"{name}: {value}")
