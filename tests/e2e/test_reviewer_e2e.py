"""A reviewer's and a provider's days in Chromium (issue #18): withdrawing a board-rejected
record from the admin (a reason asked, its follow-up closed), reassigning and resolving a
follow-up from the queue, a password reset by mail, and the dashboard chart's table that
says the same as the chart.

The ORM builds the people and the records (a board rejection is the back office's
transmission answered by the board, as in tests/test_review_queue.py); everything a person
does happens in the browser, and each test checks what the person sees."""

import datetime as dt
import re
from collections import Counter

import pytest
from django.utils.text import capfirst

from pars_portal.charts import MONTHS
from participants.models import Completion

from ..conftest import make_completion, make_user
from ..test_review_queue import board_rejects
from .test_dashboard_e2e import shown_counts
from .test_login_e2e import log_in

pytestmark = pytest.mark.e2e

BOARD_REASON = "Rejected by ABIM: Birth date does not match (DOB)"  # board_rejects
WITHDRAW_REASON = "Entered twice: the learner's record is 4711"


def queue(page, state="open"):
    """The rejection queue's rows, reached from the menu and filtered by state as a reviewer
    does it."""
    page.goto("/")
    page.get_by_role("link", name="Rejection queue").first.click()
    page.wait_for_load_state()
    if page.get_by_label("Show").input_value() != state:
        page.get_by_label("Show").select_option(state)
        page.get_by_role("button", name="Filter").click()
        page.wait_for_load_state()
    return page.locator("#queue tbody tr")


def value_missing(field) -> bool:
    """The browser refuses to send the form: a required field is empty."""
    return field.evaluate("element => element.validity.valueMissing")


# --- a. Withdrawing from the admin ---------------------------------------------------------


def test_withdraw_in_the_admin_asks_for_a_reason_and_closes_the_follow_up(
    page, reviewer, activity_a, editor_a, roster, media_root, artifacts
):
    follow_up = board_rejects(activity_a, editor_a)
    record = follow_up.completion
    assert (record.status, follow_up.resolution) == (Completion.Status.REJECTED, "")
    kept = make_completion(activity_a, learner_id="234567", first_name="Omar",
                           last_name="Haddad", status=Completion.Status.ACCEPTED)  # fmt: skip

    log_in(page, "reviewer")
    assert queue(page).count() == 1  # the rejection waits in the queue

    # The admin's record list: select the rejected record, run "withdraw".
    page.goto("/admin/participants/completion/")
    page.locator(f"input[name=_selected_action][value='{record.pk}']").check()
    page.locator("select[name=action]").select_option("withdraw")
    page.get_by_role("button", name="Go").click()
    page.wait_for_load_state()

    # The intermediate page lists the record (and only it) and asks why.
    assert page.get_by_role("heading", name="Withdraw participant records").is_visible()
    assert page.get_by_text("1 record will be withdrawn (status “deleted”").is_visible()
    listed = page.locator("#withdraw-records tbody tr")
    assert listed.count() == 1
    row = listed.first.inner_text()
    assert str(record.pk) in row and "Smith, Jane" in row and "Rejected" in row
    assert activity_a.pars_id in row and "Provider A" in row
    confirm = page.get_by_role("button", name="Withdraw 1 record")
    reason = page.get_by_label("Reason")
    page.screenshot(path=str(artifacts / "admin-withdraw-asks.png"), full_page=True)

    # No reason: the browser does not send the form; blanks: the server refuses it.
    confirm.click()
    assert value_missing(reason)
    assert page.get_by_role("heading", name="Withdraw participant records").is_visible()
    reason.fill("   ")
    confirm.click()
    page.wait_for_load_state()
    assert "This field is required." in page.locator(".errorlist").inner_text()
    assert page.locator("#withdraw-records tbody tr").count() == 1
    record.refresh_from_db()
    follow_up.refresh_from_db()
    assert (record.status, follow_up.resolution) == (Completion.Status.REJECTED, "")

    # With a reason: withdrawn, and the reviewer is told so.
    page.get_by_label("Reason").fill(WITHDRAW_REASON)
    page.get_by_role("button", name="Withdraw 1 record").click()
    page.wait_for_load_state()
    assert page.url.endswith("/admin/participants/completion/")
    assert "1 record withdrawn." in page.locator(".messagelist").inner_text()
    listed_row = page.locator("#result_list tr").filter(
        has=page.locator(f"input[name=_selected_action][value='{record.pk}']")
    )
    assert "Deleted" in listed_row.inner_text()
    assert WITHDRAW_REASON in listed_row.inner_text()

    # The record's page in the admin: its history has the reason, by whom, from the admin.
    page.goto(f"/admin/participants/completion/{record.pk}/change/")
    history = page.locator("#events-group").inner_text()
    assert WITHDRAW_REASON in history and BOARD_REASON in history
    last = page.locator("#events-group tbody tr.has_original").last.inner_text()
    assert "Rejected" in last and "Deleted" in last and "reviewer" in last
    page.screenshot(path=str(artifacts / "admin-withdrawn-history.png"), full_page=True)

    # The follow-up is closed: gone from the open queue, resolved as withdrawn.
    assert queue(page).first.inner_text().strip() == "No rejected records here."
    resolved = queue(page, "resolved")
    assert resolved.count() == 1
    assert "Provider withdrew the record" in resolved.first.inner_text()

    record.refresh_from_db()
    follow_up.refresh_from_db()
    assert (record.status, record.status_reason) == (Completion.Status.DELETED, WITHDRAW_REASON)
    event = record.events.last()
    assert (event.from_status, event.to_status, event.channel, event.actor, event.reason) == (
        "rejected", "deleted", "admin", reviewer, WITHDRAW_REASON
    )  # fmt: skip
    assert (follow_up.resolution, follow_up.resolved_by) == ("withdrawn", reviewer)
    kept.refresh_from_db()
    assert kept.status == Completion.Status.ACCEPTED


