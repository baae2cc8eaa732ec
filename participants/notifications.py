"""Rejection digests: one email per provider per run to its editors (and managers), and one to ACCME
reviewers for board rejections — never one email per record."""

from collections import defaultdict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django_tasks import task

from activities.selectors import provider_writers
from pars_portal.lib.access import REVIEWERS_GROUP

from .models import Completion
from .tasks import DEFAULT

SUBJECT_PROVIDER = "PARS: {count} participant record{s} rejected"
SUBJECT_REVIEWERS = "PARS: ABIM rejected {count} record{s} from {providers} provider{ps}"


def notify_rejections(record_ids, *, by_board: bool = False) -> int:
    """Send the digests for these newly rejected records; returns the number of emails."""
    records = list(
        Completion.objects.filter(pk__in=list(record_ids), status=Completion.Status.REJECTED,
                                  is_sandbox=False)
        .select_related("provider", "activity")
        .order_by("provider_id", "activity__pars_id", "last_name")
    )  # fmt: skip
    if not records:
        return 0
    base = settings.PORTAL_BASE_URL.rstrip("/")
    for record in records:
        record.url = base + reverse("completion_detail", args=[record.pk])
    by_provider = defaultdict(list)
    for record in records:
        by_provider[record.provider].append(record)
    editors = defaultdict(list)
    for provider_id, email in (
        provider_writers([p.pk for p in by_provider])
        .exclude(user__email="")
        .values_list("provider_id", "user__email")
    ):
        editors[provider_id].append(email)
    messages = []
    for provider, items in by_provider.items():
        if not editors[provider.pk]:
            continue
        body = render_to_string(
            "participants/email_rejections.txt",
            {"provider": provider, "records": items, "by_board": by_board},
        )
        subject = SUBJECT_PROVIDER.format(count=len(items), s="" if len(items) == 1 else "s")
        messages.append((subject, body, settings.DEFAULT_FROM_EMAIL, editors[provider.pk]))
    if by_board:
        reviewers = list(
            get_user_model().objects.filter(groups__name=REVIEWERS_GROUP, is_active=True)
            .exclude(email="").values_list("email", flat=True)
        )  # fmt: skip
        if reviewers:
            body = render_to_string(
                "participants/email_board_rejections.txt", {"groups": dict(by_provider)}
            )
            subject = SUBJECT_REVIEWERS.format(
                count=len(records), s="" if len(records) == 1 else "s",
                providers=len(by_provider), ps="" if len(by_provider) == 1 else "s",
            )  # fmt: skip
            messages.append((subject, body, settings.DEFAULT_FROM_EMAIL, reviewers))
    return send_mass_mail(messages, fail_silently=False)


@task(queue_name=DEFAULT)
def send_rejection_digests(record_ids: list[int], by_board: bool = False) -> int:
    return notify_rejections(record_ids, by_board=by_board)
