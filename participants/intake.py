"""The intake pipeline: every channel (web form, batch file, web service, admin) hands its
normalized rows to `intake_batches()` / `intake_submit()`.

For each batch of rows it loads what it needs in a handful of queries (activities,
registrations, boards and credit types, existing records by natural key and credit ID, the
roster), checks every row in memory (pars-spec §5 step 1), applies the duplicate and
credit-ID rules, runs provisional verification, then writes records and their events in
bulk inside one short transaction. The result is one outcome per row, in input order.
"""

import datetime as dt
import hashlib
import itertools
import json
import random
import sys
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Q
from django.utils import timezone

from activities.models import Activity, Board, CreditType, MocRegistration
from activities.validators import credit_id_problem
from pars_portal.lib.bulk import CompactIntSet
from pars_portal.lib.db import ManyIn

from .models import Completion, RosterEntry, mint_credit_id, name_key
from .reverification import verify_pending
from .rows import Action, IntakeResult, ParticipantRow, Result, RowOutcome, normalize_name
from .statuses import Replaced, StatusConflict, completions_intake_write
from .validation import completion_errors, correction_refused, fmt_date
from .verification import (
    ROSTER_CHECK_HELD,
    Candidate,
    RosterGuard,
    get_verifier,
    same_name,
    status_after,
)

ACTIVITY_UNKNOWN = "Activity {ref} is not one of your provider's activities."
ACTIVITY_REQUIRED = "The PARS activity ID is required."
LEGACY_CODE_SUNSET = (
    "The legacy ABIM module code {code} is no longer accepted since {sunset}; "
    "use PARS activity ID {pars_id}."
)
BOARD_UNKNOWN = "Unknown board {code!r}."
CREDIT_TYPE_REQUIRED = "The credit type is required (use {codes})."
CREDIT_TYPE_UNKNOWN = "Unknown credit type {value!r} for {board} (use {codes})."
ACTION_INVALID = "Action must be add or delete, not {value!r}."
ALREADY_REPORTED = "Already reported: record {id}, entered {date}."
ALREADY_REPORTED_DIFFERENT = (
    "Already reported: record {id}, entered {date}, with different values. To change it, "
    "correct record {id}."
)
NOTHING_CHANGED = (
    "Nothing changed: record {id} already has these values. Change what was wrong, or leave "
    "record {id} as it is."
)
ALREADY_IN_BATCH = "Already reported in row {row} of this submission."
ALREADY_EARLIER = "Already reported earlier in this submission."
NOTHING_TO_DELETE = (
    "No record to delete: no current record for this learner, activity, credit type and "
    "completion date."
)
ALREADY_DELETED = "Already deleted: record {id} (credit ID {credit_id})."
DELETE_OF_NEW_ROW = (
    "Row {row} of this submission adds this record; it cannot be deleted in the same submission."
)
DELETED_BY_PROVIDER = "Deleted by the provider"
SUPERSEDED_BY = "Superseded by record {id}"
CORRECTED_BY = "Corrected by record {id}"


def _unchanged(existing: "_Existing", row: ParticipantRow, key: tuple) -> bool:
    """A correction that would store exactly what the record already holds."""
    return (
        existing.key == key
        and (existing.first_name, existing.last_name) == (row.first_name, row.last_name)
        and (existing.birth_month, existing.birth_day) == (row.birth_month, row.birth_day)
        and existing.moc_points == row.moc_points
        and existing.cme_credits == row.cme_credits
    )


def _already_reported(outcome, existing: "_Existing", template: str, dates: dict) -> None:
    """`dates`: the batch's {created_at: "MM/DD/YYYY" in the portal's time zone} (a batch's
    records share a few creation times; converting each costs more than the check)."""
    outcome.result = Result.ALREADY_REPORTED
    outcome.completion_id = existing.id
    outcome.status = existing.status
    created = existing.created_at
    if (date := dates.get(created)) is None:
        date = dates[created] = fmt_date(timezone.localdate(created))
    outcome.message = template.format(id=existing.id, date=date)


def _is_delete(row: ParticipantRow) -> bool:
    return (row.action or "").strip().lower() == Action.DELETE


_FIELDS = (
    "id", "status", "first_name", "last_name", "birth_month", "birth_day",
    "created_at", "activity_id", "board_id", "learner_id", "credit_type_id",
    "completion_date", "credit_id", "upload_id", "moc_points", "cme_credits",
)  # fmt: skip


