from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    name = "pars_portal"
    verbose_name = "PARS Portal"
    default = True

    def ready(self):
        # Imported once the apps are loaded: the admin module reads models.
        from django.contrib import admin

        from .lib.admin import adopt_third_party_admins

        adopt_third_party_admins(admin.site)


class PortalAdminConfig(admin_apps.AdminConfig):
    """The Django admin, restricted to ACCME reviewers (see pars_portal.lib.admin)."""

    default = False
    default_site = "pars_portal.lib.admin.ReviewerAdminSite"
