"""Logging in through a real browser: the page is styled by Bootstrap served from the
portal itself (it must work offline), and an editor lands on their own provider's data."""

import ipaddress
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Group

from activities.models import Board
from pars_portal.lib.access import REVIEWERS_GROUP

from ..conftest import PASSWORD

pytestmark = pytest.mark.e2e

# Bootstrap's .btn-primary rule painting the portal's primary blue (static/css/portal.css sets
# it one step darker than Bootstrap's #0d6efd, for contrast): without Bootstrap's stylesheet
# the button would have no background at all.
BOOTSTRAP_PRIMARY = "rgb(11, 94, 215)"


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def log_in(page, username):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_seed_data_is_there_for_browser_tests():
    assert Board.objects.get(code="ABIM").credit_types.count() == 3
    assert Group.objects.filter(name=REVIEWERS_GROUP).exists()


def test_login_page_is_styled_by_local_bootstrap(page):
    requests, failed = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("requestfailed", lambda request: failed.append(request.url))
    stylesheets = []
    page.on(
        "response",
        lambda response: (
            stylesheets.append(response) if response.url.endswith("bootstrap.min.css") else None
        ),
    )
    page.goto("/accounts/login/")
    page.wait_for_load_state("networkidle")

    button = page.get_by_role("button", name="Log in")
    color = button.evaluate("element => getComputedStyle(element).backgroundColor")
    assert color == BOOTSTRAP_PRIMARY
    assert [response.status for response in stylesheets] == [200]
    assert requests, "the page made no requests at all"
    assert [url for url in requests if not is_loopback(url)] == []
    assert failed == []


def test_editor_logs_in_and_sees_own_activities_only(
    page, editor_a, activity_a, activity_b, artifacts
):
    log_in(page, "editor-a")
    # The home page is the provider's dashboard.
    assert page.get_by_role("heading", name="Provider A", exact=True).is_visible()
    assert page.locator("#status-counts").is_visible()

    page.get_by_role("link", name="Activities", exact=True).first.click()
    page.wait_for_load_state()
    body = page.locator("body").inner_text()
    assert "Hypertension Update" in body
    assert activity_a.pars_id in body
    assert "Lakeside Grand Rounds" not in body
    assert activity_b.pars_id not in body
    page.screenshot(path=str(artifacts / "editor-a-activities.png"), full_page=True)


def test_wrong_password_is_refused_with_a_message(page, editor_a):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("editor-a")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert page.url.endswith("/accounts/login/")
    assert page.get_by_role("alert").is_visible()
    assert page.locator("#status-counts").count() == 0
