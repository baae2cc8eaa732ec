from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from participants.transmission import answers_from_file, ingest_answers


class Command(BaseCommand):
    help = "Apply a board answer file (JSON: a list of {recordId, result, reasonCode, reason})."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--board", default="ABIM")

    def handle(self, *args, file: Path, board: str, **options):
        try:
            answers = answers_from_file(file.read_bytes())
        except (OSError, ValueError) as error:
            raise CommandError(f"Cannot read {file}: {error}") from None
        report = ingest_answers(answers, board_code=board)
        self.stdout.write(
            f"confirmed: {report.confirmed}\nrejected: {report.rejected}\n"
            f"unchanged: {report.unchanged}\nproblems: {len(report.problems)}"
        )
        for problem in report.problems:
            self.stderr.write(problem)