# --- b. Reassigning and resolving from the queue -------------------------------------------


def test_reviewer_reassigns_and_resolves_from_the_queue_with_confirmations(
    page, reviewer, activity_a, editor_a, roster, media_root, artifacts
):
    follow_up = board_rejects(activity_a, editor_a)
    colleague = make_user("reviewer-2", reviewer=True)
    colleague.first_name, colleague.last_name = "Dana", "Reyes"
    colleague.save()

    log_in(page, "reviewer")
    rows = queue(page)
    assert rows.count() == 1
    row = rows.first
    assert "Smith, Jane" in row.inner_text() and BOARD_REASON in row.inner_text()
    assert row.locator("td").nth(5).inner_text() == "—"  # assigned to nobody
    row.locator("td").first.get_by_role("link").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/review/{follow_up.pk}/")
    assert page.locator("#board-reason").inner_text() == BOARD_REASON
    assert page.locator("#assignee").inner_text() == "nobody"

    # Assign to another reviewer.
    page.get_by_label("Assign to", exact=True).select_option(label="Dana Reyes")
    page.get_by_role("button", name="Assign", exact=True).click()
    page.wait_for_load_state()
    assert "Assigned to Dana Reyes." in page.get_by_role("alert").first.inner_text()
    assert page.locator("#assignee").inner_text() == "Dana Reyes"
    assert "Follow-up assigned to Dana Reyes" in page.locator("#history").inner_text()

    # Resolve: nothing is preselected, and nothing is resolved until the reviewer chooses.
    resolution = page.get_by_label("Resolution")
    assert resolution.input_value() == ""
    assert resolution.locator("option:checked").inner_text() == "Choose what happened…"
    page.get_by_role("button", name="Mark resolved").click()
    assert value_missing(resolution)
    follow_up.refresh_from_db()
    assert follow_up.resolution == ""

    resolution.select_option(label="Provider unreachable")
    page.get_by_role("button", name="Mark resolved").click()
    page.wait_for_load_state()
    confirmation = page.get_by_role("alert").first.inner_text()
    assert "Follow-up resolved: Provider unreachable." in confirmation
    assert page.locator("#resolution").inner_text() == "Provider unreachable"
    assert page.get_by_role("button", name="Mark resolved").count() == 0
    assert "Follow-up resolved: Provider unreachable" in page.locator("#history").inner_text()
    page.screenshot(path=str(artifacts / "review-reassigned-resolved.png"), full_page=True)

    # The follow-up has left the open queue; the resolved one says who has it and how.
    assert queue(page).first.inner_text().strip() == "No rejected records here."
    resolved = queue(page, "resolved")
    assert resolved.count() == 1
    assert "Dana Reyes" in resolved.first.inner_text()
    assert "Provider unreachable" in resolved.first.inner_text()

    follow_up.refresh_from_db()
    assert (follow_up.assigned_to, follow_up.resolution, follow_up.resolved_by) == (
        colleague, "unreachable", reviewer
    )  # fmt: skip


