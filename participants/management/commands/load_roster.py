import time
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from activities.models import Board
from pars_portal.lib.bulk import rare_collections
from participants.parsers import FileRefused, RowError, parse_roster_csv
from participants.services.roster import roster_load


class Command(BaseCommand):
    help = (
        "Load a board roster CSV (header: board_id, first_name, last_name, birth_month, "
        "birth_day [, board]; or birth_date instead of month/day — its year is dropped). "
        "Existing learners are updated, never duplicated. A file with invalid rows is "
        "refused whole unless --skip-invalid."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--board", default="ABIM", help="Board for rows without one.")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Load the valid rows and list the invalid ones.",
        )

    def handle(self, *args, **options):
        with rare_collections():  # hundreds of thousands of rows: see pars_portal.lib.bulk
            self._load(**options)

    def _load(self, *, file: Path, board: str, skip_invalid: bool, **options):
        started = time.perf_counter()
        board_obj = Board.objects.filter(code=board).first()
        if board_obj is None:
            raise CommandError(f"Unknown board {board!r}.")
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        rows, errors = [], []
        with file.open(newline="", encoding="utf-8-sig") as stream:
            try:
                for item in parse_roster_csv(
                    stream,
                    default_board=board,
                    id_length=board_obj.board_id_length,
                    id_pattern=board_obj.board_id_pattern,
                    id_description=board_obj.board_id_description,
                ):
                    (errors if isinstance(item, RowError) else rows).append(item)
            except FileRefused as error:
                raise CommandError(str(error)) from None
            except UnicodeDecodeError:
                raise CommandError("The roster file must be UTF-8 encoded text (CSV).") from None
        for error in errors[:50]:
            self.stderr.write(str(error))
        if len(errors) > 50:
            self.stderr.write(f"... and {len(errors) - 50} more invalid rows.")
        if errors and not skip_invalid:
            raise CommandError(
                f"{len(errors)} invalid row(s); nothing was loaded. Fix them or use --skip-invalid."
            )
        try:
            result = roster_load(rows=rows)
        except ValidationError as error:
            raise CommandError(error.messages[0]) from None
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"rows: {result['rows']}\ncreated: {result['created']}\n"
            f"already_present: {result['already_present']}\ninvalid: {len(errors)}\n"
            f"seconds: {seconds:.2f}"
        )
