"""A provider's staff, managed in the portal: its managers (and ACCME reviewers) invite people
by email, change roles and deactivate people; a provider never loses its last manager; the
invitation's link sets a password once and expires; every change is in the history."""

import datetime as dt
import re
import threading

import pytest
import time_machine
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from activities import staff
from activities.models import Channel, PortalEvent, ProviderMembership
from activities.selectors import provider_writers
from pars_portal.lib import access
from participants.apikeys import KEY_OWNER_GONE

from .conftest import PASSWORD, api_request, make_key, make_user, sqlite_in_memory
from .test_accounts import logs_in

NEW_PASSWORD = "a brand new passphrase 42"
NINA = {"first_name": "Nina", "last_name": "Newman", "email": "Nina@Example.org", "role": "viewer"}


def member(user, provider, role):
    return ProviderMembership.objects.create(user=user, provider=provider, role=role)


@pytest.fixture
def manager_a(provider_a):
    user = make_user("manager-a")
    member(user, provider_a, "manager")
    return user


@pytest.fixture
def manager_b(provider_b):
    user = make_user("manager-b")
    member(user, provider_b, "manager")
    return user


def staff_url(provider):
    return reverse("staff_list", args=[provider.accme_id])


def invite(client, provider, **data):
    return client.post(reverse("staff_invite", args=[provider.accme_id]), {**NINA, **data})


def role_url(membership):
    return reverse("staff_role", args=[membership.provider.accme_id, membership.pk])


def set_role(client, membership, role):
    return client.post(role_url(membership), {f"m{membership.pk}-role": role}, follow=True)


def deactivate_url(membership):
    return reverse("staff_deactivate", args=[membership.provider.accme_id, membership.pk])


def history(action):
    return list(PortalEvent.objects.filter(action=action).order_by("pk"))


def link_in(message) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/invitation/\S+/)", message.body).group(1)


# --- Inviting -----------------------------------------------------------------------------


def test_manager_invites_a_new_person_who_gets_a_set_password_link(client_of, manager_a,
                                                                   provider_a):  # fmt: skip
    response = invite(client_of(manager_a), provider_a)
    assert response.status_code == 302
    nina = User.objects.get(email__iexact="nina@example.org")
    assert not nina.has_usable_password() and nina.get_full_name() == "Nina Newman"
    assert nina.username == "nina@example.org"  # what the email tells her to log in with
    membership = nina.memberships.get()
    assert (membership.provider, membership.role, membership.status) == (
        provider_a, "viewer", "invited",
    )  # fmt: skip
    (message,) = mail.outbox
    assert message.to == [nina.email]
    assert "Provider A" in message.subject and "as viewer" in message.body
    assert f"username: {nina.username}" in message.body and "7 days" in message.body
    page = client_of(manager_a).get(staff_url(provider_a)).content.decode()
    assert "Invitation sent to" in page
    row = re.search(rf'<tr id="member-{membership.pk}">.*?</tr>', page, re.S).group(0)
    assert "Nina Newman" in row and "Invited" in row and "Never" in row
    (entry,) = history("staff.invite")
    assert entry.actor == manager_a and entry.channel == Channel.FORM
    assert "Nina Newman (Nina@example.org) invited to the staff of Provider A" in entry.text


def test_the_link_sets_a_password_once_and_the_person_logs_in(client_of, manager_a, provider_a):
    invite(client_of(manager_a), provider_a)
    link = link_in(mail.outbox[0])
    client = Client()
    form = client.get(link, follow=True)
    assert "set your password" in form.content.decode()
    assert "your username, nina@example.org." in form.content.decode()
    form_url = form.redirect_chain[-1][0]
    weak = client.post(form_url, {"new_password1": "12345678", "new_password2": "12345678"})
    assert "This password is too common" in weak.content.decode()
    done = client.post(
        form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True
    )
    assert "Your password is set" in done.content.decode()
    nina = User.objects.get(email__iexact="nina@example.org")
    assert nina.is_active and logs_in(nina.username, NEW_PASSWORD)
    (entry,) = history("staff.accept")
    assert entry.actor == nina and "joined the staff of Provider A" in entry.text
    again = Client().get(link, follow=True).content.decode()
    assert "This invitation link no longer works" in again
    assert "Ask the manager who invited you" in again


def test_the_link_expires_after_the_invitation_days(client_of, manager_a, provider_a, settings):
    settings.STAFF_INVITATION_DAYS = 7
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        invite(client_of(manager_a), provider_a)
    link = link_in(mail.outbox[0])
    with time_machine.travel(start + dt.timedelta(days=6, hours=23), tick=False):
        assert "set your password" in Client().get(link, follow=True).content.decode()
    with time_machine.travel(start + dt.timedelta(days=7, minutes=1), tick=False):
        page = Client().get(link, follow=True).content.decode()
    assert "This invitation link no longer works" in page and "for 7 days" in page
    assert not User.objects.get(email__iexact="nina@example.org").has_usable_password()


