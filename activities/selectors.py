"""Reads of activities that several screens share (the activity list, the dashboards). No
views or forms here."""

from django.db.models import Exists, OuterRef

from .models import MocRegistration, ProviderMembership


def registered_for_moc():
    """For filtering activities: whether one has an active MOC registration."""
    return Exists(
        MocRegistration.objects.filter(
            activity=OuterRef("pk"), status=MocRegistration.Status.ACTIVE
        )
    )


def provider_writers(provider_ids):
    """The memberships of the people who change these providers' data (managers and
    editors) and can act on it: membership and account active. Whom rejection digests go
    to, and whom a reviewer contacts about a rejected record."""
    return ProviderMembership.objects.filter(
        provider__in=provider_ids, role__in=ProviderMembership.WRITE_ROLES,
        deactivated_at__isnull=True, user__is_active=True,
    )  # fmt: skip