@dataclass(slots=True)
class Lookup:
    """Which of the provider's records a batch's rows could be about: current records of
    its learners in its activities, or holding its credit IDs; deleted records its delete
    rows name by credit ID; records its corrections name."""

    activity_ids: list[int]
    learner_ids: list[str]
    credit_ids: list[str]
    deleting: list[str]
    corrects: list[int]

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}  # no copies

    def records(self, provider_id: int, sandbox: bool, fields=_FIELDS):
        """One query: the values (as `fields` names them: id and status first) of the
        records its rows name, deleted ones included (which of them count is the pipeline's
        business)."""
        mine = Completion.objects.filter(provider_id=provider_id, is_sandbox=sandbox).order_by()
        found = mine.filter(
            ManyIn(F("activity_id"), self.activity_ids), ManyIn(F("learner_id"), self.learner_ids)
        ).values_list(*fields)
        by_credit_id = sorted(set(self.credit_ids) | set(self.deleting))
        if by_credit_id:
            found = found.union(
                mine.filter(ManyIn(F("credit_id"), by_credit_id)).values_list(*fields)
            )
        if self.corrects:
            found = found.union(mine.filter(ManyIn(F("id"), self.corrects)).values_list(*fields))
        return found


def _fingerprint(found, deleted_ids=frozenset()) -> str:
    """What a batch's decisions rest on in the records table: which records its lookup
    finds, and their status (in a dry run, `deleted_ids` were deleted by earlier batches,
    as they will be when the batch is saved)."""
    deleted = Completion.Status.DELETED.value
    statuses = sorted((v[0], deleted if v[0] in deleted_ids else v[1]) for v in found)
    return hashlib.blake2b(repr(statuses).encode(), digest_size=16).hexdigest()


# --- One batch ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Existing:
    id: int
    status: str
    first_name: str
    last_name: str
    birth_month: int
    birth_day: int
    created_at: dt.datetime
    key: tuple
    credit_id: str | None
    upload_id: int | None = None
    status_before: str = ""
    moc_points: Decimal | None = None
    cme_credits: Decimal | None = None


@dataclass(slots=True)
class _New:
    row: ParticipantRow
    values: dict
    board_code: str
    outcome: RowOutcome
    supersedes: _Existing | None = None
    supersede_reason: str = SUPERSEDED_BY


