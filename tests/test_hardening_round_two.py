"""The outside probe's smaller findings (hardening issue, "Low"): each one a request or an
action that used to answer 500, count wrongly or leave a gap, and now does not. Run on
SQLite and PostgreSQL (several were PostgreSQL-only 500s)."""

import datetime as dt
import os
import signal
import subprocess
import sys
import urllib.request

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core import mail
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from activities.models import Activity
from participants.apikeys import InvalidKeyThrottle
from participants.rows import Result

from .conftest import PASSWORD, api_request, make_completion, make_key
from .test_intake import row, submit


@pytest.fixture(autouse=True)
def fresh_cache(db):  # the cache is a database table
    cache.clear()
    yield
    cache.clear()


# --- Deeply nested JSON: 400 on every JSON endpoint -----------------------------------------

DEEP = ("[" * 5000 + "]" * 5000).encode()


@pytest.mark.parametrize(
    ("method", "path", "auth"),
    [
        ("post", "/api/v1/learner-reports", "key"),
        ("post", "/api/v1/learner-activities", "key"),
        ("post", "/api/v1/learner-match", "key"),
        ("delete", "/api/v1/completions/{record}", "key"),
        ("post", "/api/v1/board/answers", "board"),
    ],
)
def test_deeply_nested_json_is_a_400_everywhere(
    client, provider_a, editor_a, activity_a, settings, method, path, auth
):
    settings.BOARD_ANSWER_TOKEN = "board-token"
    key = make_key(provider_a, editor_a, name="LMS")
    record = make_completion(activity_a, status="accepted")
    token = key if auth == "key" else "board-token"
    response = api_request(client, method, path.format(record=record.pk), token, DEEP)
    assert response.status_code == 400
    assert response.json()["detail"] == "JSON parse error - the document is nested too deeply."
    record.refresh_from_db()
    assert record.status == "accepted"


# --- A NUL byte in an address or a parameter: 400, never 500 ---------------------------------

NUL_URLS = [
    "/activities/?q=%00", "/activities/?year=%00", "/participants/?last_name=%00",
    "/participants/?status=%00&activity=%00", "/participants/export.csv?last_name=%00",
    "/uploads/?q=%00", "/review/?provider=%00", "/?provider=%00", "/activities/1%002/",
    "/admin/participants/completion/?q=%00", "/admin/participants/completion/?status=%00",
    "/api/v1/completions?boardId=%00", "/api/v1/completions/status?creditId=%00",
    "/api/v1/learner-activities/12%0034", "/api/v1/learner-activities/status?CreditId=%00",
    "/api/v1/activities/%00",
]  # fmt: skip


@pytest.mark.parametrize("url", NUL_URLS)
def test_a_nul_byte_is_refused_with_400(client, reviewer, provider_a, editor_a, url):
    key = make_key(provider_a, editor_a, name="LMS")
    client.force_login(reviewer)
    response = api_request(client, "get", url, key)
    assert response.status_code == 400
    if url.startswith("/api/"):
        assert response.json()["detail"].startswith("A NUL character")


