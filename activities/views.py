from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.shortcuts import render

from pars_portal.access import get_for_user, scope

from .models import Activity, MocRegistration

_ACTIVE_REGISTRATIONS = Prefetch(
    "registrations",
    queryset=MocRegistration.objects.filter(status=MocRegistration.Status.ACTIVE)
    .select_related("board")
    .prefetch_related("credit_types"),
    to_attr="active_registrations",
)


def activity_list(request):
    activities = (
        scope(Activity.objects.all(), request.user)
        .select_related("provider")
        .prefetch_related(_ACTIVE_REGISTRATIONS)
        .order_by("-reporting_year", "title")
    )
    if provider := request.GET.get("provider"):
        activities = activities.filter(provider__accme_id=provider)
    page = Paginator(activities, 50).get_page(request.GET.get("page"))
    return render(request, "activities/activity_list.html", {"page": page})


def activity_detail(request, pars_id):
    activity = get_for_user(
        Activity.objects.select_related("provider").prefetch_related(_ACTIVE_REGISTRATIONS),
        request.user,
        pars_id=pars_id,
    )
    return render(request, "activities/activity_detail.html", {"activity": activity})