class _Batch:
    """State for one batch: what was loaded, and what the rows decided."""

    def __init__(
        self, *, provider, rows, actor, channel, upload, today, dry_run, sandbox,
        deleted_by_key, after_write,
    ):  # fmt: skip
        self.provider = provider
        self.rows = rows
        self.actor = actor
        self.channel = channel
        self.upload = upload
        self.today = today
        self.sandbox = sandbox
        self.outcomes: list[RowOutcome] = []
        self.new: list[_New] = []
        self.deletes: list[tuple[_Existing, str]] = []
        # Keys added by earlier rows of this batch: key → row number.
        self.pending_keys: dict[tuple, int] = {}
        self.pending_credit_ids: dict[str, int] = {}
        self.credit_type_cache: dict[tuple, object] = {}
        self.dates: dict[dt.datetime, str] = {}  # creation times of records found, as shown
        # Dry runs write nothing the next batch could see, so they carry what earlier
        # batches decided (key hashes and ids: memory stays small for a million rows).
        self.dry_run: _DryRunState | None = dry_run
        # Records deleted by earlier rows of this submission, by key: a later add of the
        # same key is their correction and links to them (carried across batches).
        self.deleted_by_key: dict[tuple, _Existing] = deleted_by_key
        self.after_write = after_write
        self.held = False  # records kept unchecked: the provider's roster-check limit
        # A row decided by a record an earlier batch of this dry run adds (intake_write_plan).
        self.rests_on_earlier = False

    # -- loading (a fixed number of queries, whatever the batch size) --

    def load(self):
        refs = {r.activity_ref for r in self.rows if r.activity_ref}
        digits = {ref.zfill(9) for ref in refs if ref.isdigit()}
        codes = {ref.upper() for ref in refs if not ref.isdigit()}  # stored upper-case
        wanted = Q(pars_id__in=digits)
        if codes:
            wanted |= Q(legacy_module_code__in=codes)
        activities = Activity.objects.filter(provider=self.provider).filter(wanted)
        self.by_pars_id = {}
        self.by_legacy = {}
        for activity in activities:
            self.by_pars_id[activity.pars_id] = activity
            if activity.legacy_module_code:
                self.by_legacy[activity.legacy_module_code.upper()] = activity
        self.boards = {b.code: b for b in Board.objects.prefetch_related("credit_types")}
        self.registrations = {}
        for registration in MocRegistration.objects.filter(
            activity__in=list(self.by_pars_id.values()), status=MocRegistration.Status.ACTIVE
        ).prefetch_related("credit_types"):
            offered = {ct.code for ct in registration.credit_types.all()}
            self.registrations[(registration.activity_id, registration.board_id)] = (
                registration,
                offered,
            )
        learner_ids = {r.learner_id for r in self.rows if r.learner_id}
        credit_ids = {r.credit_id for r in self.rows if r.credit_id}
        # A delete names its record by credit ID first, deleted ones included: deleting a
        # record again (a retry, or an export uploaded again) is "already reported".
        deleting = {r.credit_id for r in self.rows if r.credit_id and _is_delete(r)}
        corrects = {r.corrects_id for r in self.rows if r.corrects_id}
        self.existing_by_key: dict[tuple, _Existing] = {}
        self.existing_by_credit_id: dict[str, _Existing] = {}
        self.existing_by_id: dict[int, _Existing] = {}
        self.deleted_by_credit_id: dict[str, _Existing] = {}
        self.lookup = Lookup(
            activity_ids=sorted(a.pk for a in self.by_pars_id.values()),
            learner_ids=sorted(learner_ids), credit_ids=sorted(credit_ids),
            deleting=sorted(deleting), corrects=sorted(corrects),
        )  # fmt: skip
        found = list(self.lookup.records(self.provider.pk, self.sandbox))
        self.fingerprint = _fingerprint(found, self.dry_run.deleted_ids if self.dry_run else ())
        deleted = Completion.Status.DELETED.value
        dry_deleted = self.dry_run.deleted_ids if self.dry_run else ()
        by_id, by_key = self.existing_by_id, self.existing_by_key
        for values in found:
            (pk, status, first, last, month, day, created, activity_id, board_id,
             learner_id, credit_type_id, completion_date, credit_id, upload_id, points,
             cme) = values  # fmt: skip
            # Positional, in _Existing's order: 100,000 records a batch on a re-upload.
            existing = _Existing(pk, status, first, last, month, day, created,
                                 (activity_id, board_id, learner_id, credit_type_id,
                                  completion_date),
                                 credit_id, upload_id, status, points, cme)  # fmt: skip
            if pk in dry_deleted:
                existing.status = deleted  # by an earlier batch
            by_id[pk] = existing
            if existing.status != deleted:
                by_key[existing.key] = existing
                if credit_id:
                    self.existing_by_credit_id[credit_id] = existing
            elif credit_id in deleting:
                latest = self.deleted_by_credit_id.get(credit_id)
                if latest is None or latest.id < pk:
                    self.deleted_by_credit_id[credit_id] = existing

    # -- checking, row by row, in memory --

    def resolve_activity(self, row, errors):
        ref = row.activity_ref
        if not ref:
            errors["activity"] = ACTIVITY_REQUIRED
            return None
        if ref.isdigit():
            activity = self.by_pars_id.get(ref.zfill(9))
        else:
            activity = self.by_legacy.get(ref.upper())
            sunset = dt.date.fromisoformat(settings.LEGACY_MODULE_CODE_SUNSET)
            if activity is not None and self.today >= sunset:
                errors["activity"] = LEGACY_CODE_SUNSET.format(
                    code=ref, sunset=fmt_date(sunset), pars_id=activity.pars_id
                )
                return None
        if activity is None:
            errors["activity"] = ACTIVITY_UNKNOWN.format(ref=ref)
        return activity

    def resolve_credit_type(self, row, board, errors):
        value = (row.credit_type or "").strip()
        if not value:
            codes = ", ".join(ct.code for ct in board.credit_types.all())
            errors.setdefault("credit_type", CREDIT_TYPE_REQUIRED.format(codes=codes))
            return None
        cached = self.credit_type_cache.get((board.id, value))
        if cached is not None:
            return cached
        for credit_type in board.credit_types.all():
            if value.upper() == credit_type.code.upper() or same_name(value, credit_type.label):
                self.credit_type_cache[(board.id, value)] = credit_type
                return credit_type
        codes = ", ".join(ct.code for ct in board.credit_types.all())
        errors["credit_type"] = CREDIT_TYPE_UNKNOWN.format(
            value=value, board=board.code, codes=codes
        )
        return None

    def check(self):
        for row in self.rows:
            outcome = RowOutcome(row_number=row.row_number, result=Result.ERROR, row=row)
            self.outcomes.append(outcome)
            errors = dict(row.errors)
            action = (row.action or Action.ADD).strip().lower()
            if action not in (Action.ADD, Action.DELETE):
                errors["action"] = ACTION_INVALID.format(value=row.action)
            activity = self.resolve_activity(row, errors)
            board = self.boards.get((row.board_code or "ABIM").upper())
            if board is None:
                errors["board"] = BOARD_UNKNOWN.format(code=row.board_code)
            credit_type = self.resolve_credit_type(row, board, errors) if board else None
            if errors or activity is None or board is None or credit_type is None:
                outcome.errors = errors
                continue
            row.first_name = normalize_name(row.first_name)
            row.last_name = normalize_name(row.last_name)
            key = (activity.id, board.id, row.learner_id, credit_type.id, row.completion_date)
            if action == Action.DELETE:
                self.check_delete(row, key, outcome)
            else:
                self.check_add(row, activity, board, credit_type, key, outcome)

    def check_add(self, row, activity, board, credit_type, key, outcome):
        """An add row, step by step; the first step that decides the outcome ends it:
        the record's rules, a repeat within this submission, the record it corrects, a
        record already there (by credit ID, then by natural key), else a new record."""
        if self._breaks_the_rules(row, activity, board, credit_type, outcome):
            return
        if self._repeated_in_this_submission(row, key, outcome):
            return
        corrected = self._record_it_corrects(row, key, outcome)
        if outcome.errors:
            return
        existing = self._record_already_there(row, key, corrected, outcome)
        if outcome.result == Result.ALREADY_REPORTED:
            return
        supersedes, reason = corrected, CORRECTED_BY
        if corrected is None and key in self.deleted_by_key:
            # "delete" then "add" of the same key: the add corrects the deleted record.
            corrected = self.deleted_by_key.pop(key)
        if existing is not None and existing is not corrected:
            if not self._resubmits_a_rejection(row, existing, corrected, outcome):
                return
            # A rejected record re-sent with corrected values: the real system's
            # "correct and resubmit" without a separate delete (pars-spec §8.4).
            supersedes, reason = existing, SUPERSEDED_BY
        corrects = supersedes or corrected
        self._add_new(row, activity, board, credit_type, key, outcome,
                      supersedes=supersedes, reason=reason, corrects=corrects)  # fmt: skip

    def _breaks_the_rules(self, row, activity, board, credit_type, outcome) -> bool:
        """The record's own rules (participants.validation), as every channel has them."""
        registration, offered = self.registrations.get((activity.id, board.id), (None, set()))
        outcome.errors = completion_errors(
            activity=activity, registration=registration, offered_codes=offered, board=board,
            learner_id=row.learner_id, first_name=row.first_name, last_name=row.last_name,
            birth_month=row.birth_month, birth_day=row.birth_day,
            completion_date=row.completion_date, credit_type_code=credit_type.code,
            moc_points=row.moc_points, learner_permission=row.learner_permission,
            today=self.today, cme_credits=row.cme_credits, credit_id=row.credit_id,
        )  # fmt: skip
        return bool(outcome.errors)

    def _repeated_in_this_submission(self, row, key, outcome) -> bool:
        """The same record earlier in this batch, or in an earlier batch of a dry run."""
        if key in self.pending_keys or row.credit_id in self.pending_credit_ids:
            earlier = self.pending_keys.get(key) or self.pending_credit_ids[row.credit_id]
            outcome.result = Result.ALREADY_REPORTED
            outcome.message = ALREADY_IN_BATCH.format(row=earlier)
            return True
        if self.dry_run and hash(key) in self.dry_run.added_keys:
            self.rests_on_earlier = True
            outcome.result = Result.ALREADY_REPORTED
            outcome.message = ALREADY_EARLIER
            return True
        return False

    def _record_it_corrects(self, row, key, outcome) -> "_Existing | None":
        """The record the web form's "correct this record" names: it must still be current
        and the correction must change something (else an error on the outcome)."""
        if not row.corrects_id:
            return None
        corrected = self.existing_by_id.get(row.corrects_id)
        if refused := correction_refused(row.corrects_id, corrected and corrected.status):
            outcome.errors = {"__all__": refused}
        elif _unchanged(corrected, row, key):
            outcome.errors = {"__all__": NOTHING_CHANGED.format(id=corrected.id)}
        return corrected

    def _record_already_there(self, row, key, corrected, outcome) -> "_Existing | None":
        """The current record of this row: named by its credit ID first (an idempotent
        retry returns it), else by the natural key. A credit ID and a natural key naming
        two different records: nothing may be written, the row is already reported."""
        existing = self.existing_by_key.get(key)
        by_credit_id = self.existing_by_credit_id.get(row.credit_id) if row.credit_id else None
        if by_credit_id is None:
            return existing
        if existing is not None and existing is not by_credit_id and corrected is None:
            _already_reported(outcome, by_credit_id, ALREADY_REPORTED_DIFFERENT, self.dates)
        return by_credit_id

    def _resubmits_a_rejection(self, row, existing, corrected, outcome) -> bool:
        """A row for a record already there is already reported, unless it re-sends a
        rejected record with other learner values (then it supersedes it)."""
        same = (
            same_name(existing.first_name, row.first_name)
            and same_name(existing.last_name, row.last_name)
            and (existing.birth_month, existing.birth_day) == (row.birth_month, row.birth_day)
        )
        if same or existing.status != Completion.Status.REJECTED or corrected is not None:
            template = ALREADY_REPORTED if same else ALREADY_REPORTED_DIFFERENT
            _already_reported(outcome, existing, template, self.dates)
            return False
        return True

    def _add_new(self, row, activity, board, credit_type, key, outcome, *, supersedes, reason,
                 corrects):  # fmt: skip
        """A new record, as plain column values: a 100,000-row file must not pay for the
        ORM per row (`statuses.completions_intake_write` writes them; `.id`, not the `.pk`
        property, for the same reason)."""
        values = {
            "provider_id": self.provider.id,
            "activity_id": activity.id,
            "board_id": board.id,
            "learner_id": row.learner_id,
            "first_name": row.first_name,
            "last_name": row.last_name,
            "first_name_key": name_key(row.first_name),
            "last_name_key": name_key(row.last_name),
            "birth_month": row.birth_month,
            "birth_day": row.birth_day,
            "completion_date": row.completion_date,
            "credit_type_id": credit_type.id,
            "moc_points": row.moc_points,
            "cme_credits": row.cme_credits,
            "learner_permission": True,
            "credit_id": row.credit_id or mint_credit_id(),
            "channel": self.channel,
            "created_by_id": self.actor.id if self.actor else None,
            "upload_id": self.upload.id if self.upload else None,
            "corrects_id": corrects.id if corrects else None,
            "status": Completion.Status.SUBMITTED,
            "status_reason": "",
            "warning": "",
            "is_sandbox": self.sandbox,
        }
        self.pending_keys[key] = row.row_number
        if row.credit_id:
            self.pending_credit_ids[row.credit_id] = row.row_number
        outcome.result = Result.CREATED
        self.new.append(_New(row, values, board.code, outcome, supersedes, reason))
        if supersedes is not None:
            # The superseded record leaves the key free for the new one.
            self.existing_by_key.pop(supersedes.key, None)
            supersedes.status = Completion.Status.DELETED

    def check_delete(self, row, key, outcome):
        if row.credit_id and (problem := credit_id_problem(row.credit_id)):
            outcome.errors = {"credit_id": problem}
            return
        existing = self.existing_by_credit_id.get(row.credit_id) if row.credit_id else None
        if existing is None and row.credit_id in self.deleted_by_credit_id:
            gone = self.deleted_by_credit_id[row.credit_id]
            outcome.result = Result.ALREADY_REPORTED
            outcome.completion_id = gone.id
            outcome.status = Completion.Status.DELETED
            outcome.message = ALREADY_DELETED.format(id=gone.id, credit_id=row.credit_id)
            return
        if existing is None:
            existing = self.existing_by_key.get(key)
        if existing is None:
            if key in self.pending_keys:
                outcome.errors = {"__all__": DELETE_OF_NEW_ROW.format(row=self.pending_keys[key])}
            elif self.dry_run and hash(key) in self.dry_run.added_keys:
                # Added by an earlier batch of this dry run: the commit will find it.
                self.dry_run.added_keys.discard(hash(key))
                self.rests_on_earlier = True
                outcome.result = Result.DELETED
                outcome.status = Completion.Status.DELETED
            else:
                outcome.errors = {"__all__": NOTHING_TO_DELETE}
            return
        self.existing_by_key.pop(existing.key, None)
        if existing.credit_id:
            self.existing_by_credit_id.pop(existing.credit_id, None)
            self.deleted_by_credit_id[existing.credit_id] = existing
        reason = f"{DELETED_BY_PROVIDER} (row {row.row_number})" if row.row_number else ""
        self.deletes.append((existing, reason or DELETED_BY_PROVIDER))
        self.deleted_by_key[key] = existing
        outcome.result = Result.DELETED
        outcome.completion_id = existing.id
        outcome.status = Completion.Status.DELETED
        existing.status = Completion.Status.DELETED

    # -- verification --

    def verify(self):
        if not self.new:
            return
        candidates = [
            Candidate.of(n.row, board_id=n.values["board_id"], board_code=n.board_code)
            for n in self.new
        ]
        verdicts = get_verifier(sandbox=self.sandbox).verify(candidates)
        # Sandbox records are checked against the sandbox roster, which tells nothing real.
        told = [True] * len(verdicts)
        if not self.sandbox:
            told = RosterGuard(self.provider.pk).screen(candidates, verdicts)
        for item, verdict, tell in zip(self.new, verdicts, told, strict=True):
            if tell:
                status, reason = status_after(verdict, item.board_code)
                warning = verdict.warning
            else:
                status, reason, warning = Completion.Status.SUBMITTED, ROSTER_CHECK_HELD, ""
                self.held = True
            item.values.update(status=status, status_reason=reason, warning=warning)
            item.outcome.status, item.outcome.reason = status, reason
            item.outcome.warning = warning

    # -- writing (one transaction) --

    def replaced(self) -> list[Replaced]:
        replaced = [Replaced(gone.id, gone.status_before, reason) for gone, reason in self.deletes]
        for index, n in enumerate(self.new):
            if n.supersedes:
                replaced.append(Replaced(n.supersedes.id, n.supersedes.status_before,
                                         n.supersede_reason, by_new=index))  # fmt: skip
        return replaced

    def write(self):
        """Records and their history, through the one service that writes statuses, in
        one transaction with the upload's progress."""
        with transaction.atomic():
            ids = _write(
                new=[n.values for n in self.new],
                details=[self._detail(n.row, n.values["warning"]) for n in self.new],
                replaced=self.replaced(), held=self.held, actor=self.actor,
                channel=self.channel, upload=self.upload,
            )  # fmt: skip
            for n, pk in zip(self.new, ids, strict=True):
                n.outcome.completion_id = pk
            if self.after_write:
                # In the same transaction: progress saved with the batch, or neither.
                self.after_write(self.outcomes)

    def plan(self, offset: int) -> "BatchPlan":
        """What this (dry-run) batch decided, for the save to write as it is."""
        return BatchPlan(
            offset=offset, rows=len(self.rows),
            row_numbers=(min(r.row_number or 0 for r in self.rows),
                         max(r.row_number or 0 for r in self.rows)),
            sandbox=self.sandbox, lookup=self.lookup, fingerprint=self.fingerprint,
            new=[n.values for n in self.new],
            details=[self._detail(n.row, n.values["warning"]) for n in self.new],
            replaced=self.replaced(), held=self.held, outcomes=self.outcomes,
            rests_on_earlier=self.rests_on_earlier,
        )  # fmt: skip

    def _detail(self, row, warning):
        detail = {}
        if row.row_number:
            detail["row"] = row.row_number
        if warning:
            detail["warning"] = warning
        return detail


