"""An activity's page with its participant records, entering participants there (one at a
time or from a sign-in sheet), the live learner check, and the activity's export."""

import contextlib
import datetime as dt

from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from activities.models import Activity
from activities.views import ACTIVE_REGISTRATIONS, get_activity_for_user
from pars_portal.lib.access import can_write, scope, visible_providers

from .. import exports
from ..api import MATCH_RESULTS
from ..filters import ActivityFilter, ActivityRecordFilter
from ..forms import (
    LearnerCheckForm,
    ParticipantForm,
)
from ..models import Completion
from ..rows import Result
from ..selectors import activity_totals
from ..verification import Candidate, Outcome, RosterGuard, get_verifier
from .records import STATUS_BADGES, announce_saved, download, records_page


def _next_on_sheet(query) -> dict:
    """What stays from one sign-in-sheet entry to the next: date, credit type and the
    learner permission confirmed for the sheet."""
    initial = {}
    with contextlib.suppress(ValueError):
        initial["completion_date"] = dt.date.fromisoformat(query.get("completion_date", ""))
    if query.get("credit_type"):
        initial["credit_type"] = query["credit_type"]
    if query.get("permission") == "1":
        initial["learner_permission"] = True
    return initial


def activity_page(request, activity, form=None):
    """The activity's page: details, the entry form, and its participant records."""
    registration = activity.active_registrations[0] if activity.active_registrations else None
    writable = can_write(request.user, activity.provider_id)
    if form is None and writable and registration:
        form = ParticipantForm(initial=_next_on_sheet(request.GET), registration=registration)
        if "completion_date" in request.GET:  # after "Save and add another": the next learner
            form.fields["learner_id"].widget.attrs["autofocus"] = True
    # Sandbox records (API test keys) live in the API only, never among real ones.
    records = ActivityRecordFilter(
        request.GET, queryset=Completion.objects.filter(is_sandbox=False).filter(activity=activity)
    )
    page = records_page(request, records.qs)
    return render(
        request,
        "activities/activity_detail.html",
        {
            "activity": activity,
            "registration": registration,
            "form": form,
            "writable": writable,
            "page": page,
            "totals": activity_totals(activity),
            "status_filter": records.form.cleaned_data.get("status", ""),
            "q": records.form.cleaned_data.get("q", ""),
            "statuses": Completion.Status.choices,
            "saved": request.GET.get("saved", ""),
            "badges": STATUS_BADGES,
        },
    )


def participant_add(request, pars_id):
    activity = get_activity_for_user(request, pars_id, write=True)
    if request.method != "POST":
        return redirect("activity_detail", pars_id=pars_id)
    registration = activity.active_registrations[0] if activity.active_registrations else None
    form = ParticipantForm(request.POST, registration=registration)
    if form.is_valid():
        outcome = form.submit(activity, request.user)
        if outcome.result == Result.CREATED:
            announce_saved(request, outcome)
            url = reverse("activity_detail", args=[pars_id])
            if "save_another" in request.POST:
                # Keep the sign-in sheet's date and credit type for the next participant.
                query = {
                    "saved": outcome.completion_id,
                    "completion_date": form.cleaned_data["completion_date"].isoformat(),
                    "credit_type": form.cleaned_data["credit_type"],
                    "permission": "1",  # confirmed for the sheet; still stored per record
                }
                url += f"?{urlencode(query)}#enter"
            else:
                url += f"?saved={outcome.completion_id}"
            return redirect(url)
    return activity_page(request, activity, form=form)


LEARNER_CHECK_MESSAGES = {
    "match": ("success", "ABIM knows ABIM ID {id} and the birth date matches."),
    "name_differs": ("warning", "ABIM knows ABIM ID {id} and the birth date matches; the name "
                     "differs from ABIM's, so the record will carry a warning."),
    "not_found": ("danger", "ABIM's roster has no learner with ABIM ID {id}: check the ID on "
                  "the sheet."),
    "birth_date_mismatch": ("danger", "ABIM knows ABIM ID {id}, but the birth date does not "
                            "match: check the month and day."),
    "unavailable": ("secondary", "The roster cannot be checked right now; the record is "
                    "checked when it is saved."),
}  # fmt: skip


