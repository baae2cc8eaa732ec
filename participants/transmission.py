"""Transmission to the board and the board's answers (pars-spec §5 step 3).

`transmit()` collects verified records (and deletions of records the board already has)
into a batch per board: an XML learner report file, pushed over HTTP when a board endpoint
is configured. `ingest_answers()` applies the board's per-record answers. The simulated
board (`simulated_board_answers`) is for demos and tests only: it is not ABIM.
"""

import io
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from activities.models import Board, Channel
from activities.validators import text_problem, writable

from .exports import record_report, write_learner_report
from .intake import VERIFIED_AWAITING_BOARD
from .models import Completion, CompletionEvent, FollowUp, RosterEntry, TransmissionBatch
from .verification import same_name

logger = logging.getLogger(__name__)

BOARD_REJECTED = "Rejected by {board}: {text} ({code})"
BOARD_CONFIRMED = "Confirmed by {board}"
ANSWER_UNKNOWN_RECORD = "No record {ref} was sent to the board."
ANSWER_DELETED = "Record {id} is deleted; the answer is ignored."
ANSWER_INVALID = "Answer {index}: {problem}."


def _to_send(board):
    """Records the board should get: verified, real (never sandbox), not yet sent."""
    ready = Completion.objects.filter(board=board, is_sandbox=False, transmitted_at__isnull=True)
    if settings.ACCEPTANCE_MODE == "board":
        verified_reason = VERIFIED_AWAITING_BOARD.format(board=board.code)
        return ready.filter(status=Completion.Status.SUBMITTED, status_reason=verified_reason)
    return ready.filter(status=Completion.Status.ACCEPTED)


def _deletions(board):
    """Deleted records the board has and did not reject: it must hear about the deletion.
    (A record the board rejected is not on its books; a correction replaces it.)"""
    return Completion.objects.filter(
        board=board,
        is_sandbox=False,
        status=Completion.Status.DELETED,
        transmitted_at__isnull=False,
        deletion_transmitted_in__isnull=True,
        follow_up__isnull=True,
    )


def _report(completion, action):
    return record_report(completion, action=action, extra={"RecordID": completion.pk})


def transmit(*, limit: int = 50_000) -> list[TransmissionBatch]:
    """One batch per board with something to send. A failed push leaves the records unsent
    (they go in the next batch); the failed batch is kept for the audit trail."""
    batches = []
    for board in Board.objects.all():
        with transaction.atomic():
            related = ("provider", "activity", "board", "credit_type")
            adds = list(
                _to_send(board)
                .select_for_update(of=("self",))
                .select_related(*related)
                .order_by("id")[:limit]
            )
            deletes = list(
                _deletions(board)
                .select_for_update(of=("self",))  # lock the records, not the joined rows
                .select_related(*related)
                .order_by("id")[:limit]
            )
            reports, unsendable = [], []
            for completion, action in [(c, "add") for c in adds] + [(c, "delete") for c in deletes]:
                try:
                    reports.append(_report(completion, action))
                except ValueError:  # text a learner report cannot hold: set the record aside
                    unsendable.append(completion)
            if unsendable:
                _set_aside(unsendable, board)
                adds = [c for c in adds if c not in unsendable]
                deletes = [c for c in deletes if c not in unsendable]
            if not adds and not deletes:
                continue
            buffer = io.BytesIO()
            write_learner_report(buffer, reports)
            content = buffer.getvalue()
            error = _push(board, content)
            batch = TransmissionBatch(
                board=board,
                additions=len(adds),
                deletions=len(deletes),
                status=(
                    TransmissionBatch.Status.FAILED
                    if error
                    else TransmissionBatch.Status.SENT
                    if settings.BOARD_ENDPOINT_URL
                    else TransmissionBatch.Status.FILE_ONLY
                ),
                error=error[:500],
            )
            batch.file.save(f"{board.code.lower()}-batch.xml", ContentFile(content), save=False)
            batch.save()
            if not error:
                now = timezone.now()
                Completion.objects.filter(pk__in=[c.pk for c in adds]).update(
                    transmitted_in=batch, transmitted_at=now
                )
                Completion.objects.filter(pk__in=[c.pk for c in deletes]).update(
                    deletion_transmitted_in=batch
                )
            batches.append(batch)
    return batches


