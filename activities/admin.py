import json

from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError

from activities import services
from activities.models import (
    Activity,
    ActivityEvent,
    Attestation,
    Board,
    Channel,
    CreditType,
    Deadline,
    MocRegistration,
    PortalEvent,
    Provider,
    ProviderMembership,
)
from activities.resources import ActivityResource
from pars_portal.lib.admin import (
    CheckedImportExportMixin,
    ReadOnlyInline,
    ReviewerInline,
    ReviewerModelAdmin,
)


class PortalHistoryAdmin(ReviewerModelAdmin):
    """Admin changes to reference data and staff go to the portal's own history too (beside
    Django's admin log): who, when, what, with the changed fields."""

    def _history(self, request, obj, verb, message=""):
        name = self.model._meta.verbose_name
        text = json.dumps(message) if isinstance(message, list) else message
        changes = LogEntry(change_message=text).get_change_message() if message else ""
        services.portal_event_record(
            action=f"{self.model._meta.model_name}.{verb}", actor=request.user,
            channel=Channel.ADMIN, obj=obj,
            text=f"{name.capitalize()} {obj} {verb}d" + (f": {changes}" if changes else ""),
            detail={"change": message} if message else {},
        )  # fmt: skip

    def log_addition(self, request, obj, message):
        self._history(request, obj, "add", message)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self._history(request, obj, "change", message)
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            self._history(request, obj, "delete")
        return super().log_deletions(request, queryset)


class MembershipInline(ReviewerInline):
    model = ProviderMembership
    autocomplete_fields = ["user"]


@admin.register(Provider)
class ProviderAdmin(PortalHistoryAdmin):
    provider_path = ""
    reviewer_can_add = reviewer_can_change = True
    list_display = ["accme_id", "name", "accreditation_type", "created_at"]
    list_filter = ["accreditation_type"]
    search_fields = ["accme_id", "name"]
    inlines = [MembershipInline]


@admin.register(ProviderMembership)
class ProviderMembershipAdmin(PortalHistoryAdmin):
    reviewer_can_add = reviewer_can_change = reviewer_can_delete = True
    list_display = ["user", "provider", "role", "deactivated_at"]
    list_filter = ["role", ("deactivated_at", admin.EmptyFieldListFilter), "provider"]
    list_select_related = ["user", "provider"]
    search_fields = ["user__username", "user__email", "provider__accme_id", "provider__name"]
    autocomplete_fields = ["user", "provider"]
    # Set by the staff pages' deactivation (activities.staff), shown here, not typed.
    readonly_fields = ["deactivated_at"]


class CreditTypeInline(ReviewerInline):
    model = CreditType


@admin.register(Board)
class BoardAdmin(PortalHistoryAdmin):
    provider_path = None
    reviewer_can_add = reviewer_can_change = True
    list_display = ["code", "name", "board_id_pattern", "board_id_description"]
    search_fields = ["code", "name"]
    inlines = [CreditTypeInline]


@admin.register(Deadline)
class DeadlineAdmin(PortalHistoryAdmin):
    provider_path = None
    reviewer_can_add = reviewer_can_change = True
    list_display = ["year", "due_date", "grace_until", "note"]


class ActivityEventInline(ReadOnlyInline):
    model = ActivityEvent
    fields = ["at", "actor", "channel", "action", "changes"]
    readonly_fields = fields
    ordering = ["-at"]


class RegistrationInline(ReadOnlyInline):
    model = MocRegistration
    fields = ["board", "moc_points", "status", "registered_by", "registered_at", "withdrawn_at"]
    readonly_fields = fields
    show_change_link = True


@admin.register(Activity)
class ActivityAdmin(CheckedImportExportMixin, ReviewerModelAdmin):
    reviewer_can_change = True
    list_display = ["pars_id", "title", "provider", "activity_type", "reporting_year", "registered"]
    list_filter = ["reporting_year", "activity_type", "registrations__status"]
    list_select_related = ["provider"]
    search_fields = [
        "pars_id",
        "title",
        "provider__accme_id",
        "provider__name",
        "legacy_module_code",
        "provider_activity_id",
    ]
    readonly_fields = ["pars_id", "provider", "created_at", "updated_at"]
    inlines = [RegistrationInline, ActivityEventInline]
    resource_classes = [ActivityResource]

    def generate_log_entries(self, result, request):
        pass  # the import wrote its own history entries (who, when, channel admin)

    @admin.display(boolean=True, description="ABIM MOC")
    def registered(self, obj):
        return obj.registrations.filter(status=MocRegistration.Status.ACTIVE).exists()

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("registrations")

    def save_model(self, request, obj, form, change):
        # Through the service, so the change is in the activity's history.
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        fresh = Activity.objects.get(pk=obj.pk)
        services.activity_update(
            activity=fresh, actor=request.user, channel=Channel.ADMIN, **fields
        )


class AttestationInline(ReadOnlyInline):
    model = Attestation
    fields = ["statement", "attested_by", "attested_at"]
    readonly_fields = fields


@admin.register(MocRegistration)
class MocRegistrationAdmin(ReviewerModelAdmin):
    provider_path = "activity__provider"
    list_display = ["activity", "board", "moc_points", "status", "registered_by", "registered_at"]
    list_filter = ["status", "board", "activity__reporting_year"]
    list_select_related = ["activity", "board", "registered_by"]
    search_fields = ["activity__pars_id", "activity__title", "activity__provider__accme_id"]
    inlines = [AttestationInline]
    actions = ["withdraw"]

    @admin.action(description="Withdraw the selected registrations (only without records)")
    def withdraw(self, request, queryset):
        for registration in queryset:
            try:
                services.registration_withdraw(
                    registration=registration, actor=request.user, channel=Channel.ADMIN
                )
            except ValidationError as error:
                self.message_user(
                    request, f"{registration}: {error.messages[0]}", level=messages.ERROR
                )

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + ["credit_types"]


@admin.register(ActivityEvent)
class ActivityEventAdmin(ReviewerModelAdmin):
    provider_path = "activity__provider"
    list_display = ["at", "activity", "action", "channel", "actor"]
    list_filter = ["action", "channel"]
    list_select_related = ["activity", "actor"]
    search_fields = ["activity__pars_id", "actor__username"]
    date_hierarchy = "at"


@admin.register(PortalEvent)
class PortalEventAdmin(ReviewerModelAdmin):
    """The portal's own history: reference data, staff, roster loads, uploads resumed,
    transmissions (reviewers read it; nobody edits it)."""

    provider_path = None  # the portal's, not one provider's: reviewers only
    list_display = ["at", "action", "text", "channel", "actor"]
    list_filter = ["action", "channel"]
    list_select_related = ["actor"]
    search_fields = ["text", "object_id", "actor__username"]
    date_hierarchy = "at"
