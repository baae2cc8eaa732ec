"""Manual participant entry through a real browser, the way a provider's staff member
walks it the first time: register the activity for ABIM MOC, type in a sign-in sheet,
read the verdicts, retry a duplicate, correct a rejected record and follow its history.

Only the setup touches the ORM (provider, people, an unregistered activity, the roster);
everything after that happens in Chromium."""

import re

import pytest

from ..conftest import make_activity, make_completion
from .test_login_e2e import log_in

pytestmark = pytest.mark.e2e

COMPLETED = "12/18/2015"  # typed into the entry form's date field, as on the sign-in sheet


def record_rows(page) -> list[dict]:
    """The participant records table as the user reads it, newest first."""
    return page.locator("#records tbody tr").evaluate_all(
        """rows => rows.map(row => {
            const cells = row.querySelectorAll("td");
            const status = row.querySelector("span[data-status]");
            return {
                record: cells[0].innerText.trim(),
                learner_id: cells[1].innerText.trim(),
                name: cells[2].innerText.trim(),
                birth: cells[3].innerText.trim(),
                completed: cells[4].innerText.trim(),
                credit: cells[5].innerText.trim(),
                status: status ? status.dataset.status : null,
                reason: cells[cells.length - 1].innerText.trim(),
            };
        })"""
    )


def only_row(page, learner_id, credit="MK") -> dict:
    rows = [r for r in record_rows(page) if r["learner_id"] == learner_id and r["credit"] == credit]
    assert len(rows) == 1, rows
    return rows[0]


def enter_participant(page, *, learner_id, first, last, month, day, credit="MK"):
    """Fill the "Enter a participant" card (date and credit type stay from last time)."""
    form = page.locator("#enter")
    form.get_by_label("ABIM ID").fill(learner_id)
    form.get_by_label("First name").fill(first)
    form.get_by_label("Last name").fill(last)
    form.get_by_label("Birth month").select_option(str(month))
    form.get_by_label("Birth day").fill(str(day))
    form.get_by_label("Completion date").fill(COMPLETED)
    form.get_by_label("Credit type").select_option(credit)
    form.get_by_label("The learner agreed to share").check()
    form.get_by_role("button", name="Save and add another").click()
    page.wait_for_load_state()


def total_records(page) -> str:
    return page.locator("#total-records").inner_text().strip()


