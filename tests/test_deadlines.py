"""Late flags from the deadlines table (pars-spec §6), checked on the day a record arrives."""

import datetime as dt

import pytest
import time_machine

from activities.deadlines import IN_GRACE, LATE, ON_TIME, deadline_table, lateness
from activities.models import Deadline

from .conftest import make_completion


@pytest.mark.parametrize(
    ("completed", "received", "flag", "over_30"),
    [
        (dt.date(2015, 12, 18), dt.date(2015, 12, 31), ON_TIME, False),
        (dt.date(2015, 12, 18), dt.date(2016, 1, 7), IN_GRACE, False),  # ABIM's 2015 grace
        (dt.date(2015, 12, 18), dt.date(2016, 1, 8), LATE, False),
        (dt.date(2014, 6, 1), dt.date(2016, 6, 30), ON_TIME, True),  # 2014: June 30, 2016
        (dt.date(2014, 6, 1), dt.date(2016, 7, 1), LATE, True),
        (dt.date(2016, 3, 1), dt.date(2016, 3, 31), ON_TIME, False),  # 30 days: not flagged
        (dt.date(2016, 3, 1), dt.date(2016, 4, 1), ON_TIME, True),  # 31 days: flagged
        (dt.date(2016, 12, 1), dt.date(2017, 1, 1), LATE, True),
    ],
)
def test_deadline_flags(db, completed, received, flag, over_30):
    result = lateness(completed, received, deadline_table())
    assert (result.deadline, result.over_30_days) == (flag, over_30)


def test_a_year_without_a_row_is_due_december_31(db):
    Deadline.objects.filter(year=2020).delete()
    assert lateness(dt.date(2020, 5, 1), dt.date(2021, 1, 1), deadline_table()).deadline == LATE


def test_reviewers_editing_a_deadline_changes_the_flag(db):
    table = deadline_table()
    assert lateness(dt.date(2016, 12, 1), dt.date(2017, 1, 5), table).deadline == LATE
    Deadline.objects.filter(year=2016).update(grace_until=dt.date(2017, 1, 10))
    assert (
        lateness(dt.date(2016, 12, 1), dt.date(2017, 1, 5), deadline_table()).deadline == IN_GRACE
    )


def test_record_received_in_the_2015_grace_period_shows_the_flag(client_of, editor_a, activity_a):
    with time_machine.travel(dt.datetime(2016, 1, 5, 12, tzinfo=dt.UTC)):
        record = make_completion(activity_a, completion_date=dt.date(2015, 12, 20))
    page = client_of(editor_a).get(f"/participants/{record.pk}/").content.decode()
    assert "Sent in the grace period" in page
    assert "Late: sent after the deadline" not in page


def test_home_shows_upcoming_deadlines_with_what_is_open(
    client_of, editor_a, activity_a, provider_a
):
    from tests.conftest import make_activity

    with time_machine.travel(dt.datetime(2015, 12, 20, 12, tzinfo=dt.UTC)):
        make_completion(activity_a, completion_date=dt.date(2015, 12, 1), status="rejected")
        make_activity(provider_a, editor_a, title="Nobody reported yet", start=dt.date(2015, 11, 1))
        response = client_of(editor_a).get("/")
    first = response.context["deadlines"][0]
    assert (first.year, first.due_date) == (2015, dt.date(2015, 12, 31))
    assert (first.rejected, first.without_records) == (1, 1)
    assert "1 rejected record" in response.content.decode()


@pytest.mark.parametrize("shown", [2014, 2015, 2016])
def test_each_upcoming_deadline_counts_its_own_years_rejected_records(
    client_of, editor_a, activity_a, shown
):
    """On January 5, 2016 the 2014 deadline (June 30, 2016) and 2015's grace period are
    both ahead: whichever year the dashboard shows, each deadline counts the rejected
    records of its own year."""
    with time_machine.travel(dt.datetime(2016, 1, 5, 12, tzinfo=dt.UTC)):
        for day in (dt.date(2014, 6, 1), dt.date(2015, 6, 1), dt.date(2015, 12, 1)):
            make_completion(activity_a, completion_date=day, status="rejected")
        make_completion(activity_a, completion_date=dt.date(2016, 1, 2), status="rejected")
        make_completion(activity_a, completion_date=dt.date(2015, 1, 3), status="accepted")
        response = client_of(editor_a).get(f"/?year={shown}")
    assert response.context["figures"].year == shown
    assert {d.year: d.rejected for d in response.context["deadlines"]} == {2014: 1, 2015: 2}
