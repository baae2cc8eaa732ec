import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from activities.admin import PortalHistoryAdmin
from activities.deadlines import parse_year, year_choices
from activities.models import Channel, Deadline
from pars_portal.lib.admin import CheckedImportExportMixin, ReadOnlyInline, ReviewerModelAdmin

from .intake import intake_submit
from .models import Completion, CompletionEvent, RosterEntry, TransmissionBatch, Upload
from .resources import CompletionResource
from .rows import ParticipantRow, Result
from .services import records

ADMIN_FIELDS = [
    "activity", "board", "learner_id", "first_name", "last_name", "birth_month", "birth_day",
    "completion_date", "credit_type", "moc_points", "cme_credits", "learner_permission",
    "credit_id",
]  # fmt: skip


class CompletionYearFilter(admin.SimpleListFilter):
    """Records by the year of their completion date (the year whose deadline they count
    against). Replaces a date hierarchy, whose year list needs a pass over every record."""

    title = "completion year"
    parameter_name = "completion_year"

    def lookups(self, request, model_admin):
        years = year_choices(list(Deadline.objects.all()))
        return [(str(y), str(y)) for y in years]

    def queryset(self, request, queryset):
        if (year := parse_year(self.value())) is not None:
            return queryset.filter(
                completion_date__range=(dt.date(year, 1, 1), dt.date(year, 12, 31))
            )
        return queryset


class CompletionAddForm(forms.ModelForm):
    """A reviewer adding a record on a provider's behalf: checked by the intake pipeline
    (dry run here, for errors next to the fields; committed in save_model)."""

    class Meta:
        model = Completion
        fields = ADMIN_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "credit_id" in self.fields:  # empty unless the provider gave one: the pipeline mints
            self.fields["credit_id"].initial = ""
            self.fields["credit_id"].show_hidden_initial = False

    def to_row(self) -> ParticipantRow:
        data = self.cleaned_data
        return ParticipantRow(
            row_number=0,
            activity_ref=data["activity"].pars_id,
            board_code=data["board"].code,
            learner_id=data["learner_id"].strip(),
            first_name=data["first_name"],
            last_name=data["last_name"],
            birth_month=data["birth_month"],
            birth_day=data["birth_day"],
            completion_date=data["completion_date"],
            credit_type=data["credit_type"].code,
            moc_points=data["moc_points"],
            cme_credits=data.get("cme_credits"),
            learner_permission=data.get("learner_permission", False),
            credit_id=data.get("credit_id") or None,
        )

    def _post_clean(self):
        # The pipeline, not the model, decides; skip ModelForm's instance validation.
        if self.errors:
            return
        outcome = self.run(commit=False)
        for field, message in outcome.errors.items():
            self.add_error(field if field in self.fields else None, message)
        if outcome.result == Result.ALREADY_REPORTED:
            self.add_error(None, outcome.message)

    def run(self, *, commit: bool, actor=None):
        return intake_submit(
            provider=self.cleaned_data["activity"].provider,
            rows=[self.to_row()],
            actor=actor,
            channel=Channel.ADMIN,
            commit=commit,
        ).outcomes[0]


DETAIL_LABELS = {
    "row": "Row of the file", "upload": "Upload", "warning": "Warning",
    "batch": "Transmission batch", "board_answer": "Board's answer", "review": "Reviewer's step",
    "verified_again": "Verified again",
}  # fmt: skip


@admin.display(description="Details")
def event_details(event) -> str:
    """A history entry's details as labelled lines, not raw JSON."""
    lines = []
    for key, value in (event.detail or {}).items():
        if key == "board_answer" and isinstance(value, dict):
            value = " ".join(
                str(part) for part in (value.get("result"), value.get("reasonCode"),
                                       value.get("reason")) if part
            )  # fmt: skip
        elif value is True:
            value = "yes"
        lines.append((DETAIL_LABELS.get(key, key.replace("_", " ").capitalize()), value))
    return format_html_join(mark_safe("<br>"), "{}: {}", lines) or "—"


class CompletionEventInline(ReadOnlyInline):
    model = CompletionEvent
    fields = ["at", "actor", "channel", "from_status", "to_status", "reason", event_details]
    readonly_fields = fields


