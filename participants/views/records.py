"""Participant records: the search and its export, a record's page, withdrawing and
correcting it."""

import tempfile

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html

from activities.deadlines import deadline_table
from activities.models import Channel
from pars_portal.lib.access import (
    can_write,
    get_for_user,
    scope,
    visible_provider_ids,
)

from .. import exports
from ..filters import RecordFilter
from ..forms import (
    DeleteForm,
    ParticipantForm,
)
from ..models import Completion
from ..rows import Result
from ..services import records
from ..validation import correction_refused

STATUS_BADGES = {
    Completion.Status.SUBMITTED: "text-bg-info",
    Completion.Status.ACCEPTED: "text-bg-success",
    Completion.Status.REJECTED: "text-bg-danger",
    Completion.Status.DELETED: "text-bg-secondary",
}


def get_completion(request, pk, *, write=False) -> Completion:
    return get_for_user(
        Completion.objects.select_related(
            "activity", "provider", "board", "credit_type", "created_by", "corrects"
        ),
        request.user,
        write=write,
        pk=pk,
    )


def records_page(request, queryset, per_page=50):
    queryset = queryset.select_related("activity", "credit_type").order_by("-created_at", "-id")
    page = Paginator(queryset, per_page).get_page(request.GET.get("page"))
    table = deadline_table()
    for record in page.object_list:
        record.late = record.lateness(table)
    return page


def announce_saved(request, outcome, *, corrected: int | None = None):
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


def sees_many_providers(user) -> bool:
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
            "page": records_page(request, records.qs),
            "badges": STATUS_BADGES,
            "many_providers": sees_many_providers(request.user),
        },
    )


def completion_detail(request, pk):
    completion = get_completion(request, pk)
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
    completion = get_completion(request, pk, write=True)
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
    completion = get_completion(request, pk, write=True)
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
            announce_saved(request, outcome, corrected=pk)
            return redirect("completion_detail", pk=outcome.completion_id)
    return render(
        request, "participants/completion_correct.html", {"form": form, "completion": completion}
    )


def download(file_format, name, write):
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


def participant_export(request, file_format):
    # The records the search page lists for the same parameters (deleted ones hidden
    # unless asked for).
    records = _record_filter(request).qs
    return download(
        file_format,
        "participants",
        lambda out: exports.write_records(out, file_format, records.order_by("id")),
    )
