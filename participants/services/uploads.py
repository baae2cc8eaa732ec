"""Batch uploads: store the file, check it (preview), save it on confirmation, resume an
interrupted save. The checking and saving run as background tasks (defined here)."""

import datetime as dt
import hashlib
import logging
import random
from itertools import islice

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from activities.models import Board, Channel
from activities.services import portal_event_record
from pars_portal.lib.bulk import rare_collections
from pars_portal.lib.db import copy_rows

from ..intake import BatchPlan, PlanSave, intake_batches, intake_world, intake_write_plan
from ..models import (
    Completion,
    Upload,
    UploadIssue,
    UploadPlan,
    UploadPreviewRow,
)
from ..parsers import FileRefused, cell_text, detect_format, field_label, parse_file
from ..rows import Result
from ..statuses import rejections_tell
from ..tasks import UPLOADS
from ..workers import running_upload_ids

UPLOAD_TOO_LARGE = (
    "The file is {size:.1f} MB; the limit is {limit} MB. Split it into smaller files."
)
UPLOAD_EMPTY = "The file is empty."
UPLOAD_NOT_CONFIRMABLE = "This upload cannot be confirmed now (it is {status})."
UPLOAD_NOT_RETRYABLE = "Only an interrupted upload can be retried."
UPLOAD_INTERRUPTED = (
    "Saving was interrupted after {done} of {total} rows. Rows saved so far are kept; the "
    "batch that was being saved was rolled back. Retry to finish: nothing is saved twice."
)
UPLOAD_CHECK_FAILED = (
    "The file could not be checked ({kind}); nothing was saved. Please check that it is a "
    "participant file in one of the template formats; if it is, contact ACCME support."
)
PREVIEW_ROWS = 10
logger = logging.getLogger(__name__)


def upload_create(*, provider, user, uploaded_file) -> Upload:
    """Store an uploaded file (size-capped, hashed, format detected) and queue its check."""
    limit = settings.UPLOAD_MAX_MB
    if uploaded_file.size > limit * 1024 * 1024:
        raise ValidationError(UPLOAD_TOO_LARGE.format(size=uploaded_file.size / 2**20, limit=limit))
    if not uploaded_file.size:
        raise ValidationError(UPLOAD_EMPTY)
    digest = hashlib.sha256()
    head = b""
    for chunk in uploaded_file.chunks():
        head = head or chunk[:512]
        digest.update(chunk)
    try:
        file_format = detect_format(uploaded_file.name, head)
    except FileRefused as error:
        raise ValidationError(str(error)) from None
    sha256 = digest.hexdigest()
    uploaded_file.seek(0)
    upload = Upload.objects.create(
        provider=provider,
        uploaded_by=user,
        file=uploaded_file,
        file_name=uploaded_file.name[:255],
        file_format=file_format,
        size=uploaded_file.size,
        sha256=sha256,
    )
    # Looked up after our own row is saved, so that of two copies uploaded at the same
    # moment the later one still learns of the earlier (whichever of us runs this last sees
    # both): every copy points to the first.
    copies = Upload.objects.filter(provider=provider, sha256=sha256)
    first = copies.order_by("pk").values_list("pk", flat=True).first()
    copies.filter(pk__gt=first, same_file_as__isnull=True).update(same_file_as=first)
    upload.same_file_as_id = first if first != upload.pk else None
    check_upload.enqueue(upload.pk)
    return upload


def _rows_of(upload, meta):
    id_lengths = {b.code: b.board_id_length for b in Board.objects.all()}
    return parse_file(
        upload.file.path,
        upload.file_format,
        provider_id=upload.provider.accme_id,
        id_lengths=id_lengths,
        meta=meta,
    )


def _issues(upload, phase, outcomes):
    for outcome in outcomes:
        if outcome.result != Result.ERROR:
            continue
        source = outcome.row.source if outcome.row else None
        if isinstance(source, bytes):
            source = source.decode("utf-8", "replace")
        elif isinstance(source, list):
            source = [cell_text(v) for v in source]
        for field_name, message in outcome.errors.items():
            yield UploadIssue(
                upload=upload,
                phase=phase,
                row_number=outcome.row_number,
                field="" if field_name == "__all__" else field_name,
                message=message[:1000],
                source=source,
            )


