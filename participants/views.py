from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from activities.models import Channel
from activities.views import get_activity_for_user
from pars_portal.access import can_write, get_for_user, scope

from . import services
from .forms import DeleteForm, ParticipantFilterForm, ParticipantForm
from .intake import Result, intake_submit
from .models import Completion

STATUS_BADGES = {
    Completion.Status.SUBMITTED: "text-bg-info",
    Completion.Status.ACCEPTED: "text-bg-success",
    Completion.Status.REJECTED: "text-bg-danger",
    Completion.Status.DELETED: "text-bg-secondary",
}


def _get_completion(request, pk, *, write=False) -> Completion:
    return get_for_user(
        Completion.objects.select_related(
            "activity", "provider", "board", "credit_type", "created_by", "corrects"
        ),
        request.user,
        write=write,
        pk=pk,
    )


def _records_page(request, queryset, per_page=50):
    queryset = queryset.select_related("activity", "credit_type").order_by("-created_at", "-id")
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def activity_page(request, activity, form=None):
    """The activity's page: details, the entry form, and its participant records."""
    registration = activity.active_registrations[0] if activity.active_registrations else None
    writable = can_write(request.user, activity.provider_id)
    if form is None and writable and registration:
        initial = {
            k: request.GET[k] for k in ("completion_date", "credit_type") if k in request.GET
        }
        form = ParticipantForm(initial=initial, registration=registration)
    records = Completion.objects.filter(activity=activity)
    status = request.GET.get("status", "")
    if status in Completion.Status.values:
        records = records.filter(status=status)
    q = request.GET.get("q", "").strip()
    if q:
        records = records.filter(
            Q(learner_id=q) | Q(last_name__icontains=q) | Q(first_name__icontains=q)
        )
    totals = Completion.objects.filter(activity=activity).aggregate(
        records=Count("id", filter=~Q(status=Completion.Status.DELETED)),
        points=Sum("moc_points", filter=~Q(status=Completion.Status.DELETED)),
        accepted_points=Sum("moc_points", filter=Q(status=Completion.Status.ACCEPTED)),
        **{s: Count("id", filter=Q(status=s)) for s in Completion.Status.values},
    )
    return render(
        request,
        "activities/activity_detail.html",
        {
            "activity": activity,
            "registration": registration,
            "form": form,
            "writable": writable,
            "page": _records_page(request, records),
            "totals": totals,
            "status_filter": status,
            "q": q,
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
        outcome = intake_submit(
            provider=activity.provider,
            rows=[form.to_row(activity)],
            actor=request.user,
            channel=Channel.FORM,
        ).outcomes[0]
        if outcome.result == Result.CREATED:
            messages.success(request, _saved_message(outcome))
            url = reverse("activity_detail", args=[pars_id])
            if "save_another" in request.POST:
                # Keep the sign-in sheet's date and credit type for the next participant.
                query = {
                    "saved": outcome.completion_id,
                    "completion_date": form.cleaned_data["completion_date"].isoformat(),
                    "credit_type": form.cleaned_data["credit_type"],
                }
                url += f"?{urlencode(query)}#enter"
            else:
                url += f"?saved={outcome.completion_id}"
            return redirect(url)
        form.add_pipeline_errors(outcome.errors, outcome.message)
    return activity_page(request, activity, form=form)


def _saved_message(outcome) -> str:
    text = f"Record {outcome.completion_id} saved: {outcome.status}"
    if outcome.reason:
        text += f" ({outcome.reason})"
    if outcome.warning:
        text += f". Warning: {outcome.warning}"
    return text + "."


def participant_search(request):
    form = ParticipantFilterForm(request.GET or None)
    records = scope(Completion.objects.all(), request.user)
    if request.GET:
        records = form.filter(records)
    return render(
        request,
        "participants/participant_search.html",
        {"form": form, "page": _records_page(request, records), "badges": STATUS_BADGES},
    )


def completion_detail(request, pk):
    completion = _get_completion(request, pk)
    return render(
        request,
        "participants/completion_detail.html",
        {
            "completion": completion,
            "events": completion.events.select_related("actor"),
            "corrections": completion.corrections.all(),
            "writable": can_write(request.user, completion.provider_id),
            "badges": STATUS_BADGES,
        },
    )


def completion_delete(request, pk):
    completion = _get_completion(request, pk, write=True)
    form = DeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.completion_delete(
                completion=completion,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                channel=Channel.FORM,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Record {completion.pk} deleted.")
            return redirect("completion_detail", pk=completion.pk)
    return render(
        request, "participants/completion_delete.html", {"form": form, "completion": completion}
    )


def completion_correct(request, pk):
    """Correct a record: the pipeline deletes the old one and adds the new one, linked; if
    the new one is refused, the old one stays untouched."""
    completion = _get_completion(request, pk, write=True)
    activity = completion.activity
    registration = activity.active_registration(completion.board.code)
    if completion.status == Completion.Status.DELETED:
        messages.error(request, "A deleted record cannot be corrected.")
        return redirect("completion_detail", pk=pk)
    initial = {
        f: getattr(completion, f)
        for f in ("learner_id", "first_name", "last_name", "birth_month", "birth_day",
                  "completion_date", "moc_points", "cme_credits")
    }  # fmt: skip
    initial.update(credit_type=completion.credit_type.code, learner_permission=True)
    form = ParticipantForm(
        request.POST or None, initial=initial, registration=registration, correcting=completion
    )
    if request.method == "POST" and form.is_valid():
        outcome = intake_submit(
            provider=activity.provider,
            rows=[form.to_row(activity)],
            actor=request.user,
            channel=Channel.FORM,
        ).outcomes[0]
        if outcome.result == Result.CREATED:
            messages.success(
                request, f"Record {pk} replaced by the corrected record {outcome.completion_id}: "
                f"{outcome.status}{f' ({outcome.reason})' if outcome.reason else ''}."
            )  # fmt: skip
            return redirect("completion_detail", pk=outcome.completion_id)
        form.add_pipeline_errors(outcome.errors, outcome.message)
    return render(
        request, "participants/completion_correct.html", {"form": form, "completion": completion}
    )
