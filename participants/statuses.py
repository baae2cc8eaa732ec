"""The one place a participant record's status changes and its history is written.

Every writer calls it: the intake pipeline (records created, deleted, superseded), a
withdrawal (portal, API, admin), re-verification, the board's answers, transmission and the
reviewers' follow-up (history only). No other module updates `Completion.status` or creates
a `CompletionEvent` (tests/test_statuses.py reads the code to hold that).

What a change sets off (who is told, which follow-up opens or closes) is one table here,
`AFTER_CHANGE`, applied in the same transaction (the emails are queued in it too).
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from activities.models import Channel
from pars_portal.lib.db import insert_returning_ids

from .models import Completion, CompletionEvent, FollowUp
from .notifications import send_rejection_digests

Status = Completion.Status
CHUNK = 5000  # ids per query: below SQLite's variable limit


class StatusConflict(Exception):
    """A record changed since the caller read it (strict changes only): nothing was written."""


@dataclass(slots=True)
class Change:
    """One record's change. `note=True` writes history (and `values`) only: the record keeps
    its status and reason. `expect_status`/`expect_reason`: change the record only if it
    still has them (else it was changed meanwhile, and is left alone)."""

    completion_id: int
    to_status: str = ""
    reason: str = ""
    detail: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)  # other columns set with it
    note: bool = False
    expect_status: str | None = None
    expect_reason: str | None = None
    from_status: str = ""  # filled in from the database


# --- What a change sets off ------------------------------------------------------------------

TELL_EDITORS = "the provider's editors, one digest"
TELL_EDITORS_WHEN_SAVED = "the provider's editors, one digest once the whole upload is saved"
TELL_EDITORS_AND_REVIEWERS = "the provider's editors and ACCME's reviewers, one digest each"
OPEN_FOLLOW_UP = "open (or reopen) the record's follow-up in the reviewers' queue"
CLOSE_FOLLOW_UP = "close the record's open follow-up: the provider withdrew it"

# (new status, channel) → what follows. A rejection typed on a page (web form, admin) is
# shown to the person at once, so nobody is emailed. Sandbox records never notify anyone.
# A deletion is a withdrawal; a record superseded by its correction is not (its follow-up
# stays for the reviewer to close as "Provider resubmitted").
AFTER_CHANGE: dict[tuple[str, str], tuple[str, ...]] = {
    (Status.REJECTED, Channel.API): (TELL_EDITORS,),
    (Status.REJECTED, Channel.UPLOAD): (TELL_EDITORS_WHEN_SAVED,),
    (Status.REJECTED, Channel.SYSTEM): (TELL_EDITORS,),  # verified again later
    (Status.REJECTED, Channel.BOARD): (TELL_EDITORS_AND_REVIEWERS, OPEN_FOLLOW_UP),
    **{(Status.DELETED, channel): (CLOSE_FOLLOW_UP,) for channel in Channel.values},
}


def rejections_tell(ids: list[int], *, channel: str, saved: bool = False) -> None:
    """Queue the digests that rejections by `channel` call for. `saved`:
    the upload these came from is saved whole (its digest waits until then)."""
    effects = AFTER_CHANGE.get((Status.REJECTED, channel), ())
    wanted = TELL_EDITORS_WHEN_SAVED if saved else None
    if not ids or not (
        TELL_EDITORS in effects or TELL_EDITORS_AND_REVIEWERS in effects or wanted in effects
    ):
        return
    by_board = TELL_EDITORS_AND_REVIEWERS in effects
    # Queued in the caller's transaction: the task exists if and only if the change does.
    send_rejection_digests.enqueue(list(ids), by_board=by_board)


def _after(applied: list[Change], *, channel: str, actor, now, tell: bool = True) -> None:
    changed = [c for c in applied if not c.note]
    rejected = [c for c in changed if c.to_status == Status.REJECTED]
    if tell:
        rejections_tell([c.completion_id for c in rejected], channel=channel)
    if rejected and OPEN_FOLLOW_UP in AFTER_CHANGE.get((Status.REJECTED, channel), ()):
        FollowUp.objects.bulk_create(
            [FollowUp(completion_id=c.completion_id, reason=c.reason) for c in rejected],
            ignore_conflicts=True,
        )
        # A new rejection reopens the follow-up with the new reason (one UPDATE per batch).
        reasons = {c.completion_id: c.reason[:300] for c in rejected}
        reopened = []
        for ids in _chunks(list(reasons)):
            for follow_up in FollowUp.objects.filter(completion_id__in=ids).only(
                "pk", "completion_id"
            ):
                follow_up.reason = reasons[follow_up.completion_id]
                follow_up.resolution, follow_up.resolved_at, follow_up.resolved_by = "", None, None
                reopened.append(follow_up)
        FollowUp.objects.bulk_update(
            reopened, ["reason", "resolution", "resolved_at", "resolved_by"], batch_size=1000
        )
    deleted = [c.completion_id for c in changed if c.to_status == Status.DELETED]
    if deleted and CLOSE_FOLLOW_UP in AFTER_CHANGE[(Status.DELETED, channel)]:
        for ids in _chunks(deleted):
            FollowUp.objects.filter(completion_id__in=ids, resolution="").update(
                resolution=FollowUp.Resolution.WITHDRAWN, resolved_at=now,
                resolved_by=actor if actor and actor.pk else None,
            )  # fmt: skip


# --- Changes ---------------------------------------------------------------------------------


def _chunks(ids: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _event(completion_id, from_status, to_status, reason, *, actor, channel, now, detail):
    return {
        "completion_id": completion_id, "actor_id": actor.pk if actor else None, "at": now,
        "channel": channel, "from_status": from_status, "to_status": to_status,
        "reason": reason[:300], "detail": detail,
    }  # fmt: skip


def completions_status_change(
    *, changes: Iterable[Change], actor=None, channel: str, now: dt.datetime | None = None,
    strict: bool = False,
) -> list[Change]:  # fmt: skip
    """Apply `changes` in bulk, in one transaction: the records are locked and read, each
    change whose record is still as expected is written (one UPDATE per kind of change),
    with one history entry each (one INSERT), and what the changes set off follows. Returns
    the changes applied; `strict`: any record changed meanwhile raises StatusConflict and
    nothing is written."""
    changes = list(changes)
    now = now or timezone.now()
    if not changes:
        return []
    with transaction.atomic():
        current = {}
        for ids in _chunks([c.completion_id for c in changes]):
            current.update(
                (pk, (status, reason))
                for pk, status, reason in Completion.objects.select_for_update()
                .filter(pk__in=ids)
                .values_list("pk", "status", "status_reason")
            )
        applied = []
        for change in changes:
            status, reason = current.get(change.completion_id, (None, None))
            expected = status is not None and (
                change.expect_status is None or change.expect_status == status
            ) and (change.expect_reason is None or change.expect_reason == reason)  # fmt: skip
            if not expected:
                if strict:
                    raise StatusConflict(change.completion_id)
                continue
            change.from_status = status
            if change.note:
                change.to_status = change.to_status or status
            applied.append(change)
        _write(applied, now=now)
        CompletionEvent.objects.bulk_create(
            [CompletionEvent(**_event(c.completion_id, c.from_status, c.to_status, c.reason,
                                      actor=actor, channel=channel, now=now, detail=c.detail))
             for c in applied],
            batch_size=2000,
        )  # fmt: skip
        _after(applied, channel=channel, actor=actor, now=now)
    return applied


def _write(applied: list[Change], *, now) -> None:
    """One UPDATE per kind of change (same columns): records whose status changes get the
    new status, reason and time; notes only their `values`."""
    kinds: dict[tuple, list[Completion]] = {}
    for change in applied:
        values = dict(change.values)
        if not change.note:
            values.update(status=change.to_status, status_reason=change.reason[:300],
                          status_changed_at=now)  # fmt: skip
        if values:
            record = Completion(pk=change.completion_id, **values)
            kinds.setdefault(tuple(sorted(values)), []).append(record)
    for fields, records in kinds.items():
        Completion.objects.bulk_update(records, list(fields), batch_size=1000)


def completions_note(
    *, records: Iterable[tuple[int, str]], reason: str, actor=None, channel: str,
    detail: dict | None = None, now: dt.datetime | None = None,
) -> None:  # fmt: skip
    """History only, for (record id, its current status) pairs the caller holds: sent to
    the board, a reviewer's follow-up step. Nothing of the record changes."""
    now = now or timezone.now()
    CompletionEvent.objects.bulk_create(
        [CompletionEvent(**_event(pk, status, status, reason, actor=actor, channel=channel,
                                  now=now, detail=detail or {}))
         for pk, status in records],
        batch_size=2000,
    )  # fmt: skip