def _check_held_records_later():
    """Held records are checked again once the provider's window frees up (verify_pending,
    also a scheduled command)."""
    backend = verify_pending.get_backend()
    if backend.supports_defer:
        later = timezone.now() + dt.timedelta(hours=settings.ROSTER_FAILURE_WINDOW_HOURS)
        verify_pending.using(run_after=later).enqueue()


def _write(*, new, details, replaced, held, actor, channel, upload) -> list[int]:
    """A batch's records and history (inside the caller's transaction)."""
    ids = completions_intake_write(
        new=new, details=details, replaced=replaced, actor=actor, channel=channel,
        now=timezone.now(), upload_id=upload.pk if upload else None,
    )  # fmt: skip
    if held:
        transaction.on_commit(_check_held_records_later)
    return ids


# --- Check once, save once ---------------------------------------------------------------


@dataclass(slots=True)
class BatchPlan:
    """What a dry run decided for one batch of rows, kept (in the database, as `to_bytes`)
    so that saving writes it without parsing, checking and verifying the rows again.

    It holds only while the records its rows could be about are as they were: `lookup`
    finds them again and `fingerprint` says what they were (`intake_write_plan`). Earlier
    rows of the same submission are part of what it rests on, so plans are written in
    order, from the first."""

    offset: int  # rows before this batch, in the submission
    rows: int
    row_numbers: tuple[int, int]  # first and last
    sandbox: bool
    lookup: Lookup
    fingerprint: str
    new: list[dict]
    details: list[dict]
    replaced: list[Replaced]
    held: bool
    outcomes: list = field(default_factory=list)  # not kept: the check's own use
    counts: dict = field(default_factory=dict)  # the caller's figures for these rows
    # A row of it was decided by a record an earlier batch adds (a repeat, a delete).
    rests_on_earlier: bool = True

    def to_bytes(self) -> bytes:
        data = {
            "offset": self.offset, "rows": self.rows, "row_numbers": self.row_numbers,
            "sandbox": self.sandbox, "lookup": self.lookup.as_dict(),
            "fingerprint": self.fingerprint, "new": _by_column(self.new),
            "details": self.details, "held": self.held, "counts": self.counts,
            "rests_on_earlier": self.rests_on_earlier,
            "replaced": [[r.completion_id, r.from_status, r.reason, r.by_new]
                         for r in self.replaced],
        }  # fmt: skip
        # Dates and decimals are written as their text (`default`), read back by column.
        text = json.dumps(data, separators=(",", ":"), default=str)
        return zlib.compress(text.encode(), 1)

    @classmethod
    def from_bytes(cls, blob: bytes) -> "BatchPlan":
        data = json.loads(zlib.decompress(blob))
        return cls(
            offset=data["offset"], rows=data["rows"], row_numbers=tuple(data["row_numbers"]),
            sandbox=data["sandbox"], lookup=Lookup(**data["lookup"]),
            fingerprint=data["fingerprint"], new=_from_columns(data["new"]),
            details=data["details"],
            replaced=[Replaced(pk, before, reason, by_new=by_new)
                      for pk, before, reason, by_new in data["replaced"]],
            held=data["held"], counts=data["counts"],
            rests_on_earlier=data.get("rests_on_earlier", True),
        )  # fmt: skip


