"""The reviewers' queue of board rejections and its follow-up pages."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from activities.models import Channel
from activities.selectors import provider_writers
from activities.services import portal_event_record
from pars_portal.lib.access import REVIEWERS_GROUP, is_reviewer, visible_providers

from ..filters import FollowUpFilter
from ..forms import (
    ContactForm,
    ResolveForm,
)
from ..models import FollowUp, TransmissionBatch
from ..services import follow_ups
from ..transmission import ingest_answers, simulated_board_answers, transmit_to_board
from .records import STATUS_BADGES


def reviewer_only(request):
    # The queue spans every provider: for anyone else it does not exist.
    if not is_reviewer(request.user):
        raise Http404("No such page.")


def review_queue(request):
    """Board-rejected records across providers, oldest first, with their age."""
    reviewer_only(request)
    queue = FollowUpFilter(
        request.GET,
        queryset=FollowUp.objects.select_related(
            "completion__provider", "completion__activity", "assigned_to"
        ).order_by("created_at", "id"),
        request=request,
    )
    page = Paginator(queue.qs, 50).get_page(request.GET.get("page"))
    now = timezone.now()
    for follow_up in page.object_list:
        follow_up.age_days = (now - follow_up.created_at).days
    return render(
        request,
        "participants/review_queue.html",
        {
            "page": page,
            "state": queue.form.cleaned_data.get("state", ""),
            "simulated_board": settings.SIMULATED_BOARD,
            "last_batch": TransmissionBatch.objects.first(),
            # The same provider menu as the dashboard's (reviewers see every provider).
            "provider_options": visible_providers(request.user)
            .order_by("name")
            .only("accme_id", "name"),
            "provider": (request.GET.get("provider") or "").strip().zfill(7),
        },
    )


def reviewers():
    """Who a follow-up can be assigned to: active reviewers (staff in the reviewers group)."""
    return User.objects.filter(
        is_active=True, is_staff=True, groups__name=REVIEWERS_GROUP
    ).order_by("first_name", "last_name", "username")


def review_detail(request, follow_up_id):
    reviewer_only(request)
    follow_up = get_object_or_404(
        FollowUp.objects.select_related("completion__provider", "completion__activity"),
        pk=follow_up_id,
    )
    contact_form = ContactForm(initial={"contacted_on": timezone.localdate()})
    resolve_form = ResolveForm()
    if request.method == "POST":
        action = request.POST.get("action")
        if action in ("assign", "reassign", "unassign"):
            assignee = request.user
            if action == "reassign":
                assignee = reviewers().filter(pk=request.POST.get("assignee") or 0).first()
            elif action == "unassign":
                assignee = None
            if action == "reassign" and assignee is None:
                messages.error(request, "Choose a reviewer.")
            else:
                follow_ups.follow_up_assign(
                    follow_up=follow_up, reviewer=request.user, assignee=assignee
                )
                name = assignee and (assignee.get_full_name() or assignee.username)
                if assignee == request.user:
                    name = "you"
                messages.success(request, f"Assigned to {name}." if name else "No longer assigned.")
            return redirect("review_detail", follow_up_id=follow_up.pk)
        if action == "contact":
            contact_form = ContactForm(request.POST)
            if contact_form.is_valid():
                follow_ups.follow_up_log_contact(
                    follow_up=follow_up, reviewer=request.user, **contact_form.cleaned_data
                )
                messages.success(request, "Contact logged.")
                return redirect("review_detail", follow_up_id=follow_up.pk)
        elif action == "resolve":
            resolve_form = ResolveForm(request.POST)
            if resolve_form.is_valid():
                try:
                    follow_ups.follow_up_resolve(
                        follow_up=follow_up, reviewer=request.user,
                        resolution=resolve_form.cleaned_data["resolution"],
                    )  # fmt: skip
                except ValidationError as error:
                    messages.error(request, error.messages[0])
                else:
                    label = dict(resolve_form.fields["resolution"].choices)[
                        resolve_form.cleaned_data["resolution"]
                    ]
                    messages.success(request, f"Follow-up resolved: {label}.")
                return redirect("review_detail", follow_up_id=follow_up.pk)
    return render(
        request,
        "participants/review_detail.html",
        {
            "follow_up": follow_up,
            "completion": follow_up.completion,
            "contacts": follow_up.contacts.select_related("reviewer"),
            "corrections": follow_up.completion.corrections.all(),
            "events": follow_up.completion.events.select_related("actor"),
            "contact_form": contact_form,
            "resolve_form": resolve_form,
            "badges": STATUS_BADGES,
            "reviewers": reviewers(),
            # Whom to contact: the provider's editors and managers, with their email.
            "editors": provider_writers([follow_up.completion.provider_id])
            .select_related("user")
            .order_by("user__last_name", "user__username"),
        },
    )


@require_POST
def review_transmit(request):
    """Reviewers may send the verified records now instead of waiting for the next run."""
    reviewer_only(request)
    portal_event_record(
        action="transmission.request", actor=request.user, channel=Channel.ADMIN,
        text="Sending the verified records to the board now: requested",
    )  # fmt: skip
    transmit_to_board.enqueue(requested_by=request.user.pk)
    messages.success(request, "Sending verified records to ABIM (in the background).")
    return redirect("review_queue")


@require_POST
def review_simulate_board(request):
    """SIMULATED BOARD (demo only, off in production): answer the latest batch."""
    reviewer_only(request)
    if not settings.SIMULATED_BOARD:
        raise Http404("The simulated board is off.")
    batch = TransmissionBatch.objects.exclude(status="failed").first()
    if batch is None:
        messages.info(request, "No batch has been sent yet.")
        return redirect("review_queue")
    report = ingest_answers(simulated_board_answers(batch), board_code=batch.board.code)
    messages.success(
        request,
        f"Simulated board answered batch {batch.pk}: {report.confirmed} confirmed, "
        f"{report.rejected} rejected, {report.unchanged} unchanged.",
    )
    return redirect("review_queue")
