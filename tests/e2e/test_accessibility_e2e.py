"""WCAG 2.1 AA, checked by axe-core (the axe.min.js bundled in the axe-playwright-python
package, never a CDN) in Chromium on every page people see: every portal page for each role,
with the demo data of `make run` (records in several statuses, board rejections with open
follow-ups in the rejection queue, uploads) and an API key; the log-in, password-reset,
locked-out and logged-out pages; the Django admin pages reviewers use. A page fails on any
violation axe rates "serious" or "critical" (and on an empty table header); the message
names the role, the page, the rule and the elements.

Pages come from the URL configuration (tests/conftest.py `portal_patterns()` and the account
URLs), so a new page is checked without anyone listing it; only downloads and JSON answers
are left out (NOT_HTML, each with its reason), and POST-only addresses are held to answer a
GET with 405.

Then phones (390 px wide): the record lists show learner, ID and status without scrolling
sideways, their filters start folded behind a "Filters" button; screenshots of the main
pages at 1366 and 390 px go to test-artifacts/screens/ for people to look at."""

import io
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from axes.models import AccessFailureLog
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import URLPattern, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tasks_db.models import DBTaskResult

from pars_portal.urls import account_patterns
from participants.models import Completion, FollowUp, Upload

from ..conftest import make_key, portal_patterns
from .test_dashboard_e2e import DEMO_PASSWORD

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Role:
    name: str
    username: str  # a login of the demo data (pars_portal/management/commands/load_demo.py)


# One line a role. Each role visits every portal page; a page the role may not open answers
# 403 or 404, and that error page is checked as well (once per role and status).
ROLES = [
    Role("provider editor", "editor-a"),
    Role("provider viewer", "viewer-a"),
    Role("provider manager", "manager-a"),
    Role("ACCME reviewer", "reviewer"),
]
REVIEWER = "reviewer"  # who also goes through the admin pages
# Portal addresses that answer something other than an HTML page: nothing for axe to check.
NOT_HTML = {
    "activity_export": "a download (the activity's records as CSV/TSV/XLSX/XML)",
    "participant_export": "a download (the records found as CSV/TSV/XLSX/XML)",
    "upload_template": "a download (the blank upload template or the XML sample)",
    "upload_errors": "a download (the upload's error report, in the upload's format)",
    "upload_status": "JSON for the upload page's progress script",
}
# Portal addresses that only take a form's POST: their GET must answer 405 (checked), and
# the 405 page is checked once.
POST_ONLY = {
    "api_key_create", "api_key_revoke", "learner_check", "upload_confirm", "upload_retry",
    "upload_discard", "registration_withdraw", "review_transmit", "review_simulate_board",
    "staff_invite", "staff_role",
}  # fmt: skip
# The account pages (pars_portal.urls.account_patterns): who sees each.
SIGNED_IN_ACCOUNT_PAGES = ("password_change", "password_change_done")
ANONYMOUS_ACCOUNT_PAGES = (
    "login", "password_reset", "password_reset_done", "password_reset_confirm",
    "password_reset_complete", "staff_set_password",
    "logout",  # POSTed by the menu's "Log out" button: each role ends there
)  # fmt: skip
SERIOUS = {"serious", "critical"}
# Rules kept at zero on the portal's pages whatever axe rates them: a table's action column
# has a header text too. (Django's admin inlines keep their empty header cells: "minor".)
ALWAYS = {"empty-table-header"}
AXE = Axe()
WIDE, PHONE = 1366, 390


