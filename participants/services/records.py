"""Writes to one participant record: withdrawing it, and the rules every channel
shares about which records can be changed."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from activities.models import Channel
from activities.validators import text_problem

from ..models import Completion
from ..statuses import Change, completions_status_change

DELETE_REASON_REQUIRED = "Give a reason for deleting the record."
ALREADY_DELETED = "Record {id} is already deleted."
SANDBOX_THROUGH_API = "Sandbox records are managed through the API."


def completion_check_writable(completion: Completion, *, channel: str) -> None:
    """Sandbox records belong to the API key that made them: provider staff change them
    through the API, not the portal's pages (reviewers may still withdraw them in the admin)."""
    if completion.is_sandbox and channel not in (Channel.API, Channel.ADMIN):
        raise PermissionDenied(SANDBOX_THROUGH_API)


def completion_delete(*, completion: Completion, actor, reason: str, channel: str) -> Completion:
    """Withdraw a record: it becomes `deleted`, kept for the audit trail."""
    completion_check_writable(completion, channel=channel)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": DELETE_REASON_REQUIRED})
    if problem := text_problem(reason, "The reason", plain=False):
        raise ValidationError({"reason": problem})
    with transaction.atomic():
        status = (
            Completion.objects.select_for_update().values_list("status", flat=True)
            .get(pk=completion.pk)
        )  # fmt: skip
        if status == Completion.Status.DELETED:
            raise ValidationError(ALREADY_DELETED.format(id=completion.pk))
        completions_status_change(
            changes=[Change(completion.pk, Completion.Status.DELETED, reason,
                            expect_status=status)],
            actor=actor, channel=channel, strict=True,
        )  # fmt: skip
    completion.refresh_from_db()
    return completion
