"""The reviewers' follow-up of board rejections: assign, log a contact, resolve."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from activities.models import Channel
from pars_portal.lib.access import is_reviewer

from ..models import ContactLog
from ..statuses import completions_note

FOLLOW_UP_ASSIGNED = "Follow-up assigned to {name}"
FOLLOW_UP_UNASSIGNED = "Follow-up no longer assigned"
FOLLOW_UP_NOT_A_REVIEWER = "Follow-ups are assigned to ACCME reviewers only."
ME = object()  # follow_up_assign's default: the reviewer acting
FOLLOW_UP_CONTACT = "Provider contacted by {method} on {date}: {note}"
FOLLOW_UP_RESOLVED = "Follow-up resolved: {resolution}"
FOLLOW_UP_CLOSED = "This follow-up is already resolved."


def _follow_up_event(follow_up, reviewer, reason, action):
    completion = follow_up.completion
    completions_note(
        records=[(completion.pk, completion.status)], reason=reason, actor=reviewer,
        channel=Channel.ADMIN, detail={"review": action},
    )  # fmt: skip


def follow_up_assign(*, follow_up, reviewer, assignee=ME):
    """Assign the follow-up to a reviewer (`reviewer` by default: "assign to me"), to
    another one (reassign) or to nobody (assignee=None). Only reviewers can be assigned."""
    assignee = reviewer if assignee is ME else assignee
    if assignee is not None and not is_reviewer(assignee):
        raise ValidationError(FOLLOW_UP_NOT_A_REVIEWER)
    with transaction.atomic():
        follow_up.assigned_to = assignee
        follow_up.save(update_fields=["assigned_to"])
        if assignee is None:
            reason, action = FOLLOW_UP_UNASSIGNED, "unassigned"
        else:
            name = assignee.get_full_name() or assignee.username
            reason, action = FOLLOW_UP_ASSIGNED.format(name=name), "assigned"
        _follow_up_event(follow_up, reviewer, reason, action)
    return follow_up


def follow_up_log_contact(*, follow_up, reviewer, contacted_on, method, note):
    with transaction.atomic():
        contact = ContactLog.objects.create(
            follow_up=follow_up, reviewer=reviewer, contacted_on=contacted_on, method=method,
            note=note,
        )  # fmt: skip
        reason = FOLLOW_UP_CONTACT.format(
            method=contact.get_method_display().lower(), date=contacted_on.strftime("%m/%d/%Y"),
            note=note,
        )  # fmt: skip
        _follow_up_event(follow_up, reviewer, reason, "contact")
    return contact


def follow_up_resolve(*, follow_up, reviewer, resolution):
    if follow_up.resolution:
        raise ValidationError(FOLLOW_UP_CLOSED)
    with transaction.atomic():
        follow_up.resolution = resolution
        follow_up.resolved_at = timezone.now()
        follow_up.resolved_by = reviewer
        follow_up.save(update_fields=["resolution", "resolved_at", "resolved_by"])
        label = follow_up.get_resolution_display()
        _follow_up_event(follow_up, reviewer, FOLLOW_UP_RESOLVED.format(resolution=label),
                         "resolved")  # fmt: skip
    return follow_up
