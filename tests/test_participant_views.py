"""Provider staff entering, listing, searching, deleting and correcting participants."""

import datetime as dt

import pytest
from django.urls import reverse

from activities.models import ActivityEvent, MocRegistration
from participants.models import Completion


def entry(**overrides):
    data = {
        "learner_id": "123456",
        "first_name": "Jane",
        "last_name": "Smith",
        "birth_month": "7",
        "birth_day": "14",
        "completion_date": "2015-12-18",
        "credit_type": "MK",
        "moc_points": "10",
        "learner_permission": "on",
        "save": "1",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def add_url(activity):
    return reverse("participant_add", args=[activity.pars_id])


def test_editor_enters_participant_and_sees_it_accepted(client_of, editor_a, activity_a, roster):
    client = client_of(editor_a)
    response = client.post(add_url(activity_a), entry(), follow=True)
    record = Completion.objects.get()
    assert record.status == "accepted"
    assert response.redirect_chain[-1][0].endswith(f"?saved={record.pk}")
    page = response.content.decode()
    assert f"Record {record.pk}</a> saved: <strong>accepted</strong>" in page
    assert "data-just-saved" in page and 'data-status="accepted"' in page


def test_save_and_add_another_keeps_date_and_credit_type(client_of, editor_a, activity_a, roster):
    client = client_of(editor_a)
    response = client.post(
        add_url(activity_a), entry(save=None, save_another="1", credit_type="PS")
    )
    assert response.status_code == 302
    assert "completion_date=2015-12-18" in response["Location"]
    assert "credit_type=PS" in response["Location"]
    page = client.get(response["Location"]).content.decode()
    assert 'value="12/18/2015"' in page  # as on the sheet: MM/DD/YYYY
    assert '<option value="PS" selected>' in page


def test_errors_appear_next_to_the_field_and_nothing_is_stored(
    client_of, editor_a, activity_a, roster
):
    client = client_of(editor_a)
    response = client.post(add_url(activity_a), entry(moc_points="12", learner_id="12345"))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["moc_points"] == [
        "This activity is registered for 10 MOC points; 12 is more than that."
    ]
    assert form.errors["learner_id"] == ["ABIM ID must be 6 digits."]
    assert not Completion.objects.exists()


def test_entering_same_participant_twice_says_already_reported(
    client_of, editor_a, activity_a, roster
):
    client = client_of(editor_a)
    client.post(add_url(activity_a), entry())
    response = client.post(add_url(activity_a), entry())
    record = Completion.objects.get()
    assert f"Already reported: record {record.pk}, entered" in response.content.decode()
    assert Completion.objects.count() == 1


def test_viewer_sees_records_but_cannot_write(client_of, viewer_a, activity_a, roster):
    client = client_of(viewer_a)
    page = client.get(reverse("activity_detail", args=[activity_a.pars_id]))
    assert page.status_code == 200
    assert b"Enter a participant" not in page.content
    assert client.post(add_url(activity_a), entry()).status_code == 403
    assert not Completion.objects.exists()


def test_other_providers_staff_get_404(client_of, editor_b, activity_a, roster):
    client = client_of(editor_b)
    assert client.get(reverse("activity_detail", args=[activity_a.pars_id])).status_code == 404
    assert client.post(add_url(activity_a), entry()).status_code == 404


def test_correcting_a_rejected_record_links_old_and_new(client_of, editor_a, activity_a, roster):
    client = client_of(editor_a)
    client.post(add_url(activity_a), entry(birth_day="15"))
    old = Completion.objects.get()
    assert (old.status, old.status_reason) == ("rejected", "birth date does not match")
    response = client.post(
        reverse("completion_correct", args=[old.pk]), entry(birth_day="14"), follow=True
    )
    old.refresh_from_db()
    new = Completion.objects.exclude(pk=old.pk).get()
    assert (old.status, new.status) == ("deleted", "accepted")
    assert new.corrects == old
    assert old.status_reason == f"Corrected by record {new.pk}"
    assert response.redirect_chain[-1][0] == reverse("completion_detail", args=[new.pk])
    old_page = client.get(reverse("completion_detail", args=[old.pk])).content.decode()
    assert f"Record {new.pk}" in old_page and "Rejected → Deleted" in old_page


def test_refused_correction_leaves_old_record_untouched(client_of, editor_a, activity_a, roster):
    client = client_of(editor_a)
    client.post(add_url(activity_a), entry(birth_day="15"))
    old = Completion.objects.get()
    response = client.post(reverse("completion_correct", args=[old.pk]), entry(moc_points="11"))
    assert response.status_code == 200
    old.refresh_from_db()
    assert old.status == "rejected" and Completion.objects.count() == 1


def test_delete_asks_for_a_reason_and_keeps_the_record(client_of, editor_a, activity_a, roster):
    client = client_of(editor_a)
    client.post(add_url(activity_a), entry())
    record = Completion.objects.get()
    url = reverse("completion_delete", args=[record.pk])
    assert client.post(url, {"reason": ""}).status_code == 200
    client.post(url, {"reason": "wrong activity"})
    record.refresh_from_db()
    assert (record.status, record.status_reason) == ("deleted", "wrong activity")
    assert record.events.last().actor == editor_a


def test_participant_list_filters_and_totals(client_of, editor_a, activity_a, roster):
    client = client_of(editor_a)
    client.post(add_url(activity_a), entry())
    client.post(add_url(activity_a), entry(learner_id="999999", credit_type="PS"))
    url = reverse("activity_detail", args=[activity_a.pars_id])
    page = client.get(url)
    assert page.context["totals"]["records"] == 2
    assert page.context["totals"]["points"] == 20
    rejected = client.get(url, {"status": "rejected"}).context["page"]
    assert [r.learner_id for r in rejected] == ["999999"]
    found = client.get(url, {"q": "123456"}).context["page"]
    assert [r.learner_id for r in found] == ["123456"]


def test_participant_search_is_scoped_to_the_provider(
    client_of, editor_a, editor_b, activity_a, roster
):
    client_of(editor_a).post(add_url(activity_a), entry())
    client = client_of(editor_b)
    response = client.get(reverse("participant_search"), {"learner_id": "123456"})
    assert list(response.context["page"]) == []
    client = client_of(editor_a)
    response = client.get(
        reverse("participant_search"),
        {"learner_id": "123456", "date_from": "2015-12-01", "date_to": "2015-12-31",
         "status": "accepted", "activity": activity_a.pars_id},
    )  # fmt: skip
    assert [r.learner_id for r in response.context["page"]] == ["123456"]


def test_register_activity_records_five_attestations(client_of, editor_a, provider_a, abim):
    from tests.conftest import make_activity

    activity = make_activity(provider_a, editor_a, points=None)
    client = client_of(editor_a)
    url = reverse("registration_create", args=[activity.pars_id])
    data = {"moc_points": "10.5", "credit_types": [abim.credit_types.get(code="MK").pk]}
    response = client.post(url, data)
    assert response.status_code == 200  # attestations missing
    assert "This attestation is required to register." in response.content.decode()
    for statement in ("requirements", "collect_data", "data_use", "publish", "audit"):
        data[f"attest_{statement}"] = "on"
    assert client.post(url, data).status_code == 302
    registration = MocRegistration.objects.get(activity=activity)
    assert registration.attestations.count() == 5
    assert {a.attested_by for a in registration.attestations.all()} == {editor_a}
    assert ActivityEvent.objects.filter(activity=activity, action="registered").exists()


def test_registration_cannot_be_withdrawn_once_records_exist(
    client_of, editor_a, activity_a, roster
):
    client = client_of(editor_a)
    client.post(add_url(activity_a), entry())
    client.post(reverse("registration_withdraw", args=[activity_a.pars_id]))
    assert activity_a.registrations.get().status == "active"


def test_activity_create_assigns_pars_id(client_of, editor_a, provider_a):
    client = client_of(editor_a)
    response = client.post(
        reverse("activity_create"),
        {"title": "Sepsis Bootcamp", "activity_type": "C", "start_date": "2016-01-10",
         "end_date": "2016-01-12", "reporting_year": "2016", "cme_credits": "12"},
    )  # fmt: skip
    activity = provider_a.activities.get()
    assert response["Location"] == reverse("activity_detail", args=[activity.pars_id])
    assert len(activity.pars_id) == 9 and activity.pars_id.isdigit()


@pytest.mark.parametrize("name", ["activity_create"])
def test_viewers_and_reviewers_cannot_create_activities(client_of, viewer_a, reviewer, name):
    for user in (viewer_a, reviewer):
        assert client_of(user).get(reverse(name)).status_code == 403


def test_activity_list_filters(client_of, editor_a, provider_a, activity_a):
    from tests.conftest import make_activity

    make_activity(provider_a, editor_a, title="Unregistered thing", points=None,
                  start=dt.date(2016, 2, 1))  # fmt: skip
    client = client_of(editor_a)
    url = reverse("activity_list")
    titles = lambda params: [a.title for a in client.get(url, params).context["page"]]  # noqa: E731
    assert titles({"registered": "yes"}) == ["Hypertension Update"]
    assert titles({"registered": "no"}) == ["Unregistered thing"]
    assert titles({"year": "2016"}) == ["Unregistered thing"]
    assert titles({"q": "hyper"}) == ["Hypertension Update"]
