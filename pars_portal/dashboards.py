"""The status dashboards: the home page of provider staff and of ACCME reviewers.

Every figure is an SQL aggregate over indexed columns (see the indexes on Completion): it
counts rows (COUNT(*)) or indexed columns, never `id`, which PostgreSQL's indexes do not
hold, so the database reads it from an index alone. Nothing loops over records in Python
and nothing is cached, so a figure always agrees with the list its link opens. A dashboard
covers one reporting year: the records whose completion date falls in it (the year whose
deadline they count against).
"""

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count, F, Func, IntegerField, Max, Min, Q, Sum
from django.urls import reverse
from django.utils import timezone

from activities.deadlines import late_since, parse_year
from activities.models import Activity, Channel, Deadline, Provider
from activities.selectors import registered_for_moc
from participants.filters import ALL, CONFIRMED, LATE, NO_REASON, WAITING
from participants.models import (
    ApiKey,
    Completion,
    FollowUp,
    RosterProbeFailure,
    TransmissionBatch,
    Upload,
)
from participants.selectors import (
    activity_has_records,
    awaiting_board,
    board_confirmed,
    late_records,
)

from .charts import MONTHS, STATUSES, month_chart
from .links import activities_url, records_url, year_bounds, year_filter

AGE_BUCKETS = [(0, 7), (7, 30), (30, 90), (90, None)]  # days in the reviewers' queue
RECORD_CHANNELS = [Channel.FORM, Channel.UPLOAD, Channel.API, Channel.ADMIN]
TOP = 10  # rows in the "needing action" and ranking tables


class _DatePart(Func):
    """A part of a date computed by the database itself (Django's Extract functions call
    back into Python for every row on SQLite). SQLite keeps dates as 'YYYY-MM-DD' text."""

    output_field = IntegerField()
    sqlite_slice = ""  # substr() arguments
    sql_part = ""

    def as_sqlite(self, compiler, connection, **extra):
        template = f"CAST(substr(%(expressions)s, {self.sqlite_slice}) AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sql(self, compiler, connection, **extra):
        extra.setdefault(
            "template", f"CAST(EXTRACT({self.sql_part} FROM %(expressions)s) AS INTEGER)"
        )
        return super().as_sql(compiler, connection, **extra)


class Year(_DatePart):
    sqlite_slice, sql_part = "1, 4", "YEAR"


def selected_year(request, years: list[int]) -> int:
    """The ?year= of the request if it is one of `years`, else the current year."""
    year = parse_year(request.GET.get("year"))
    return year if year in years else timezone.localdate().year


@dataclass
class StatusFigures:
    """Counts by status, by month and status, and by channel for one year."""

    year: int
    link: dict  # extra query parameters of every link (provider)
    by_status: dict = field(default_factory=dict)
    by_channel: dict = field(default_factory=dict)
    by_month: list = field(default_factory=list)  # 12 × {status: n}

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    def url(self, **params) -> str:
        return records_url(**{**year_filter(self.year), **self.link, **params})

    @property
    def cards(self):
        return [
            {
                "status": status,
                "label": status.label,
                "count": self.by_status.get(status, 0),
                "url": self.url(status=status),
            }
            for status in STATUSES
        ]

    @property
    def channels(self):
        return [
            {
                "value": channel.value,
                "label": channel.label,
                "count": self.by_channel.get(channel.value, 0),
                "url": self.url(channel=channel.value),  # the list hides deleted ones too
            }
            for channel in RECORD_CHANNELS
        ]

    @property
    def chart(self):
        return month_chart(self.by_month, self.year, self.link)