def test_a_username_longer_than_any_is_a_failed_login_not_a_server_error(client, editor_a):
    response = client.post(reverse("login"), {"username": "x" * 300, "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


# --- Logins: per username and address, a slow-down per username, the real client address -----


def login(client, username, password, address="10.0.0.1", forwarded=None):
    extra = {"REMOTE_ADDR": address}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def test_many_addresses_guessing_one_password_slow_it_down_without_locking_it(
    client, reviewer, settings
):
    settings.LOGIN_USERNAME_LIMIT = 20
    settings.LOGIN_USERNAME_DELAY_SECONDS = 10
    with time_machine.travel("2026-11-30 12:00:00 +00:00", tick=False) as clock:
        for n in range(20):  # 20 addresses, one guess each: no address is locked out
            assert login(client, "reviewer", "guess", address=f"10.1.0.{n}").status_code == 200
        slowed = login(client, "reviewer", PASSWORD, address="10.2.0.1")
        assert "Too many failed logins for this username" in slowed.content.decode()
        clock.shift(dt.timedelta(seconds=11))  # the reviewer waits a few seconds: not locked
        assert login(client, "reviewer", PASSWORD, address="10.2.0.1").status_code == 302


def test_behind_a_trusted_proxy_the_lockout_is_per_real_client(client, reviewer, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(django_settings.AXES_FAILURE_LIMIT):
        login(client, "reviewer", "guess", address="10.9.9.9", forwarded="203.0.113.7")
    locked = login(client, "reviewer", PASSWORD, address="10.9.9.9", forwarded="203.0.113.7")
    assert locked.status_code == 429 or "locked" in locked.content.decode().lower()
    # What the client itself put in X-Forwarded-For does not count: the proxy's entry does.
    spoofed = login(client, "reviewer", PASSWORD, address="10.9.9.9",
                    forwarded="198.51.100.99, 203.0.113.7")  # fmt: skip
    assert spoofed.status_code != 302
    # Another client behind the same proxy is not locked out with the first.
    other = login(client, "reviewer", PASSWORD, address="10.9.9.9", forwarded="198.51.100.4")
    assert other.status_code == 302


# --- API: invalid keys are throttled too --------------------------------------------------------


def test_guessing_api_keys_is_throttled(client, monkeypatch):
    monkeypatch.setattr(InvalidKeyThrottle, "THROTTLE_RATES", {"invalid_key": "3/min"})
    answers = [
        client.get("/api/v1/activities",
                   HTTP_AUTHORIZATION=f"Bearer pars_live_guess{n}").status_code
        for n in range(5)
    ]  # fmt: skip
    assert answers == [401, 401, 401, 429, 429]


def test_throttles_and_slow_downs_share_one_cache_across_processes():
    """Counted in the database (or Redis), not per process: 4 web workers do not mean 4
    times the limit."""
    backend = django_settings.CACHES["default"]["BACKEND"]
    assert backend in ("django.core.cache.backends.db.DatabaseCache",
                       "django.core.cache.backends.redis.RedisCache")  # fmt: skip
    cache.set("shared-probe", 1)
    from django.db import connection

    with connection.cursor() as cursor:
        table = connection.ops.quote_name(django_settings.CACHES["default"]["LOCATION"])
        cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - our own table name
        assert cursor.fetchone()[0] >= 1


# --- Password reset: limited per address and per client -----------------------------------------


def test_password_resets_are_limited_per_address_and_per_client(client, editor_a, settings):
    settings.PASSWORD_RESET_PER_ADDRESS = 3
    settings.PASSWORD_RESET_PER_CLIENT = 5
    for _ in range(5):
        response = client.post(reverse("password_reset"), {"email": editor_a.email})
        assert response.status_code == 302  # the same answer every time
    assert len(mail.outbox) == 3
    for n in range(3):
        client.post(reverse("password_reset"), {"email": f"nobody{n}@example.org"})
    assert len(mail.outbox) == 3


# --- Dates before 2014 ----------------------------------------------------------------------


def test_a_completion_before_2014_is_refused(activity_a, editor_a, roster):
    activity_a.start_date = dt.date(2014, 1, 1)
    activity_a.save()
    outcome = submit(activity_a, [row(activity_a, completion_date=dt.date(1, 1, 2))],
                     editor_a).outcomes[0]  # fmt: skip
    assert outcome.result == Result.ERROR
    assert outcome.errors["completion_date"].startswith("Completion date 01/02/0001 is before")


def test_an_activity_dated_before_2014_is_refused(client_of, editor_a, provider_a):
    response = client_of(editor_a).post(
        reverse("activity_create"),
        {"title": "Old", "activity_type": "C", "start_date": "2013-12-31",
         "end_date": "2014-01-12", "reporting_year": "2014", "cme_credits": "1"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "is before 2014" in response.content.decode()
    assert not Activity.objects.filter(title="Old").exists()


# --- The admin import keeps its file where it belongs ---------------------------------------


def test_a_crafted_import_file_name_cannot_touch_another_file(
    client_of, reviewer, tmp_path, media_root
):
    victim = tmp_path / "victim.txt"  # outside MEDIA_ROOT (tmp_path / "media")
    victim.write_text("keep me")
    stored = media_root / "uploads"
    stored.mkdir(parents=True)
    (stored / "provider-file.csv").write_text("keep me too")
    url = reverse("admin:participants_completion_process_import")
    for name in ("../../victim.txt", "../uploads/provider-file.csv", str(victim)):
        response = client_of(reviewer).post(url, {
            "import_file_name": name, "original_file_name": "x.csv", "format": "0",
            "resource": "0",
        })  # fmt: skip
        assert response.status_code in (200, 400), name
    assert victim.read_text() == "keep me"
    assert (stored / "provider-file.csv").read_text() == "keep me too"


def test_the_admin_import_still_works_with_its_own_file_names(
    client_of, reviewer, activity_a, roster, media_root
):
    from participants.parsers import TEMPLATE_HEADERS

    line = f"add,{activity_a.pars_id},ABIM,123456,Jane,Smith,7,14,12/18/2015,MK,10,,Y,"
    content = f"{','.join(TEMPLATE_HEADERS)}\r\n{line}\r\n".encode()
    client = client_of(reviewer)
    first = client.post(reverse("admin:participants_completion_import"), {
        "import_file": SimpleUploadedFile("c.csv", content), "format": "0", "resource": "0",
    })  # fmt: skip
    page = first.content.decode()
    name = page.split('name="import_file_name" value="')[1].split('"')[0]
    client.post(reverse("admin:participants_completion_process_import"), {
        "import_file_name": name, "original_file_name": "c.csv", "format": "0", "resource": "0",
    })  # fmt: skip
    assert activity_a.completions.count() == 1


# --- Headers ----------------------------------------------------------------------------------


def test_pages_and_api_answers_carry_a_content_security_policy(client_of, editor_a, client):
    for response in (client_of(editor_a).get("/"), client.get("/api/v1/schema")):
        policy = response["Content-Security-Policy"]
        assert (
            "script-src 'self'" in policy
            and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        )
        assert "camera=()" in response["Permissions-Policy"]


@pytest.mark.slow  # a real gunicorn in a subprocess
def test_gunicorn_sends_no_server_header(tmp_path):
    """As production serves it: gunicorn with the portal's config."""
    from pars_portal.benchmarks.harness import free_port, wait_for

    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "pars_portal.settings",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}  # fmt: skip
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "-c", "python:pars_portal.gunicorn_conf",
         "pars_portal.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"],
        env=env, cwd=django_settings.BASE_DIR, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(port, server=server, path="/accounts/login/")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/") as answer:  # noqa: S310
            headers = dict(answer.headers)
        assert "Server" not in headers, headers
        assert "Content-Security-Policy" in headers
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(20)
