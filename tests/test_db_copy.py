"""pars_portal.lib.db.copy_rows: rows written as they are, by COPY on PostgreSQL and by
INSERTs elsewhere (run the file with DATABASE_URL=postgres://… for the COPY path)."""

import datetime as dt

from django.db import connection

from activities.models import Board
from pars_portal.lib.db import copy_rows
from participants.models import RosterEntry


def test_copy_rows_writes_every_row_of_a_model_with_its_values(db):
    board = Board.objects.get(code="ABIM")
    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    # A generator, of more than one chunk.
    rows = ((board.pk, f"{i:06d}", f"Jo\\\t'{i}\"", "Ünal, Jr.\n", 1 + i % 12, 1 + i % 28, now)
            for i in range(25_001))  # fmt: skip
    columns = ["board_id", "learner_id", "first_name", "last_name", "birth_month",
               "birth_day", "updated_at"]  # fmt: skip
    assert copy_rows(RosterEntry, columns, rows) == 25_001
    assert RosterEntry.objects.count() == 25_001
    last = RosterEntry.objects.get(learner_id="025000")
    # Tabs, backslashes, quotes, commas and line ends arrive untouched.
    assert (last.first_name, last.last_name) == ("Jo\\\t'25000\"", "Ünal, Jr.\n")
    assert (last.birth_month, last.birth_day, last.updated_at) == (5, 25, now)


def test_copy_rows_into_a_table_by_name_takes_none_as_null(db):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE copy_probe (n integer, day date, note text)")
        written = copy_rows("copy_probe", ["n", "day", "note"],
                            [(1, dt.date(2026, 2, 3), None), (2, None, "")])  # fmt: skip
        cursor.execute("SELECT n, day, note FROM copy_probe ORDER BY n")
        found = cursor.fetchall()
        cursor.execute("DROP TABLE copy_probe")
    assert written == 2
    day = found[0][1] if isinstance(found[0][1], dt.date) else dt.date.fromisoformat(found[0][1])
    assert (found[0][0], day, found[0][2]) == (1, dt.date(2026, 2, 3), None)
    assert found[1] == (2, None, "")


def test_placeholders_and_escaped_percent_signs_reach_the_database_as_written(db):
    """The SQLite backend's cheaper placeholder conversion (a plain replace when the
    statement has no `%%`) reads every statement as Django's own does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s, %s", ["a", "%s"])
        assert cursor.fetchone() == ("a", "%s")
        cursor.execute("SELECT %s, '%%s', '100%%'", ["b"])
        assert cursor.fetchone() == ("b", "%s", "100%")
    board = Board.objects.get(code="ABIM")
    assert Board.objects.filter(code__contains="%s").count() == 0
    assert Board.objects.filter(pk=board.pk, name__startswith=board.name[:2]).count() == 1
