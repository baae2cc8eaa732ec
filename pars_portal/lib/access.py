"""Who may see and change what. Every queryset in views, API, exports and admin goes
through `scope()`; every object fetch through `get_for_user()`.

- ACCME reviewers (members of the "reviewers" group with staff status, or superusers) see
  every provider. In the provider portal they read; they act through the admin.
- Provider staff see their own providers only. Managers and editors write; viewers only
  read. Managers also manage their provider's staff (activities.staff), and so may reviewers,
  for any provider, on the same staff page. Deactivated memberships give nothing.
"""

from django.apps import apps
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

REVIEWERS_GROUP = "reviewers"
# The foundation imports no app: it names the provider models by label, as a ForeignKey
# does, and the app registry hands them over (activities.Provider, .ProviderMembership).
PROVIDER_MODEL = "activities.Provider"
MEMBERSHIP_MODEL = "activities.ProviderMembership"


def _provider_models():
    return apps.get_model(PROVIDER_MODEL), apps.get_model(MEMBERSHIP_MODEL)


def is_reviewer(user) -> bool:
    if not (user and user.is_authenticated and user.is_active):
        return False
    cached = getattr(user, "_pars_is_reviewer", None)
    if cached is None:
        cached = user.is_superuser or (
            user.is_staff and user.groups.filter(name=REVIEWERS_GROUP).exists()
        )
        user._pars_is_reviewer = cached
    return cached


def visible_providers(user, *, write: bool = False) -> QuerySet:
    """The providers this user may see (or, with write=True, change data of)."""
    Provider, ProviderMembership = _provider_models()
    if not (user and user.is_authenticated and user.is_active):
        return Provider.objects.none()
    if is_reviewer(user) and not write:
        return Provider.objects.all()
    roles = list(ProviderMembership.WRITE_ROLES)
    if not write:
        roles.append(ProviderMembership.Role.VIEWER)
    return _member_of(Provider, user, roles)


def _member_of(Provider, user, roles) -> QuerySet:
    # One filter() call: the three conditions hold for the same membership row.
    return Provider.objects.filter(
        memberships__user=user, memberships__role__in=roles,
        memberships__deactivated_at__isnull=True,
    )  # fmt: skip


def managed_providers(user) -> QuerySet:
    """The providers whose staff this user may manage: a reviewer every one, a manager
    their own."""
    Provider, ProviderMembership = _provider_models()
    if not (user and user.is_authenticated and user.is_active):
        return Provider.objects.none()
    if is_reviewer(user):
        return Provider.objects.all()
    return _member_of(Provider, user, [ProviderMembership.Role.MANAGER])


def can_manage_staff(user, provider_id: int) -> bool:
    return managed_providers(user).filter(pk=provider_id).exists()


def visible_provider_ids(user, *, write: bool = False) -> list[int] | None:
    """The primary keys of `visible_providers`, or None for "every provider"."""
    if is_reviewer(user) and not write:
        return None
    return list(visible_providers(user, write=write).values_list("pk", flat=True))


def scope(queryset: QuerySet, user, *, via: str = "provider", write: bool = False) -> QuerySet:
    """Restrict `queryset` to what `user` may see; `via` is the path to the provider.

    The provider IDs go into the query as a list rather than a subquery: for the usual
    one-provider user the database then sees `provider_id = 7` and can walk an index in
    the list's order (newest first) instead of sorting all of the provider's records."""
    ids = visible_provider_ids(user, write=write)
    if ids is None:
        return queryset
    return queryset.filter(**{f"{via or 'pk'}__in": ids})


def api_scope(queryset: QuerySet, key, *, via: str = "provider") -> QuerySet:
    """What an API key may see: its provider's data only; for participant records, only
    those of its own mode (a sandbox key never sees production records, nor the reverse)."""
    queryset = queryset.filter(**{via: key.provider_id})
    if any(f.name == "is_sandbox" for f in queryset.model._meta.fields):
        queryset = queryset.filter(is_sandbox=key.is_sandbox)
    return queryset


def can_write(user, provider_id: int) -> bool:
    return visible_providers(user, write=True).filter(pk=provider_id).exists()


def _provider_id_of(obj, via: str) -> int:
    if via == "":
        return obj.pk
    *path, last = via.split("__")
    for step in path:
        obj = getattr(obj, step)
    return getattr(obj, f"{last}_id")


def get_for_user(
    queryset: QuerySet, user, *, via: str = "provider", write: bool = False,
    manage: bool = False, **lookup,
):  # fmt: skip
    """Fetch one object for this user: 404 if they may not see it, 403 if they may see it
    but not change it (viewers, reviewers in the portal) or, with manage=True, may not
    manage its provider's staff (everyone but its managers and reviewers)."""
    obj = get_object_or_404(scope(queryset, user, via=via), **lookup)
    if write and not can_write(user, _provider_id_of(obj, via)):
        raise PermissionDenied("You can view this provider's data but not change it.")
    if manage and not can_manage_staff(user, _provider_id_of(obj, via)):
        raise PermissionDenied("Only this provider's managers (and ACCME) manage its staff.")
    return obj


def portal_context(request):
    """Template context for the navigation."""
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return {}
    _, ProviderMembership = _provider_models()
    memberships = list(
        ProviderMembership.objects.filter(user=user, deactivated_at__isnull=True)
        .select_related("provider")
    )  # fmt: skip
    return {
        "acceptance_mode": settings.ACCEPTANCE_MODE,
        "is_reviewer": is_reviewer(user),
        "my_memberships": memberships,
        "can_write_any": any(m.role in ProviderMembership.WRITE_ROLES for m in memberships),
        "managed_memberships": [
            m for m in memberships if m.role == ProviderMembership.Role.MANAGER
        ],
    }
