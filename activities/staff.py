"""A provider's staff, managed by its managers (and ACCME reviewers) on the staff page:
invite someone by email, change a member's role, deactivate a member. Every change is in
the portal's history (`portal_event_record`: staff.invite, staff.role, staff.deactivate,
staff.accept).

A provider always keeps at least one active manager (membership and account active, a
password set): a change that would leave none is refused and changes nothing. Each change
locks the provider's memberships first (SELECT ... FOR UPDATE; SQLite's IMMEDIATE
transactions serialize writers anyway), so two managers demoting each other at the same
moment cannot both succeed.

Deactivating a member ends their access to this provider; the membership is kept (shown as
deactivated) and so is the account, which still names its past records. When the person
then belongs to no provider at all (and is not ACCME staff) the account is deactivated too:
they can no longer log in. API keys they created stop working with their access
(participants.apikeys). Inviting them again gives both back.
"""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_encode

from .models import Channel, Provider, ProviderMembership
from .services import portal_event_record

Role = ProviderMembership.Role

LAST_MANAGER = (
    "{name} is the last active manager of {provider}: make someone else a manager first "
    "(nothing was changed)."
)
ALREADY_STAFF = "{email} is already on the staff of {provider} ({role})."
SEVERAL_ACCOUNTS = "Several accounts use {email}: ask ACCME to sort them out first."
ACCOUNT_DISABLED = "The account of {email} is deactivated: ask ACCME to reactivate it."
INVITED_MEANWHILE = "{email} was invited elsewhere at the same moment: send the invitation again."
NOT_ACTIVE = "{name} is not active on the staff of {provider}: invite them again instead."
INVITATION_SUBJECT = "PARS Portal: you are invited to the staff of {provider}"
ACCESS_SUBJECT = "PARS Portal: you now have access to {provider}"


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    """The "set your password" link of an invitation: Django's password-reset token with
    its own salt (a reset link is no invitation, nor the reverse) and its own lifetime,
    STAFF_INVITATION_DAYS. Like a reset link it works once (setting the password changes
    the hash it is made of) and stops working when the account is deactivated."""

    key_salt = "activities.staff.InvitationTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        return f"{super()._make_hash_value(user, timestamp)}{user.is_active}"

    def check_token(self, user, token):
        # Django's check, with STAFF_INVITATION_DAYS instead of PASSWORD_RESET_TIMEOUT.
        if not (user and token):
            return False
        try:
            ts = base36_to_int(token.split("-")[0])
        except ValueError:
            return False
        if not any(
            constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        ):
            return False
        lifetime = dt.timedelta(days=settings.STAFF_INVITATION_DAYS).total_seconds()
        return self._num_seconds(self._now()) - ts <= lifetime


invitation_tokens = InvitationTokenGenerator()


@dataclass
class Invited:
    membership: ProviderMembership
    created_account: bool
    emailed: bool


def _name(user) -> str:
    full = user.get_full_name()
    return f"{full} ({user.email or user.username})" if full else (user.email or user.username)


def _lock(provider: Provider) -> list[ProviderMembership]:
    """The provider's memberships, locked until the transaction ends (the provider's row
    too, so that two invitations to it wait for each other)."""
    list(Provider.objects.select_for_update().filter(pk=provider.pk).values_list("pk"))
    return list(
        ProviderMembership.objects.select_for_update(of=("self",))
        .filter(provider=provider)
        .select_related("user")
        .order_by("pk")
    )


def _is_active_manager(membership: ProviderMembership) -> bool:
    return membership.role == Role.MANAGER and membership.status == membership.Status.ACTIVE


def _keep_a_manager(locked, membership: ProviderMembership) -> None:
    """Refuse when `membership` is the only active manager among `locked`."""
    if not _is_active_manager(membership):
        return
    others = [m for m in locked if m.pk != membership.pk and _is_active_manager(m)]
    if not others:
        raise ValidationError(
            LAST_MANAGER.format(name=_name(membership.user), provider=membership.provider.name),
            code="last_manager",
        )


