"""The reviewer admin: bad input is shown on the page, changes go through the services and
land in the history, and the page of an object shows what a reviewer needs to audit it."""

import datetime as dt

from django.urls import reverse

from activities.models import ActivityEvent, Provider
from participants.models import Completion, CompletionEvent, FollowUp
from participants.transmission import ingest_answers, transmit

from .conftest import make_completion


def form_data(response) -> dict:
    """The POST data the admin page in `response` would send unchanged: the main form's
    current values and every inline formset's management form and rows."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        forms.extend(inline.formset.forms)
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            if value is True:
                value = "on"
            elif isinstance(value, list | tuple):
                value = [str(item) for item in value]
            elif isinstance(value, dt.date):
                value = value.isoformat()
            data[form.add_prefix(name)] = value
    return data


def test_provider_id_with_six_digits_is_shown_on_the_add_form(client_of, reviewer):
    client = client_of(reviewer)
    url = reverse("admin:activities_provider_add")
    data = form_data(client.get(url))
    data.update(accme_id="123456", name="Prairie Heart Institute", accreditation_type="accme")
    response = client.post(url, data)
    assert response.status_code == 200
    assert "ACCME provider ID must be 7 digits" in response.content.decode()
    assert not Provider.objects.filter(name="Prairie Heart Institute").exists()


def test_reviewer_adds_provider_with_seven_digit_id(client_of, reviewer):
    client = client_of(reviewer)
    url = reverse("admin:activities_provider_add")
    data = form_data(client.get(url))
    data.update(accme_id="0004321", name="Prairie Heart Institute", accreditation_type="accme")
    response = client.post(url, data)
    assert response.status_code == 302
    assert Provider.objects.get(name="Prairie Heart Institute").accme_id == "0004321"


def test_reviewers_activity_edit_is_recorded_with_admin_channel(client_of, reviewer, activity_a):
    client = client_of(reviewer)
    url = reverse("admin:activities_activity_change", args=[activity_a.pk])
    data = form_data(client.get(url))
    data["title"] = "Hypertension Update 2016"
    response = client.post(url, data)
    assert response.status_code == 302
    activity_a.refresh_from_db()
    assert activity_a.title == "Hypertension Update 2016"
    event = activity_a.events.filter(action=ActivityEvent.Action.UPDATED).get()
    assert event.channel == "admin"
    assert event.actor == reviewer
    assert event.changes == {"title": ["Hypertension Update", "Hypertension Update 2016"]}


def test_bad_activity_dates_are_shown_and_nothing_changes(client_of, reviewer, activity_a):
    client = client_of(reviewer)
    url = reverse("admin:activities_activity_change", args=[activity_a.pk])
    data = form_data(client.get(url))
    data["end_date"] = "2015-09-01"
    response = client.post(url, data)
    assert response.status_code == 200
    assert "The end date is before the start date." in response.content.decode()
    activity_a.refresh_from_db()
    assert activity_a.end_date == dt.date(2015, 12, 30)
    assert not activity_a.events.filter(action=ActivityEvent.Action.UPDATED).exists()


WITHDRAW = {"action": "withdraw"}


def withdraw(client, records, **extra):
    return client.post(
        reverse("admin:participants_completion_changelist"),
        {**WITHDRAW, "_selected_action": [r.pk for r in records], **extra},
        follow=True,
    )


def test_withdraw_action_asks_for_a_reason_then_deletes_with_history(
    client_of, reviewer, activity_a
):
    """The action first lists the records and asks why; nothing changes until the reviewer
    confirms with a reason, which each record's history keeps."""
    kept = make_completion(activity_a, learner_id="234567")
    completion = make_completion(activity_a)
    client = client_of(reviewer)
    asked = withdraw(client, [completion])
    page = asked.content.decode()
    assert asked.status_code == 200
    assert "Withdraw participant records" in page and "Reason" in page
    assert f">{completion.pk}</a>" in page and f">{kept.pk}</a>" not in page
    completion.refresh_from_db()
    assert completion.status == Completion.Status.SUBMITTED  # not yet
    unexplained = withdraw(client, [completion], confirm="Withdraw")
    assert "This field is required." in unexplained.content.decode()
    completion.refresh_from_db()
    assert completion.status == Completion.Status.SUBMITTED
    done = withdraw(client, [completion], confirm="Withdraw", reason="Duplicate of record 7")
    assert "1 record withdrawn." in done.content.decode()
    completion.refresh_from_db()
    assert (completion.status, completion.status_reason) == ("deleted", "Duplicate of record 7")
    event = CompletionEvent.objects.get(completion=completion)
    assert (event.channel, event.actor, event.to_status, event.reason) == (
        "admin", reviewer, "deleted", "Duplicate of record 7"
    )  # fmt: skip
    kept.refresh_from_db()
    assert kept.status == Completion.Status.SUBMITTED


def test_withdrawing_a_deleted_record_again_warns(client_of, reviewer, activity_a):
    completion = make_completion(activity_a)
    client = client_of(reviewer)
    withdraw(client, [completion], confirm="Withdraw", reason="Wrong learner")
    page = withdraw(client, [completion], confirm="Withdraw", reason="Again").content.decode()
    assert f"Record {completion.pk} is already deleted." in page
    assert "0 records withdrawn." in page
    assert CompletionEvent.objects.filter(completion=completion).count() == 1