def status_figures(records, year: int, link: dict) -> StatusFigures:
    """One GROUP BY over the year's records: day × status × channel, summed into months
    here (at most 366 × 4 × 4 rows). Grouped by the columns the indexes on the year's
    figures begin with (completion_year_figures, completion_prov_figures), in their order,
    the database counts while it reads the index, without a month computed and hashed for
    each of a year's million records: about half the time of a GROUP BY month."""
    start, end = year_bounds(year)
    rows = (
        records.filter(completion_date__range=(start, end))
        .values_list("completion_date", "status", "channel")
        .annotate(n=Count("*"))
        .order_by()
    )
    figures = StatusFigures(year=year, link=link, by_month=[{} for _ in MONTHS])
    for day, status, channel, n in rows:
        status = Completion.Status(status)
        figures.by_status[status] = figures.by_status.get(status, 0) + n
        if status != Completion.Status.DELETED:
            figures.by_channel[channel] = figures.by_channel.get(channel, 0) + n
        month = figures.by_month[day.month - 1]
        month[status] = month.get(status, 0) + n
    return figures


def upcoming_deadlines(deadlines, records, activities, figures: StatusFigures, count=2):
    """The next deadlines (or one still in its grace period) with what is still open: the
    rejected records of that year and registered activities with no records. At most two
    queries whatever the number of deadlines: the rejected ones of the year the dashboard
    shows are those of its figures (the same records), counted once."""
    today = timezone.localdate()
    upcoming = [d for d in deadlines if (d.grace_until or d.due_date) >= today][:count]
    if not upcoming:
        return []
    link = figures.link
    years = [d.year for d in upcoming]
    rejected = {}
    if others := [y for y in years if y != figures.year]:
        first, last = year_bounds(min(others))[0], year_bounds(max(others))[1]
        rejected = dict(
            records.filter(status=Completion.Status.REJECTED, completion_date__range=(first, last))
            .annotate(year=Year("completion_date"))
            .values("year")
            .annotate(n=Count("*"))
            .order_by()
            .values_list("year", "n")
        )
    rejected[figures.year] = figures.by_status.get(Completion.Status.REJECTED, 0)
    empty = dict(
        activities.filter(reporting_year__in=years)
        .filter(registered_for_moc())
        .exclude(activity_has_records())
        .values("reporting_year")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("reporting_year", "n")
    )
    for deadline in upcoming:
        deadline.rejected = rejected.get(deadline.year, 0)
        deadline.rejected_url = records_url(
            **link, status=Completion.Status.REJECTED, **year_filter(deadline.year)
        )
        deadline.without_records = empty.get(deadline.year, 0)
        deadline.without_records_url = activities_url(
            **link, year=deadline.year, registered="yes", participants="none"
        )
        deadline.in_grace = deadline.due_date < today
    return upcoming


def registered_activities(activities, year: int):
    """The year's activities registered for ABIM MOC with their records and points; the
    ones with no participants yet first."""
    live = ~Q(completions__status=Completion.Status.DELETED) & Q(completions__is_sandbox=False)
    return list(
        activities.filter(reporting_year=year)
        .filter(registered_for_moc())
        .annotate(
            # status, not id: what the index on (activity, status, …) holds, so the figures
            # come from the index alone (a record always has a status).
            records=Count("completions__status", filter=live),
            points=Sum("completions__moc_points", filter=live),
            rejected=Count(
                "completions__status",
                filter=Q(completions__status=Completion.Status.REJECTED)
                & Q(completions__is_sandbox=False),
            ),
        )
        .order_by("records", "title")
        .values("pars_id", "title", "records", "points", "rejected")
    )