def _by_column(rows: list[dict]) -> dict:
    """New records' values column by column, a column whose rows all hold the same value
    (the provider, the activity, the channel…) as that one value: most of a batch."""
    columns = {}
    for name in rows[0] if rows else ():
        column = [r[name] for r in rows]  # (zip(*views) of 10,000 rows was 70 times slower)
        columns[name] = {"all": column[0]} if column.count(column[0]) == len(column) else column
    return {"count": len(rows), "columns": columns}


_READ_BACK = {"completion_date": dt.date.fromisoformat, "moc_points": Decimal,
              "cme_credits": Decimal}  # fmt: skip


def _from_columns(data: dict) -> list[dict]:
    names, columns = [], []
    for name, column in data["columns"].items():
        read = _READ_BACK.get(name)
        if isinstance(column, dict):
            value = column["all"]
            column = itertools.repeat(read(value) if read and value is not None else value)
        elif read:
            column = [read(v) if v is not None else None for v in column]
        names.append(name)
        columns.append(column)
    rows = itertools.islice(zip(*columns, strict=False), data["count"])  # `all`: repeats
    return [dict(zip(names, values, strict=True)) for values in rows]


@dataclass(slots=True)
class PlanSave:
    """One save writing an upload's plans in order, from the first it writes: the records
    those plans created (this upload's, ids from `first_id` on) are the earlier batches'
    additions the check foresaw, not a change since the check."""

    upload_id: int
    first_id: int | None = None


