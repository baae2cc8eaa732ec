"""Reporting deadlines (pars-spec §6) → the late flags shown on every record.

Deadlines are rows reviewers edit; a year without a row is due December 31 of that year.
Flags are computed when shown, so an edited deadline applies at once.
"""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from .models import MOC_FIRST_YEAR, Deadline

ON_TIME = ""
IN_GRACE = "grace"
LATE = "late"
FLAG_TEXT = {
    IN_GRACE: "Sent in the grace period",
    LATE: "Late: sent after the deadline",
}
OVER_30_DAYS = "Sent more than {days} days after completion"


@dataclass(frozen=True, slots=True)
class Lateness:
    deadline: str  # ON_TIME, IN_GRACE or LATE
    over_30_days: bool

    @property
    def labels(self) -> list[str]:
        labels = [FLAG_TEXT[self.deadline]] if self.deadline else []
        if self.over_30_days:
            labels.append(OVER_30_DAYS.format(days=settings.LATE_AFTER_COMPLETION_DAYS))
        return labels


def deadline_table() -> dict[int, tuple[dt.date, dt.date | None]]:
    return {d.year: (d.due_date, d.grace_until) for d in Deadline.objects.all()}


def lateness(completion_date: dt.date, received: dt.date, table: dict) -> Lateness:
    due, grace = table.get(completion_date.year, (dt.date(completion_date.year, 12, 31), None))
    if received <= due:
        flag = ON_TIME
    elif grace and received <= grace:
        flag = IN_GRACE
    else:
        flag = LATE
    over = (received - completion_date).days > settings.LATE_AFTER_COMPLETION_DAYS
    return Lateness(flag, over)


def late_since(year: int, deadlines=None) -> dt.datetime:
    """The moment records of `year` start counting as late (the LATE flag): local midnight
    after the deadline's last day (its grace period if it has one). Lets a list or a
    dashboard select late records with an indexed comparison on `created_at`."""
    if deadlines is None:
        deadlines = Deadline.objects.filter(year=year)
    row = next((d for d in deadlines if d.year == year), None)
    last_day = (row.grace_until or row.due_date) if row else dt.date(year, 12, 31)
    midnight = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time.min)
    return timezone.make_aware(midnight)


def year_choices(deadlines) -> list[int]:
    """Reporting years a page can offer, newest first: every year from the first one (or
    an earlier deadline row) to the current one."""
    current = timezone.localdate().year
    first = min([d.year for d in deadlines if d.year <= current] + [MOC_FIRST_YEAR])
    return list(range(current, first - 1, -1))


def parse_year(value: str | None) -> int | None:
    """A year typed in a query string (?year=, ?completion_year=): four digits, else None
    (so a page ignores it rather than building an impossible date)."""
    if value and len(value) == 4 and value.isascii() and value.isdigit() and value != "0000":
        return int(value)
    return None