@require_POST
def learner_check(request, pars_id):
    """The learner-match service for the entry form: as soon as the ABIM ID and birth date
    are typed, whether the roster knows the ID and whether the birth date matches. It is
    a roster probe like the API's, so it counts against the provider's roster limit and a
    per-provider rate, and never tells the roster's spelling of a name."""
    activity = get_activity_for_user(request, pars_id, write=True)
    form = LearnerCheckForm(request.POST)
    if not form.is_valid():
        message = "Type the ABIM ID and the birth date."
        return JsonResponse(
            {"result": "incomplete", "tone": "secondary", "message": message}, status=400
        )
    data = form.cleaned_data
    window = int(timezone.now().timestamp() // 60)
    key = f"learner-check:{activity.provider_id}:{window}"
    cache.add(key, 0, timeout=120)
    if cache.incr(key) > LEARNER_CHECKS_PER_MINUTE:
        return JsonResponse({"result": "busy", "tone": "secondary",
                             "message": "Too many checks this minute; the record is checked "
                             "when it is saved."}, status=429)  # fmt: skip
    guard = RosterGuard(activity.provider_id)
    if guard.exhausted:
        return JsonResponse(
            {"result": "limit", "tone": "danger", "message": guard.refusal()}, status=429
        )
    registration = activity.active_registrations[0] if activity.active_registrations else None
    board = registration.board if registration else None
    if board is None:
        raise Http404("This activity is not registered.")
    learner_id = data["learner_id"].strip()
    candidate = Candidate(
        board_id=board.pk, board_code=board.code, learner_id=learner_id,
        first_name=data["first_name"], last_name=data["last_name"],
        birth_month=data["birth_month"], birth_day=data["birth_day"],
    )  # fmt: skip
    verdict = get_verifier(sandbox=False).verify([candidate])[0]
    if not guard.screen([candidate], [verdict])[0]:
        return JsonResponse(
            {"result": "limit", "tone": "danger", "message": guard.refusal()}, status=429
        )
    result = MATCH_RESULTS[verdict.outcome]
    names_typed = data["first_name"] and data["last_name"]
    if verdict.outcome == Outcome.MATCH and verdict.warning and names_typed:
        result = "name_differs"
    tone, message = LEARNER_CHECK_MESSAGES[result]
    return JsonResponse({"result": result, "tone": tone, "message": message.format(id=learner_id)})


LEARNER_CHECKS_PER_MINUTE = 60


def activity_export(request, pars_id, file_format):
    activity = get_activity_for_user(request, pars_id)
    records = Completion.objects.filter(activity=activity, is_sandbox=False).order_by("id")
    return download(
        file_format,
        f"participants-{activity.pars_id}",
        lambda out: exports.write_records(out, file_format, records),
    )


def activity_list(request):
    activities = ActivityFilter(
        request.GET,
        queryset=scope(Activity.objects.all(), request.user)
        .select_related("provider")
        .prefetch_related(ACTIVE_REGISTRATIONS)
        .order_by("-reporting_year", "title"),
    )
    page = Paginator(activities.qs, 50).get_page(request.GET.get("page"))
    # What the form shows as chosen: the parameters as read (the list ignores unknown ones).
    filters = {name: activities.form.cleaned_data.get(name, "") for name in activities.filters}
    years = (
        scope(Activity.objects.all(), request.user)
        .order_by("-reporting_year")
        .values_list("reporting_year", flat=True)
        .distinct()
    )
    return render(
        request,
        "activities/activity_list.html",
        {
            "page": page,
            "filters": filters,
            "years": years,
            "types": Activity.Type.choices,
            "can_create": visible_providers(request.user, write=True).exists(),
        },
    )


def activity_detail(request, pars_id):
    return activity_page(request, get_activity_for_user(request, pars_id))