_TEXT = {result: result.value for result in Result}  # `.value` costs a call, 100,000 times
CREATED_KINDS = ("accepted", "rejected", "submitted")  # what a created record's status was


def outcome_kinds(outcome) -> list[str]:
    """The preview counts an outcome belongs to: for a created record its status, plus
    "warning" when its name differs from the roster; else its result."""
    if outcome.result == Result.CREATED:
        return [outcome.status] + (["warning"] if outcome.warning else [])
    if outcome.result in (Result.ALREADY_REPORTED, Result.DELETED):
        return [_TEXT[outcome.result]]
    return []


PREVIEW_COLUMNS = ("upload_id", "kind", "row_number", "learner_id", "name", "activity",
                   "credit_type", "detail")  # fmt: skip


def _preview_rows(upload, outcomes, file_format):
    """Each outcome's preview rows (one per kind it counts in), as PREVIEW_COLUMNS values."""
    for outcome in outcomes:
        kinds = outcome_kinds(outcome)
        if not kinds:
            continue
        row = outcome.row
        learner, name, activity, credit_type = (
            (row.learner_id[:20], f"{row.first_name} {row.last_name}".strip()[:201],
             row.activity_ref[:20], row.credit_type[:50]) if row else ("", "", "", "")
        )  # fmt: skip
        for kind in kinds:
            detail = outcome.warning if kind == "warning" else _detail(outcome, file_format)
            yield (
                upload.pk,
                kind,
                outcome.row_number,
                learner,
                name,
                activity,
                credit_type,
                detail[:300],
            )


def _count(totals, kinds, outcomes):
    """Totals by result; and what became of the created records (accepted, rejected,
    submitted) and how many have a name warning."""
    for outcome in outcomes:
        totals[_TEXT[outcome.result]] += 1
        for kind in outcome_kinds(outcome):
            if kind in CREATED_KINDS or kind == "warning":
                kinds[kind] = kinds.get(kind, 0) + 1


def _preview_item(outcome, file_format) -> dict:
    row = outcome.row
    return {
        "row": outcome.row_number,
        "result": _TEXT[outcome.result],
        "learner_id": row.learner_id if row else "",
        "name": f"{row.first_name} {row.last_name}".strip() if row else "",
        "activity": row.activity_ref if row else "",
        "credit_type": row.credit_type if row else "",
        "status": outcome.status,
        "detail": _detail(outcome, file_format),
    }


def _detail(outcome, file_format) -> str:
    """What the preview says of a row: its message, its status reason, or its errors."""
    return (
        outcome.message
        or outcome.reason
        or "; ".join(
            f"{field_label(k, file_format)}: {v}" if k != "__all__" else v
            for k, v in outcome.errors.items()
        )
    )


