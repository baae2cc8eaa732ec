import contextlib
import datetime as dt
import tempfile

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from activities.deadlines import deadline_table
from activities.models import Activity, Channel
from activities.services import portal_event_record
from activities.views import get_activity_for_user
from pars_portal.lib.access import (
    can_write,
    get_for_user,
    is_reviewer,
    scope,
    visible_provider_ids,
    visible_providers,
)

from . import exports
from .api import MATCH_RESULTS
from .apikeys import api_key_create as create_key
from .apikeys import api_key_revoke as revoke_key
from .filters import WARNED, ActivityRecordFilter, FollowUpFilter, RecordFilter
from .forms import (
    ApiKeyForm,
    ContactForm,
    DeleteForm,
    LearnerCheckForm,
    ParticipantForm,
    ResolveForm,
    UploadForm,
)
from .models import ApiKey, Completion, FollowUp, TransmissionBatch, Upload, UploadPreviewRow
from .parsers import TEMPLATE_COLUMNS
from .rows import Result
from .selectors import activity_totals
from .services import follow_ups, records, uploads
from .transmission import ingest_answers, simulated_board_answers, transmit_to_board
from .validation import correction_refused
from .verification import SANDBOX_ROSTER, Candidate, Outcome, RosterGuard, get_verifier

STATUS_BADGES = {
    Completion.Status.SUBMITTED: "text-bg-info",
    Completion.Status.ACCEPTED: "text-bg-success",
    Completion.Status.REJECTED: "text-bg-danger",
    Completion.Status.DELETED: "text-bg-secondary",
}


def _get_completion(request, pk, *, write=False) -> Completion:
    return get_for_user(
        Completion.objects.select_related(
            "activity", "provider", "board", "credit_type", "created_by", "corrects"
        ),
        request.user,
        write=write,
        pk=pk,
    )


def _records_page(request, queryset, per_page=50):
    queryset = queryset.select_related("activity", "credit_type").order_by("-created_at", "-id")
    page = Paginator(queryset, per_page).get_page(request.GET.get("page"))
    table = deadline_table()
    for record in page.object_list:
        record.late = record.lateness(table)
    return page


def _next_on_sheet(query) -> dict:
    """What stays from one sign-in-sheet entry to the next: date, credit type and the
    learner permission confirmed for the sheet."""
    initial = {}
    with contextlib.suppress(ValueError):
        initial["completion_date"] = dt.date.fromisoformat(query.get("completion_date", ""))
    if query.get("credit_type"):
        initial["credit_type"] = query["credit_type"]
    if query.get("permission") == "1":
        initial["learner_permission"] = True
    return initial


def activity_page(request, activity, form=None):
    """The activity's page: details, the entry form, and its participant records."""
    registration = activity.active_registrations[0] if activity.active_registrations else None
    writable = can_write(request.user, activity.provider_id)
    if form is None and writable and registration:
        form = ParticipantForm(initial=_next_on_sheet(request.GET), registration=registration)
        if "completion_date" in request.GET:  # after "Save and add another": the next learner
            form.fields["learner_id"].widget.attrs["autofocus"] = True
    # Sandbox records (API test keys) live in the API only, never among real ones.
    records = ActivityRecordFilter(
        request.GET, queryset=Completion.objects.filter(is_sandbox=False).filter(activity=activity)
    )
    page = _records_page(request, records.qs)
    return render(
        request,
        "activities/activity_detail.html",
        {
            "activity": activity,
            "registration": registration,
            "form": form,
            "writable": writable,
            "page": page,
            "totals": activity_totals(activity),
            "status_filter": records.form.cleaned_data.get("status", ""),
            "q": records.form.cleaned_data.get("q", ""),
            "statuses": Completion.Status.choices,
            "saved": request.GET.get("saved", ""),
            "badges": STATUS_BADGES,
        },
    )


