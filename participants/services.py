"""Writes to participant records. Every status change writes a CompletionEvent."""

from collections.abc import Iterable
from itertools import islice

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from activities.models import Board

from .models import Completion, CompletionEvent, RosterEntry
from .parsers import RosterRow

DELETE_REASON_REQUIRED = "Give a reason for deleting the record."
ALREADY_DELETED = "Record {id} is already deleted."


def completion_delete(*, completion: Completion, actor, reason: str, channel: str) -> Completion:
    """Withdraw a record: it becomes `deleted`, kept for the audit trail."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": DELETE_REASON_REQUIRED})
    with transaction.atomic():
        completion = Completion.objects.select_for_update().get(pk=completion.pk)
        if completion.status == Completion.Status.DELETED:
            raise ValidationError(ALREADY_DELETED.format(id=completion.pk))
        previous = completion.status
        completion.status = Completion.Status.DELETED
        completion.status_reason = reason
        completion.status_changed_at = timezone.now()
        completion.save(update_fields=["status", "status_reason", "status_changed_at"])
        CompletionEvent.objects.create(
            completion=completion,
            actor=actor,
            channel=channel,
            from_status=previous,
            to_status=Completion.Status.DELETED,
            reason=reason,
        )
    return completion


def batched(iterable, size):
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


ROSTER_UNKNOWN_BOARD = "Unknown board {code!r}."


def roster_load(*, rows: Iterable[RosterRow], batch_size: int = 5000) -> dict[str, int]:
    """Insert or update roster entries by (board, board ID) in one transaction.

    Re-loading the same file changes nothing; a later row for the same learner wins.
    """
    boards = {board.code: board for board in Board.objects.all()}
    latest: dict[tuple[str, str], RosterRow] = {}
    for row in rows:
        if row.board_code not in boards:
            raise ValidationError(ROSTER_UNKNOWN_BOARD.format(code=row.board_code))
        latest[(row.board_code, row.learner_id)] = row
    before = RosterEntry.objects.count()
    entries = (
        RosterEntry(
            board=boards[row.board_code],
            learner_id=row.learner_id,
            first_name=row.first_name,
            last_name=row.last_name,
            birth_month=row.birth_month,
            birth_day=row.birth_day,
        )
        for row in latest.values()
    )
    with transaction.atomic():
        for chunk in batched(entries, batch_size):
            RosterEntry.objects.bulk_create(
                chunk,
                update_conflicts=True,
                unique_fields=["board", "learner_id"],
                update_fields=["first_name", "last_name", "birth_month", "birth_day", "updated_at"],
            )
    created = RosterEntry.objects.count() - before
    return {"rows": len(latest), "created": created, "already_present": len(latest) - created}
