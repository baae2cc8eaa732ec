"""Accounts in the portal's own layout: forgotten password by email, changing it from the
portal's menu, logging out. (Django's own pages are the admin's, unbranded.)"""

import re

from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse

from .conftest import PASSWORD, make_user

NEW_PASSWORD = "a brand new passphrase 42"


def logs_in(username, password) -> bool:
    client = Client()
    client.post(reverse("login"), {"username": username, "password": password})
    return "_auth_user_id" in client.session


def test_a_forgotten_password_is_reset_by_the_link_in_the_mail(db):
    make_user("jane")
    client = Client()
    login = client.get(reverse("login")).content.decode()
    assert reverse("password_reset") in login  # "Forgot your password?"
    page = client.get(reverse("password_reset")).content.decode()
    assert "Reset your password" in page and 'class="navbar' in page  # the portal's layout
    sent = client.post(reverse("password_reset"), {"email": "jane@example.org"}, follow=True)
    assert "Check your email" in sent.content.decode()
    (message,) = mail.outbox
    assert message.to == ["jane@example.org"]
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+)", message.body).group(1)
    form = client.get(link, follow=True)
    assert "Set a new password" in form.content.decode()
    done = client.post(form.redirect_chain[-1][0], {
        "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD,
    }, follow=True)  # fmt: skip
    assert "Your password is set" in done.content.decode()
    assert logs_in("jane", NEW_PASSWORD) and not logs_in("jane", PASSWORD)
    again = client.get(link, follow=True).content.decode()
    assert "This link no longer works" in again


def test_the_password_is_changed_from_the_portals_menu(db):
    make_user("omar")
    client = Client()
    client.force_login(User.objects.get(username="omar"))
    home = client.get(reverse("home")).content.decode()
    assert reverse("password_change") in home
    page = client.get(reverse("password_change")).content.decode()
    assert "Change your password" in page and 'class="navbar' in page
    done = client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }, follow=True)  # fmt: skip
    assert "Your password is changed" in done.content.decode()
    assert logs_in("omar", NEW_PASSWORD)


def test_logging_out_says_so(db):
    make_user("grace")
    client = Client()
    client.force_login(User.objects.get(username="grace"))
    page = client.post(reverse("logout"), follow=True).content.decode()
    assert "You are logged out" in page
