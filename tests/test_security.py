"""Security baseline: CSRF on every state-changing page, login lockout (portal and admin),
XML attacks refused quickly, secure cookies in production."""

import io
import os
import subprocess
import sys
import time

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse

from participants.parsers import FileRefused, parse_xml

from .conftest import PASSWORD, make_user
from .test_write_permissions import READ_ONLY

PORTAL = [p for p in get_resolver().url_patterns if not isinstance(p, URLResolver)]
WRITE_PAGES = sorted(p.name for p in PORTAL if p.name not in READ_ONLY)


@pytest.mark.parametrize("name", WRITE_PAGES)
def test_every_state_changing_page_requires_the_csrf_token(name, editor_a, reviewer, activity_a):
    pattern = next(p for p in PORTAL if p.name == name)
    values = {"pars_id": activity_a.pars_id, "pk": 1, "upload_id": 1, "key_id": 1,
              "follow_up_id": 1, "file_format": "csv"}  # fmt: skip
    url = reverse(name, kwargs={k: values[k] for k in pattern.pattern.converters})
    for user in (editor_a, reviewer):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        response = client.post(url, {"reason": "x"})
        assert response.status_code == 403, (name, user)
        assert b"CSRF" in response.content  # refused by the CSRF check, not by a permission


@pytest.mark.parametrize("login_url", ["/accounts/login/", "/admin/login/"])
def test_repeated_failed_logins_lock_the_account(db, login_url, settings):
    make_user("victim")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(login_url, {"username": "victim", "password": "wrong"})
    locked = client.post(login_url, {"username": "victim", "password": PASSWORD})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{"&lol{};".format(i - 1 if i > 1 else "") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]><ACCMELearnerReports>&lol9;</ACCMELearnerReports>"
)
ATTACKS = {
    "billion laughs": BILLION_LAUGHS,
    "quadratic blowup": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "' + b"x" * 50_000
    + b'">]><ACCMELearnerReports>' + b"&a;" * 50_000 + b"</ACCMELearnerReports>",
    "external entity (file)": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM '
    b'"file:///etc/passwd">]><ACCMELearnerReports>&x;</ACCMELearnerReports>',
    "external entity (http)": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM '
    b'"http://127.0.0.1:9/x">]><ACCMELearnerReports>&x;</ACCMELearnerReports>',
    "external DTD": b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd">'
    b"<ACCMELearnerReports/>",
    "undeclared entity": b"<ACCMELearnerReports>&x;</ACCMELearnerReports>",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_xml_attacks_are_refused_within_a_second(name):
    started = time.monotonic()
    with pytest.raises(FileRefused):
        list(parse_xml(io.BytesIO(ATTACKS[name]), provider_id="0001234", id_lengths={}))
    assert time.monotonic() - started < 1


def test_production_cookies_are_secure():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "pars_portal.settings_production",
           "SECRET_KEY": "x" * 60, "ALLOWED_HOSTS": "pars.example.org",
           "DATABASE_URL": "sqlite:////tmp/pars-security.sqlite3"}  # fmt: skip
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
        "s.SECURE_SSL_REDIRECT, s.DEBUG, s.SIMULATED_BOARD, s.DEMO_DATA_ALLOWED)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(__file__)))  # fmt: skip
    assert out.stdout.split() == ["True", "True", "True", "True", "False", "False", "False"]
