"""API keys: creation (the secret shown once, a hash stored), revocation, authentication
and per-key throttling. Kept apart from api.py because DRF imports authentication classes
while its own views module is still loading."""

import hashlib
import secrets

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.throttling import SimpleRateThrottle

from pars_portal.lib.access import can_write
from pars_portal.lib.openapi import bearer_scheme

from .models import ApiKey

KEY_PREFIX = {ApiKey.Mode.PRODUCTION: "pars_live_", ApiKey.Mode.SANDBOX: "pars_test_"}
KEY_INVALID = "Invalid or revoked API key."
KEY_OWNER_GONE = (
    "This API key's creator no longer edits this provider's data; ask an editor for a new key."
)


# --- Keys -----------------------------------------------------------------------------------


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_create(*, provider, user, name: str, mode: str) -> tuple[ApiKey, str]:
    """Create a key; return it with its secret, which is never stored and shown once."""
    secret = KEY_PREFIX[mode] + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        provider=provider,
        name=name,
        mode=mode,
        prefix=secret[:14],
        key_hash=hash_key(secret),
        created_by=user,
    )
    return key, secret


def api_key_revoke(*, key: ApiKey, user) -> ApiKey:
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=user
    )
    key.refresh_from_db()
    return key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <key>` (or `X-API-Key: <key>`). request.user is the editor
    who created the key (the actor in the records' history); request.auth is the key."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        secret = header[7:].strip() if header.lower().startswith("bearer ") else ""
        secret = secret or request.META.get("HTTP_X_API_KEY", "").strip()
        if not secret:
            return None
        key = (
            ApiKey.objects.select_related("provider", "created_by")
            .filter(key_hash=hash_key(secret), revoked_at__isnull=True)
            .first()
        )
        if key is None:
            # Guessing keys is throttled too, per client address (API_INVALID_KEY_RATE).
            guesses = InvalidKeyThrottle()
            if not guesses.allow_request(request, None):
                raise exceptions.Throttled(wait=guesses.wait())
            raise exceptions.AuthenticationFailed(KEY_INVALID)
        # The key acts for the editor who created it: it stops when their access does.
        if not (key.created_by.is_active and can_write(key.created_by, key.provider_id)):
            raise exceptions.AuthenticationFailed(KEY_OWNER_GONE)
        now = timezone.now()
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            # At most one write a minute per key: "last used" without a write per request.
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return key.created_by, key

    def authenticate_header(self, request):
        return 'Bearer realm="PARS API"'


class KeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LearnerMatchThrottle(KeyRateThrottle):
    """Stricter, and per provider (not per key: more keys must not mean more tries): a match
    reveals whether someone is on the board's roster."""

    scope = "learner_match"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            return self.cache_format % {"scope": self.scope, "ident": request.auth.provider_id}
        return super().get_cache_key(request, view)


ApiKeyScheme = bearer_scheme(
    ApiKeyAuthentication, "ApiKey", "A provider's API key, created in the portal under API."
)  # in the OpenAPI schema


class InvalidKeyThrottle(SimpleRateThrottle):
    """Requests with a key that matches none, per client address."""

    scope = "invalid_key"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