def provider_dashboard(providers: list[Provider], deadlines: list[Deadline], year):
    """Figures for provider staff, over `providers` (already scoped to the user)."""
    ids = [p.pk for p in providers]
    # Links name the provider when there is one, so a reviewer's click stays on it.
    link = {"provider": providers[0].accme_id} if len(providers) == 1 else {}
    records = Completion.objects.filter(provider__in=ids, is_sandbox=False)
    activities = Activity.objects.filter(provider__in=ids)
    figures = status_figures(records, year, link)
    needing_action = list(
        records.filter(
            status=Completion.Status.REJECTED, completion_date__range=year_bounds(year)
        )
        .select_related("activity")
        .only(
            "id", "learner_id", "first_name", "last_name", "completion_date", "status_reason",
            "status_changed_at", "activity__pars_id", "activity__title",
        )
        .order_by("-status_changed_at", "-id")[:TOP]
    )  # fmt: skip
    registered = registered_activities(activities, year)
    return {
        "figures": figures,
        "needing_action": needing_action,
        "registered": registered[: TOP + 5],
        "registered_total": len(registered),
        "registered_empty": sum(1 for a in registered if not a["records"]),
        "registered_url": activities_url(**link, year=year, registered="yes"),
        "registered_empty_url": activities_url(
            **link, year=year, registered="yes", participants="none"
        ),
        "deadlines": upcoming_deadlines(deadlines, records, activities, figures),
        "uploads": list(
            Upload.objects.filter(provider__in=ids)
            .defer("header", "preview_rows")
            .order_by("-uploaded_at", "-id")[:5]
        ),
        "api_keys": list(
            ApiKey.objects.filter(provider__in=ids, revoked_at__isnull=True).order_by(
                F("last_used_at").desc(nulls_last=True), "-id"
            )[:5]
        ),
    }


NEAR_LIMIT = 0.8  # a provider with 80 % of its failed roster checks used is shown


def providers_near_roster_limit(now) -> list[dict]:
    """Providers whose failed roster checks in the window reach NEAR_LIMIT of the limit
    (verification.RosterGuard): someone may be probing the roster, or a file is bad."""
    limit = settings.ROSTER_FAILURE_LIMIT
    since = now - dt.timedelta(hours=settings.ROSTER_FAILURE_WINDOW_HOURS)
    rows = (
        RosterProbeFailure.objects.filter(at__gte=since)
        .values("provider", "provider__name", "provider__accme_id")
        .annotate(n=Count("id"))
        .filter(n__gte=max(1, int(limit * NEAR_LIMIT)))
        .order_by("-n")[:TOP]
    )
    return [
        {"name": r["provider__name"], "accme_id": r["provider__accme_id"], "count": r["n"],
         "over": r["n"] >= limit}
        for r in rows
    ]  # fmt: skip