def _locked_membership(membership: ProviderMembership) -> tuple[list, ProviderMembership]:
    locked = _lock(membership.provider)
    current = next((m for m in locked if m.pk == membership.pk), None)
    if current is None:
        raise ProviderMembership.DoesNotExist
    current.provider = membership.provider
    return locked, current


def _free_username(email: str) -> str:
    User = get_user_model()
    base = email.lower()[:140]
    username, n = base, 1
    while User.objects.filter(username__iexact=username).exists():
        n += 1
        username = f"{base}-{n}"
    return username


def staff_invite(
    *, provider: Provider, actor, email: str, first_name: str = "", last_name: str = "",
    role: str, channel: str = Channel.FORM,
) -> Invited:  # fmt: skip
    """Give the person with this email address `role` on the provider's staff: their
    account (found by email, or created without a usable password) and membership. A new
    account gets a "set your password" link by email; an existing one a note that it has
    access now. Inviting someone whose invitation is still pending sends a new link."""
    User = get_user_model()
    email = User.objects.normalize_email(email.strip())
    role = Role(role)
    with transaction.atomic():
        locked = _lock(provider)
        users = list(User.objects.select_for_update().filter(email__iexact=email)[:2])
        if len(users) > 1:
            raise ValidationError(SEVERAL_ACCOUNTS.format(email=email), code="several_accounts")
        user = users[0] if users else None
        membership = next((m for m in locked if user and m.user_id == user.pk), None)
        created = user is None
        if created:
            user = User(
                username=_free_username(email), email=email,
                first_name=first_name.strip()[:150], last_name=last_name.strip()[:150],
            )  # fmt: skip
            user.set_unusable_password()
            try:
                with transaction.atomic():
                    user.save()
            except IntegrityError:  # another provider invited the same address just now
                raise ValidationError(INVITED_MEANWHILE.format(email=email)) from None
        if membership is not None and membership.status == membership.Status.ACTIVE:
            raise ValidationError(
                ALREADY_STAFF.format(email=email, provider=provider.name,
                                     role=membership.get_role_display().lower()),
                code="already_staff",
            )  # fmt: skip
        if not user.is_active:
            # Only this provider's own deactivation may be undone here.
            if membership is None or membership.deactivated_at is None:
                raise ValidationError(ACCOUNT_DISABLED.format(email=email), code="disabled")
            user.is_active = True
            user.save(update_fields=["is_active"])
        if membership is not None:
            before = (membership.get_status_display().lower(), membership.role)
            membership.role, membership.deactivated_at = role, None
            membership.save(update_fields=["role", "deactivated_at"])
            what = f"again (was {before[0]} {before[1]})"
        else:
            membership = ProviderMembership.objects.create(user=user, provider=provider, role=role)
            what = "(new account)" if created else "(existing account)"
        membership.user = user
        portal_event_record(
            action="staff.invite", actor=actor, channel=channel, obj=membership,
            text=f"{_name(user)} invited to the staff of {provider} as {role.label.lower()} "
            + what,
            detail={"provider": provider.accme_id, "user": user.pk, "role": role.value,
                    "created_account": created},
        )  # fmt: skip
    return Invited(membership, created, _send_invitation(membership, actor))