def test_editor_registers_enters_participants_and_corrects_a_rejection(
    page, provider_a, editor_a, roster, artifacts
):
    activity = make_activity(provider_a, editor_a, title="Hypertension Update", points=None)
    activity_url = f"/activities/{activity.pars_id}/"

    # 1. Log in.
    log_in(page, "editor-a")
    assert page.get_by_role("heading", name="Provider A", exact=True).is_visible()

    # 2. Register the activity for ABIM MOC.
    page.goto(activity_url)
    assert page.locator("#registration-badge").inner_text() == "Not registered for ABIM MOC"
    assert page.get_by_role("heading", name="Enter a participant").count() == 0
    page.get_by_role("link", name="Register for ABIM MOC").click()
    page.wait_for_load_state()
    page.get_by_label("MOC points offered").fill("10")
    page.get_by_label(re.compile(r"^\s*MK –")).check()
    page.get_by_label(re.compile(r"^\s*PS –")).check()
    attestations = page.locator("input[type=checkbox][name^=attest_]")
    assert attestations.count() == 5
    for i in range(5):
        attestations.nth(i).check()
    page.get_by_role("button", name="Register for ABIM MOC").click()
    page.wait_for_load_state()
    assert page.url.endswith(activity_url)
    badge = page.locator("#registration-badge")
    assert badge.inner_text().startswith("Registered for ABIM MOC")
    assert "10 points" in badge.inner_text()
    assert page.get_by_role("heading", name="Enter a participant").is_visible()

    # 3. Type in the sign-in sheet: a roster match, a wrong birth day, an unknown ID.
    enter_participant(page, learner_id="123456", first="Jane", last="Smith", month=7, day=14)
    assert "saved: accepted" in page.get_by_role("alert").first.inner_text()
    form = page.locator("#enter")
    # "Save and add another" keeps the sheet's date, credit type and the permission
    # confirmed for the sheet; it clears the person.
    assert form.get_by_label("Completion date").input_value() == "12/18/2015"
    assert form.get_by_label("Credit type").input_value() == "MK"
    assert form.get_by_label("ABIM ID").input_value() == ""
    assert form.get_by_label("The learner agreed to share").is_checked()

    enter_participant(page, learner_id="234567", first="Omar", last="Haddad", month=2, day=28)
    assert form.get_by_label("Completion date").input_value() == COMPLETED
    assert form.get_by_label("Credit type").input_value() == "MK"
    enter_participant(page, learner_id="999999", first="Alex", last="Nobody", month=3, day=3)
    assert form.get_by_label("Completion date").input_value() == COMPLETED
    assert form.get_by_label("Credit type").input_value() == "MK"

    # 4. The verdicts, in the records table and the totals.
    jane = only_row(page, "123456")
    assert jane["status"] == "accepted"
    assert jane["completed"] == "12/18/2015"
    omar = only_row(page, "234567")
    assert omar["status"] == "rejected"
    assert "birth date does not match" in omar["reason"]
    stranger = only_row(page, "999999")
    assert stranger["status"] == "rejected"
    assert "ABIM ID not found" in stranger["reason"]
    assert total_records(page) == "3"

    # 5. Jane again is a duplicate; Jane for the other credit type is a new record.
    enter_participant(page, learner_id="123456", first="Jane", last="Smith", month=7, day=14)
    errors = page.locator("#form-errors")
    assert errors.is_visible()
    assert f"Already reported: record {jane['record']}" in errors.inner_text()
    assert total_records(page) == "3"
    assert len(record_rows(page)) == 3

    enter_participant(
        page, learner_id="123456", first="Jane", last="Smith", month=7, day=14, credit="PS"
    )
    assert page.locator("#form-errors").count() == 0
    assert only_row(page, "123456", credit="PS")["status"] == "accepted"
    assert total_records(page) == "4"

    # 6. Correct Omar's birth day from his rejected record.
    page.locator("#records").get_by_role("link", name=omar["record"], exact=True).click()
    page.wait_for_load_state()
    assert page.locator("#status").inner_text() == "Rejected"
    page.get_by_role("link", name="Correct", exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_label("Birth day").input_value() == "28"
    page.get_by_label("Birth day").fill("29")
    page.get_by_label("The learner agreed to share").check()
    page.get_by_role("button", name="Save correction").click()
    page.wait_for_load_state()
    assert page.locator("#status").inner_text() == "Accepted"
    assert page.url.rstrip("/").split("/")[-1] != omar["record"]
    corrects = page.locator("#corrects-link")
    assert corrects.inner_text() == f"Record {omar['record']}"
    corrects.click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/participants/{omar['record']}/")
    assert page.locator("#status").inner_text() == "Deleted"
    history = page.locator("#history").inner_text()
    assert "Received → Rejected" in history
    assert "birth date does not match" in history
    assert "Rejected → Deleted" in history

    # 7. The activity page after the whole story.
    page.goto(activity_url)
    assert total_records(page) == "4"  # Omar's old record deleted, his new one counted
    omar_rows = {r["record"]: r for r in record_rows(page) if r["learner_id"] == "234567"}
    assert omar_rows.pop(omar["record"])["status"] == "deleted"  # kept, shown as deleted
    assert [r["status"] for r in omar_rows.values()] == ["accepted"]
    page.screenshot(path=str(artifacts / "manual-entry.png"), full_page=True)


def test_viewer_sees_records_but_cannot_enter_or_change_them(page, viewer_a, activity_a, roster):
    record = make_completion(activity_a)  # Jane Smith, straight into the database

    log_in(page, "viewer-a")
    page.goto(f"/activities/{activity_a.pars_id}/")
    assert page.locator("#registration-badge").inner_text().startswith("Registered")
    assert [r["learner_id"] for r in record_rows(page)] == ["123456"]
    assert page.get_by_role("heading", name="Enter a participant").count() == 0
    assert page.locator("#enter").count() == 0
    assert page.get_by_role("button", name="Save and add another").count() == 0

    page.locator("#records").get_by_role("link", name=str(record.pk), exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name=re.compile(f"^Record {record.pk}")).is_visible()
    assert page.get_by_role("link", name="Correct").count() == 0
    assert page.get_by_role("link", name="Delete").count() == 0
    assert page.get_by_role("button", name="Delete").count() == 0