# --- c. A password reset by mail -------------------------------------------------------------


def test_password_reset_mail_arrives_and_its_link_sets_a_new_password(
    page, live_server, editor_a, activity_a, mailoutbox, fresh_throttles
):
    new_password = "a lantern over the harbour 42"
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Reset your password").is_visible()
    page.get_by_label("Email").fill(editor_a.email)
    page.get_by_role("button", name="Send the link").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Check your email").is_visible()

    assert len(mailoutbox) == 1, [(m.to, m.subject) for m in mailoutbox]
    mail = mailoutbox[0]
    assert mail.to == [editor_a.email]
    links = re.findall(r"https?://\S+/accounts/reset/\S+/", mail.body)
    assert len(links) == 1, mail.body
    link = links[0]
    assert link.startswith(live_server.url)
    assert "editor-a" in mail.body  # the mail names the account

    page.goto(link)
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Set a new password").is_visible()
    page.get_by_label(re.compile(r"^\s*New password\W*$")).fill(new_password)  # "*": required
    page.get_by_label("New password confirmation").fill(new_password)
    page.get_by_role("button", name="Set the password").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Your password is set").is_visible()

    # The link worked once.
    page.goto(link)
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="This link no longer works").is_visible()

    # The old password no longer opens the account; the new one does.
    log_in(page, "editor-a")  # the fixtures' password
    assert page.url.endswith("/accounts/login/")
    assert page.get_by_role("alert").is_visible()
    page.get_by_label("Username").fill("editor-a")
    page.get_by_label("Password").fill(new_password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Provider A", exact=True).is_visible()
    editor_a.refresh_from_db()
    assert editor_a.check_password(new_password)


# --- d. The dashboard chart and its table ----------------------------------------------------

YEAR = 2015
# (month, status, how many) of provider A's records in YEAR.
RECORDS = [
    (10, "accepted", 2), (10, "rejected", 1), (11, "submitted", 1), (11, "accepted", 1),
    (11, "deleted", 1), (12, "rejected", 2), (12, "accepted", 3),
]  # fmt: skip


@pytest.fixture
def year_of_records(activity_a, activity_b):
    learner = iter(range(100001, 100100))
    for month, status, n in RECORDS:
        for _ in range(n):
            make_completion(activity_a, learner_id=str(next(learner)), status=status,
                            completion_date=dt.date(YEAR, month, 10))  # fmt: skip
    # Not counted on provider A's 2015 chart: another year, a sandbox test, provider B.
    make_completion(activity_a, learner_id=str(next(learner)), status="accepted",
                    completion_date=dt.date(YEAR + 1, 1, 5))  # fmt: skip
    make_completion(activity_a, learner_id=str(next(learner)), status="accepted",
                    completion_date=dt.date(YEAR, 10, 12), is_sandbox=True)  # fmt: skip
    make_completion(activity_b, status="accepted", completion_date=dt.date(YEAR, 10, 10))


def chart_figures(page) -> tuple[dict, dict, dict]:
    """What the chart's links say: {(month, status label): count}, their URLs, and each
    month's total."""
    counts, urls, totals = {}, {}, {}
    for bar in page.locator("#month-chart g[data-month]").all():
        month = bar.get_attribute("data-month")
        totals[month] = int(bar.get_attribute("data-total"))
        for link in bar.locator("a[data-figure=month]").all():
            label = link.get_attribute("aria-label")  # what a screen reader announces
            said = re.fullmatch(rf"{month} {YEAR}: (\d+) (\w+)", label)
            assert said, label
            assert said.group(1) == link.get_attribute("data-count")
            key = (month, capfirst(said.group(2)))
            counts[key] = int(said.group(1))
            urls[key] = link.get_attribute("href")
    return counts, urls, totals


def table_figures(page) -> tuple[dict, dict, dict]:
    """The same from the table under the chart, read as a person reads it."""
    table = page.locator("#month-table")
    headers = [th.inner_text().strip() for th in table.locator("thead th").all()]
    assert headers[0] == "Month" and headers[-1] == "All"
    statuses = headers[1:-1]
    counts, urls, totals = {}, {}, {}
    for row in table.locator("tbody tr").all():
        month = row.locator("th").inner_text().strip()
        cells = row.locator("td").all()
        assert len(cells) == len(statuses) + 1
        for status, cell in zip(statuses, cells, strict=False):
            counts[(month, status)] = int(cell.inner_text())
            link = cell.locator("a[data-figure=month-table]")
            if link.count():
                urls[(month, status)] = link.get_attribute("href")
        totals[month] = int(cells[-1].inner_text())
    return counts, urls, totals


def test_the_dashboard_chart_and_its_table_show_the_same_figures(
    page, editor_a, provider_a, year_of_records, artifacts
):
    log_in(page, "editor-a")
    page.goto(f"/?year={YEAR}")
    assert page.get_by_role("heading", name="Provider A", exact=True).is_visible()
    chart_counts, chart_urls, chart_totals = chart_figures(page)

    # The table is folded under the chart: a person opens it.
    table = page.locator("#month-table")
    assert not table.is_visible()
    page.get_by_text("The same figures as a table").click()
    assert table.is_visible()
    page.screenshot(path=str(artifacts / "dashboard-chart-table.png"), full_page=True)
    table_counts, table_urls, table_totals = table_figures(page)

    # Every figure of the chart is in the table, with the same link; the table's other
    # cells are the chart's missing segments: 0.
    assert len(table_counts) == 12 * 4
    assert {k: n for k, n in table_counts.items() if n} == chart_counts
    assert table_urls == chart_urls
    assert table_totals == chart_totals
    assert sum(table_totals.values()) == sum(n for _, _, n in RECORDS)
    # The status cards above the chart are the table's column totals.
    cards = {Completion.Status(s).label: n for s, n in shown_counts(page).items()}
    columns = Counter()
    for (_, status), n in table_counts.items():
        columns[status] += n
    assert cards == dict(columns)

    # And both are the database's counts of the provider's (real) records of the year.
    stored = Counter(
        (MONTHS[c.completion_date.month - 1], c.get_status_display())
        for c in Completion.objects.filter(
            provider=provider_a, is_sandbox=False, completion_date__year=YEAR
        )
    )
    assert {k: n for k, n in table_counts.items() if n} == dict(stored)
    expected = Counter()
    for month, status, n in RECORDS:
        label = Completion.Status(status).label
        expected[(MONTHS[month - 1], label)] += n
    assert dict(stored) == dict(expected)

    # A figure of the table opens the list of exactly those records.
    page.locator("#month-table tbody tr").filter(has_text="Dec").locator(
        "a[data-figure=month-table]"
    ).filter(has_text="3").click()
    page.wait_for_load_state()
    assert page.locator("#record-count").inner_text() == "3 records"
    assert page.locator("#records tbody tr").count() == 3
