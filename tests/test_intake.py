"""The intake pipeline: one path for every channel (pars-spec §5, §8.4)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from activities.models import Channel
from participants.intake import ALREADY_IN_BATCH, NOTHING_TO_DELETE, intake_submit
from participants.models import Completion, CompletionEvent, RosterEntry
from participants.rows import ParticipantRow, Result

JULY_14 = {"birth_month": 7, "birth_day": 14}


def row(activity, n=1, **values):
    defaults = dict(
        row_number=n,
        activity_ref=activity.pars_id,
        learner_id="123456",
        first_name="Jane",
        last_name="Smith",
        completion_date=dt.date(2015, 12, 18),
        credit_type="MK",
        moc_points=Decimal("10"),
        learner_permission=True,
        **JULY_14,
    )
    defaults.update(values)
    return ParticipantRow(**defaults)


def submit(activity, rows, user, **kwargs):
    return intake_submit(
        provider=activity.provider, rows=rows, actor=user, channel=Channel.FORM, **kwargs
    )


def test_roster_match_is_accepted_with_an_event(activity_a, editor_a, roster):
    result = submit(activity_a, [row(activity_a)], editor_a)
    outcome = result.outcomes[0]
    assert outcome.result == Result.CREATED
    record = Completion.objects.get(pk=outcome.completion_id)
    assert record.status == "accepted"
    assert record.provider == activity_a.provider
    event = CompletionEvent.objects.get(completion=record)
    assert (event.actor, event.channel, event.to_status) == (editor_a, "form", "accepted")


def test_wrong_birth_day_is_rejected_with_reason(activity_a, editor_a, roster):
    outcome = submit(activity_a, [row(activity_a, birth_day=15)], editor_a).outcomes[0]
    assert outcome.result == Result.CREATED
    assert (outcome.status, outcome.reason) == ("rejected", "birth date does not match")


def test_unknown_abim_id_is_rejected(activity_a, editor_a, roster):
    outcome = submit(activity_a, [row(activity_a, learner_id="999999")], editor_a).outcomes[0]
    assert (outcome.status, outcome.reason) == ("rejected", "ABIM ID not found")


def test_name_mismatch_is_a_warning_not_a_rejection(activity_a, editor_a, roster):
    outcome = submit(activity_a, [row(activity_a, first_name="Janet")], editor_a).outcomes[0]
    assert outcome.status == "accepted"
    # Says that the name differs, never the roster's spelling (the board's data).
    assert outcome.warning == "Name differs from the ABIM roster"
    assert Completion.objects.get(pk=outcome.completion_id).warning == outcome.warning


def test_names_compare_ignoring_case_and_spacing(activity_a, editor_a, roster):
    outcome = submit(
        activity_a, [row(activity_a, first_name="  JANE ", last_name="smith")], editor_a
    ).outcomes[0]
    assert outcome.status == "accepted" and outcome.warning == ""


def test_same_participant_twice_is_already_reported(activity_a, editor_a, roster):
    first = submit(activity_a, [row(activity_a)], editor_a).outcomes[0]
    second = submit(activity_a, [row(activity_a)], editor_a).outcomes[0]
    assert second.result == Result.ALREADY_REPORTED
    assert second.completion_id == first.completion_id
    assert f"Already reported: record {first.completion_id}, entered" in second.message
    assert Completion.objects.count() == 1


def test_same_person_other_credit_type_is_a_new_record(activity_a, editor_a, roster):
    submit(activity_a, [row(activity_a)], editor_a)
    outcome = submit(activity_a, [row(activity_a, credit_type="PS")], editor_a).outcomes[0]
    assert outcome.result == Result.CREATED
    assert Completion.objects.count() == 2


def test_credit_type_label_is_accepted(activity_a, editor_a, roster):
    outcome = submit(
        activity_a, [row(activity_a, credit_type="medical knowledge")], editor_a
    ).outcomes[0]
    assert outcome.result == Result.CREATED


def test_duplicate_rows_in_one_batch_create_one_record(activity_a, editor_a, roster):
    result = submit(activity_a, [row(activity_a, 1), row(activity_a, 2)], editor_a)
    assert [o.result for o in result.outcomes] == [Result.CREATED, Result.ALREADY_REPORTED]
    assert result.outcomes[1].message == ALREADY_IN_BATCH.format(row=1)
    assert Completion.objects.count() == 1


def test_same_credit_id_is_idempotent(activity_a, editor_a, roster):
    first = submit(activity_a, [row(activity_a, credit_id="ccid:lms:42")], editor_a).outcomes[0]
    retry = submit(
        activity_a,
        [row(activity_a, credit_id="ccid:lms:42", completion_date=dt.date(2015, 12, 19))],
        editor_a,
    ).outcomes[0]
    assert retry.result == Result.ALREADY_REPORTED
    assert retry.completion_id == first.completion_id


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"learner_id": "12a456"}, "learner_id", "ABIM ID must be 6 digits."),
        ({"moc_points": Decimal("12")}, "moc_points",
         "This activity is registered for 10 MOC points; 12 is more than that."),
        ({"moc_points": Decimal("0.3")}, "moc_points",
         "MOC points must be a multiple of 0.25 (for example 0.25, 1.5, 10)."),
        ({"moc_points": Decimal("0")}, "moc_points", "MOC points must be more than 0."),
        ({"completion_date": dt.date(2015, 9, 1)}, "completion_date",
         "Completion date 09/01/2015 is before the activity started on 10/01/2015."),
        ({"learner_permission": False}, "learner_permission",
         "The learner's permission to share the data with the board is required."),
        ({"credit_type": "PA"}, "credit_type",
         "Activity {pars_id} is not registered for the credit type PA (registered: MK, PS)."),
        ({"credit_type": "XX"}, "credit_type",
         "Unknown credit type 'XX' for ABIM (use MK, PA, PS)."),
        ({"birth_month": 2, "birth_day": 30}, "birth_day",
         "Birth day must be a number from 1 to 29 for that month."),
        ({"activity_ref": "999999999"}, "activity",
         "Activity 999999999 is not one of your provider's activities."),
    ],
)  # fmt: skip
def test_bad_values_are_refused_naming_field_and_reason(
    activity_a, editor_a, roster, values, field, message
):
    outcome = submit(activity_a, [row(activity_a, **values)], editor_a).outcomes[0]
    assert outcome.result == Result.ERROR
    assert outcome.errors[field] == message.format(pars_id=activity_a.pars_id)
    assert not Completion.objects.exists()


def test_another_providers_activity_is_refused(activity_a, activity_b, editor_a, roster):
    outcome = submit(activity_a, [row(activity_b)], editor_a).outcomes[0]
    assert outcome.result == Result.ERROR and "activity" in outcome.errors
    assert not Completion.objects.exists()


def test_completion_in_the_future_is_refused(activity_a, editor_a, roster):
    outcome = submit(
        activity_a,
        [row(activity_a, completion_date=dt.date(2015, 12, 20))],
        editor_a,
        today=dt.date(2015, 12, 19),
    ).outcomes[0]
    assert outcome.errors["completion_date"] == "Completion date 12/20/2015 is in the future."


def test_delete_row_deletes_and_add_after_it_is_a_correction(activity_a, editor_a, roster):
    first = submit(activity_a, [row(activity_a)], editor_a).outcomes[0]
    result = submit(activity_a, [row(activity_a, 1, action="delete"), row(activity_a, 2)], editor_a)
    assert [o.result for o in result.outcomes] == [Result.DELETED, Result.CREATED]
    old = Completion.objects.get(pk=first.completion_id)
    assert old.status == "deleted"
    assert old.events.last().to_status == "deleted"
    assert Completion.objects.exclude(status="deleted").count() == 1


def test_delete_of_unknown_record_is_an_error(activity_a, editor_a, roster):
    outcome = submit(activity_a, [row(activity_a, action="delete")], editor_a).outcomes[0]
    assert outcome.errors == {"__all__": NOTHING_TO_DELETE}


def test_rejected_record_resubmitted_with_corrected_birthday_supersedes_it(
    activity_a, editor_a, roster
):
    rejected = submit(activity_a, [row(activity_a, birth_day=15)], editor_a).outcomes[0]
    fixed = submit(activity_a, [row(activity_a)], editor_a).outcomes[0]
    assert fixed.result == Result.CREATED and fixed.status == "accepted"
    old = Completion.objects.get(pk=rejected.completion_id)
    new = Completion.objects.get(pk=fixed.completion_id)
    assert old.status == "deleted"
    assert old.status_reason == f"Superseded by record {new.pk}"
    assert new.corrects == old


def test_rejected_record_resent_unchanged_is_already_reported(activity_a, editor_a, roster):
    submit(activity_a, [row(activity_a, birth_day=15)], editor_a)
    again = submit(activity_a, [row(activity_a, birth_day=15)], editor_a).outcomes[0]
    assert again.result == Result.ALREADY_REPORTED
    assert Completion.objects.count() == 1


def test_accepted_record_is_never_superseded_by_other_values(activity_a, editor_a, roster):
    submit(activity_a, [row(activity_a)], editor_a)
    other = submit(activity_a, [row(activity_a, first_name="Janet")], editor_a).outcomes[0]
    assert other.result == Result.ALREADY_REPORTED
    assert f"correct record {other.completion_id}" in other.message  # not "delete it first"
    assert Completion.objects.get().status == "accepted"


def test_correction_that_fails_leaves_the_old_record_untouched(activity_a, editor_a, roster):
    old = submit(activity_a, [row(activity_a, birth_day=15)], editor_a).outcomes[0]
    bad = row(activity_a, corrects_id=old.completion_id, moc_points=Decimal("99"))
    outcome = submit(activity_a, [bad], editor_a).outcomes[0]
    assert outcome.result == Result.ERROR
    assert Completion.objects.get(pk=old.completion_id).status == "rejected"


def test_legacy_module_code_before_and_after_sunset(activity_a, editor_a, roster):
    activity_a.legacy_module_code = "ABC123"
    activity_a.save()
    before = submit(
        activity_a, [row(activity_a, activity_ref="ABC123")], editor_a,
        today=dt.date(2016, 12, 31),
    ).outcomes[0]  # fmt: skip
    assert before.result == Result.CREATED
    after = submit(
        activity_a, [row(activity_a, activity_ref="ABC123", credit_type="PS")], editor_a,
        today=dt.date(2017, 1, 1),
    ).outcomes[0]  # fmt: skip
    assert after.errors["activity"] == (
        "The legacy ABIM module code ABC123 is no longer accepted since 01/01/2017; "
        f"use PARS activity ID {activity_a.pars_id}."
    )


def test_dry_run_writes_nothing_but_tells_what_would_happen(activity_a, editor_a, roster):
    result = submit(activity_a, [row(activity_a, 1), row(activity_a, 2)], editor_a, commit=False)
    assert [o.result for o in result.outcomes] == [Result.CREATED, Result.ALREADY_REPORTED]
    assert result.outcomes[0].status == "accepted"
    assert not Completion.objects.exists()


def test_board_acceptance_mode_keeps_verified_records_submitted(
    activity_a, editor_a, roster, settings
):
    settings.ACCEPTANCE_MODE = "board"
    outcome = submit(activity_a, [row(activity_a)], editor_a).outcomes[0]
    assert outcome.status == "submitted"


def _many_rows(activity, abim, count, start):
    RosterEntry.objects.bulk_create(
        RosterEntry(board=abim, learner_id=f"{start + i:06d}", first_name="F", last_name="L",
                    birth_month=1, birth_day=1)
        for i in range(count)
    )  # fmt: skip
    return [
        row(activity, i + 1, learner_id=f"{start + i:06d}", first_name="F", last_name="L",
            birth_month=1, birth_day=1, credit_id=f"ccid:lms:{start + i}")
        for i in range(count)
    ]  # fmt: skip


@pytest.mark.slow  # 10,000 rows
def test_query_count_does_not_grow_with_batch_size(activity_a, editor_a, abim):
    """Reads and checks are a fixed number of queries; the INSERTs only split where the
    database's limit of parameters per statement forces it (never one per row)."""
    counts, inserts = {}, {}
    for size, start in ((10, 100000), (10_000, 500000)):
        rows = _many_rows(activity_a, abim, size, start)
        with CaptureQueriesContext(connection) as queries:
            result = submit(activity_a, rows, editor_a)
        assert result.count(Result.CREATED) == size
        sqls = [q["sql"] for q in queries.captured_queries]
        writes = ("INSERT", "COPY")  # PostgreSQL writes the records by COPY
        counts[size] = sum(1 for sql in sqls if not sql.startswith(writes))
        inserts[size] = [sql.count("), (") + 1 for sql in sqls if sql.startswith(writes)]
    assert counts[10_000] == counts[10], counts
    limit = connection.features.max_query_params or 65_535
    columns = len(Completion._meta.concrete_fields)
    # Records and their events: as few statements as the parameter limit allows.
    assert len(inserts[10_000]) <= len(inserts[10]) + 2 * (10_000 * columns // limit + 1)
    if any(sql.startswith("COPY") for sql in sqls):  # PostgreSQL: one COPY per table
        assert len(inserts[10_000]) == len(inserts[10])
    else:
        assert max(inserts[10_000]) >= min(10_000, limit // columns)
    assert Completion.objects.count() == 10_010


def test_credit_id_of_one_record_with_the_key_of_another_never_duplicates(
    activity_a, editor_a, roster
):
    """Found by schemathesis: a rejected record A (credit ID x) and a record B; a row with
    A's credit ID, corrected values and B's key must not create a second record for B's key."""
    a = submit(activity_a, [row(activity_a, credit_id="ccid:lms:a", birth_day=15,
                                completion_date=dt.date(2015, 12, 17))], editor_a)  # fmt: skip
    b = submit(activity_a, [row(activity_a)], editor_a)
    assert (a.outcomes[0].status, b.outcomes[0].status) == ("rejected", "accepted")
    again = submit(activity_a, [row(activity_a, credit_id="ccid:lms:a")], editor_a).outcomes[0]
    assert again.result == Result.ALREADY_REPORTED
    assert again.completion_id in (a.outcomes[0].completion_id, b.outcomes[0].completion_id)
    assert Completion.objects.count() == 2


def test_same_credit_id_twice_in_one_submission_creates_one_record(activity_a, editor_a, roster):
    result = submit(
        activity_a,
        [row(activity_a, 1, credit_id="ccid:lms:1"),
         row(activity_a, 2, credit_id="ccid:lms:1", credit_type="PS")],
        editor_a,
    )  # fmt: skip
    assert [o.result for o in result.outcomes] == [Result.CREATED, Result.ALREADY_REPORTED]
    assert Completion.objects.count() == 1