def participant_add(request, pars_id):
    activity = get_activity_for_user(request, pars_id, write=True)
    if request.method != "POST":
        return redirect("activity_detail", pars_id=pars_id)
    registration = activity.active_registrations[0] if activity.active_registrations else None
    form = ParticipantForm(request.POST, registration=registration)
    if form.is_valid():
        outcome = form.submit(activity, request.user)
        if outcome.result == Result.CREATED:
            _announce_saved(request, outcome)
            url = reverse("activity_detail", args=[pars_id])
            if "save_another" in request.POST:
                # Keep the sign-in sheet's date and credit type for the next participant.
                query = {
                    "saved": outcome.completion_id,
                    "completion_date": form.cleaned_data["completion_date"].isoformat(),
                    "credit_type": form.cleaned_data["credit_type"],
                    "permission": "1",  # confirmed for the sheet; still stored per record
                }
                url += f"?{urlencode(query)}#enter"
            else:
                url += f"?saved={outcome.completion_id}"
            return redirect(url)
    return activity_page(request, activity, form=form)


LEARNER_CHECK_MESSAGES = {
    "match": ("success", "ABIM knows ABIM ID {id} and the birth date matches."),
    "name_differs": ("warning", "ABIM knows ABIM ID {id} and the birth date matches; the name "
                     "differs from ABIM's, so the record will carry a warning."),
    "not_found": ("danger", "ABIM's roster has no learner with ABIM ID {id}: check the ID on "
                  "the sheet."),
    "birth_date_mismatch": ("danger", "ABIM knows ABIM ID {id}, but the birth date does not "
                            "match: check the month and day."),
    "unavailable": ("secondary", "The roster cannot be checked right now; the record is "
                    "checked when it is saved."),
}  # fmt: skip