def intake_write_plan(
    plan: BatchPlan, *, provider, actor, channel, upload, after_write,
    save: PlanSave | None = None,
) -> bool:  # fmt: skip
    """Write what a dry run decided, if it still holds: the records it rests on are as
    they were (one query) and nobody wrote one of its records first (the unique
    constraints, a replaced record's status). Otherwise nothing is written and False says
    so: the caller runs the rows through the pipeline again. `after_write(plan)` runs in
    the same transaction. `save`: the plans written before this one by the same save (the
    records they created did not exist when the check looked; unless a row of this plan
    was decided by one of them, they leave it standing)."""
    try:
        with transaction.atomic():
            found = plan.lookup.records(provider.pk, plan.sandbox,
                                        fields=("id", "status", "upload_id"))  # fmt: skip
            if save and save.first_id is not None and not plan.rests_on_earlier:
                found = [v for v in found
                         if v[2] != save.upload_id or v[0] < save.first_id]  # fmt: skip
            if _fingerprint(found) != plan.fingerprint:
                return False
            for values in plan.new:
                values["created_by_id"] = actor.pk if actor else None  # who confirmed
            ids = _write(new=plan.new, details=plan.details, replaced=plan.replaced,
                         held=plan.held, actor=actor, channel=channel, upload=upload)  # fmt: skip
            after_write(plan)
    except (IntegrityError, StatusConflict):
        return False
    if save and save.first_id is None and ids:
        save.first_id = min(ids)
    return True