@admin.register(Completion)
class CompletionAdmin(CheckedImportExportMixin, ReviewerModelAdmin):
    """Records are never edited in place (pars-spec §5); reviewers read them and their
    history, and withdraw them through the service."""

    list_display = [
        "id",
        "learner_id",
        "last_name",
        "first_name",
        "activity",
        "credit_type",
        "completion_date",
        "moc_points",
        "status",
        "status_reason",
        "channel",
        "created_at",
    ]
    list_filter = [
        "status", CompletionYearFilter, "provider", "channel", "is_sandbox", "credit_type",
        "activity__reporting_year",
    ]  # fmt: skip
    list_select_related = ["activity", "credit_type"]
    search_fields = [
        "=learner_id",
        "last_name",
        "first_name",
        "=activity__pars_id",
        "=provider__accme_id",
        "provider__name",
        "=credit_id",
    ]
    inlines = [CompletionEventInline]
    actions = ["withdraw"]
    reviewer_can_add = True
    # Import/export through the intake pipeline (see participants/resources.py).
    resource_classes = [CompletionResource]

    def generate_log_entries(self, result, request):
        pass  # the import wrote its own history entries (who, when, channel admin)

    add_form = CompletionAddForm
    autocomplete_fields = ["activity"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ADMIN_FIELDS if obj is None else super().get_fields(request, obj)

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else [f.name for f in self.model._meta.fields]

    def save_model(self, request, obj, form, change):
        outcome = form.run(commit=True, actor=request.user)
        if outcome.result != Result.CREATED:
            raise ValidationError(outcome.message or str(outcome.errors))
        obj.pk = outcome.completion_id
        obj.refresh_from_db()

    @admin.action(description="Withdraw the selected records (asks for a reason)")
    def withdraw(self, request, queryset):
        """First a page listing the records and asking why; then each record is withdrawn
        with that reason in its history, and its open follow-up closed."""
        form = WithdrawForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            done = 0
            for completion in queryset:
                try:
                    records.completion_delete(
                        completion=completion, actor=request.user,
                        reason=form.cleaned_data["reason"], channel=Channel.ADMIN,
                    )  # fmt: skip
                    done += 1
                except ValidationError as error:
                    self.message_user(request, error.messages[0], level=messages.WARNING)
            self.message_user(request, WITHDRAWN.format(count=done, s="" if done == 1 else "s"))
            return None
        return TemplateResponse(request, "admin/participants/completion/withdraw.html", {
            **self.admin_site.each_context(request),
            "title": "Withdraw participant records",
            "opts": self.model._meta,
            "records": queryset.select_related("activity", "provider"),
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        })  # fmt: skip


WITHDRAWN = "{count} record{s} withdrawn."


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        max_length=300, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept in each record's history; the provider sees it on the record.",
    )  # fmt: skip


@admin.register(CompletionEvent)
class CompletionEventAdmin(ReviewerModelAdmin):
    provider_path = "completion__provider"
    list_display = ["at", "completion", "from_status", "to_status", "channel", "actor", "reason"]
    list_filter = ["to_status", "channel"]
    list_select_related = ["completion__activity", "actor"]
    search_fields = ["=completion__id", "=completion__learner_id", "actor__username"]
    date_hierarchy = "at"
    fields = ["completion", "at", "actor", "channel", "from_status", "to_status", "reason",
              event_details]  # fmt: skip
    readonly_fields = fields


@admin.register(RosterEntry)
class RosterEntryAdmin(PortalHistoryAdmin):
    provider_path = None
    reviewer_can_add = reviewer_can_change = True
    list_display = ["learner_id", "last_name", "first_name", "birth_month", "birth_day", "board"]
    list_filter = ["board"]
    list_select_related = ["board"]
    search_fields = ["=learner_id", "last_name"]


@admin.register(Upload)
class UploadAdmin(ReviewerModelAdmin):
    list_display = ["file_name", "provider", "file_format", "status", "uploaded_by", "uploaded_at"]
    list_filter = ["status", "file_format"]
    list_select_related = ["provider", "uploaded_by"]
    search_fields = ["file_name", "=provider__accme_id", "=sha256"]


@admin.register(TransmissionBatch)
class TransmissionBatchAdmin(ReviewerModelAdmin):
    """Batches sent to the board (all providers' records: reviewers only)."""

    provider_path = None
    list_display = ["id", "board", "created_at", "additions", "deletions", "status", "error"]
    list_filter = ["status", "board"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]
