"""The admin is the ACCME reviewers' workplace. Provider staff use the portal instead."""

import io
import re

from django.contrib import admin
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV, XLSX
from import_export.tmp_storages import MediaStorage

from .access import is_reviewer, scope
from .files import FileRefused, refuse_xlsx_bomb
from .logins import AdminLoginForm


class ImportStorage(MediaStorage):
    """Where the admin import keeps a file between its two steps: MEDIA_ROOT's
    django-import-export folder, under a name of the library's own making (32 hex digits).
    Any other name sent back by a browser is refused (it could name another file)."""

    NAME = re.compile(r"[0-9a-f]{32}")

    def __init__(self, **kwargs):
        name = kwargs.get("name")
        if name is not None and not self.NAME.fullmatch(str(name)):
            raise SuspiciousFileOperation("The import's file name is not one the portal made.")
        super().__init__(**kwargs)


class ReviewerAdminSite(admin.AdminSite):
    login_form = AdminLoginForm
    site_header = "PARS Portal – ACCME reviewers"
    site_title = "PARS reviewers"
    index_title = "Review and follow-up"

    def has_permission(self, request):
        return is_reviewer(request.user)


class ReviewerViewAccess:
    """Reviewers may look; a missing or out-of-scope object is a 404, not a redirect."""

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object.")
        return obj

    def has_module_permission(self, request):
        return is_reviewer(request.user)

    def has_view_permission(self, request, obj=None):
        return is_reviewer(request.user)


class ReviewerAccess(ReviewerViewAccess):
    """Writes only as the class allows (flags), and then through services."""

    reviewer_can_add = False
    reviewer_can_change = False
    reviewer_can_delete = False

    def has_add_permission(self, request, *args):
        return self.reviewer_can_add and is_reviewer(request.user)

    def has_change_permission(self, request, obj=None):
        return self.reviewer_can_change and is_reviewer(request.user)

    def has_delete_permission(self, request, obj=None):
        return self.reviewer_can_delete and is_reviewer(request.user)


class ReviewerModelAdmin(ReviewerAccess, admin.ModelAdmin):
    """Querysets go through the scoping helper like every view."""

    provider_path: str | None = "provider"  # None: not provider data (boards, deadlines)
    list_per_page = 50
    show_full_result_count = False  # COUNT(*) over millions of rows on every page is waste

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self.provider_path is None:
            return queryset
        return scope(queryset, request.user, via=self.provider_path)


class LabelledRows:
    """A formset whose table rows' fields, which have no <label> (the column head names them
    on screen), carry their column's name and row number as aria-label."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        row = "new row" if index is None else f"row {index + 1}"
        for name, field in form.fields.items():
            label = field.label or name.replace("_", " ").capitalize()
            # The admin's related-field wrapper renders its inner widget (and its own attrs
            # are the form class's, shared by every form): label the inner one.
            widget = getattr(field.widget, "widget", field.widget)
            widget.attrs.setdefault("aria-label", f"{label}, {row}")


class ReviewerInline(admin.TabularInline):
    extra = 0

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (LabelledRows, formset), {})

    def has_view_permission(self, request, obj=None):
        return is_reviewer(request.user)

    def has_add_permission(self, request, obj=None):
        return is_reviewer(request.user)

    def has_change_permission(self, request, obj=None):
        return is_reviewer(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_reviewer(request.user)


class ReadOnlyInline(ReviewerInline):
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Other apps' tables that are not the reviewers' business: login attempts and lockouts
# (django-axes), background task results (django-tasks' database backend).
SUPERUSER_ONLY_APPS = {"axes", "django_tasks_database"}


def is_superuser(user) -> bool:
    return is_reviewer(user) and user.is_superuser


class SuperuserViewAccess(ReviewerViewAccess):
    """Hidden from reviewers (not in the index, 403 at its pages, no actions); superusers
    keep what the app's own admin lets them do."""

    def has_module_permission(self, request):
        return is_superuser(request.user)

    def has_view_permission(self, request, obj=None):
        return is_superuser(request.user)

    def has_change_permission(self, request, obj=None):
        return is_superuser(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return is_superuser(request.user) and super().has_delete_permission(request, obj)

    def get_actions(self, request):
        return super().get_actions(request) if is_superuser(request.user) else {}


def adopt_third_party_admins(site):
    """Admins of other apps: reviewers may look at users and groups (changes keep needing
    the model permissions Django grants: superusers); the SUPERUSER_ONLY_APPS' tables are
    for superusers only."""
    for model, model_admin in list(site._registry.items()):
        if isinstance(model_admin, ReviewerViewAccess):
            continue
        cls = type(model_admin)
        access = (
            SuperuserViewAccess
            if model._meta.app_label in SUPERUSER_ONLY_APPS
            else ReviewerViewAccess
        )
        name = f"{access.__name__.removesuffix('ViewAccess')}{cls.__name__}"
        site.unregister(model)
        site.register(model, type(name, (access, cls), {"__module__": __name__}))


class CheckedXLSX(XLSX):
    """Excel for the admin's imports, checked like an uploaded workbook: a zip bomb is
    refused before openpyxl decompresses anything (django-import-export would expand it
    all into memory)."""

    def create_dataset(self, in_stream):
        refuse_xlsx_bomb(io.BytesIO(in_stream))
        return super().create_dataset(in_stream)


class CheckedImportExportMixin(ImportExportMixin):
    """The admin's import/export, CSV and checked Excel; a refused file gets its reason
    (e.g. "the workbook expands to more than …") instead of import-export's generic
    "'FileRefused' encountered while trying to read file"."""

    formats = [CSV, CheckedXLSX]

    def add_data_read_fail_error_to_form(self, form, e):
        if isinstance(e, FileRefused):
            form.add_error("import_file", str(e))
        else:
            super().add_data_read_fail_error_to_form(form, e)
