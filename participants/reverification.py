"""Verification the board could not answer at submission: records left `submitted` are
checked again (the `verify_pending` task, and `manage.py verify_pending`)."""

from django_tasks import task

from activities.models import Channel

from .models import Completion
from .statuses import Change, completions_status_change
from .tasks import BOARD
from .verification import (
    ROSTER_CHECK_HELD,
    VERIFICATION_PENDING,
    Candidate,
    RosterGuard,
    get_verifier,
    status_after,
)


def completions_verify_pending(*, limit: int = 10_000) -> dict[str, int]:
    """Verify again the records left `submitted` because the board could not answer, or
    held because their provider reached its limit of failed roster checks (which still
    holds here), and record each status change. Records still unanswered stay as they are."""
    waiting = [VERIFICATION_PENDING, ROSTER_CHECK_HELD]
    pending = list(
        Completion.objects.filter(status=Completion.Status.SUBMITTED, status_reason__in=waiting)
        .select_related("board")
        .order_by("id")[:limit]
    )
    groups: dict[tuple, list] = {}
    for completion in pending:
        groups.setdefault((completion.provider_id, completion.is_sandbox), []).append(completion)
    verdicts, told = {}, {}
    for (provider_id, sandbox), records in groups.items():
        candidates = [
            Candidate.of(c, board_id=c.board_id, board_code=c.board.code) for c in records
        ]
        answers = get_verifier(sandbox=sandbox).verify(candidates)
        tell = [True] * len(answers)
        if not sandbox:
            tell = RosterGuard(provider_id).screen(candidates, answers)
        for record, answer, shown in zip(records, answers, tell, strict=True):
            verdicts[record.pk], told[record.pk] = answer, shown
    counts = {"checked": len(pending), "still_pending": 0}
    changes = []
    for completion in pending:
        verdict = verdicts[completion.pk]
        status, reason = status_after(verdict, completion.board.code)
        if reason == VERIFICATION_PENDING or not told[completion.pk]:
            counts["still_pending"] += 1
            continue
        changes.append(Change(
            completion.pk, status, reason, detail={"verified_again": True},
            values={"warning": verdict.warning}, expect_status=Completion.Status.SUBMITTED,
            expect_reason=completion.status_reason,  # else changed meanwhile: left alone
        ))  # fmt: skip
    for change in completions_status_change(changes=changes, channel=Channel.SYSTEM):
        counts[change.to_status] = counts.get(change.to_status, 0) + 1
    return counts


@task(queue_name=BOARD)
def verify_pending() -> dict:
    return completions_verify_pending()