def invitation_link(user) -> str:
    path = reverse(
        "staff_set_password",
        kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": invitation_tokens.make_token(user)},
    )  # fmt: skip
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def _send_invitation(membership: ProviderMembership, actor) -> bool:
    """Email the person: a set-password link while they have no password, else a note.
    False when the mail could not be sent (the invitation stands: send it again)."""
    user, provider = membership.user, membership.provider
    pending = not user.has_usable_password()
    context = {
        "user": user, "provider": provider, "role": membership.get_role_display().lower(),
        "invited_by": actor.get_full_name() or actor.username, "pending": pending,
        "link": invitation_link(user) if pending else None,
        "days": settings.STAFF_INVITATION_DAYS,
        "login_url": settings.PORTAL_BASE_URL.rstrip("/") + reverse("login"),
        "reset_url": settings.PORTAL_BASE_URL.rstrip("/") + reverse("password_reset"),
    }  # fmt: skip
    subject = (INVITATION_SUBJECT if pending else ACCESS_SUBJECT).format(provider=provider.name)
    body = render_to_string("activities/email_staff_invitation.txt", context)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    except OSError:
        return False
    return True


def staff_role_change(
    *, membership: ProviderMembership, actor, role: str, channel: str = Channel.FORM
) -> ProviderMembership:
    """Make an active member manager, editor or viewer (never leaving no manager)."""
    role = Role(role)
    with transaction.atomic():
        locked, current = _locked_membership(membership)
        if current.deactivated_at is not None or not current.user.is_active:
            raise ValidationError(
                NOT_ACTIVE.format(name=_name(current.user), provider=current.provider.name),
                code="not_active",
            )
        if current.role == role:
            return current
        if role != Role.MANAGER:
            _keep_a_manager(locked, current)
        before = Role(current.role)
        current.role = role
        current.save(update_fields=["role"])
        portal_event_record(
            action="staff.role", actor=actor, channel=channel, obj=current,
            text=f"{_name(current.user)} at {current.provider}: role changed from "
            f"{before.label.lower()} to {role.label.lower()}",
            detail={"provider": current.provider.accme_id, "user": current.user_id,
                    "role": [before.value, role.value]},
        )  # fmt: skip
    return current


def staff_deactivate(
    *, membership: ProviderMembership, actor, channel: str = Channel.FORM
) -> ProviderMembership:
    """End a member's access to this provider (see the module's note for the account)."""
    with transaction.atomic():
        locked, current = _locked_membership(membership)
        if current.deactivated_at is not None:
            return current
        _keep_a_manager(locked, current)
        current.deactivated_at = timezone.now()
        current.save(update_fields=["deactivated_at"])
        user = current.user
        elsewhere = user.memberships.filter(deactivated_at__isnull=True).exists()
        account_closed = not (elsewhere or user.is_staff or user.is_superuser)
        if account_closed and user.is_active:
            user.is_active = False
            user.save(update_fields=["is_active"])
        portal_event_record(
            action="staff.deactivate", actor=actor, channel=channel, obj=current,
            text=f"{_name(user)} removed from the staff of {current.provider}"
            + ("; account deactivated (no other provider)" if account_closed else ""),
            detail={"provider": current.provider.accme_id, "user": user.pk,
                    "role": current.role, "account_deactivated": account_closed},
        )  # fmt: skip
    return current


def invitation_accept(*, user) -> None:
    """The invited person set their password from the link: recorded in the history."""
    for membership in user.memberships.filter(deactivated_at__isnull=True).select_related(
        "provider"
    ):
        portal_event_record(
            action="staff.accept", actor=user, channel=Channel.FORM, obj=membership,
            text=f"{_name(user)} set a password and joined the staff of {membership.provider} "
            f"as {membership.get_role_display().lower()}",
            detail={"provider": membership.provider.accme_id, "user": user.pk},
        )  # fmt: skip


def staff_of(provider: Provider) -> list[ProviderMembership]:
    """The staff page's rows: active members first, then by role and name."""
    order = {Role.MANAGER: 0, Role.EDITOR: 1, Role.VIEWER: 2}
    members = list(ProviderMembership.objects.filter(provider=provider).select_related("user"))
    return sorted(
        members,
        key=lambda m: (
            m.status == m.Status.DEACTIVATED, order.get(m.role, 9),
            (m.user.last_name or m.user.username).casefold(), m.user.first_name.casefold(),
        ),
    )  # fmt: skip