@pytest.fixture
def demo(media_root):
    """The demo data, an API key, a background task and a failed login (for their admin
    pages), and the objects the pages' addresses point at (provider A's): a board rejection
    waiting in the rejection queue, its record and activity, an upload, the key."""
    call_command("load_demo", stdout=io.StringIO())
    editor = User.objects.get(username="editor-a")
    provider = editor.memberships.get().provider
    make_key(provider, editor)
    AccessFailureLog.objects.create(
        username="editor-a", ip_address="127.0.0.1", user_agent="pytest", http_accept="*/*",
        path_info="/accounts/login/",
    )  # fmt: skip
    DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}}, task_path="participants.tasks.example",
        backend_name="default", run_after=timezone.now(), exception_class_path="",
        traceback="",
    )  # fmt: skip
    follow_up = FollowUp.objects.filter(
        resolved_at__isnull=True, completion__provider=provider
    ).first()
    assert follow_up is not None, "the demo has a board rejection in the rejection queue"
    record = follow_up.completion
    assert record.status == Completion.Status.REJECTED
    statuses = set(Completion.objects.values_list("status", flat=True))
    assert statuses >= {"accepted", "rejected", "deleted"}
    return {
        "pars_id": record.activity.pars_id,
        "pk": record.pk,
        "upload_id": Upload.objects.filter(provider=provider).latest("pk").pk,
        "key_id": provider.api_keys.get().pk,
        "follow_up_id": follow_up.pk,
        "accme_id": provider.accme_id,
        "membership_id": provider.memberships.filter(role="viewer").first().pk,
    }


def url_of(pattern: URLPattern, values: dict) -> str:
    missing = set(pattern.pattern.converters) - set(values)
    assert not missing, f"teach the demo fixture which object fills {missing} ({pattern.name})"
    return reverse(pattern.name, kwargs={k: values[k] for k in pattern.pattern.converters})


class Checker:
    """Runs axe on pages in one browser context and collects what it finds."""

    def __init__(self, browser, base_url, who):
        # Reduced motion: no colour caught halfway through a button's 0.15 s transition.
        self.context = browser.new_context(base_url=base_url, reduced_motion="reduce")
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.who = who
        self.found: list[str] = []
        self.error_pages_seen: set[int] = set()

    def visit(self, url, *, allowed=(200,)):
        response = self.page.goto(url)
        assert response.status in allowed, f"{self.who}: {url} answered {response.status}"
        assert "text/html" in response.headers["content-type"], url
        if response.status != 200:
            if response.status in self.error_pages_seen:
                return  # the same error page again
            self.error_pages_seen.add(response.status)
        self.check(f"{url} ({response.status})")

    def check(self, what=None):
        """axe on the page as it is now."""
        what = what or urlsplit(self.page.url).path
        for violation in AXE.run(self.page).response["violations"]:
            portal = not urlsplit(self.page.url).path.startswith("/admin/")
            if violation["impact"] in SERIOUS or (portal and violation["id"] in ALWAYS):
                targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"])
                self.found.append(
                    f"{self.who} · {what}: {violation['id']} ({violation['impact']}, "
                    f"{violation['help']}): {targets}"
                )

    def log_in(self, username, password=DEMO_PASSWORD):
        self.page.goto("/accounts/login/")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_load_state()

    def close(self):
        self.context.close()


def test_the_lists_name_real_pages():
    names = {p.name for p in portal_patterns()}
    assert names >= set(NOT_HTML) | POST_ONLY
    accounts = {p.name for p in account_patterns}
    assert accounts == set(SIGNED_IN_ACCOUNT_PAGES) | set(ANONYMOUS_ACCOUNT_PAGES), (
        "a new account page: say who sees it (SIGNED_IN_/ANONYMOUS_ACCOUNT_PAGES)"
    )


def reviewer_admin_pages(reviewer) -> list[str]:
    """The admin index, and for every model registered that reviewers may view its list and
    one record's page (and the add page where they may add)."""
    request = RequestFactory().get("/admin/")
    request.user = reviewer
    pages = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_view_permission(request):
            continue
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        pages.append(reverse(f"{prefix}_changelist"))
        first = model_admin.get_queryset(request).order_by("pk").first()
        assert first is not None, f"the demo fixture makes no {model._meta.label} to look at"
        pages.append(reverse(f"{prefix}_change", args=[first.pk]))
        if model_admin.has_add_permission(request):
            pages.append(reverse(f"{prefix}_add"))
    return pages


