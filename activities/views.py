from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET, require_POST

from pars_portal.lib.access import get_for_user, is_reviewer, managed_providers, visible_providers

from . import services, staff
from .forms import (
    ActivityForm,
    RegistrationChangeForm,
    RegistrationForm,
    StaffInviteForm,
    StaffRoleForm,
)
from .models import Activity, Board, Channel, MocRegistration, Provider, ProviderMembership

ACTIVE_REGISTRATIONS = Prefetch(
    "registrations",
    queryset=MocRegistration.objects.filter(status=MocRegistration.Status.ACTIVE)
    .select_related("board")
    .prefetch_related("credit_types"),
    to_attr="active_registrations",
)


def get_activity_for_user(request, pars_id, *, write=False) -> Activity:
    return get_for_user(
        Activity.objects.select_related("provider").prefetch_related(ACTIVE_REGISTRATIONS),
        request.user,
        write=write,
        pars_id=pars_id,
    )


def activity_create(request):
    providers = visible_providers(request.user, write=True)
    if not providers.exists():
        raise PermissionDenied("Only a provider's editors and managers can create activities.")
    form = ActivityForm(request.POST or None, providers=providers)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        provider = data.pop("provider", None) or providers.get()
        try:
            activity = services.activity_create(
                provider=provider, actor=request.user, channel=Channel.FORM, **data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, f"Activity created. Its PARS activity ID is {activity.pars_id}."
            )
            return redirect("activity_detail", pars_id=activity.pars_id)
    return render(request, "activities/activity_form.html", {"form": form, "activity": None})


