from django.db.models import Count, Q
from django.shortcuts import render

from activities.models import MocRegistration

from .access import is_reviewer, visible_providers


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
        {"providers": providers, "reviewer": is_reviewer(request.user)},
    )