@require_POST
def learner_check(request, pars_id):
    """The learner-match service for the entry form: as soon as the ABIM ID and birth date
    are typed, whether the roster knows the ID and whether the birth date matches. It is
    a roster probe like the API's, so it counts against the provider's roster limit and a
    per-provider rate, and never tells the roster's spelling of a name."""
    activity = get_activity_for_user(request, pars_id, write=True)
    form = LearnerCheckForm(request.POST)
    if not form.is_valid():
        message = "Type the ABIM ID and the birth date."
        return JsonResponse(
            {"result": "incomplete", "tone": "secondary", "message": message}, status=400
        )
    data = form.cleaned_data
    window = int(timezone.now().timestamp() // 60)
    key = f"learner-check:{activity.provider_id}:{window}"
    cache.add(key, 0, timeout=120)
    if cache.incr(key) > LEARNER_CHECKS_PER_MINUTE:
        return JsonResponse({"result": "busy", "tone": "secondary",
                             "message": "Too many checks this minute; the record is checked "
                             "when it is saved."}, status=429)  # fmt: skip
    guard = RosterGuard(activity.provider_id)
    if guard.exhausted:
        return JsonResponse(
            {"result": "limit", "tone": "danger", "message": guard.refusal()}, status=429
        )
    registration = activity.active_registrations[0] if activity.active_registrations else None
    board = registration.board if registration else None
    if board is None:
        raise Http404("This activity is not registered.")
    learner_id = data["learner_id"].strip()
    candidate = Candidate(
        board_id=board.pk, board_code=board.code, learner_id=learner_id,
        first_name=data["first_name"], last_name=data["last_name"],
        birth_month=data["birth_month"], birth_day=data["birth_day"],
    )  # fmt: skip
    verdict = get_verifier(sandbox=False).verify([candidate])[0]
    if not guard.screen([candidate], [verdict])[0]:
        return JsonResponse(
            {"result": "limit", "tone": "danger", "message": guard.refusal()}, status=429
        )
    result = MATCH_RESULTS[verdict.outcome]
    names_typed = data["first_name"] and data["last_name"]
    if verdict.outcome == Outcome.MATCH and verdict.warning and names_typed:
        result = "name_differs"
    tone, message = LEARNER_CHECK_MESSAGES[result]
    return JsonResponse({"result": result, "tone": tone, "message": message.format(id=learner_id)})


LEARNER_CHECKS_PER_MINUTE = 60


def _announce_saved(request, outcome, *, corrected: int | None = None):
    """What became of a saved record, in its outcome's colour: a rejection is never a green
    "saved"; it says why and links to *Correct*."""
    pk = outcome.completion_id
    record = format_html('<a href="{}">Record {}</a>', reverse("completion_detail", args=[pk]), pk)
    if corrected:
        record = format_html("Record {} replaced by the corrected {}", corrected, record)
    if outcome.status == Completion.Status.REJECTED:
        correct = reverse("completion_correct", args=[pk])
        messages.error(request, format_html(
            '{} saved but <strong>rejected</strong>: {}. <a href="{}">Correct it</a>',
            record, outcome.reason, correct,
        ))  # fmt: skip
    elif outcome.status == Completion.Status.ACCEPTED:
        text = format_html("{} saved: <strong>accepted</strong>", record)
        if outcome.warning:
            text = format_html("{}. Warning: {}", text, outcome.warning)
        messages.success(request, format_html("{}.", text))
    else:
        messages.warning(request, format_html(
            "{} saved: <strong>submitted</strong>, not yet verified ({}).", record, outcome.reason
        ))  # fmt: skip


def _sees_many_providers(user) -> bool:
    ids = visible_provider_ids(user)
    return ids is None or len(ids) > 1


def _record_filter(request) -> RecordFilter:
    """The records the search lists for the request's parameters, among the user's own.
    Always bound: with no parameters the defaults apply (deleted records hidden)."""
    records = scope(Completion.objects.filter(is_sandbox=False), request.user)
    return RecordFilter(request.GET, queryset=records)


def participant_search(request):
    records = _record_filter(request)
    return render(
        request,
        "participants/participant_search.html",
        {
            "form": records.form,
            "active_filters": records.form.active_filters(),
            "page": _records_page(request, records.qs),
            "badges": STATUS_BADGES,
            "many_providers": _sees_many_providers(request.user),
        },
    )


def completion_detail(request, pk):
    completion = _get_completion(request, pk)
    return render(
        request,
        "participants/completion_detail.html",
        {
            "completion": completion,
            "late": completion.lateness(),
            "events": completion.events.select_related("actor"),
            "corrections": completion.corrections.all(),
            # Sandbox records belong to the API that made them: read-only here.
            "writable": can_write(request.user, completion.provider_id)
            and not completion.is_sandbox,
            "badges": STATUS_BADGES,
        },
    )


def completion_delete(request, pk):
    completion = _get_completion(request, pk, write=True)
    records.completion_check_writable(completion, channel=Channel.FORM)
    form = DeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            records.completion_delete(
                completion=completion,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                channel=Channel.FORM,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Record {completion.pk} deleted.")
            return redirect("completion_detail", pk=completion.pk)
    return render(
        request, "participants/completion_delete.html", {"form": form, "completion": completion}
    )


def completion_correct(request, pk):
    """Correct a record: the pipeline deletes the old one and adds the new one, linked; if
    the new one is refused, the old one stays untouched."""
    completion = _get_completion(request, pk, write=True)
    records.completion_check_writable(completion, channel=Channel.FORM)
    activity = completion.activity
    registration = activity.active_registration(completion.board.code)
    if refused := correction_refused(completion.pk, completion.status):
        messages.error(request, refused)
        return redirect("completion_detail", pk=pk)
    initial = {
        f: getattr(completion, f)
        for f in ("learner_id", "first_name", "last_name", "birth_month", "birth_day",
                  "completion_date", "moc_points", "cme_credits")
    }  # fmt: skip
    initial.update(credit_type=completion.credit_type.code, learner_permission=True)
    form = ParticipantForm(
        request.POST or None, initial=initial, registration=registration, correcting=completion
    )
    if request.method == "POST" and form.is_valid():
        outcome = form.submit(activity, request.user)
        if outcome.result == Result.CREATED:
            _announce_saved(request, outcome, corrected=pk)
            return redirect("completion_detail", pk=outcome.completion_id)
    return render(
        request, "participants/completion_correct.html", {"form": form, "completion": completion}
    )


# --- Exports --------------------------------------------------------------------------------


def _download(file_format, name, write):
    """Write the file to a spooled temporary file (memory up to 8 MB, then disk) and stream
    it: an export of millions of records must not sit in memory."""
    if file_format not in exports.CONTENT_TYPES:
        raise Http404("Unknown format.")
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - closed by the response
    write(spool)
    spool.seek(0)
    return FileResponse(
        spool,
        as_attachment=True,
        filename=f"{name}.{exports.EXTENSIONS[file_format]}",
        content_type=exports.CONTENT_TYPES[file_format],
    )


def activity_export(request, pars_id, file_format):
    activity = get_activity_for_user(request, pars_id)
    records = Completion.objects.filter(activity=activity, is_sandbox=False).order_by("id")
    return _download(
        file_format,
        f"participants-{activity.pars_id}",
        lambda out: exports.write_records(out, file_format, records),
    )


def participant_export(request, file_format):
    # The records the search page lists for the same parameters (deleted ones hidden
    # unless asked for).
    records = _record_filter(request).qs
    return _download(
        file_format,
        "participants",
        lambda out: exports.write_records(out, file_format, records.order_by("id")),
    )


# --- Uploads --------------------------------------------------------------------------------


def _get_upload(request, upload_id, *, write=False) -> Upload:
    return get_for_user(
        Upload.objects.select_related("provider", "uploaded_by", "confirmed_by", "same_file_as"),
        request.user,
        write=write,
        pk=upload_id,
    )


def upload_list(request):
    uploads = scope(Upload.objects.all(), request.user).select_related("provider", "uploaded_by")
    page = Paginator(uploads.order_by("-uploaded_at", "-id"), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "participants/upload_list.html",
        {"page": page, "can_upload": visible_providers(request.user, write=True).exists()},
    )


def upload_create(request):
    providers = visible_providers(request.user, write=True)
    if not providers.exists():
        raise PermissionDenied("Only a provider's editors can upload files.")
    form = UploadForm(request.POST or None, request.FILES or None, providers=providers)
    if request.method == "POST" and form.is_valid():
        provider = form.cleaned_data.get("provider") or providers.get()
        try:
            upload = uploads.upload_create(
                provider=provider, user=request.user, uploaded_file=form.cleaned_data["file"]
            )
        except ValidationError as error:
            form.add_error("file", error)
        else:
            return redirect("upload_detail", upload_id=upload.pk)
    return render(
        request,
        "participants/upload_create.html",
        {"form": form, "limit_mb": settings.UPLOAD_MAX_MB},
    )


def upload_detail(request, upload_id):
    """One page for the whole wizard: progress, preview, result — it survives reloads
    because everything it shows is in the database."""
    upload = _get_upload(request, upload_id)
    phase = uploads.upload_issue_phase(upload)
    issues = upload.issues.filter(phase=phase)
    kind = request.GET.get("rows", "")
    rows = None
    if kind in UploadPreviewRow.Kind.values:
        rows = Paginator(upload.preview_rows_of.filter(kind=kind), 100).get_page(
            request.GET.get("page")
        )
    return render(
        request,
        "participants/upload_detail.html",
        {
            "upload": upload,
            "writable": can_write(request.user, upload.provider_id),
            "issue_count": issues.count(),
            "first_issues": issues[:10],
            "preview_groups": _preview_groups(upload.preview_rows),
            "kinds": _kind_links(upload),
            "rows_kind": UploadPreviewRow.Kind(kind).label if rows is not None else "",
            "rows": rows,
        },
    )


def upload_status(request, upload_id):
    """The upload's state for its page's script, which watches this small answer instead of
    reloading the whole page, and shows the next step as soon as the state changes."""
    upload = _get_upload(request, upload_id)
    return JsonResponse({
        "status": upload.status, "working": upload.is_working,
        "processed": upload.processed_rows, "total": upload.total_rows,
        "percent": upload.progress_percent,
    })  # fmt: skip


KIND_LABELS = {
    "accepted": "accepted by the roster check",
    "rejected": "rejected by the roster check",
    "submitted": "waiting to be verified",
    "warning": "with a name that differs from the roster (a warning)",
}


def _kind_links(upload) -> list[dict]:
    """What became (or will become) of the created records, each count a link to exactly
    its rows (preview) or its records (after the save)."""
    done = upload.status == Upload.Status.DONE
    counts = upload.result_kinds if done else upload.preview_kinds
    links = []
    for kind, label in KIND_LABELS.items():
        count = counts.get(kind, 0)
        if done:
            query = {"upload": upload.pk}
            query.update({"warning": WARNED} if kind == "warning" else {"status": kind})
            url = f"{reverse('participant_search')}?{urlencode(query)}"
        else:
            url = f"{reverse('upload_detail', args=[upload.pk])}?rows={kind}#rows"
        links.append({"kind": kind, "label": label, "count": count, "url": url})
    return links


def _preview_groups(rows):
    labels = {
        "created": "Will be created",
        "already_reported": "Already reported (nothing to do)",
        "deleted": "Will be deleted",
        "error": "Errors (not saved)",
    }
    return [(key, label, [r for r in rows if r["result"] == key]) for key, label in labels.items()]


def _upload_action(request, upload_id, action):
    upload = _get_upload(request, upload_id, write=True)
    try:
        action(upload=upload, user=request.user)
    except ValidationError as error:
        messages.error(request, error.messages[0])
    return redirect("upload_detail", upload_id=upload.pk)


@require_POST
def upload_confirm(request, upload_id):
    return _upload_action(request, upload_id, uploads.upload_confirm)


@require_POST
def upload_discard(request, upload_id):
    return _upload_action(request, upload_id, uploads.upload_discard)


@require_POST
def upload_retry(request, upload_id):
    return _upload_action(request, upload_id, uploads.upload_retry)


def upload_errors(request, upload_id):
    upload = _get_upload(request, upload_id)
    issues = upload.issues.filter(phase=uploads.upload_issue_phase(upload))
    base = upload.file_name.rsplit(".", 1)[0]
    return _download(
        upload.file_format,
        f"{base}-errors",
        lambda out: exports.write_error_report(out, upload, issues.iterator()),
    )


def upload_template(request, file_format):
    return _download(
        file_format,
        "pars-participants-template" if file_format != "xml" else "pars-learner-report-sample",
        lambda out: exports.write_template(out, file_format),
    )


def upload_help(request):
    return render(
        request,
        "participants/upload_help.html",
        {"columns": TEMPLATE_COLUMNS, "limit_mb": settings.UPLOAD_MAX_MB},
    )


# --- Web services: keys and the help page ---------------------------------------------------


SANDBOX_RECORDS_SHOWN = 50


def api_help(request):
    """The API page: the provider's keys (created, last used, revoked) and curl examples."""
    providers = visible_providers(request.user, write=True)
    keys = scope(ApiKey.objects.all(), request.user).select_related("provider", "created_by")
    first_provider = providers.order_by("name").first()
    return render(
        request,
        "participants/api_help.html",
        {
            "keys": keys,
            "form": ApiKeyForm(providers=providers) if providers.exists() else None,
            "base_url": request.build_absolute_uri("/api/v1/"),
            "example_date": timezone.localdate().isoformat(),
            "sandbox_roster": [
                {"board": b, "board_id": i, "name": f"{f} {la}", "birth": f"{m:02d}/{d:02d}"}
                for b, i, f, la, m, d in SANDBOX_ROSTER
            ],
            # What the provider's sandbox keys stored: shown here, never in the search.
            "sandbox_records": scope(Completion.objects.filter(is_sandbox=True), request.user)
            .select_related("activity")
            .order_by("-created_at", "-pk")[:SANDBOX_RECORDS_SHOWN],
            "sandbox_total": scope(
                Completion.objects.filter(is_sandbox=True), request.user
            ).count(),
            "sandbox_shown": SANDBOX_RECORDS_SHOWN,
            "example_provider": getattr(first_provider, "name", "Your provider"),
            "example_provider_id": getattr(first_provider, "accme_id", "0001234"),
            "example_activity": scope(Activity.objects.all(), request.user)
            .filter(registrations__status="active")
            .values_list("pars_id", flat=True)
            .first()
            or "100000001",
        },
    )


@require_POST
def api_key_create(request):
    providers = visible_providers(request.user, write=True)
    if not providers.exists():
        raise PermissionDenied("Only a provider's editors can create API keys.")
    form = ApiKeyForm(request.POST, providers=providers)
    if not form.is_valid():
        messages.error(request, "Give the key a name and choose sandbox or production.")
        return redirect("api_help")
    key, secret = create_key(
        provider=form.cleaned_data.get("provider") or providers.get(),
        user=request.user,
        name=form.cleaned_data["name"],
        mode=form.cleaned_data["mode"],
    )
    # Post/redirect/get: reloading the page shows the key again, never makes a second one.
    # The secret waits in the session for that one page, and is stored only as a hash.
    request.session[f"{NEW_KEY_SECRET}{key.pk}"] = secret
    return redirect("api_key_created", key_id=key.pk)


NEW_KEY_SECRET = "new-api-key-"  # noqa: S105 - a session key prefix, not a secret


def api_key_created(request, key_id):
    """The new key's secret, shown once (then gone from the session)."""
    key = get_for_user(ApiKey.objects.all(), request.user, write=True, pk=key_id)
    secret = request.session.pop(f"{NEW_KEY_SECRET}{key.pk}", None)
    return render(request, "participants/api_key_created.html", {"key": key, "secret": secret})


@require_POST
def api_key_revoke(request, key_id):
    key = get_for_user(ApiKey.objects.all(), request.user, write=True, pk=key_id)
    revoke_key(key=key, user=request.user)
    messages.success(request, f"API key {key.prefix}… revoked; it no longer works.")
    return redirect("api_help")


# --- The reviewers' queue of board rejections -------------------------------------------------


def _reviewer_only(request):
    # The queue spans every provider: for anyone else it does not exist.
    if not is_reviewer(request.user):
        raise Http404("No such page.")


def review_queue(request):
    """Board-rejected records across providers, oldest first, with their age."""
    _reviewer_only(request)
    queue = FollowUpFilter(
        request.GET,
        queryset=FollowUp.objects.select_related(
            "completion__provider", "completion__activity", "assigned_to"
        ).order_by("created_at", "id"),
        request=request,
    )
    page = Paginator(queue.qs, 50).get_page(request.GET.get("page"))
    now = timezone.now()
    for follow_up in page.object_list:
        follow_up.age_days = (now - follow_up.created_at).days
    return render(
        request,
        "participants/review_queue.html",
        {
            "page": page,
            "state": queue.form.cleaned_data.get("state", ""),
            "simulated_board": settings.SIMULATED_BOARD,
            "last_batch": TransmissionBatch.objects.first(),
        },
    )


def review_detail(request, follow_up_id):
    _reviewer_only(request)
    follow_up = get_object_or_404(
        FollowUp.objects.select_related("completion__provider", "completion__activity"),
        pk=follow_up_id,
    )
    contact_form = ContactForm(initial={"contacted_on": timezone.localdate()})
    resolve_form = ResolveForm()
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "assign":
            follow_ups.follow_up_assign(follow_up=follow_up, reviewer=request.user)
            messages.success(request, "Assigned to you.")
            return redirect("review_detail", follow_up_id=follow_up.pk)
        if action == "contact":
            contact_form = ContactForm(request.POST)
            if contact_form.is_valid():
                follow_ups.follow_up_log_contact(
                    follow_up=follow_up, reviewer=request.user, **contact_form.cleaned_data
                )
                messages.success(request, "Contact logged.")
                return redirect("review_detail", follow_up_id=follow_up.pk)
        elif action == "resolve":
            resolve_form = ResolveForm(request.POST)
            if resolve_form.is_valid():
                try:
                    follow_ups.follow_up_resolve(
                        follow_up=follow_up, reviewer=request.user,
                        resolution=resolve_form.cleaned_data["resolution"],
                    )  # fmt: skip
                except ValidationError as error:
                    messages.error(request, error.messages[0])
                return redirect("review_detail", follow_up_id=follow_up.pk)
    return render(
        request,
        "participants/review_detail.html",
        {
            "follow_up": follow_up,
            "completion": follow_up.completion,
            "contacts": follow_up.contacts.select_related("reviewer"),
            "corrections": follow_up.completion.corrections.all(),
            "events": follow_up.completion.events.select_related("actor"),
            "contact_form": contact_form,
            "resolve_form": resolve_form,
            "badges": STATUS_BADGES,
        },
    )


@require_POST
def review_transmit(request):
    """Reviewers may send the verified records now instead of waiting for the next run."""
    _reviewer_only(request)
    portal_event_record(
        action="transmission.request", actor=request.user, channel=Channel.ADMIN,
        text="Sending the verified records to the board now: requested",
    )  # fmt: skip
    transmit_to_board.enqueue(requested_by=request.user.pk)
    messages.success(request, "Sending verified records to ABIM (in the background).")
    return redirect("review_queue")


@require_POST
def review_simulate_board(request):
    """SIMULATED BOARD (demo only, off in production): answer the latest batch."""
    _reviewer_only(request)
    if not settings.SIMULATED_BOARD:
        raise Http404("The simulated board is off.")
    batch = TransmissionBatch.objects.exclude(status="failed").first()
    if batch is None:
        messages.info(request, "No batch has been sent yet.")
        return redirect("review_queue")
    report = ingest_answers(simulated_board_answers(batch), board_code=batch.board.code)
    messages.success(
        request,
        f"Simulated board answered batch {batch.pk}: {report.confirmed} confirmed, "
        f"{report.rejected} rejected, {report.unchanged} unchanged.",
    )
    return redirect("review_queue")
