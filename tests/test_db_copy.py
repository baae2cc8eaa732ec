"""pars_portal.lib.db.copy_rows and insert_returning_ids: rows written as they are, by COPY
on PostgreSQL and by INSERTs elsewhere (run the file with DATABASE_URL=postgres://… for the
COPY path)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from activities.models import Board
from pars_portal.lib.db import copy_rows, insert_returning_ids
from participants.models import Completion, CompletionEvent, RosterEntry, name_key

from .conftest import make_completion


def _records(activity, count, *, first_day=dt.date(2015, 2, 1)):
    """Plain column values of `count` distinct records of `activity`, as the pipeline has them."""
    board = Board.objects.get(code="ABIM")
    credit_type = board.credit_types.get(code="MK")
    now = timezone.now()
    return [{
        "provider_id": activity.provider_id, "activity_id": activity.pk, "board_id": board.pk,
        "learner_id": f"{i:06d}", "first_name": f"Jo\\\t{i}", "last_name": "Ünal",
        "first_name_key": name_key(f"Jo{i}"), "last_name_key": name_key("Ünal"),
        "birth_month": 1 + i % 12, "birth_day": 1 + i % 28,
        "completion_date": first_day + dt.timedelta(days=i % 300),
        "credit_type_id": credit_type.pk, "moc_points": Decimal("10.5"),
        "cme_credits": None, "learner_permission": True, "credit_id": f"ccid:t:{i}",
        "channel": "upload", "status": "accepted", "status_reason": "", "warning": "",
        "status_changed_at": now, "created_at": now, "is_sandbox": False,
    } for i in range(count)]  # fmt: skip


def test_insert_returning_ids_gives_each_row_its_own_id_in_row_order(activity_a):
    make_completion(activity_a, learner_id="999999")  # ids already taken
    rows = _records(activity_a, 1_500)
    ids = insert_returning_ids(Completion, rows)
    assert len(ids) == 1_500 and ids == sorted(set(ids))  # ascending, as the rows came
    saved = dict(Completion.objects.filter(pk__in=ids).values_list("pk", "learner_id"))
    assert [saved[pk] for pk in ids] == [row["learner_id"] for row in rows]
    record = Completion.objects.get(pk=ids[7])
    assert (record.first_name, record.moc_points, record.cme_credits) == (
        "Jo\\\t7",
        Decimal("10.5"),
        None,
    )
    # The next record the ordinary way gets a fresh id: the sequence moved past the batch.
    assert make_completion(activity_a, learner_id="888888").pk > ids[-1]


def test_insert_returning_ids_writes_history_detail_as_json(activity_a):
    (pk,) = insert_returning_ids(Completion, _records(activity_a, 1))
    now = timezone.now()
    events = [{"completion_id": pk, "actor_id": None, "at": now, "channel": "upload",
               "from_status": "", "to_status": "accepted", "reason": "",
               "detail": {"row": n, "warning": "Name \"differs\"\t"}} for n in (2, 3)]  # fmt: skip
    assert insert_returning_ids(CompletionEvent, events, returning=False) == []
    details = list(
        CompletionEvent.objects.filter(completion_id=pk).values_list("detail", flat=True)
    )
    assert details == [{"row": 2, "warning": 'Name "differs"\t'},
                       {"row": 3, "warning": 'Name "differs"\t'}]  # fmt: skip


def test_insert_returning_ids_refuses_a_batch_holding_an_already_reported_record(activity_a):
    rows = _records(activity_a, 50)
    insert_returning_ids(Completion, rows[10:11])
    # The duplicate rule (the partial unique constraint) fails the whole batch with
    # IntegrityError, which the pipeline answers "already reported"; nothing of it stays.
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_returning_ids(Completion, rows)
    assert Completion.objects.count() == 1
    assert len(insert_returning_ids(Completion, rows[:10] + rows[11:])) == 49


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