@pytest.mark.skipif(
    django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="the sweep checks the pages' markup, which is the same on either database: CI "
    "runs it in its SQLite pass (about three minutes of axe over some 250 pages)",
)
def test_every_page_has_no_serious_or_critical_violation(browser, live_server, demo):
    portal = [p for p in portal_patterns() if p.name not in NOT_HTML.keys() | POST_ONLY]
    found = []

    # Without a login: log-in (also with an error and locked out), password reset, 405.
    visitor = Checker(browser, live_server.url, "not logged in")
    visitor.visit(reverse("login"))
    for _ in range(5):  # AXES_FAILURE_LIMIT failures: the sixth try is locked out
        visitor.log_in("nobody-at-all", "wrong password")
        assert visitor.page.url.endswith("/accounts/login/")
    visitor.check("login with an error")
    visitor.log_in("nobody-at-all", "wrong password")
    assert visitor.page.get_by_role("heading", name="Too many failed log-in attempts").is_visible()
    visitor.check("locked out")
    visitor.visit(reverse("password_reset"))
    visitor.page.get_by_label("Email").fill("viewer-b@example.org")
    visitor.page.get_by_role("button", name="Send").click()
    visitor.page.wait_for_url("**/password_reset/done/")
    visitor.check()
    someone = User.objects.get(username="viewer-b")
    uid = urlsafe_base64_encode(force_bytes(someone.pk))
    token = default_token_generator.make_token(someone)
    visitor.visit(reverse("password_reset_confirm", args=[uid, "not-a-valid-token"]))
    visitor.visit(reverse("password_reset_confirm", args=[uid, token]))  # the new-password form
    visitor.check("password_reset_confirm: new password")
    visitor.visit(reverse("password_reset_complete"))
    visitor.visit(reverse("staff_set_password", args=[uid, "not-a-valid-token"]))
    visitor.check("staff_set_password: a link that no longer works")
    visitor.close()
    found += visitor.found

    for role in ROLES:
        user = Checker(browser, live_server.url, role.name)
        user.log_in(role.username)
        for pattern in portal:
            user.visit(url_of(pattern, demo), allowed=(200, 403, 404))
        for name in SIGNED_IN_ACCOUNT_PAGES:
            user.visit(reverse(name))
        for name in sorted(POST_ONLY):
            pattern = next(p for p in portal_patterns() if p.name == name)
            assert user.page.request.get(url_of(pattern, demo)).status == 405, name
        if role.username == REVIEWER:
            for url in reviewer_admin_pages(User.objects.get(username=REVIEWER)):
                user.visit(url)
            # The completion admin's withdraw action: its confirmation page (then Cancel).
            user.visit(reverse("admin:participants_completion_changelist"))
            user.page.locator("input.action-select").first.check()
            user.page.locator("select[name=action]").select_option("withdraw")
            user.page.get_by_role("button", name="Go").click()
            user.page.wait_for_load_state()
            assert user.page.get_by_role(
                "heading", name="Withdraw participant records"
            ).is_visible()
            user.check("admin withdraw: confirmation")
        user.page.goto("/")
        user.page.get_by_role("button", name="Log out").click()
        user.page.wait_for_url("**/accounts/logout/")
        assert user.page.get_by_role("heading", name="You are logged out").is_visible()
        user.check("logged out")
        user.close()
        found += user.found
    assert not found, "serious or critical accessibility violations:\n" + "\n".join(found)


# --- Phones -----------------------------------------------------------------------------------

LISTS = {  # record lists: (address, the table, the filters)
    "participant list": ("/participants/", "#records", "#search-form"),
    "rejection queue": ("/review/", "#queue", "#queue-filters"),
}


def sideways_overflow(page, *, tables=True) -> int:
    """How many pixels the page (or, with `tables`, a table in its scroll box) is wider than
    what shows."""
    return page.evaluate(
        """(tables) => Math.max(
            document.documentElement.scrollWidth - document.documentElement.clientWidth,
            ...[...document.querySelectorAll(tables ? '.table-responsive' : 'html')].map(
                (box) => box.scrollWidth - box.clientWidth))""",
        tables,
    )


