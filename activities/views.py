from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from pars_portal.lib.access import get_for_user, visible_providers

from . import services
from .forms import ActivityForm, RegistrationChangeForm, RegistrationForm
from .models import Activity, Board, Channel, MocRegistration

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
        raise PermissionDenied("Only a provider's editors can create activities.")
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