def intake_world(provider, today: dt.date | None = None) -> str:
    """What every batch's decisions rest on besides the records: the date, the provider's
    activities and their registrations, the boards and credit types, the roster. A plan
    made under another world is not written (`intake_write_plan`'s caller checks)."""
    today = today or timezone.localdate()
    registrations = MocRegistration.objects.filter(activity__provider=provider).order_by("pk")
    parts = [
        today.isoformat(),
        list(Activity.objects.filter(provider=provider).order_by("pk").values_list()),
        list(registrations.values_list()),
        list(registrations.values_list("pk", "credit_types").order_by("pk", "credit_types")),
        list(Board.objects.order_by("pk").values_list()),
        list(CreditType.objects.order_by("pk").values_list()),
        list(RosterEntry.objects.aggregate(n=Count("pk"), last=Max("pk"),
                                           at=Max("updated_at")).values()),
    ]  # fmt: skip
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


WRITE_ATTEMPTS = 5


class IntakeContention(Exception):
    """Other submissions kept writing the same records first, attempt after attempt;
    nothing of this batch was saved (nor of later ones; earlier batches of a multi-batch
    submission stay saved). Web pages and the API answer 503 "try again"
    (`pars_portal.middleware`); an upload's save stops and can be resumed."""

    message = (
        "Other submissions were saving the same records at the same moment, so this "
        "submission could not be saved. Please send again: a record of it that did get saved "
        "comes back as already reported, never twice."
    )


