"""Viewers (and reviewers, in the portal) can read their provider's pages but every
state-changing page refuses them with 403 and changes nothing. Pages are enumerated from
the URL configuration: a new page is treated as a write page until listed as read-only."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from activities.models import ActivityEvent, MocRegistration, ProviderMembership
from participants.apikeys import api_key_create
from participants.models import ApiKey, Completion, CompletionEvent, Upload

from .conftest import make_completion, portal_patterns

READ_ONLY = {
    "home", "activity_list", "activity_detail", "participant_search", "completion_detail",
    "upload_list", "upload_detail", "upload_errors", "upload_template", "upload_help",
    "upload_status",
    "activity_export", "participant_export", "api_help", "review_queue",
    "staff_home", "staff_list",
}  # fmt: skip
PATTERNS = portal_patterns()
# Reviewer pages are tested in test_review_queue.py (provider staff get 404 there).
REVIEWER_PAGES = {"review_queue", "review_detail", "review_transmit", "review_simulate_board"}
# Staff pages: reviewers may act on them (tests/test_staff.py); viewers may not.
STAFF_PAGES = {"staff_invite", "staff_role", "staff_deactivate"}
WRITE_NAMES = sorted(p.name for p in PATTERNS if p.name not in READ_ONLY | REVIEWER_PAGES)


def url_for(name, activity, completion, upload, key):
    pattern = next(p for p in PATTERNS if p.name == name)
    values = {"pars_id": activity.pars_id, "pk": completion.pk, "upload_id": upload.pk,
              "file_format": "csv", "key_id": key.pk, "accme_id": activity.provider.accme_id,
              "membership_id": activity.provider.memberships.order_by("pk").first().pk,
              }  # fmt: skip
    kwargs = {k: values[k] for k in pattern.pattern.converters}
    return reverse(name, kwargs=kwargs)


def snapshot():
    return (
        Completion.objects.filter(status="deleted").count(),
        Completion.objects.count(),
        CompletionEvent.objects.count(),
        ActivityEvent.objects.count(),
        MocRegistration.objects.filter(status="active").count(),
        Upload.objects.count(),
        ApiKey.objects.filter(revoked_at__isnull=True).count(),
        list(ProviderMembership.objects.order_by("pk").values()),
        list(User.objects.order_by("pk").values("pk", "is_active", "password", "email")),
    )


@pytest.mark.parametrize("name", WRITE_NAMES)
def test_viewer_and_reviewer_get_403_on_every_write_page(
    client_of, name, viewer_a, reviewer, editor_a, activity_a, roster
):
    completion = make_completion(activity_a)
    upload = Upload.objects.create(
        provider=activity_a.provider, uploaded_by=editor_a, file="x.csv", file_name="x.csv",
        file_format="csv", sha256="0" * 64, status=Upload.Status.PREVIEW,
    )  # fmt: skip
    key, _ = api_key_create(provider=activity_a.provider, user=editor_a, name="x", mode="sandbox")
    url = url_for(name, activity_a, completion, upload, key)
    before = snapshot()
    role_field = f"m{viewer_a.memberships.get().pk}-role"
    data = {"reason": "x", "title": "x", "email": "new@example.org", "first_name": "N",
            "last_name": "N", "role": "manager", role_field: "manager"}  # fmt: skip
    for user in (viewer_a,) if name in STAFF_PAGES else (viewer_a, reviewer):
        client = client_of(user)
        assert client.post(url, data).status_code == 403, user
    assert snapshot() == before


def test_every_read_only_name_exists():
    names = {p.name for p in PATTERNS}
    assert {"home", "activity_list", "activity_detail", "participant_search",
            "completion_detail"} <= names  # fmt: skip