def test_provider_staff_cannot_withdraw_through_admin(client_of, editor_a, activity_a):
    completion = make_completion(activity_a)
    response = client_of(editor_a).post(
        reverse("admin:participants_completion_changelist"),
        {"action": "withdraw", "_selected_action": [completion.pk]},
    )
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")
    completion.refresh_from_db()
    assert completion.status == Completion.Status.SUBMITTED


def test_reviewer_cannot_edit_a_completion_in_place(client_of, reviewer, activity_a):
    completion = make_completion(activity_a)
    client = client_of(reviewer)
    url = reverse("admin:participants_completion_change", args=[completion.pk])
    client.post(url, {"learner_id": "999999", "last_name": "Changed"})
    completion.refresh_from_db()
    assert (completion.learner_id, completion.last_name) == ("123456", "Smith")


# --- What a reviewer sees on an object's page -------------------------------------------


def test_activity_page_shows_registration_and_history(client_of, reviewer, activity_a):
    url = reverse("admin:activities_activity_change", args=[activity_a.pk])
    page = client_of(reviewer).get(url).content.decode()
    assert "Registered for MOC" in page  # the history entry of the registration
    assert "editor-a" in page  # who registered it


def test_registration_page_shows_the_attestations(client_of, reviewer, activity_a):
    registration = activity_a.active_registration()
    url = reverse("admin:activities_mocregistration_change", args=[registration.pk])
    page = client_of(reviewer).get(url).content.decode()
    assert "ACCME may publish data about the activity on its website." in page


def test_completion_page_shows_its_history(client_of, reviewer, editor_a, activity_a):
    completion = make_completion(activity_a)
    CompletionEvent.objects.create(
        completion=completion,
        actor=editor_a,
        channel="form",
        to_status="submitted",
        reason="Entered at the front desk",
    )
    url = reverse("admin:participants_completion_change", args=[completion.pk])
    page = client_of(reviewer).get(url).content.decode()
    assert "Entered at the front desk" in page


def test_provider_page_shows_its_staff(client_of, reviewer, editor_a, viewer_a, provider_a):
    url = reverse("admin:activities_provider_change", args=[provider_a.pk])
    page = client_of(reviewer).get(url).content.decode()
    assert "editor-a" in page
    assert "viewer-a" in page


def test_board_page_shows_its_credit_types(client_of, reviewer, abim):
    url = reverse("admin:activities_board_change", args=[abim.pk])
    page = client_of(reviewer).get(url).content.decode()
    assert "Patient Safety" in page


def test_reviewer_can_find_a_user_when_adding_provider_staff(client_of, reviewer, editor_a):
    """The membership form picks the user through the admin's autocomplete."""
    response = client_of(reviewer).get(
        reverse("admin:autocomplete"),
        {
            "app_label": "activities",
            "model_name": "providermembership",
            "field_name": "user",
            "term": "editor",
        },
    )
    assert response.status_code == 200
    assert [item["text"] for item in response.json()["results"]] == ["editor-a"]


def test_withdrawing_from_the_admin_closes_the_records_follow_up(
    client_of, reviewer, activity_a, roster
):
    completion = make_completion(activity_a, status="accepted")
    transmit()
    ingest_answers([{"recordId": completion.pk, "result": "rejected", "reasonCode": "ID",
                     "reason": "Unknown ABIM ID"}])  # fmt: skip
    withdraw(client_of(reviewer), [completion], confirm="Withdraw", reason="Not our learner")
    follow_up = FollowUp.objects.get(completion=completion)
    assert (follow_up.resolution, follow_up.resolved_by) == ("withdrawn", reviewer)


def test_reviewers_find_records_by_provider_name(client_of, reviewer, activity_a, activity_b):
    """The admin's record list filters by provider (its name in the filter) and its
    search box finds a provider's records by the provider's name."""
    ours = make_completion(activity_a)
    theirs = make_completion(activity_b, learner_id="234567")
    client = client_of(reviewer)
    url = reverse("admin:participants_completion_changelist")
    page = client.get(url)
    assert activity_a.provider.name in page.content.decode()  # in the filter
    found = client.get(url, {"q": activity_b.provider.name}).context["cl"].result_list
    assert [r.pk for r in found] == [theirs.pk]
    filtered = client.get(url, {"provider__id__exact": activity_a.provider_id})
    assert [r.pk for r in filtered.context["cl"].result_list] == [ours.pk]
    assert "Transmission batches" in client.get(reverse("admin:index")).content.decode()


def test_a_records_history_in_the_admin_reads_as_fields(client_of, reviewer, activity_a, roster):
    completion = make_completion(activity_a, status="accepted")
    transmit()
    ingest_answers([{"recordId": completion.pk, "result": "rejected", "reasonCode": "ID",
                     "reason": "Unknown ABIM ID"}])  # fmt: skip
    page = (
        client_of(reviewer)
        .get(reverse("admin:participants_completion_change", args=[completion.pk]))
        .content.decode()
    )
    assert "Board&#x27;s answer: rejected ID Unknown ABIM ID" in page
    assert "Transmission batch: " in page
    assert "recordId" not in page  # no raw JSON