def test_a_password_reset_token_is_no_invitation(manager_a, provider_a):
    nina = staff.staff_invite(provider=provider_a, actor=manager_a, **NINA).membership.user
    token = default_token_generator.make_token(nina)
    assert not staff.invitation_tokens.check_token(nina, token)
    assert staff.invitation_tokens.check_token(nina, staff.invitation_tokens.make_token(nina))


def test_inviting_again_sends_a_new_link_while_the_invitation_is_pending(
    client_of, manager_a, provider_a
):
    client = client_of(manager_a)
    invite(client, provider_a)
    assert invite(client, provider_a, role="editor").status_code == 302
    assert len(mail.outbox) == 2
    assert User.objects.filter(email__iexact="nina@example.org").count() == 1
    assert ProviderMembership.objects.get(user__email__iexact="nina@example.org").role == "editor"


def test_an_existing_account_gains_access_without_a_new_account(client_of, manager_a, editor_b,
                                                                provider_a):  # fmt: skip
    users = User.objects.count()
    response = invite(client_of(manager_a), provider_a, email="EDITOR-B@example.org")
    assert response.status_code == 302
    assert User.objects.count() == users
    assert editor_b.memberships.get(provider=provider_a).role == "viewer"
    (message,) = mail.outbox
    assert "now have access" in message.subject and "/accounts/invitation/" not in message.body
    assert access.visible_providers(editor_b).count() == 2


def test_inviting_someone_already_on_the_staff_changes_nothing(client_of, manager_a, editor_a,
                                                                provider_a):  # fmt: skip
    response = invite(client_of(manager_a), provider_a, email="editor-a@example.org")
    assert response.status_code == 400
    assert "is already on the staff of Provider A (editor)" in response.content.decode()
    assert editor_a.memberships.get().role == "editor"
    assert mail.outbox == [] and history("staff.invite") == []


@pytest.mark.parametrize(
    "data, error",
    [
        ({"email": "not an email"}, "Enter a valid email address."),
        ({"role": "owner"}, "Select a valid choice."),
        ({"first_name": ""}, "This field is required."),
    ],
)
def test_bad_invitations_say_why_and_create_nothing(client_of, manager_a, provider_a, data,
                                                    error):  # fmt: skip
    users = User.objects.count()
    response = invite(client_of(manager_a), provider_a, **data)
    assert response.status_code == 400
    assert escape(error) in response.content.decode()
    assert User.objects.count() == users and mail.outbox == []


def test_a_failed_email_keeps_the_invitation_and_says_so(client_of, manager_a, provider_a,
                                                         monkeypatch):  # fmt: skip
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr(staff, "send_mail", refuse)
    page = invite(client_of(manager_a), provider_a)
    assert page.status_code == 302
    followed = client_of(manager_a).get(page.url).content.decode()
    assert "the email could not be sent: invite them again" in followed


# --- Roles --------------------------------------------------------------------------------


def test_manager_changes_a_role_and_it_takes_effect(client_of, manager_a, editor_a, provider_a):
    membership = editor_a.memberships.get()
    page = set_role(client_of(manager_a), membership, "viewer").content.decode()
    assert "is now viewer" in page
    membership.refresh_from_db()
    assert membership.role == "viewer"
    assert client_of(editor_a).get(reverse("activity_create")).status_code == 403
    (entry,) = history("staff.role")
    assert entry.actor == manager_a and entry.detail["role"] == ["editor", "viewer"]
    assert "role changed from editor to viewer" in entry.text


def test_a_manager_writes_like_an_editor(client_of, manager_a, provider_a):
    assert list(access.visible_providers(manager_a, write=True)) == [provider_a]
    assert client_of(manager_a).get(reverse("activity_create")).status_code == 200
    assert list(provider_writers([provider_a.pk]).values_list("user", flat=True)) == [manager_a.pk]


def test_a_bad_role_is_refused_with_a_message(client_of, manager_a, editor_a):
    page = set_role(client_of(manager_a), editor_a.memberships.get(), "owner").content.decode()
    assert "Choose manager, editor or viewer" in page
    assert editor_a.memberships.get().role == "editor"


def test_the_last_manager_cannot_be_demoted(client_of, manager_a, provider_a):
    membership = manager_a.memberships.get()
    page = set_role(client_of(manager_a), membership, "editor").content.decode()
    assert escape("is the last active manager of Provider A") in page
    assert "nothing was changed" in page
    membership.refresh_from_db()
    assert membership.role == "manager" and history("staff.role") == []


