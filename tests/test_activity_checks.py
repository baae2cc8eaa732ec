"""Activity edits are checked against what exists: an activity with records keeps dates that
contain them, a registration keeps the points and credit types its records use, the
reporting year is one the activity runs in; and the registration form shows every problem
in one round."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from activities.models import ActivityEvent, Board

from .conftest import make_activity, make_completion


def edit_data(client, activity, **changes) -> dict:
    form = client.get(reverse("activity_edit", args=[activity.pars_id])).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(changes)
    return data


def errors_of(response) -> dict:
    return {k: [str(e) for e in v] for k, v in response.context["form"].errors.items()}


@pytest.fixture
def with_records(activity_a):
    # The activity runs 10/01/2015 – 12/30/2015; records completed 10/15 and 11/20.
    make_completion(activity_a, completion_date=dt.date(2015, 10, 15), learner_id="123456")
    make_completion(activity_a, completion_date=dt.date(2015, 11, 20), learner_id="234567",
                    moc_points=Decimal("7.5"))  # fmt: skip
    make_completion(activity_a, completion_date=dt.date(2015, 12, 20), learner_id="345678",
                    status="deleted")  # fmt: skip  # deleted: does not count
    return activity_a


def test_dates_must_still_contain_every_reported_completion(client_of, editor_a, with_records):
    client = client_of(editor_a)
    url = reverse("activity_edit", args=[with_records.pars_id])
    response = client.post(url, edit_data(client, with_records, start_date="2015-11-01",
                                          end_date="2015-11-10"))  # fmt: skip
    assert response.status_code == 200
    errors = errors_of(response)
    # Both problems at once, each on its field, naming the record date that holds it.
    assert "from 10/15/2015" in errors["start_date"][0]
    assert "up to 11/20/2015" in errors["end_date"][0]
    with_records.refresh_from_db()
    assert with_records.start_date == dt.date(2015, 10, 1)

    # Dates that still contain them are fine (the deleted record's 12/20 does not count).
    ok = client.post(url, edit_data(client, with_records, start_date="2015-10-15",
                                    end_date="2015-11-20"))  # fmt: skip
    assert ok.status_code == 302
    with_records.refresh_from_db()
    assert with_records.end_date == dt.date(2015, 11, 20)


def test_an_activity_without_records_can_move_freely(client_of, editor_a, activity_a):
    client = client_of(editor_a)
    url = reverse("activity_edit", args=[activity_a.pars_id])
    response = client.post(url, edit_data(client, activity_a, start_date="2015-11-01",
                                          end_date="2015-11-10"))  # fmt: skip
    assert response.status_code == 302


@pytest.mark.parametrize("year", ["2013", "2014", "2017"])
def test_the_reporting_year_must_be_a_year_the_activity_runs_in(
    client_of, editor_a, activity_a, year
):
    client = client_of(editor_a)
    url = reverse("activity_edit", args=[activity_a.pars_id])
    response = client.post(url, edit_data(client, activity_a, reporting_year=year))
    assert response.status_code == 200
    assert errors_of(response)["reporting_year"]


def test_a_new_activity_with_an_implausible_reporting_year_is_refused(client_of, editor_a):
    response = client_of(editor_a).post(reverse("activity_create"), {
        "title": "Sepsis Bootcamp", "activity_type": "C", "start_date": "2016-01-10",
        "end_date": "2016-01-12", "reporting_year": "2061", "cme_credits": "12",
    })  # fmt: skip
    assert response.status_code == 200
    assert "not a year the activity runs in (2016)" in errors_of(response)["reporting_year"][0]


# --- The registration's points and credit types -------------------------------------------


def registration_post(client, activity, points, codes):
    board = Board.objects.get(code="ABIM")
    ids = [board.credit_types.get(code=c).pk for c in codes]
    url = reverse("registration_edit", args=[activity.pars_id])
    return client.post(url, {"moc_points": points, "credit_types": ids})


def test_points_cannot_go_below_the_most_reported(client_of, editor_a, with_records):
    client = client_of(editor_a)
    response = registration_post(client, with_records, "5", ["MK"])
    assert response.status_code == 200
    assert "up to 10 MOC points" in errors_of(response)["moc_points"][0]
    assert registration_post(client, with_records, "10", ["MK"]).status_code == 302


def test_a_credit_type_in_use_cannot_be_removed_but_one_can_be_added(
    client_of, editor_a, provider_a
):
    activity = make_activity(provider_a, editor_a, title="Two kinds", codes=("MK", "PA"))
    make_completion(activity, credit="PA")
    client = client_of(editor_a)
    response = registration_post(client, activity, "10", ["MK"])
    assert "PA cannot be taken away" in errors_of(response)["credit_types"][0]
    # MK is not used: it can go; PS can be added.
    assert registration_post(client, activity, "12", ["PA", "PS"]).status_code == 302
    registration = activity.active_registration()
    assert sorted(ct.code for ct in registration.credit_types.all()) == ["PA", "PS"]
    assert registration.moc_points == Decimal("12")
    event = ActivityEvent.objects.filter(activity=activity, action="updated").get()
    assert event.changes == {"moc_points": ["10", "12"],
                             "credit_types": [["MK", "PA"], ["PA", "PS"]]}  # fmt: skip


def test_both_registration_problems_show_in_one_round(client_of, editor_a, provider_a):
    activity = make_activity(provider_a, editor_a, title="Two kinds", codes=("MK", "PA"))
    make_completion(activity, credit="PA")
    response = registration_post(client_of(editor_a), activity, "5", ["MK"])
    errors = errors_of(response)
    assert set(errors) == {"moc_points", "credit_types"}


def test_the_registration_form_shows_all_its_errors_in_one_round(client_of, editor_a, provider_a):
    activity = make_activity(provider_a, editor_a, title="Not yet", points=None)
    url = reverse("registration_create", args=[activity.pars_id])
    # Points off the 0.25 step, no credit type, no attestation: three problems, one answer.
    response = client_of(editor_a).post(url, {"moc_points": "1.3"})
    errors = errors_of(response)
    assert "moc_points" in errors and "0.25" in errors["moc_points"][0]
    assert "credit_types" in errors
    assert sum(1 for name in errors if name.startswith("attest_")) == 5


def test_viewers_cannot_change_a_registration(client_of, viewer_a, activity_a):
    response = registration_post(client_of(viewer_a), activity_a, "12", ["MK"])
    assert response.status_code == 403
    assert activity_a.active_registration().moc_points == Decimal("10")
