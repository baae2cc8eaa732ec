from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from activities.models import Channel
from pars_portal.admin import ReadOnlyInline, ReviewerModelAdmin

from . import services
from .models import Completion, CompletionEvent, RosterEntry, Upload


class CompletionEventInline(ReadOnlyInline):
    model = CompletionEvent
    fields = ["at", "actor", "channel", "from_status", "to_status", "reason", "detail"]
    readonly_fields = fields


@admin.register(Completion)
class CompletionAdmin(ReviewerModelAdmin):
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
    list_filter = ["status", "channel", "credit_type", "activity__reporting_year"]
    list_select_related = ["activity", "credit_type"]
    search_fields = [
        "=learner_id",
        "last_name",
        "first_name",
        "=activity__pars_id",
        "=provider__accme_id",
        "=credit_id",
    ]
    date_hierarchy = "completion_date"
    inlines = [CompletionEventInline]
    actions = ["withdraw"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.action(description="Delete (withdraw) the selected records")
    def withdraw(self, request, queryset):
        done = 0
        for completion in queryset:
            try:
                services.completion_delete(
                    completion=completion,
                    actor=request.user,
                    reason="Withdrawn by an ACCME reviewer",
                    channel=Channel.ADMIN,
                )
                done += 1
            except ValidationError as error:
                self.message_user(request, error.messages[0], level=messages.WARNING)
        self.message_user(request, f"{done} record(s) deleted.")


@admin.register(CompletionEvent)
class CompletionEventAdmin(ReviewerModelAdmin):
    provider_path = "completion__provider"
    list_display = ["at", "completion", "from_status", "to_status", "channel", "actor", "reason"]
    list_filter = ["to_status", "channel"]
    list_select_related = ["completion__activity", "actor"]
    search_fields = ["=completion__id", "=completion__learner_id", "actor__username"]
    date_hierarchy = "at"


@admin.register(RosterEntry)
class RosterEntryAdmin(ReviewerModelAdmin):
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
