"""Batch uploads: the file, its check and preview, confirmation, progress, errors, templates."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from pars_portal.lib.access import (
    can_write,
    get_for_user,
    scope,
    visible_providers,
)

from .. import exports
from ..filters import WARNED
from ..forms import (
    UploadForm,
)
from ..models import Upload, UploadPreviewRow
from ..parsers import TEMPLATE_COLUMNS
from ..services import uploads
from .records import download


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
        raise PermissionDenied("Only a provider's editors and managers can upload files.")
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
    return download(
        upload.file_format,
        f"{base}-errors",
        lambda out: exports.write_error_report(out, upload, issues.iterator()),
    )


def upload_template(request, file_format):
    return download(
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
