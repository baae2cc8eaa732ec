"""The web services page: API keys (create, show once, revoke) and the sandbox."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from activities.models import Activity
from pars_portal.lib.access import (
    get_for_user,
    scope,
    visible_providers,
)

from ..apikeys import api_key_create as create_key
from ..apikeys import api_key_revoke as revoke_key
from ..forms import (
    ApiKeyForm,
)
from ..models import ApiKey, Completion
from ..verification import SANDBOX_ROSTER

SANDBOX_RECORDS_SHOWN = 50


def api_help(request):
    """The API page: the provider's keys (created, last used, revoked) and curl examples."""
    providers = visible_providers(request.user, write=True)
    keys = scope(ApiKey.objects.all(), request.user).select_related("provider", "created_by")
    first_provider = providers.order_by("name").first()
    return render(
        request,
        "participants/api_help.html",
        {
            "keys": keys,
            "form": ApiKeyForm(providers=providers) if providers.exists() else None,
            "base_url": request.build_absolute_uri("/api/v1/"),
            "example_date": timezone.localdate().isoformat(),
            "sandbox_roster": [
                {"board": b, "board_id": i, "name": f"{f} {la}", "birth": f"{m:02d}/{d:02d}"}
                for b, i, f, la, m, d in SANDBOX_ROSTER
            ],
            # What the provider's sandbox keys stored: shown here, never in the search.
            "sandbox_records": scope(Completion.objects.filter(is_sandbox=True), request.user)
            .select_related("activity")
            .order_by("-created_at", "-pk")[:SANDBOX_RECORDS_SHOWN],
            "sandbox_total": scope(
                Completion.objects.filter(is_sandbox=True), request.user
            ).count(),
            "sandbox_shown": SANDBOX_RECORDS_SHOWN,
            "example_provider": getattr(first_provider, "name", "Your provider"),
            "example_provider_id": getattr(first_provider, "accme_id", "0001234"),
            "example_activity": scope(Activity.objects.all(), request.user)
            .filter(registrations__status="active")
            .values_list("pars_id", flat=True)
            .first()
            or "100000001",
        },
    )


@require_POST
def api_key_create(request):
    providers = visible_providers(request.user, write=True)
    if not providers.exists():
        raise PermissionDenied("Only a provider's editors and managers can create API keys.")
    form = ApiKeyForm(request.POST, providers=providers)
    if not form.is_valid():
        messages.error(request, "Give the key a name and choose sandbox or production.")
        return redirect("api_help")
    key, secret = create_key(
        provider=form.cleaned_data.get("provider") or providers.get(),
        user=request.user,
        name=form.cleaned_data["name"],
        mode=form.cleaned_data["mode"],
    )
    # Post/redirect/get: reloading the page shows the key again, never makes a second one.
    # The secret waits in the session for that one page, and is stored only as a hash.
    request.session[f"{NEW_KEY_SECRET}{key.pk}"] = secret
    return redirect("api_key_created", key_id=key.pk)


NEW_KEY_SECRET = "new-api-key-"  # noqa: S105 - a session key prefix, not a secret


def api_key_created(request, key_id):
    """The new key's secret, shown once (then gone from the session)."""
    key = get_for_user(ApiKey.objects.all(), request.user, write=True, pk=key_id)
    secret = request.session.pop(f"{NEW_KEY_SECRET}{key.pk}", None)
    return render(request, "participants/api_key_created.html", {"key": key, "secret": secret})


@require_POST
def api_key_revoke(request, key_id):
    key = get_for_user(ApiKey.objects.all(), request.user, write=True, pk=key_id)
    revoke_key(key=key, user=request.user)
    messages.success(request, f"API key {key.prefix}… revoked; it no longer works.")
    return redirect("api_help")