def upload_check(*, upload_id: int) -> Upload:
    """Validate every row without writing a record: totals, first rows of each kind, and
    every error with its row, for the preview. A file that cannot be read is refused."""
    upload = Upload.objects.select_related("provider").get(pk=upload_id)
    if upload.status not in (Upload.Status.RECEIVED, Upload.Status.VALIDATING):
        return upload
    if _wait_for_the_providers_other_upload(upload, "check"):
        return upload
    Upload.objects.filter(pk=upload.pk).update(
        status=Upload.Status.VALIDATING, processed_rows=0, heartbeat_at=timezone.now()
    )
    upload.issues.filter(phase=UploadIssue.Phase.CHECK).delete()
    upload.preview_rows_of.all().delete()
    upload.plans.all().delete()
    world = intake_world(upload.provider)
    totals = {r.value: 0 for r in Result}
    kinds: dict[str, int] = {}
    preview: list[dict] = []
    shown = dict.fromkeys(Result, 0)  # preview items by result
    meta: dict = {}
    processed = 0
    plans: list[BatchPlan] = []
    try:
        for outcomes in intake_batches(
            provider=upload.provider,
            rows=_rows_of(upload, meta),
            actor=upload.uploaded_by,
            channel=Channel.UPLOAD,
            upload=upload,
            commit=False,
            planned=plans.append,
        ):
            batch_totals, batch_kinds = {r.value: 0 for r in Result}, {}
            _count(batch_totals, batch_kinds, outcomes)
            _add_up(totals, batch_totals)
            _add_up(kinds, batch_kinds)
            for outcome in outcomes:
                if shown[outcome.result] < PREVIEW_ROWS:
                    shown[outcome.result] += 1
                    preview.append(_preview_item(outcome, upload.file_format))
            plan = plans.pop()
            plan.counts = {"totals": batch_totals, "kinds": batch_kinds}
            blob = plan.to_bytes()
            processed += len(outcomes)
            with transaction.atomic():  # the batch's findings and the progress, or none
                UploadIssue.objects.bulk_create(_issues(upload, UploadIssue.Phase.CHECK, outcomes))
                copy_rows(UploadPreviewRow, PREVIEW_COLUMNS,
                          _preview_rows(upload, outcomes, upload.file_format))  # fmt: skip
                UploadPlan.objects.create(
                    upload=upload, offset=plan.offset, rows=plan.rows, data=blob
                )
                Upload.objects.filter(pk=upload.pk).update(
                    processed_rows=processed, heartbeat_at=timezone.now()
                )
    except Exception as error:
        if not isinstance(error, FileRefused):
            logger.exception("Upload %s could not be checked", upload.pk)
            error = UPLOAD_CHECK_FAILED.format(kind=type(error).__name__)
        upload.issues.all().delete()
        upload.plans.all().delete()
        Upload.objects.filter(pk=upload.pk).update(
            status=Upload.Status.REFUSED, message=str(error)[:500], finished_at=timezone.now()
        )
        return Upload.objects.get(pk=upload.pk)
    # A file with nothing to create or delete ends here: there is nothing to confirm.
    nothing = not (totals[Result.CREATED] or totals[Result.DELETED])
    Upload.objects.filter(pk=upload.pk).update(
        status=Upload.Status.NOTHING if nothing else Upload.Status.PREVIEW,
        finished_at=timezone.now() if nothing else None,
        total_rows=processed,
        processed_rows=processed,
        preview_totals=totals,
        preview_kinds=kinds,
        preview_rows=preview,
        header=meta.get("header", []),
        sheet=meta.get("sheet", "")[:100],
        checked_world=world,
    )
    if nothing:
        upload.plans.all().delete()
    return Upload.objects.get(pk=upload.pk)


def _add_up(totals: dict, more: dict) -> None:
    for key, value in more.items():
        totals[key] = totals.get(key, 0) + value


def upload_confirm(*, upload: Upload, user) -> Upload:
    changed = Upload.objects.filter(pk=upload.pk, status=Upload.Status.PREVIEW).update(
        status=Upload.Status.COMMITTING,
        confirmed_by=user,
        confirmed_at=timezone.now(),
        processed_rows=0,
    )
    if not changed:
        raise ValidationError(UPLOAD_NOT_CONFIRMABLE.format(status=upload.get_status_display()))
    commit_upload.enqueue(upload.pk)
    return Upload.objects.get(pk=upload.pk)


UPLOAD_NOT_DISCARDABLE = "Only an upload waiting for confirmation can be discarded."


def upload_discard(*, upload: Upload, user) -> Upload:
    """Drop an upload at its preview: nothing of it is saved; who did it is recorded."""
    changed = Upload.objects.filter(pk=upload.pk, status=Upload.Status.PREVIEW).update(
        status=Upload.Status.DISCARDED, finished_at=timezone.now()
    )
    if not changed:
        raise ValidationError(UPLOAD_NOT_DISCARDABLE)
    upload.plans.all().delete()
    portal_event_record(
        action="upload.discard", actor=user, channel=Channel.UPLOAD, obj=upload,
        text=f"Upload {upload.pk} ({upload.file_name}) discarded at its preview",
    )  # fmt: skip
    return Upload.objects.get(pk=upload.pk)