class _DryRunState:
    """What earlier batches of a dry run decided, for the batches after them."""

    def __init__(self):
        # Hashes of the natural keys added: compact, a million-row file has a million.
        self.added_keys = CompactIntSet()
        self.deleted_ids: set[int] = set()

    def remember(self, batch: "_Batch"):
        self.added_keys.update(hash(key) for key in batch.pending_keys)
        self.deleted_ids.update(existing.id for existing, _ in batch.deletes)
        self.deleted_ids.update(n.supersedes.id for n in batch.new if n.supersedes)


# --- Entry points ------------------------------------------------------------------------


def _chunks(rows: Iterable[ParticipantRow], size: int) -> Iterator[list[ParticipantRow]]:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def intake_batches(
    *,
    provider,
    rows: Iterable[ParticipantRow],
    actor,
    channel: str,
    upload=None,
    commit: bool = True,
    batch_size: int | None = None,
    today: dt.date | None = None,
    sandbox: bool = False,
    after_write=None,
    all_or_nothing: bool = False,
    planned=None,
) -> Iterator[list[RowOutcome]]:
    """Run rows through the pipeline batch by batch, yielding each batch's outcomes.

    With commit=False nothing is written: the outcomes say what would happen (preview).
    With all_or_nothing, the rows are one batch, written only if no row has an error (a
    request that is refused stores nothing). `after_write(outcomes)` runs inside each
    batch's transaction (to save progress with it). `planned(plan)` receives what each
    batch of a dry run decided (a `BatchPlan`), before its outcomes are yielded. Memory
    stays bounded by the batch size, whatever the number of rows.
    """
    today = today or timezone.localdate()
    size = batch_size or settings.INTAKE_BATCH_SIZE
    if all_or_nothing:
        size = sys.maxsize
    dry_run = _DryRunState() if not commit else None
    deleted_by_key: dict = {}
    offset = 0
    for chunk in _chunks(rows, size):
        for attempt in range(WRITE_ATTEMPTS):
            batch = _Batch(
                provider=provider, rows=chunk, actor=actor, channel=channel, upload=upload,
                today=today, dry_run=dry_run, sandbox=sandbox,
                deleted_by_key=dict(deleted_by_key), after_write=after_write,
            )  # fmt: skip
            batch.load()
            batch.check()
            if all_or_nothing and any(o.result == Result.ERROR for o in batch.outcomes):
                yield batch.outcomes  # refused whole: nothing verified, nothing written
                return
            batch.verify()
            if not commit:
                dry_run.remember(batch)
                deleted_by_key = batch.deleted_by_key
                if planned:
                    planned(batch.plan(offset))
                break
            try:
                batch.write()
                deleted_by_key = batch.deleted_by_key
                break
            except (IntegrityError, StatusConflict) as error:
                # A concurrent submission wrote one of these records first; re-read and
                # re-check the batch so those rows come out as "already reported".
                if attempt == WRITE_ATTEMPTS - 1:
                    raise IntakeContention(IntakeContention.message) from error
                time.sleep(random.uniform(0, 0.05) * (attempt + 1))  # let the other finish
        offset += len(chunk)
        yield batch.outcomes


def intake_submit(**kwargs) -> IntakeResult:
    """The whole submission at once (form, API): all outcomes in input order."""
    result = IntakeResult()
    for outcomes in intake_batches(**kwargs):
        result.outcomes.extend(outcomes)
    return result
