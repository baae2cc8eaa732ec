"""Logins and password resets: how fast anyone may try.

django-axes locks a username out from one address after AXES_FAILURE_LIMIT failures. Past
LOGIN_USERNAME_LIMIT failures of one username from anywhere (many addresses guessing one
reviewer's password), each further attempt for it waits LOGIN_USERNAME_DELAY_SECONDS: a
slow-down, never a lockout, so nobody can lock a reviewer out for everyone. Password resets
are limited per address and per client.
"""

import time

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

USERNAME_MAX = 150  # Django's username length; what longer input can be is never a user
LOGIN_SLOWED = (
    "Too many failed logins for this username from several places: wait {seconds} seconds "
    "and try again."
)


def client_address(request) -> str:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the entry of
    X-Forwarded-For the nearest trusted proxy wrote (entries a client sent itself come
    before it and are never used). DRF's throttles read it the same way (NUM_PROXIES)."""
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    if count:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= count:
            return forwarded[-count]
    return remote


def axes_username(request, credentials) -> str:
    """The username django-axes records: at most USERNAME_MAX characters (its column holds
    255; longer input made PostgreSQL refuse the failure record)."""
    value = (credentials or {}).get("username") or request.POST.get("username", "")
    return str(value)[:USERNAME_MAX]


def _failures_key(username: str) -> str:
    return f"login-failures:{username.casefold()[:USERNAME_MAX]}"


def login_wait(username: str) -> int:
    """Seconds this username must wait before another attempt (0: none)."""
    failures, last = cache.get(_failures_key(username), (0, 0.0))
    if failures < settings.LOGIN_USERNAME_LIMIT:
        return 0
    return max(0, int(last + settings.LOGIN_USERNAME_DELAY_SECONDS - time.time() + 0.999))


def login_failed(username: str) -> None:
    failures, _ = cache.get(_failures_key(username), (0, 0.0))
    window = settings.LOGIN_USERNAME_WINDOW_MINUTES * 60
    cache.set(_failures_key(username), (failures + 1, time.time()), window)


class _SlowedDown:
    def clean(self):
        username = str(self.cleaned_data.get("username") or "")[:USERNAME_MAX]
        if wait := login_wait(username):
            raise ValidationError(LOGIN_SLOWED.format(seconds=wait), code="slowed_down")
        try:
            return super().clean()
        except ValidationError as error:
            if getattr(error, "code", "") == "invalid_login":
                login_failed(username)
            raise


class LoginForm(_SlowedDown, AuthenticationForm):
    pass


class AdminLoginForm(_SlowedDown, AdminAuthenticationForm):
    pass


def _over(key: str, limit: int, seconds: int) -> bool:
    """Count one more for `key` in a window of `seconds`; True once over `limit`."""
    if cache.add(key, 1, seconds):
        return False
    try:
        return cache.incr(key) > limit
    except ValueError:  # expired between add and incr
        cache.add(key, 1, seconds)
        return False


@method_decorator(sensitive_post_parameters(), name="dispatch")
class PasswordResetView(auth_views.PasswordResetView):
    """Django's password reset, limited: PASSWORD_RESET_PER_ADDRESS mails an hour per email
    address and PASSWORD_RESET_PER_CLIENT requests an hour per client address. Past a limit
    the page answers as usual (it never tells whether an address exists) but sends nothing."""

    def form_valid(self, form):
        email = form.cleaned_data["email"].casefold()
        client = client_address(self.request)
        too_many = _over(f"reset-client:{client}", settings.PASSWORD_RESET_PER_CLIENT, 3600)
        too_many |= _over(f"reset-email:{email}", settings.PASSWORD_RESET_PER_ADDRESS, 3600)
        if too_many:
            return super(auth_views.PasswordResetView, self).form_valid(form)  # no mail
        return super().form_valid(form)