def activity_edit(request, pars_id):
    activity = get_activity_for_user(request, pars_id, write=True)
    form = ActivityForm(request.POST or None, instance=activity, providers=None)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            services.activity_update(
                activity=Activity.objects.get(pk=activity.pk),
                actor=request.user,
                channel=Channel.FORM,
                **fields,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Activity saved.")
            return redirect("activity_detail", pars_id=activity.pars_id)
    return render(request, "activities/activity_form.html", {"form": form, "activity": activity})


def add_errors(form, error: ValidationError) -> None:
    """A service's refusal on the form: each message on its field when the form has it."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def registration_create(request, pars_id):
    activity = get_activity_for_user(request, pars_id, write=True)
    board = Board.objects.get(code="ABIM")
    if activity.active_registrations:
        messages.info(request, "This activity is already registered for ABIM MOC.")
        return redirect("activity_detail", pars_id=pars_id)
    form = RegistrationForm(request.POST or None, board=board)
    if request.method == "POST" and form.is_valid():
        try:
            services.registration_create(
                activity=activity,
                actor=request.user,
                board=board,
                moc_points=form.cleaned_data["moc_points"],
                credit_types=form.cleaned_data["credit_types"],
                attested=form.attested(),
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "Registered for ABIM MOC. You can now report participants.")
            return redirect("activity_detail", pars_id=pars_id)
    return render(
        request, "activities/registration_form.html", {"form": form, "activity": activity}
    )


def registration_edit(request, pars_id):
    """Change the points or credit types of the activity's ABIM registration."""
    activity = get_activity_for_user(request, pars_id, write=True)
    if not activity.active_registrations:
        messages.info(request, "This activity is not registered for ABIM MOC.")
        return redirect("activity_detail", pars_id=pars_id)
    registration = activity.active_registrations[0]
    form = RegistrationChangeForm(request.POST or None, registration=registration)
    if request.method == "POST" and form.is_valid():
        try:
            services.registration_update(
                registration=registration,
                actor=request.user,
                moc_points=form.cleaned_data["moc_points"],
                credit_types=form.cleaned_data["credit_types"],
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "Registration saved.")
            return redirect("activity_detail", pars_id=pars_id)
    return render(
        request,
        "activities/registration_form.html",
        {"form": form, "activity": activity, "editing": True},
    )


@require_POST
def registration_withdraw(request, pars_id):
    activity = get_activity_for_user(request, pars_id, write=True)
    for registration in activity.active_registrations:
        try:
            services.registration_withdraw(registration=registration, actor=request.user)
        except ValidationError as error:
            messages.error(request, error.messages[0])
        else:
            messages.success(request, f"Registration for {registration.board.code} MOC withdrawn.")
    return redirect("activity_detail", pars_id=pars_id)


# --- A provider's staff (activities.staff holds the rules) ------------------------------------


INVITE_SENT = "Invitation sent to {email}: the link to set a password works for {days} days."
INVITE_NOT_SENT = "{email} is on the staff, but the email could not be sent: invite them again."
ACCESS_GIVEN = "{email} has access now with their existing account; they were told by email."


def get_provider_to_manage(request, accme_id) -> Provider:
    """404 for a provider the user does not see, 403 for one they see but do not manage."""
    return get_for_user(Provider.objects.all(), request.user, via="", manage=True,
                        accme_id=accme_id)  # fmt: skip


def get_member_to_manage(request, accme_id, membership_id) -> ProviderMembership:
    provider = get_provider_to_manage(request, accme_id)
    membership = get_object_or_404(
        ProviderMembership.objects.select_related("user"), pk=membership_id, provider=provider
    )
    membership.provider = provider
    return membership


def _staff_channel(request) -> str:
    # Reviewers' actions are ACCME's (as in their queue); a manager's are the provider's.
    return Channel.ADMIN if is_reviewer(request.user) else Channel.FORM


@require_GET
def staff_home(request):
    """The providers whose staff this user manages (every provider for a reviewer)."""
    providers = managed_providers(request.user).annotate(
        staff_count=Count("memberships", filter=Q(memberships__deactivated_at__isnull=True))
    )
    query = request.GET.get("q", "").strip()[:200]
    if query:
        providers = providers.filter(Q(name__icontains=query) | Q(accme_id__startswith=query))
    page = Paginator(providers.order_by("name"), 50).get_page(request.GET.get("page"))
    return render(request, "activities/staff_home.html", {"page": page, "query": query})


def _render_staff_list(request, provider, invite_form, status=200):
    rows = [(m, StaffRoleForm(initial={"role": m.role}, prefix=f"m{m.pk}"))
            for m in staff.staff_of(provider)]  # fmt: skip
    return render(
        request,
        "activities/staff_list.html",
        {"provider": provider, "rows": rows, "invite_form": invite_form,
         "statuses": ProviderMembership.Status, "days": settings.STAFF_INVITATION_DAYS},
        status=status,
    )  # fmt: skip


@require_GET
def staff_list(request, accme_id):
    provider = get_provider_to_manage(request, accme_id)
    return _render_staff_list(request, provider, StaffInviteForm())


@require_POST
def staff_invite(request, accme_id):
    provider = get_provider_to_manage(request, accme_id)
    form = StaffInviteForm(request.POST)
    if form.is_valid():
        try:
            invited = staff.staff_invite(
                provider=provider, actor=request.user, channel=_staff_channel(request),
                **form.cleaned_data,
            )  # fmt: skip
        except ValidationError as error:
            add_errors(form, error)
        else:
            email, days = invited.membership.user.email, settings.STAFF_INVITATION_DAYS
            if not invited.emailed:
                messages.warning(request, INVITE_NOT_SENT.format(email=email))
            elif invited.membership.status == ProviderMembership.Status.INVITED:
                messages.success(request, INVITE_SENT.format(email=email, days=days))
            else:
                messages.success(request, ACCESS_GIVEN.format(email=email))
            return redirect("staff_list", accme_id=provider.accme_id)
    return _render_staff_list(request, provider, form, status=400)


@require_POST
def staff_role(request, accme_id, membership_id):
    membership = get_member_to_manage(request, accme_id, membership_id)
    form = StaffRoleForm(request.POST, prefix=f"m{membership.pk}")
    name = membership.user.get_full_name() or membership.user.username
    if not form.is_valid():
        messages.error(request, f"Choose manager, editor or viewer for {name}.")
    else:
        try:
            changed = staff.staff_role_change(
                membership=membership, actor=request.user, role=form.cleaned_data["role"],
                channel=_staff_channel(request),
            )  # fmt: skip
        except ValidationError as error:
            messages.error(request, error.messages[0])
        else:
            messages.success(request, f"{name} is now {changed.get_role_display().lower()}.")
    return redirect("staff_list", accme_id=membership.provider.accme_id)


def staff_deactivate(request, accme_id, membership_id):
    """GET asks for confirmation; POST deactivates."""
    membership = get_member_to_manage(request, accme_id, membership_id)
    name = membership.user.get_full_name() or membership.user.username
    if request.method == "POST":
        try:
            staff.staff_deactivate(membership=membership, actor=request.user,
                                   channel=_staff_channel(request))  # fmt: skip
        except ValidationError as error:
            messages.error(request, error.messages[0])
        else:
            messages.success(request, f"{name} no longer has access to {membership.provider.name}.")
        return redirect("staff_list", accme_id=membership.provider.accme_id)
    if membership.deactivated_at is not None:
        messages.info(request, f"{name} is already deactivated.")
        return redirect("staff_list", accme_id=membership.provider.accme_id)
    other = membership.user.memberships.filter(deactivated_at__isnull=True).exclude(
        pk=membership.pk
    )
    return render(
        request,
        "activities/staff_deactivate.html",
        {"membership": membership, "provider": membership.provider, "name": name,
         "keeps_account": other.exists() or membership.user.is_staff},
    )  # fmt: skip


class StaffSetPasswordView(auth_views.PasswordResetConfirmView):
    """The invitation's link: Django's password reset confirmation with the invitation's
    token (its own lifetime, STAFF_INVITATION_DAYS), then the portal's "password set" page."""

    token_generator = staff.invitation_tokens
    template_name = "activities/staff_set_password.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        staff.invitation_accept(user=form.user)
        return response

    def get_context_data(self, **kwargs):
        return super().get_context_data(days=settings.STAFF_INVITATION_DAYS, **kwargs)