NOT_SENT = "Not sent to {board}: {problem}"
TEXT_FIELDS = {"first_name": "First name", "last_name": "Last name", "credit_id": "Credit ID"}


def _unwritable(completion) -> str:
    """What of the record a learner report cannot hold (data from before the portal refused
    such characters at every entry point; `manage.py find_unwritable_text` lists it)."""
    values = [(label, getattr(completion, name)) for name, label in TEXT_FIELDS.items()]
    values += [("Activity title", completion.activity.title),
               ("Provider name", completion.provider.name)]  # fmt: skip
    for label, value in values:
        if problem := text_problem(value or "", label, plain=False):
            return problem
    return "it cannot be written to a learner report"


def _set_aside(records, board):
    """Records that cannot be written stay unsent, each in the reviewers' queue with the
    reason, and the rest of the batch goes: one record never stops everyone's transmission."""
    for record in records:
        reason = NOT_SENT.format(board=board.code, problem=_unwritable(record))[:300]
        logger.error("Record %s set aside: %s", record.pk, reason)
        FollowUp.objects.get_or_create(completion=record, defaults={"reason": reason})


def _push(board, content: bytes) -> str:
    """POST the batch to the board endpoint, if one is configured; '' when it worked."""
    if not settings.BOARD_ENDPOINT_URL:
        return ""
    request = urllib.request.Request(  # noqa: S310 - the configured board endpoint
        settings.BOARD_ENDPOINT_URL.rstrip("/") + "/batches",
        data=content,
        method="POST",
        headers={
            "Content-Type": "application/xml",
            "Authorization": f"Bearer {settings.BOARD_ENDPOINT_TOKEN}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.BOARD_TIMEOUT_SECONDS):  # noqa: S310
            return ""
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        logger.warning("Pushing a batch to %s failed: %s", board.code, error)
        return f"Push to the board failed: {error}"


@dataclass
class AnswerReport:
    confirmed: int = 0
    rejected: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)


def ingest_answers(answers: list, *, board_code: str = "ABIM") -> AnswerReport:
    """Apply the board's answers: [{"recordId" or "creditId", "result": "accepted" |
    "rejected", "reasonCode", "reason"}]. Replaying the same answers changes nothing;
    answers for unknown or deleted records are reported, never applied."""
    report = AnswerReport()
    if not isinstance(answers, list):
        report.problems.append(ANSWER_INVALID.format(index=0, problem="expected a list"))
        return report
    board = Board.objects.get(code=board_code)
    ids = {a.get("recordId") for a in answers if isinstance(a, dict)}
    records = {
        c.pk: c
        for c in Completion.objects.filter(
            pk__in=[i for i in ids if isinstance(i, int)], board=board, is_sandbox=False,
            transmitted_at__isnull=False,
        ).select_related("board")
    }  # fmt: skip
    now = timezone.now()
    events = []
    with transaction.atomic():
        for index, answer in enumerate(answers, start=1):
            if not isinstance(answer, dict) or answer.get("result") not in ("accepted", "rejected"):
                report.problems.append(
                    ANSWER_INVALID.format(
                        index=index, problem="result must be accepted or rejected"
                    )
                )
                continue
            record = records.get(answer.get("recordId"))
            if record is None:
                report.problems.append(ANSWER_UNKNOWN_RECORD.format(ref=answer.get("recordId")))
                continue
            if record.status == Completion.Status.DELETED:
                report.problems.append(ANSWER_DELETED.format(id=record.pk))
                continue
            if answer["result"] == "accepted":
                if record.board_confirmed_at is not None:
                    report.unchanged += 1
                    continue
                update = {"board_confirmed_at": now}
                new_status = record.status
                if record.status == Completion.Status.SUBMITTED:  # acceptance mode "board"
                    new_status = Completion.Status.ACCEPTED
                    update["status"] = new_status
                    update["status_changed_at"] = now
                    update["status_reason"] = BOARD_CONFIRMED.format(board=board.code)
                Completion.objects.filter(pk=record.pk).update(**update)
                events.append(CompletionEvent(
                    completion=record, at=now, channel=Channel.BOARD, from_status=record.status,
                    to_status=new_status, reason=BOARD_CONFIRMED.format(board=board.code),
                    detail={"board_answer": answer},
                ))  # fmt: skip
                report.confirmed += 1
            else:
                reason = BOARD_REJECTED.format(
                    board=board.code,
                    text=writable(str(answer.get("reason") or "no reason given")[:200]),
                    code=writable(str(answer.get("reasonCode") or "-")[:20]),
                )
                if record.status == Completion.Status.REJECTED and record.status_reason == reason:
                    report.unchanged += 1
                    continue
                Completion.objects.filter(pk=record.pk).update(
                    status=Completion.Status.REJECTED, status_reason=reason,
                    status_changed_at=now,
                )  # fmt: skip
                events.append(CompletionEvent(
                    completion=record, at=now, channel=Channel.BOARD, from_status=record.status,
                    to_status=Completion.Status.REJECTED, reason=reason,
                    detail={"board_answer": answer},
                ))  # fmt: skip
                report.rejected += 1
        CompletionEvent.objects.bulk_create(events)
    for problem in report.problems:
        logger.warning("Board answer not applied: %s", problem)
    rejected = [e.completion_id for e in events if e.to_status == Completion.Status.REJECTED]
    if rejected:
        from .tasks import send_rejection_digests

        # Board rejections enter the reviewers' queue (a new rejection reopens it).
        reasons = {e.completion_id: e.reason for e in events if e.completion_id in rejected}
        FollowUp.objects.bulk_create(
            [FollowUp(completion_id=pk, reason=reasons[pk]) for pk in rejected],
            ignore_conflicts=True,
        )
        for pk in rejected:  # a new rejection reopens the follow-up with the new reason
            FollowUp.objects.filter(completion_id=pk).update(
                reason=reasons[pk], resolution="", resolved_at=None, resolved_by=None
            )

        send_rejection_digests.enqueue(rejected, by_board=True)
    return report


SIMULATED_NAME_REJECTION = ("NAME", "Name does not match the board's records")


def simulated_board_answers(batch: TransmissionBatch) -> list[dict]:
    """SIMULATED BOARD — for demos and tests only, not ABIM. Answers the additions of a
    batch from the local roster: accepted when the board ID, birth date and name match;
    rejected with a reason otherwise (the portal's own check only warns about names)."""
    sent = Completion.objects.filter(transmitted_in=batch).select_related("board")
    roster = {
        (r.board_id, r.learner_id): r
        for r in RosterEntry.objects.filter(learner_id__in=sent.values("learner_id"))
    }
    answers = []
    for record in sent:
        entry = roster.get((record.board_id, record.learner_id))
        if entry is None:
            answers.append({"recordId": record.pk, "result": "rejected", "reasonCode": "ID",
                            "reason": "Unknown board ID"})  # fmt: skip
        elif (entry.birth_month, entry.birth_day) != (record.birth_month, record.birth_day):
            answers.append({"recordId": record.pk, "result": "rejected", "reasonCode": "DOB",
                            "reason": "Birth date does not match"})  # fmt: skip
        elif not (same_name(entry.first_name, record.first_name)
                  and same_name(entry.last_name, record.last_name)):  # fmt: skip
            code, text = SIMULATED_NAME_REJECTION
            answers.append({"recordId": record.pk, "result": "rejected", "reasonCode": code,
                            "reason": text})  # fmt: skip
        else:
            answers.append({"recordId": record.pk, "result": "accepted"})
    return answers


def answers_from_file(content: bytes) -> list:
    """A board answer file is JSON: a list of answers, or {"answers": [...]}."""
    data = json.loads(content)
    return data["answers"] if isinstance(data, dict) and "answers" in data else data
