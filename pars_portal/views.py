from django.db.models import Count, Exists, OuterRef, Q
from django.shortcuts import render
from django.utils import timezone

from activities.models import Activity, Deadline, MocRegistration
from participants.models import Completion

from .access import is_reviewer, scope, visible_providers


def home(request):
    providers = visible_providers(request.user).annotate(
        activity_count=Count("activities", distinct=True),
        registered_count=Count(
            "activities",
            filter=Q(activities__registrations__status=MocRegistration.Status.ACTIVE),
            distinct=True,
        ),
    )
    return render(
        request,
        "pars_portal/home.html",
        {
            "providers": providers,
            "reviewer": is_reviewer(request.user),
            "deadlines": upcoming_deadlines(request.user),
        },
    )


def upcoming_deadlines(user, count=2):
    """The next deadlines (or one still in its grace period) with what is still open: the
    provider's rejected records of that year and registered activities with no records."""
    today = timezone.localdate()
    deadlines = [
        d for d in Deadline.objects.order_by("due_date") if (d.grace_until or d.due_date) >= today
    ][:count]
    records = scope(Completion.objects.filter(is_sandbox=False), user)
    activities = scope(Activity.objects.all(), user)
    for deadline in deadlines:
        deadline.rejected = records.filter(
            status=Completion.Status.REJECTED, completion_date__year=deadline.year
        ).count()
        deadline.without_records = (
            activities.filter(
                reporting_year=deadline.year, registrations__status=MocRegistration.Status.ACTIVE
            )
            .exclude(
                Exists(
                    Completion.objects.filter(activity=OuterRef("pk"), is_sandbox=False).exclude(
                        status=Completion.Status.DELETED
                    )
                )
            )
            .count()
        )
        deadline.in_grace = deadline.due_date < today
    return deadlines
