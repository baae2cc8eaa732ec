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
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from activities.models import Board, Channel
from activities.services import portal_event_record
from activities.validators import text_problem, writable

from .exports import record_report, write_learner_report
from .models import Completion, CompletionEvent, FollowUp, RosterEntry, TransmissionBatch
from .statuses import Change, completions_note, completions_status_change
from .tasks import BOARD
from .verification import VERIFIED_AWAITING_BOARD, same_name

logger = logging.getLogger(__name__)

BOARD_REJECTED = "Rejected by {board}: {text} ({code})"
BOARD_CONFIRMED = "Confirmed by {board}"
ANSWER_UNKNOWN_RECORD = "No record {ref} was sent to the board."
ANSWER_DELETED = (
    "Record {id} was deleted before the answer came: the answer is kept in its history, "
    "not applied."
)
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


SENT = "Sent to {board} in batch {batch}"
DELETION_SENT = "Deletion sent to {board} in batch {batch}"


def transmit(*, limit: int = 50_000, actor=None) -> list[TransmissionBatch]:
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
                _record_sent(batch, adds, deletes, actor, now)
            portal_event_record(
                action="transmission.send", actor=actor,
                channel=Channel.ADMIN if actor else Channel.SYSTEM, obj=batch,
                text=f"Batch {batch.pk} to {board.code}: {len(adds)} records, "
                f"{len(deletes)} deletions, {batch.get_status_display().lower()}",
            )  # fmt: skip
            batches.append(batch)
    return batches


def _record_sent(batch, adds, deletes, actor, now):
    """Each record's history says when it went to the board, in which batch, and who asked
    (none: the scheduled run)."""
    channel = Channel.ADMIN if actor else Channel.SYSTEM
    for template, records in ((SENT, adds), (DELETION_SENT, deletes)):
        completions_note(
            records=[(c.pk, c.status) for c in records], actor=actor, channel=channel, now=now,
            reason=template.format(board=batch.board.code, batch=batch.pk),
            detail={"batch": batch.pk},
        )  # fmt: skip


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


ANSWER_RECORDED = (
    "The board's answer ({result}) came after the record was deleted: kept, not applied"
)
REASON_MAX, CODE_MAX = 200, 20


def _valid_answer(answer) -> str:
    """'' for an answer of the documented shape, else what is wrong with it."""
    if not isinstance(answer, dict):
        return "an answer must be an object"
    record_id = answer.get("recordId")
    if type(record_id) is not int:  # not a string, a list, a float nor a boolean
        return "recordId must be an integer"
    if answer.get("result") not in ("accepted", "rejected"):
        return "result must be accepted or rejected"
    for name in ("reason", "reasonCode"):
        if answer.get(name) is not None and not isinstance(answer[name], str):
            return f"{name} must be a string"
    return ""


def _kept(answer) -> dict:
    """What history keeps of an answer: its fields, capped."""
    return {
        "recordId": answer["recordId"], "result": answer["result"],
        "reasonCode": writable(str(answer.get("reasonCode") or ""))[:CODE_MAX],
        "reason": writable(str(answer.get("reason") or ""))[:REASON_MAX],
    }  # fmt: skip


def ingest_answers(answers: list, *, board_code: str = "ABIM") -> AnswerReport:
    """Apply the board's answers: [{"recordId", "result": "accepted" | "rejected",
    "reasonCode", "reason"}]. Replaying the same answers changes nothing; answers for unknown
    records are reported, never applied. The records are locked and read inside the
    transaction, so an answer applies to the status it was meant for: a record deleted
    meanwhile keeps its deletion (the answer is recorded in its history, not applied)."""
    report = AnswerReport()
    if not isinstance(answers, list):
        report.problems.append(ANSWER_INVALID.format(index=0, problem="expected a list"))
        return report
    board = Board.objects.get(code=board_code)
    valid = {}
    for index, answer in enumerate(answers, start=1):
        if problem := _valid_answer(answer):
            report.problems.append(ANSWER_INVALID.format(index=index, problem=problem))
        else:
            valid[index] = _kept(answer)
    now = timezone.now()
    changes = []
    with transaction.atomic():
        records = {
            c.pk: c
            for c in Completion.objects.select_for_update(of=("self",))
            .filter(pk__in={a["recordId"] for a in valid.values()}, board=board,
                    is_sandbox=False, transmitted_at__isnull=False)
            .only("pk", "status", "status_reason", "status_changed_at", "board_confirmed_at")
        }  # fmt: skip
        already_recorded = set(
            CompletionEvent.objects.filter(
                completion_id__in=[pk for pk, r in records.items() if r.status == "deleted"],
                reason__in=[ANSWER_RECORDED.format(result=r) for r in ("accepted", "rejected")],
            ).values_list("completion_id", "reason")
        )
        for answer in valid.values():
            record = records.get(answer["recordId"])
            if record is None:
                report.problems.append(ANSWER_UNKNOWN_RECORD.format(ref=answer["recordId"]))
                continue
            change = Change(record.pk, detail={"board_answer": answer},
                            expect_status=record.status)  # fmt: skip
            if record.status == Completion.Status.DELETED:
                report.problems.append(ANSWER_DELETED.format(id=record.pk))
                recorded = (record.pk, ANSWER_RECORDED.format(result=answer["result"]))
                if recorded not in already_recorded:  # once, however often replayed
                    already_recorded.add(recorded)
                    change.note, change.reason = True, recorded[1]
                    changes.append(change)
                continue
            if answer["result"] == "accepted":
                if record.board_confirmed_at is not None:
                    report.unchanged += 1
                    continue
                change.reason = BOARD_CONFIRMED.format(board=board.code)
                change.values = {"board_confirmed_at": now}
                if record.status == Completion.Status.SUBMITTED:  # acceptance mode "board"
                    change.to_status = Completion.Status.ACCEPTED
                else:  # already accepted: confirmed, status and reason kept
                    change.note = True
                report.confirmed += 1
            else:
                reason = BOARD_REJECTED.format(
                    board=board.code,
                    text=answer["reason"] or "no reason given",
                    code=answer["reasonCode"] or "-",
                )
                if record.status == Completion.Status.REJECTED and record.status_reason == reason:
                    report.unchanged += 1
                    continue
                # Rejections enter the reviewers' queue and the digests (statuses.AFTER_CHANGE).
                change.to_status, change.reason = Completion.Status.REJECTED, reason
                report.rejected += 1
            changes.append(change)
        completions_status_change(changes=changes, channel=Channel.BOARD, now=now, strict=True)
    for problem in report.problems:
        logger.warning("Board answer not applied: %s", problem)
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


@task(queue_name=BOARD)
def transmit_to_board(requested_by: int | None = None) -> int:
    actor = get_user_model().objects.filter(pk=requested_by).first() if requested_by else None
    return len(transmit(actor=actor))