def test_phones_show_learner_id_and_status_and_fold_the_filters(browser, live_server, demo):
    reviewer = Checker(browser, live_server.url, "ACCME reviewer")
    page = reviewer.page
    page.set_viewport_size({"width": PHONE, "height": 844})
    reviewer.log_in(REVIEWER)
    for name, (url, table, filters) in LISTS.items():
        page.goto(url)
        rows = page.locator(f"{table} tbody tr")
        assert rows.count() >= 1, name
        assert sideways_overflow(page) == 0, name
        headers = page.locator(f"{table} thead th:visible").all_inner_texts()
        assert "Status" in headers and ({"Name", "Learner"} & set(headers)), (name, headers)
        for row in rows.all()[:10]:  # name, ID and status, every cell shown, on screen
            shown = [row.locator(".badge").first, row.locator(".pars-id:visible").first]
            for cell in shown + row.locator("td:visible").all():
                box = cell.bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE, (name, box)
        assert page.locator(filters).is_hidden(), f"{name}: filters start folded on a phone"
        toggle = page.get_by_role("button", name="Filters")
        assert toggle.get_attribute("aria-expanded") == "false"
        toggle.click()
        expect_visible(page.locator(filters))
        assert toggle.get_attribute("aria-expanded") == "true"
        reviewer.check(f"{name}, phone, filters open")
        page.set_viewport_size({"width": WIDE, "height": 900})
        page.goto(url)
        assert page.locator(filters).is_visible() and toggle.is_hidden(), name
        page.set_viewport_size({"width": PHONE, "height": 844})
    reviewer.close()
    assert not reviewer.found, "\n".join(reviewer.found)


def expect_visible(locator):
    locator.wait_for(state="visible")


SCREENS = {  # name: (who, address or the demo object's URL name)
    "provider-dashboard": ("editor-a", "home"),
    "reviewer-dashboard": (REVIEWER, "home"),
    "rejection-queue": (REVIEWER, "review_queue"),
    "participant-list": ("editor-a", "participant_search"),
    "record": ("editor-a", "completion_detail"),
}


def test_main_pages_reflow_to_a_phone_with_screenshots(browser, live_server, demo, artifacts):
    """At 390 px no page scrolls sideways (WCAG 1.4.10); whole pages are screenshot at 1366
    and 390 px into test-artifacts/screens/ for people to look at."""
    folder = artifacts / "screens"
    folder.mkdir(exist_ok=True)
    overflowing = []
    for username in dict.fromkeys(who for who, _ in SCREENS.values()):
        person = Checker(browser, live_server.url, username)
        person.log_in(username)
        for name, (who, url_name) in SCREENS.items():
            if who != username:
                continue
            pattern = next(p for p in portal_patterns() if p.name == url_name)
            for width in (WIDE, PHONE):
                person.page.set_viewport_size({"width": width, "height": 900})
                person.page.goto(url_of(pattern, demo))
                person.page.screenshot(path=folder / f"{name}-{width}.png", full_page=True)
                # A wide data table may scroll in its own box (1.4.10 allows it); the page not.
                if width == PHONE and (extra := sideways_overflow(person.page, tables=False)):
                    overflowing.append(f"{name}: {extra} px wider than the phone")
        person.close()
    assert not overflowing, overflowing


def test_keyboard_skip_link_current_menu_item_and_a_visible_focus_ring(browser, live_server, demo):
    reviewer = Checker(browser, live_server.url, "ACCME reviewer")
    page = reviewer.page
    page.set_viewport_size({"width": WIDE, "height": 900})
    reviewer.log_in(REVIEWER)
    page.goto("/review/")
    # The first Tab reaches "Skip to main content", shown; Enter moves on to the page's main.
    skip = page.get_by_role("link", name="Skip to main content")
    assert skip.is_hidden() or skip.bounding_box()["width"] <= 1
    page.keyboard.press("Tab")
    assert skip.evaluate("element => element === document.activeElement")
    assert skip.bounding_box()["width"] > 50
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # The menu says where we are, once.
    current = page.locator("nav [aria-current=page]")
    assert current.all_inner_texts() == ["Rejection queue"]
    # A focused menu link on the blue bar gets a solid ring (not Bootstrap's faint glow).
    link = page.get_by_role("link", name="Participants", exact=True)
    link.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focus by keyboard: :focus-visible
    ring = link.evaluate(
        "e => ((s) => [s.outlineStyle, s.outlineWidth, s.outlineColor])(getComputedStyle(e))"
    )
    assert ring == ["solid", "3px", "rgb(255, 255, 255)"], ring
    reviewer.close()
