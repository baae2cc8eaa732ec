"""Reads of activities that several screens share (the activity list, the dashboards). No
views or forms here."""

from django.db.models import Exists, OuterRef

from .models import MocRegistration


def registered_for_moc():
    """For filtering activities: whether one has an active MOC registration."""
    return Exists(
        MocRegistration.objects.filter(
            activity=OuterRef("pk"), status=MocRegistration.Status.ACTIVE
        )
    )