def test_the_last_manager_cannot_be_deactivated(client_of, manager_a, provider_a):
    membership = manager_a.memberships.get()
    page = client_of(manager_a).post(deactivate_url(membership), follow=True).content.decode()
    assert escape("is the last active manager of Provider A") in page
    membership.refresh_from_db()
    manager_a.refresh_from_db()
    assert membership.deactivated_at is None and manager_a.is_active
    assert history("staff.deactivate") == []


def test_an_invited_manager_does_not_count_until_they_set_a_password(
    client_of, manager_a, provider_a
):
    client = client_of(manager_a)
    invite(client, provider_a, role="manager")
    page = set_role(client, manager_a.memberships.get(), "editor").content.decode()
    assert escape("is the last active manager") in page


def test_with_two_managers_one_may_step_down(client_of, manager_a, editor_a, provider_a):
    client = client_of(manager_a)
    set_role(client, editor_a.memberships.get(), "manager")
    set_role(client, manager_a.memberships.get(), "viewer")
    assert manager_a.memberships.get().role == "viewer"
    assert client.get(staff_url(provider_a)).status_code == 403  # no longer a manager


# --- Deactivating -------------------------------------------------------------------------


def test_deactivating_ends_access_and_the_account_when_no_other_provider(
    client_of, manager_a, editor_a, activity_a
):
    membership = editor_a.memberships.get()
    confirm = client_of(manager_a).get(deactivate_url(membership)).content.decode()
    assert "account is deactivated too" in confirm
    page = client_of(manager_a).post(deactivate_url(membership), follow=True).content.decode()
    assert "no longer has access to Provider A" in page
    membership.refresh_from_db()
    editor_a.refresh_from_db()
    assert membership.deactivated_at is not None and not editor_a.is_active
    assert not logs_in("editor-a", PASSWORD)
    row = re.search(rf'<tr id="member-{membership.pk}">.*?</tr>', page, re.S).group(0)
    assert "Deactivated" in row and "Invite again" in row
    (entry,) = history("staff.deactivate")
    assert entry.actor == manager_a and entry.detail["account_deactivated"] is True


def test_a_deactivated_members_api_keys_stop_and_a_managers_work(
    client, client_of, manager_a, editor_a, provider_a
):
    editors_key, managers_key = make_key(provider_a, editor_a), make_key(provider_a, manager_a)
    assert api_request(client, "get", "activities", editors_key).status_code == 200
    client_of(manager_a).post(deactivate_url(editor_a.memberships.get()))
    client.logout()
    refused = api_request(client, "get", "activities", editors_key)
    assert refused.status_code == 401 and KEY_OWNER_GONE in refused.content.decode()
    assert api_request(client, "get", "activities", managers_key).status_code == 200


def test_deactivating_keeps_an_account_that_has_another_provider(
    client_of, manager_a, editor_a, provider_b, activity_a
):
    member(editor_a, provider_b, "viewer")
    client_of(manager_a).post(
        deactivate_url(editor_a.memberships.get(provider__accme_id="0001234"))
    )
    editor_a.refresh_from_db()
    assert editor_a.is_active
    assert list(access.visible_providers(editor_a)) == [provider_b]
    detail = client_of(editor_a).get(reverse("activity_detail", args=[activity_a.pars_id]))
    assert detail.status_code == 404


def test_inviting_a_deactivated_member_again_gives_access_back(client_of, manager_a, editor_a,
                                                               provider_a):  # fmt: skip
    client = client_of(manager_a)
    client.post(deactivate_url(editor_a.memberships.get()))
    response = invite(client, provider_a, email="editor-a@example.org", role="editor")
    assert response.status_code == 302
    editor_a.refresh_from_db()
    membership = editor_a.memberships.get()
    assert editor_a.is_active and membership.status == "active" and membership.role == "editor"
    assert logs_in("editor-a", PASSWORD)


def test_an_account_acme_deactivated_is_not_reactivated_by_a_provider(client_of, manager_a,
                                                                      provider_a):  # fmt: skip
    stranger = make_user("stranger")
    stranger.is_active = False
    stranger.save()
    response = invite(client_of(manager_a), provider_a, email="stranger@example.org")
    assert response.status_code == 400
    assert "is deactivated: ask ACCME" in response.content.decode()
    assert not stranger.memberships.exists()


def test_deactivating_a_pending_invitation_kills_its_link(client_of, manager_a, provider_a):
    client = client_of(manager_a)
    invite(client, provider_a)
    link = link_in(mail.outbox[0])
    client.post(deactivate_url(ProviderMembership.objects.get(user__email__iexact=NINA["email"])))
    assert "no longer works" in Client().get(link, follow=True).content.decode()


