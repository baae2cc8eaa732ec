"""Loading the board's roster (the local verification table)."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from activities.models import Board, Channel
from activities.services import portal_event_record
from pars_portal.lib.db import copy_rows, insert_returning_ids

from ..models import (
    RosterEntry,
)
from ..parsers import RosterRow

ROSTER_UNKNOWN_BOARD = "Unknown board {code!r}."


def roster_load(*, rows: Iterable[RosterRow], batch_size: int = 5000) -> dict[str, int]:
    """Insert or update roster entries by (board, board ID) in one transaction.

    Re-loading the same file changes nothing (not even updated_at); a later row for the
    same learner wins.
    """
    boards = {board.code: board for board in Board.objects.all()}
    latest: dict[tuple[str, str], RosterRow] = {}
    for row in rows:
        if row.board_code not in boards:
            raise ValidationError(ROSTER_UNKNOWN_BOARD.format(code=row.board_code))
        latest[(row.board_code, row.learner_id)] = row
    before = RosterEntry.objects.count()
    now = timezone.now()
    entries = [
        {"board_id": boards[row.board_code].pk, "learner_id": row.learner_id,
         "first_name": row.first_name, "last_name": row.last_name,
         "birth_month": row.birth_month, "birth_day": row.birth_day, "updated_at": now}
        for row in latest.values()
    ]  # fmt: skip
    with transaction.atomic():
        if connection.vendor == "postgresql":
            _upsert_by_copy(entries)
        else:
            # Plain parameters, not the ORM's per-value compilation (most of the time at
            # 100,000 rows); a learner already there is updated (the later row wins).
            changed = ["first_name", "last_name", "birth_month", "birth_day", "updated_at"]
            for start in range(0, len(entries), batch_size):
                part = entries[start : start + batch_size]
                key = ["board", "learner_id"]
                insert_returning_ids(
                    RosterEntry, part, returning=False, upsert=(key, changed),
                    upsert_if_changed=LEARNER_FIELDS,
                )  # fmt: skip
    created = RosterEntry.objects.count() - before
    portal_event_record(
        action="roster.load", channel=Channel.SYSTEM,
        text=f"Board roster loaded: {len(latest)} rows, {created} new",
        detail={"rows": len(latest), "created": created},
    )  # fmt: skip
    return {"rows": len(latest), "created": created, "already_present": len(latest) - created}


# What the roster says of a learner: an entry is rewritten (and its updated_at moved) only
# when one of them changed, so re-loading the same file writes nothing.
LEARNER_FIELDS = ["first_name", "last_name", "birth_month", "birth_day"]
STAGING_COLUMNS = ["board_id", "learner_id", "first_name", "last_name", "birth_month",
                   "birth_day", "updated_at"]  # fmt: skip


def _upsert_by_copy(entries: list[dict]) -> None:
    """PostgreSQL: the rows go by COPY into a temporary table (dropped once read; a failure
    rolls its creation back), then into the roster in one INSERT … SELECT … ON CONFLICT DO UPDATE,
    the database's own set-based work instead of 100,000 rows of parameters."""
    table = connection.ops.quote_name(RosterEntry._meta.db_table)
    columns = ", ".join(STAGING_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE roster_staging AS "  # noqa: S608 - our names
            f"SELECT {columns} FROM {table} WITH NO DATA"
        )
        copy_rows("roster_staging", STAGING_COLUMNS,
                  ([e[c] for c in STAGING_COLUMNS] for e in entries))  # fmt: skip
        updated = ", ".join(f"{c} = excluded.{c}" for c in STAGING_COLUMNS[2:])
        differs = " OR ".join(f"{table}.{c} <> excluded.{c}" for c in LEARNER_FIELDS)
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM roster_staging "  # noqa: S608
            f"ON CONFLICT (board_id, learner_id) DO UPDATE SET {updated} WHERE {differs}"
        )
        cursor.execute("DROP TABLE roster_staging")