# --- The intake pipeline's write ---------------------------------------------------------------


@dataclass(slots=True)
class Replaced:
    """A current record the pipeline deletes: by a delete row, or superseded by a new one."""

    completion_id: int
    from_status: str
    reason: str  # for a superseded record, a template with {id}: the new record's
    detail: dict = field(default_factory=dict)
    by_new: int | None = None  # index in `new` of the record superseding it


def completions_intake_write(
    *, new: list[dict], details: list[dict], replaced: list[Replaced], actor, channel: str,
    now: dt.datetime, upload_id: int | None = None,
) -> list[int]:  # fmt: skip
    """The pipeline's batch: records it deletes or supersedes become `deleted`, the new
    records are inserted (plain column values; `details[i]` is new record i's history
    detail), each with its history entry. Returns the new records' ids, in order. Must run
    inside the caller's transaction; a replaced record changed meanwhile raises
    StatusConflict (the pipeline re-checks the batch)."""
    if replaced:
        # Deleted first: the new records take their natural keys (the partial unique
        # constraint holds among records that are not deleted).
        changed = 0
        for ids in _chunks([r.completion_id for r in replaced]):
            changed += (
                Completion.objects.filter(pk__in=ids)
                .exclude(status=Status.DELETED)
                .update(status=Status.DELETED, status_changed_at=now)
            )
        if changed != len(replaced):
            raise StatusConflict([r.completion_id for r in replaced])
    for values in new:
        values["status_changed_at"] = values["created_at"] = now
    ids = insert_returning_ids(Completion, new)
    events, reasons = [], []
    for gone in replaced:
        reason = gone.reason.format(id=ids[gone.by_new]) if gone.by_new is not None else gone.reason
        reasons.append(Completion(pk=gone.completion_id, status_reason=reason))
        events.append(_event(gone.completion_id, gone.from_status, Status.DELETED, reason,
                             actor=actor, channel=channel, now=now,
                             detail=_with_upload(gone.detail, upload_id)))  # fmt: skip
    for pk, values, detail in zip(ids, new, details, strict=True):
        detail = _with_upload(detail, upload_id)
        events.append(_event(pk, "", values["status"], values["status_reason"], actor=actor,
                             channel=channel, now=now, detail=detail))  # fmt: skip
    if reasons:
        Completion.objects.bulk_update(reasons, ["status_reason"])
    insert_returning_ids(CompletionEvent, events, returning=False)
    # A record superseded by its correction keeps its follow-up open: the reviewer closes
    # it as "Provider resubmitted". A delete row withdraws its record.
    applied = [Change(r.completion_id, Status.DELETED, from_status=r.from_status)
               for r in replaced if r.by_new is None]  # fmt: skip
    applied += [Change(pk, values["status"], values["status_reason"])
                for pk, values in zip(ids, new, strict=True)]  # fmt: skip
    sandbox = bool(new) and new[0]["is_sandbox"]  # a batch is all sandbox or all real
    _after(applied, channel=channel, actor=actor, now=now, tell=not sandbox)
    return ids


def _with_upload(detail: dict, upload_id: int | None) -> dict:
    if upload_id and "upload" not in detail:
        return {**detail, "upload": upload_id}
    return detail
