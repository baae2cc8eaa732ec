from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    name = "pars_portal"
    verbose_name = "PARS Portal"
    default = True


class PortalAdminConfig(admin_apps.AdminConfig):
    """The Django admin, restricted to ACCME reviewers (see pars_portal.admin)."""

    default = False
    default_site = "pars_portal.admin.ReviewerAdminSite"
