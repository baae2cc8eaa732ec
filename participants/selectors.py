"""Reads of participant records that several screens share: the search and its export, the
dashboards, the activity pages. Each is a condition, an annotation or an aggregate, so a
dashboard's figure and the list its link opens count the same records. No views or forms
here."""

import datetime as dt

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone

from activities.deadlines import late_since
from activities.models import MOC_FIRST_YEAR, Deadline

from .models import Completion


def late_records(date_from=None, date_to=None, deadlines=None) -> Q:
    """Records sent after their year's deadline (grace period included), as one condition
    per completion year in the range: each an indexed comparison on `created_at`. Only
    years that can hold records count (from the first deadline year, or 2014, to this
    year), however wide the range asked for."""
    if deadlines is None:
        deadlines = list(Deadline.objects.all())
    earliest = min([d.year for d in deadlines] + [MOC_FIRST_YEAR])
    this_year = timezone.localdate().year
    first = max(date_from.year if date_from else earliest, earliest)
    last = min(date_to.year if date_to else this_year, this_year)
    condition = Q(pk__in=[])
    for year in range(first, last + 1):
        condition |= Q(
            completion_date__range=(dt.date(year, 1, 1), dt.date(year, 12, 31)),
            created_at__gte=late_since(year, deadlines),
        )
    return condition


def awaiting_board() -> Q:
    """Records sent to the board that it has not answered yet: neither confirmed nor
    rejected (in acceptance mode "board" they are still submitted; in "provisional" mode
    they are already accepted, provisionally). Deleted records are not waiting."""
    return Q(
        transmitted_at__isnull=False,
        board_confirmed_at__isnull=True,
        status__in=[Completion.Status.SUBMITTED, Completion.Status.ACCEPTED],
    )


def board_confirmed() -> Q:
    """Records the board confirmed (whatever happened to them afterwards)."""
    return Q(board_confirmed_at__isnull=False)


def activity_has_records():
    """For filtering activities: whether one has a participant record that counts (deleted
    records and sandbox records do not)."""
    return Exists(
        Completion.objects.filter(activity=OuterRef("pk"), is_sandbox=False).exclude(
            status=Completion.Status.DELETED
        )
    )


def activity_totals(activity) -> dict:
    """An activity's real (not sandbox) records: how many count and their points (deleted
    ones left out), the accepted points, and how many there are of each status."""
    return (
        Completion.objects.filter(is_sandbox=False)
        .filter(activity=activity)
        .aggregate(
            records=Count("id", filter=~Q(status=Completion.Status.DELETED)),
            points=Sum("moc_points", filter=~Q(status=Completion.Status.DELETED)),
            accepted_points=Sum("moc_points", filter=Q(status=Completion.Status.ACCEPTED)),
            **{s: Count("id", filter=Q(status=s)) for s in Completion.Status.values},
        )
    )
