"""The admin is the ACCME reviewers' workplace. Provider staff use the portal instead."""

from django.contrib import admin
from django.http import Http404

from .access import is_reviewer, scope


class ReviewerAdminSite(admin.AdminSite):
    site_header = "PARS Portal – ACCME reviewers"
    site_title = "PARS reviewers"
    index_title = "Review and follow-up"

    def has_permission(self, request):
        return is_reviewer(request.user)


class ReviewerModelAdmin(admin.ModelAdmin):
    """Reviewers may view everything; writes only where the model admin allows them, and
    then through services. Querysets go through the scoping helper like every view."""

    provider_path: str | None = "provider"  # None: not provider data (boards, deadlines)
    reviewer_can_add = False
    reviewer_can_change = False
    reviewer_can_delete = False
    list_per_page = 50
    show_full_result_count = False  # COUNT(*) over millions of rows on every page is waste

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self.provider_path is None:
            return queryset
        return scope(queryset, request.user, via=self.provider_path)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object.")
        return obj

    def has_module_permission(self, request):
        return is_reviewer(request.user)

    def has_view_permission(self, request, obj=None):
        return is_reviewer(request.user)

    def has_add_permission(self, request):
        return self.reviewer_can_add and is_reviewer(request.user)

    def has_change_permission(self, request, obj=None):
        return self.reviewer_can_change and is_reviewer(request.user)

    def has_delete_permission(self, request, obj=None):
        return self.reviewer_can_delete and is_reviewer(request.user)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
