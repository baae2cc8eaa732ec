"""Both dashboards in Chromium with the demo data of `make run`: screenshots for people to
look at (test-artifacts/dashboard-*.png, screen and print), the figures the browser shows
against the database, and one click from a figure to the list it counts."""

import io
import re

import pytest
from django.core.management import call_command
from django.utils import timezone

from participants.models import Completion

pytestmark = pytest.mark.e2e

DEMO_PASSWORD = "pars-demo-2015"


@pytest.fixture
def demo(media_root):  # the demo's transmission file goes to media_root
    call_command("load_demo", stdout=io.StringIO())


def log_in(page, username):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def shown_counts(page) -> dict[str, int]:
    return {
        card.get_attribute("data-status"): int(card.locator("[data-number]").inner_text())
        for card in page.locator("#status-counts a[data-status]").all()
    }


def expected_counts(**filters) -> dict[str, int]:
    year = timezone.localdate().year
    records = Completion.objects.filter(is_sandbox=False, completion_date__year=year, **filters)
    return {s: records.filter(status=s).count() for s in Completion.Status.values}


def screenshots(page, artifacts, name):
    page.set_viewport_size({"width": 1366, "height": 900})
    page.screenshot(path=artifacts / f"dashboard-{name}.png", full_page=True)
    page.emulate_media(media="print")
    page.screenshot(path=artifacts / f"dashboard-{name}-print.png", full_page=True)
    page.emulate_media(media="screen")


def test_provider_dashboard_with_demo_data(page, demo, artifacts):
    log_in(page, "editor-a")
    page.goto("/")
    assert page.locator("h1").inner_text() == "Northwind Medical Society"
    counts = shown_counts(page)
    assert counts == expected_counts(provider__accme_id="0001234")
    assert counts["accepted"] > 0 and counts["rejected"] > 0
    # The chart has a bar segment per month and status with records, each a link.
    segments = page.locator("#month-chart a[data-figure=month] rect")
    assert segments.count() >= 5
    assert page.locator("#registered-activities tbody tr").count() == 2
    screenshots(page, artifacts, "provider")
    assert (artifacts / "dashboard-provider.png").stat().st_size > 20_000

    # One click on "Rejected" opens the list of exactly those records.
    page.locator("#status-counts a[data-status=rejected]").click()
    page.wait_for_load_state()
    assert page.url.split("?")[0].endswith("/participants/")
    listed = int(re.match(r"\d+", page.locator("#record-count").inner_text()).group())
    assert listed == counts["rejected"]
    assert page.locator("#records tbody tr").count() == counts["rejected"]


def test_reviewer_dashboard_with_demo_data(page, demo, artifacts):
    log_in(page, "reviewer")
    page.goto("/")
    assert page.locator("h1").inner_text() == "All providers"
    assert shown_counts(page) == expected_counts()
    ranked = page.locator("#rank-rejected tbody tr")
    assert ranked.count() == 2  # both demo providers have rejections
    assert page.locator("#batches tbody tr[data-batch]").count() >= 1
    assert page.locator("#reasons a[data-figure=reason]").count() >= 1
    screenshots(page, artifacts, "reviewer")
    assert (artifacts / "dashboard-reviewer.png").stat().st_size > 20_000

    # From the ranking to that provider's dashboard, with the reviewer's view of it.
    ranked.first.get_by_role("link").first.click()
    page.wait_for_load_state()
    assert "provider=" in page.url
    assert page.get_by_text("You are reading this provider's figures").is_visible()
