"""Reviewers adding a record in the admin go through the same intake pipeline."""

from django.urls import reverse

from participants.models import Completion


def admin_entry(activity, abim, **overrides):
    data = {
        "activity": activity.pk,
        "board": abim.pk,
        "learner_id": "123456",
        "first_name": "Jane",
        "last_name": "Smith",
        "birth_month": "7",
        "birth_day": "14",
        "completion_date": "2015-12-18",
        "credit_type": abim.credit_types.get(code="MK").pk,
        "moc_points": "10",
        "learner_permission": "on",
    }
    data.update(overrides)
    return data


def test_points_above_maximum_are_shown_next_to_the_field(
    client_of, reviewer, activity_a, abim, roster
):
    client = client_of(reviewer)
    url = reverse("admin:participants_completion_add")
    response = client.post(url, admin_entry(activity_a, abim, moc_points="12"))
    assert response.status_code == 200
    assert "This activity is registered for 10 MOC points; 12 is more than that." in (
        response.content.decode()
    )
    response = client.post(url, admin_entry(activity_a, abim, learner_id="12a456"))
    assert "ABIM ID must be 6 digits." in response.content.decode()
    assert not Completion.objects.exists()


def test_reviewer_adds_a_record_verified_with_admin_channel(
    client_of, reviewer, activity_a, abim, roster
):
    client = client_of(reviewer)
    response = client.post(
        reverse("admin:participants_completion_add"), admin_entry(activity_a, abim)
    )
    assert response.status_code == 302
    record = Completion.objects.get()
    assert (record.status, record.channel, record.created_by) == ("accepted", "admin", reviewer)
    event = record.events.get()
    assert (event.channel, event.actor) == ("admin", reviewer)


def test_duplicate_in_admin_is_already_reported(client_of, reviewer, activity_a, abim, roster):
    client = client_of(reviewer)
    url = reverse("admin:participants_completion_add")
    client.post(url, admin_entry(activity_a, abim))
    response = client.post(url, admin_entry(activity_a, abim))
    assert response.status_code == 200
    assert "Already reported: record" in response.content.decode()
    assert Completion.objects.count() == 1