def upload_retry(*, upload: Upload, user) -> Upload:
    """Resume an interrupted save (or a check or save whose worker stopped answering)."""
    upload = Upload.objects.get(pk=upload.pk)
    if not upload.can_retry:
        raise ValidationError(UPLOAD_NOT_RETRYABLE)
    # Only if nothing changed since we looked: of two clicks at the same moment (or a
    # worker that came back to life meanwhile), one resumes and the other is refused.
    unchanged = Upload.objects.filter(
        pk=upload.pk, status=upload.status, heartbeat_at=upload.heartbeat_at
    )
    if upload.status == Upload.Status.VALIDATING:
        changed = unchanged.update(
            status=Upload.Status.RECEIVED, message="", heartbeat_at=timezone.now()
        )
        task = check_upload
    else:
        changed = unchanged.update(
            status=Upload.Status.COMMITTING, message="", heartbeat_at=timezone.now()
        )
        task = commit_upload
    if not changed:
        raise ValidationError(UPLOAD_NOT_RETRYABLE)
    step = "check" if task is check_upload else "save"
    portal_event_record(
        action="upload.resume", actor=user, channel=Channel.UPLOAD, obj=upload,
        text=f"Upload {upload.pk} ({upload.file_name}): {step} resumed",
    )  # fmt: skip
    task.enqueue(upload.pk)
    return Upload.objects.get(pk=upload.pk)


def upload_commit(*, upload_id: int) -> Upload:
    """Save the confirmed file batch by batch: what the check decided (its plans), while
    that still holds, else the rows through the pipeline again. Each batch's records, its
    row errors and the upload's progress are saved in one transaction, so a retry after an
    interruption resumes after the last saved batch: nothing twice."""
    upload = Upload.objects.select_related("provider", "confirmed_by").get(pk=upload_id)
    if upload.status != Upload.Status.COMMITTING:
        return upload
    if _wait_for_the_providers_other_upload(upload, "commit"):
        return upload
    Upload.objects.filter(pk=upload.pk).update(heartbeat_at=timezone.now())
    done = upload.committed_rows
    if done:
        totals = {r.value: upload.result_totals.get(r.value, 0) for r in Result}
        kinds = dict(upload.result_kinds)
    else:
        # (Only while no batch is saved: never another save's rows, should one run.)
        upload.issues.filter(phase=UploadIssue.Phase.COMMIT, upload__committed_rows=0).delete()
        totals = {r.value: 0 for r in Result}
        kinds = {}

    def progress(rows: int, counted: dict, counted_kinds: dict):
        """Saved only if it is still where this save left it: if another save of the same
        upload (a resume while this worker was merely slow) got there first, this batch is
        rolled back and this save stops; the other finishes the upload."""
        nonlocal done
        still_ours = Upload.objects.filter(
            pk=upload.pk, status=Upload.Status.COMMITTING, committed_rows=done
        )
        changed = still_ours.update(
            committed_rows=done + rows, processed_rows=done + rows,
            result_totals=counted, result_kinds=counted_kinds, heartbeat_at=timezone.now(),
        )  # fmt: skip
        if not changed:
            raise _SavedElsewhere
        done += rows
        totals.update(counted)
        kinds.update(counted_kinds)

    def saved(outcomes):
        counted, counted_kinds = dict(totals), dict(kinds)
        _count(counted, counted_kinds, outcomes)
        progress(len(outcomes), counted, counted_kinds)
        UploadIssue.objects.bulk_create(_issues(upload, UploadIssue.Phase.COMMIT, outcomes))

    def saved_as_planned(plan):
        counted, counted_kinds = dict(totals), dict(kinds)
        _add_up(counted, plan.counts["totals"])
        _add_up(counted_kinds, plan.counts["kinds"])
        progress(plan.rows, counted, counted_kinds)
        _issues_as_checked(upload, *plan.row_numbers)

    try:
        # What the check decided is written as it is while it holds; from the first batch
        # that no longer holds (a record of it written or deleted since), the rest of the
        # file goes through the pipeline again, as a fresh check and save would.
        if upload.checked_world and upload.checked_world == intake_world(upload.provider):
            save = PlanSave(upload.pk)
            for plan in _plans_from(upload, done):
                if not intake_write_plan(
                    plan, provider=upload.provider, actor=upload.confirmed_by,
                    channel=Channel.UPLOAD, upload=upload, after_write=saved_as_planned,
                    save=save,
                ):  # fmt: skip
                    logger.info("Upload %s: rows after %s changed since the check", upload.pk, done)
                    break
        if upload.total_rows is None or done < upload.total_rows:
            for _ in intake_batches(
                provider=upload.provider,
                rows=islice(_rows_of(upload, {}), done, None),
                actor=upload.confirmed_by,
                channel=Channel.UPLOAD,
                upload=upload,
                after_write=saved,
            ):
                pass
    except _SavedElsewhere:
        logger.warning("Upload %s is being saved by another worker; this one stops", upload.pk)
        return Upload.objects.get(pk=upload.pk)
    except Exception as error:
        logger.exception("Upload %s interrupted after %s rows", upload.pk, done)
        saved_rows = Upload.objects.get(pk=upload.pk).committed_rows
        message = (
            str(error)
            if isinstance(error, FileRefused)
            else UPLOAD_INTERRUPTED.format(done=saved_rows, total=upload.total_rows or "?")
        )
        Upload.objects.filter(pk=upload.pk, status=Upload.Status.COMMITTING).update(
            status=Upload.Status.FAILED, message=message[:500]
        )
        return Upload.objects.get(pk=upload.pk)
    finished = Upload.objects.filter(pk=upload.pk, status=Upload.Status.COMMITTING).update(
        status=Upload.Status.DONE, finished_at=timezone.now()
    )
    if finished:
        upload.plans.all().delete()
    # One digest per provider for the whole upload, of every record it created that the
    # roster check rejected: read from the database, so the rows saved before a worker was
    # killed are in it too. (Only the save that finished the upload sends it.)
    rejected = list(
        upload.completions.filter(status=Completion.Status.REJECTED).values_list("pk", flat=True)
    )
    if finished:
        rejections_tell(rejected, channel=Channel.UPLOAD, saved=True)
    return Upload.objects.get(pk=upload.pk)