def reviewer_dashboard(deadlines: list[Deadline], year):
    """The same figures across every provider, plus what reviewers follow up."""
    records = Completion.objects.filter(is_sandbox=False)
    figures = status_figures(records, year, {})
    start, end = year_bounds(year)
    in_year = records.filter(completion_date__range=(start, end))
    by_rejected = _ranked(
        in_year.filter(status=Completion.Status.REJECTED), figures, status="rejected"
    )
    # The list's own "late" condition, so the ranking and the list it links to agree; the
    # year's days named one by one as well (the same records: they are the year), so that
    # the database seeks each day's late records in the index completion_late.
    late = in_year.exclude(status=Completion.Status.DELETED).filter(
        late_records(start, end, deadlines),
        completion_date__in=[start + dt.timedelta(days=n) for n in range((end - start).days + 1)],
    )
    by_late = _ranked(late, figures, late=LATE)  # not deleted: the list's default
    reasons = [
        {
            **row,
            "url": figures.url(
                status=Completion.Status.REJECTED, reason=row["status_reason"] or NO_REASON
            ),
        }
        for row in in_year.filter(status=Completion.Status.REJECTED)
        .values("status_reason")
        .annotate(n=Count("*"))
        .order_by("-n", "status_reason")[:TOP]
    ]
    now = timezone.now()
    buckets = {
        f"age_{low}": Count(
            "created_at",  # what the index followup_open holds: counted from it alone
            filter=Q(created_at__lt=now - dt.timedelta(days=low))
            & (Q(created_at__gte=now - dt.timedelta(days=high)) if high else Q()),
        )
        for low, high in AGE_BUCKETS
    }
    ages = FollowUp.objects.filter(resolution="").aggregate(**buckets, oldest=Min("created_at"))
    queue_url = reverse("review_queue")
    age_rows = [
        {
            "label": f"{low}–{high} days" if high else f"over {low} days",
            "count": ages[f"age_{low}"],
            "url": f"{queue_url}?"
            + urlencode({"state": "open", "older_than": low, "younger_than": high or ""}),
        }
        for low, high in AGE_BUCKETS
    ]
    batches = list(TransmissionBatch.objects.select_related("board").order_by("-created_at")[:5])
    # Per batch: what the board has not answered, what it confirmed, what was rejected.
    columns = {
        WAITING: ("Waiting", awaiting_board(), {"board": WAITING}),
        CONFIRMED: ("Confirmed", board_confirmed(), {"board": CONFIRMED, "status": ALL}),
        "rejected": ("Rejected", Q(status=Completion.Status.REJECTED), {"status": "rejected"}),
    }
    answers = {
        row["transmitted_in"]: row
        for row in Completion.objects.filter(transmitted_in__in=[b.pk for b in batches])
        .values("transmitted_in")
        .annotate(
            **{key: Count("status", filter=q) for key, (_, q, _) in columns.items()},
            last_confirmed=Max("board_confirmed_at"),
        )
        .order_by()
    }
    for batch in batches:
        row = answers.get(batch.pk, {})
        batch.counts = [
            {"key": key, "count": row.get(key, 0), "url": records_url(batch=batch.pk, **params)}
            for key, (_, _, params) in columns.items()
        ]
        batch.records_url = records_url(batch=batch.pk, status=ALL)
        batch.deletions_url = records_url(deletion_batch=batch.pk, status=ALL)
        last = row.get("last_confirmed")
        batch.lag = last - batch.created_at if last else None
    awaiting = records.filter(awaiting_board()).aggregate(
        n=Count("*"), oldest=Min("transmitted_at")
    )
    roster_limit = {
        "limit": settings.ROSTER_FAILURE_LIMIT,
        "hours": settings.ROSTER_FAILURE_WINDOW_HOURS,
        "providers": providers_near_roster_limit(now),
    }
    return {
        "figures": figures,
        "by_rejected": by_rejected,
        "by_late": by_late,
        "reasons": reasons,
        "ages": age_rows,
        "open_follow_ups": sum(a["count"] for a in age_rows),
        "oldest_follow_up": ages["oldest"],
        "batches": batches,
        "awaiting": awaiting,
        "awaiting_days": (now - awaiting["oldest"]).days if awaiting["oldest"] else None,
        "awaiting_url": records_url(board=WAITING),
        "batch_columns": [label for label, _, _ in columns.values()],
        "deadlines": upcoming_deadlines(deadlines, records, Activity.objects.all(), figures),
        "year_late_since": late_since(year, deadlines),
        "roster_limit": roster_limit,
    }


def _ranked(records, figures, **params):
    """Providers ranked by how many of `records` they have, each with a link to the list
    of exactly those records and to that provider's dashboard. Counted by provider (the
    column in the indexes; joining every record to its provider's name took as long as
    the count), then the names of the leading ones (ties on the TOP-th count included, so
    that the name decides among them as before)."""
    counts = sorted(
        records.values_list("provider").annotate(n=Count("*")).order_by(),
        key=lambda row: -row[1],
    )
    if len(counts) > TOP:
        counts = [row for row in counts if row[1] >= counts[TOP - 1][1]]
    n = dict(counts)
    providers = Provider.objects.filter(pk__in=n).order_by("name").only("accme_id", "name")
    return [
        {
            "name": provider.name,
            "accme_id": provider.accme_id,
            "count": n[provider.pk],
            "url": figures.url(provider=provider.accme_id, **params),
            "dashboard_url": f"{reverse('home')}?"
            + urlencode({"provider": provider.accme_id, "year": figures.year}),
        }
        for provider in sorted(providers, key=lambda p: -n[p.pk])[:TOP]  # stable: by name
    ]