# --- Who may do what ----------------------------------------------------------------------


def test_editors_and_viewers_get_403_on_their_own_providers_staff(
    client_of, editor_a, viewer_a, manager_a, provider_a
):
    target = manager_a.memberships.get()
    for user in (editor_a, viewer_a):
        client = client_of(user)
        refused = client.get(staff_url(provider_a))
        assert refused.status_code == 403
        assert "Only this provider&#x27;s managers (and ACCME) manage its staff" in (
            refused.content.decode()
        )
        assert invite(client, provider_a).status_code == 403
        assert set_role(client, target, "viewer").status_code == 403
        assert client.post(deactivate_url(target)).status_code == 403
    assert not User.objects.filter(email__iexact=NINA["email"]).exists()
    assert target.role == ProviderMembership.objects.get(pk=target.pk).role == "manager"


def test_a_manager_of_a_cannot_touch_bs_staff(client_of, manager_a, manager_b, editor_b,
                                              provider_a, provider_b):  # fmt: skip
    client = client_of(manager_a)
    target = editor_b.memberships.get()
    assert client.get(staff_url(provider_b)).status_code == 404
    assert invite(client, provider_b).status_code == 404
    assert client.post(role_url(target), {f"m{target.pk}-role": "viewer"}).status_code == 404
    assert client.post(deactivate_url(target)).status_code == 404
    # B's member through A's page: not found either.
    url = reverse("staff_role", args=[provider_a.accme_id, target.pk])
    assert client.post(url, {f"m{target.pk}-role": "viewer"}).status_code == 404
    assert ProviderMembership.objects.get(pk=target.pk).role == "editor"
    assert "editor-b" not in client.get(staff_url(provider_a)).content.decode()
    assert PortalEvent.objects.filter(action__startswith="staff.").count() == 0


def test_a_reviewer_manages_any_providers_staff(client_of, reviewer, editor_b, provider_b):
    client = client_of(reviewer)
    page = client.get(staff_url(provider_b)).content.decode()
    assert "Staff of Provider B" in page and "editor-b@example.org" in page
    assert invite(client, provider_b, role="manager").status_code == 302
    set_role(client, editor_b.memberships.get(), "manager")
    assert editor_b.memberships.get().role == "manager"
    entries = history("staff.invite") + history("staff.role")
    assert [(e.actor, e.channel) for e in entries] == [(reviewer, Channel.ADMIN)] * 2
    home = client.get(reverse("staff_home"), {"q": "provider b"}).content.decode()
    assert staff_url(provider_b) in home


def test_the_menu_links_managers_and_reviewers_to_the_staff_page(
    client_of, manager_a, editor_a, reviewer, provider_a
):
    assert (
        f'href="{staff_url(provider_a)}">Staff</a>'
        in client_of(manager_a).get("/").content.decode()
    )
    assert (
        f'href="{reverse("staff_home")}">Staff</a>' in client_of(reviewer).get("/").content.decode()
    )
    assert ">Staff</a>" not in client_of(editor_a).get("/").content.decode()


def test_staff_home_tells_a_non_manager_whom_to_ask(client_of, editor_a, provider_a):
    page = client_of(editor_a).get(reverse("staff_home")).content.decode()
    assert "You manage no provider" in page and 'id="providers"' not in page


def test_every_field_of_the_staff_page_has_a_label(client_of, manager_a, editor_a, provider_a):
    page = client_of(manager_a).get(staff_url(provider_a)).content.decode()
    fields = re.findall(r'<(?:input|select)[^>]*\bid="([^"]+)"', page)
    assert len(fields) >= 6  # the invitation's four, a role menu per member
    for field in fields:
        assert f'for="{field}"' in page, field
    headers = re.findall(r"<th[^>]*>(.*?)</th>", page, re.S)
    assert all(re.sub(r"<[^>]+>", "", h).strip() for h in headers)


# --- Races --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(sqlite_in_memory(), reason="threads need a database file or PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_managers_demoting_each_other_at_once_leave_one_manager(provider_a):
    first, second = make_user("first"), make_user("second")
    memberships = [member(first, provider_a, "manager"), member(second, provider_a, "manager")]
    start, outcomes = threading.Barrier(2), []

    def demote(actor, membership):
        try:
            start.wait()
            staff.staff_role_change(membership=membership, actor=actor, role="viewer")
            outcomes.append("done")
        except Exception as error:  # noqa: BLE001 - the outcome is what the test counts
            outcomes.append(type(error).__name__)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=demote, args=(u, m))
               for u, m in zip((first, second), reversed(memberships), strict=True)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["ValidationError", "done"]
    assert ProviderMembership.objects.filter(provider=provider_a, role="manager").count() == 1
