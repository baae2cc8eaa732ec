from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views import defaults

from activities.deadlines import year_choices
from activities.models import Deadline

from . import dashboards
from .lib.access import is_reviewer, visible_providers


def home(request):
    """The status dashboard: provider staff see their providers' figures; reviewers see
    every provider's, or one provider's with ?provider=<ACCME ID>."""
    deadlines = list(Deadline.objects.order_by("due_date"))
    years = year_choices(deadlines)
    year = dashboards.selected_year(request, years)
    context = {"years": years, "year": year, "reviewer": is_reviewer(request.user)}
    # Provider staff have one provider or a few; reviewers choose among all of them.
    options = list(visible_providers(request.user).order_by("name").only("accme_id", "name"))
    context["provider_options"] = options
    wanted = request.GET.get("provider", "").strip()
    if context["reviewer"] and not wanted:
        context.update(dashboards.reviewer_dashboard(deadlines, year))
        return render(request, "pars_portal/dashboard_reviewer.html", context)
    providers = [p for p in options if p.accme_id == wanted.zfill(7)] if wanted else options
    if wanted and not providers:
        raise Http404("No such provider.")
    context["providers"] = providers
    if providers:
        context.update(dashboards.provider_dashboard(providers, deadlines, year))
    return render(request, "pars_portal/dashboard_provider.html", context)


def page_not_found(request, exception):
    """Unknown API paths answer in the API's error shape, not with an HTML page."""
    if request.path.startswith("/api/v1/"):
        detail = f"No such endpoint: {request.path}. The schema is at /api/v1/schema."
        return JsonResponse({"detail": detail, "errors": []}, status=404)
    return defaults.page_not_found(request, exception)