UPLOAD_WAIT_SECONDS = 3


def _wait_for_the_providers_other_upload(upload, step: str) -> bool:
    """One provider's uploads are checked and saved one at a time, so that one provider's
    files never take every upload worker from the others: if a worker is checking or saving
    another of this provider's uploads, queue this step again a few seconds later and say
    so. (Backends that cannot defer, as in tests, run it at once.)"""
    task = check_upload if step == "check" else commit_upload
    if not task.get_backend().supports_defer:
        return False
    others = running_upload_ids() - {upload.pk}
    alive = timezone.now() - dt.timedelta(minutes=settings.TASK_STALE_MINUTES)
    busy = Upload.objects.filter(
        provider_id=upload.provider_id,
        pk__in=others,
        heartbeat_at__gte=alive,
        status__in=[Upload.Status.VALIDATING, Upload.Status.COMMITTING],
    ).exists()  # fmt: skip  (a run whose worker died, or that finished, holds nothing up)
    if busy:
        # A little jitter: two uploads that met here do not meet again.
        later = timezone.now() + dt.timedelta(
            seconds=UPLOAD_WAIT_SECONDS * random.uniform(0.5, 1.5)
        )
        task.using(run_after=later).enqueue(upload.pk)
    return busy


def _plans_from(upload, done: int):
    """The check's plans from row `done` on, in order, one in memory at a time; none if
    no plan starts there."""
    offsets = list(
        upload.plans.filter(offset__gte=done).order_by("offset").values_list("pk", "offset")
    )
    if not offsets or offsets[0][1] != done:
        return
    for pk, _offset in offsets:
        yield BatchPlan.from_bytes(bytes(UploadPlan.objects.get(pk=pk).data))


def _issues_as_checked(upload, first_row: int, last_row: int) -> None:
    """The check's row errors of these rows become the save's: the same rows, decided the
    same way."""
    checked = upload.issues.filter(
        phase=UploadIssue.Phase.CHECK, row_number__gte=first_row, row_number__lte=last_row
    ).values("row_number", "field", "message", "source")
    UploadIssue.objects.bulk_create(
        UploadIssue(upload=upload, phase=UploadIssue.Phase.COMMIT, **issue) for issue in checked
    )


class _SavedElsewhere(Exception):
    """Another save of the same upload saved this batch's place first."""


def upload_issue_phase(upload: Upload) -> str:
    return (
        UploadIssue.Phase.COMMIT if upload.status == Upload.Status.DONE else UploadIssue.Phase.CHECK
    )


@task(queue_name=UPLOADS)
def check_upload(upload_id: int) -> None:
    with rare_collections():
        upload_check(upload_id=upload_id)


@task(queue_name=UPLOADS)
def commit_upload(upload_id: int) -> None:
    with rare_collections():
        upload_commit(upload_id=upload_id)
