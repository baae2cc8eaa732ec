from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    name = "pars_portal"
    verbose_name = "PARS Portal"
    default = True

    def ready(self):
        from django.contrib import admin

        from .admin import adopt_third_party_admins

        adopt_third_party_admins(admin.site)


class PortalAdminConfig(admin_apps.AdminConfig):
    """The Django admin, restricted to ACCME reviewers (see pars_portal.admin)."""

    default = False
    default_site = "pars_portal.admin.ReviewerAdminSite"
