"""The reviewers' queue of board rejections: oldest first with age, assign, log contact,
resolve, filters — every action in the record's history; provider staff never see it."""

import datetime as dt

import time_machine
from django.urls import reverse

from participants.models import FollowUp
from participants.transmission import ingest_answers, transmit

from .test_intake import row, submit


def board_rejects(activity, editor, learner="123456", credit_type="MK"):
    outcome = submit(activity, [row(activity, learner_id=learner, credit_type=credit_type)],
                     editor).outcomes[0]  # fmt: skip
    transmit()
    ingest_answers([{"recordId": outcome.completion_id, "result": "rejected",
                     "reasonCode": "DOB", "reason": "Birth date does not match"}])  # fmt: skip
    return FollowUp.objects.get(completion_id=outcome.completion_id)


def test_board_rejections_enter_the_queue_oldest_first(
    client_of, reviewer, activity_a, activity_b, editor_a, editor_b, roster, media_root
):
    with time_machine.travel(dt.datetime(2016, 1, 2, tzinfo=dt.UTC), tick=False):
        older = board_rejects(activity_b, editor_b)
    with time_machine.travel(dt.datetime(2016, 1, 20, tzinfo=dt.UTC), tick=False):
        newer = board_rejects(activity_a, editor_a)
    with time_machine.travel(dt.datetime(2016, 1, 22, tzinfo=dt.UTC), tick=False):
        page = client_of(reviewer).get(reverse("review_queue")).context["page"]
        assert [f.pk for f in page] == [older.pk, newer.pk]
        assert [f.age_days for f in page] == [20, 2]
        client = client_of(reviewer)
        ids = lambda **p: [f.pk for f in client.get(reverse("review_queue"), p).context["page"]]  # noqa: E731
        assert ids(provider="5678") == [older.pk]
        assert ids(older_than="10") == [older.pk]
        assert ids(reason="birth date") == [older.pk, newer.pk]
        assert ids(assignee="me") == []


def test_assign_contact_and_resolve_are_in_the_history(
    client_of, reviewer, activity_a, editor_a, roster, media_root
):
    follow_up = board_rejects(activity_a, editor_a)
    client = client_of(reviewer)
    url = reverse("review_detail", args=[follow_up.pk])
    client.post(url, {"action": "assign"})
    client.post(url, {"action": "contact", "contacted_on": "2016-01-21", "method": "phone",
                      "note": "Spoke with the CME coordinator"})  # fmt: skip
    client.post(url, {"action": "resolve", "resolution": "resubmitted"})
    follow_up.refresh_from_db()
    assert (follow_up.assigned_to, follow_up.resolution) == (reviewer, "resubmitted")
    assert follow_up.contacts.get().note == "Spoke with the CME coordinator"
    reasons = list(follow_up.completion.events.values_list("reason", flat=True))
    assert reasons[-3:] == [
        "Follow-up assigned to reviewer",
        "Provider contacted by phone on 01/21/2016: Spoke with the CME coordinator",
        "Follow-up resolved: Provider resubmitted",
    ]
    assert [f.pk for f in client.get(reverse("review_queue")).context["page"]] == []
    assert client.get(reverse("review_queue"), {"state": "resolved"}).context["page"][0] == (
        follow_up
    )


def test_provider_staff_never_see_the_queue(
    client_of, editor_a, viewer_a, activity_a, roster, media_root
):
    follow_up = board_rejects(activity_a, editor_a)
    for user in (editor_a, viewer_a):
        client = client_of(user)
        assert client.get(reverse("review_queue")).status_code == 404
        detail = reverse("review_detail", args=[follow_up.pk])
        assert client.post(detail, {"action": "assign"}).status_code == 404
    follow_up.refresh_from_db()
    assert follow_up.assigned_to is None


def test_reviewers_can_send_now_and_let_the_simulated_board_answer(
    client_of, reviewer, editor_a, activity_a, roster, settings, media_root
):
    from participants.models import Completion

    submit(activity_a, [row(activity_a, first_name="Janet")], editor_a)
    client = client_of(reviewer)
    client.post(reverse("review_transmit"))
    assert Completion.objects.get().transmitted_at is not None
    page = client.post(reverse("review_simulate_board"), follow=True)
    assert "Simulated board answered batch" in page.content.decode()
    assert Completion.objects.get().status == "rejected"
    assert len(page.context["page"]) == 1
    settings.SIMULATED_BOARD = False
    assert client.post(reverse("review_simulate_board")).status_code == 404
    assert client_of(editor_a).post(reverse("review_transmit")).status_code == 404


def test_the_reviewer_chooses_the_resolution_and_is_told_it_is_done(
    client_of, reviewer, activity_a, editor_a, roster, media_root
):
    """No resolution is preselected (a click on "Mark resolved" alone says nothing
    happened yet); resolving says so; the queue row links to the record itself."""
    follow_up = board_rejects(activity_a, editor_a)
    client = client_of(reviewer)
    url = reverse("review_detail", args=[follow_up.pk])
    form = client.get(url).context["resolve_form"]
    assert form["resolution"].value() in (None, "")
    client.post(url, {"action": "resolve", "resolution": ""})
    follow_up.refresh_from_db()
    assert follow_up.resolution == ""
    page = client.post(url, {"action": "resolve", "resolution": "withdrawn"}, follow=True)
    assert "Follow-up resolved: Provider withdrew the record." in page.content.decode()
    queue = client.get(reverse("review_queue"), {"state": "all"}).content.decode()
    assert reverse("completion_detail", args=[follow_up.completion_id]) in queue


def test_the_queue_filters_by_provider_from_the_same_menu_as_the_dashboard(
    client_of, reviewer, activity_a, activity_b, editor_a, editor_b, roster, media_root
):
    board_rejects(activity_a, editor_a)
    theirs = board_rejects(activity_b, editor_b)
    client = client_of(reviewer)
    page = client.get(reverse("review_queue"), {"provider": activity_b.provider.accme_id})
    html = page.content.decode()
    assert f'<option value="{activity_b.provider.accme_id}" selected>' in html
    assert activity_a.provider.name in html  # the other provider is a choice of the menu
    assert [f.pk for f in page.context["page"]] == [theirs.pk]


def test_a_reviewer_reassigns_unassigns_and_sees_whom_to_contact(
    client_of, reviewer, activity_a, editor_a, roster, media_root
):
    from .conftest import make_user

    colleague = make_user("colleague", reviewer=True)
    follow_up = board_rejects(activity_a, editor_a)
    client = client_of(reviewer)
    url = reverse("review_detail", args=[follow_up.pk])
    page = client.get(url).content.decode()
    assert f'href="mailto:{editor_a.email}' in page  # the provider's editor, to contact
    done = client.post(url, {"action": "reassign", "assignee": colleague.pk}, follow=True)
    assert "Assigned to colleague." in done.content.decode()
    follow_up.refresh_from_db()
    assert follow_up.assigned_to == colleague
    client.post(url, {"action": "reassign", "assignee": editor_a.pk})  # not a reviewer
    follow_up.refresh_from_db()
    assert follow_up.assigned_to == colleague
    done = client.post(url, {"action": "unassign"}, follow=True)
    assert "No longer assigned." in done.content.decode()
    follow_up.refresh_from_db()
    assert follow_up.assigned_to is None
    reasons = list(follow_up.completion.events.values_list("reason", flat=True))
    assert reasons[-2:] == ["Follow-up assigned to colleague", "Follow-up no longer assigned"]
