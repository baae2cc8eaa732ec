"""Loading the board's roster (the local verification table)."""

from collections.abc import Iterable
from itertools import islice

from django.core.exceptions import ValidationError
from django.db import transaction

from activities.models import Board, Channel
from activities.services import portal_event_record

from ..models import (
    RosterEntry,
)
from ..parsers import RosterRow


def batched(iterable, size):
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


ROSTER_UNKNOWN_BOARD = "Unknown board {code!r}."


def roster_load(*, rows: Iterable[RosterRow], batch_size: int = 5000) -> dict[str, int]:
    """Insert or update roster entries by (board, board ID) in one transaction.

    Re-loading the same file changes nothing; a later row for the same learner wins.
    """
    boards = {board.code: board for board in Board.objects.all()}
    latest: dict[tuple[str, str], RosterRow] = {}
    for row in rows:
        if row.board_code not in boards:
            raise ValidationError(ROSTER_UNKNOWN_BOARD.format(code=row.board_code))
        latest[(row.board_code, row.learner_id)] = row
    before = RosterEntry.objects.count()
    entries = (
        RosterEntry(
            board=boards[row.board_code],
            learner_id=row.learner_id,
            first_name=row.first_name,
            last_name=row.last_name,
            birth_month=row.birth_month,
            birth_day=row.birth_day,
        )
        for row in latest.values()
    )
    with transaction.atomic():
        for chunk in batched(entries, batch_size):
            RosterEntry.objects.bulk_create(
                chunk,
                update_conflicts=True,
                unique_fields=["board", "learner_id"],
                update_fields=["first_name", "last_name", "birth_month", "birth_day", "updated_at"],
            )
    created = RosterEntry.objects.count() - before
    portal_event_record(
        action="roster.load", channel=Channel.SYSTEM,
        text=f"Board roster loaded: {len(latest)} rows, {created} new",
        detail={"rows": len(latest), "created": created},
    )  # fmt: skip
    return {"rows": len(latest), "created": created, "already_present": len(latest) - created}
