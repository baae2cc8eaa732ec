"""A provider editor's day, walked in Chromium: what used to cost a phone call to ACCME
(provider staff issue): corrections that change nothing, rejections that looked like
successes, "already reported" without a way to the record."""

import pytest

from participants.models import Completion

from ..conftest import make_activity
from .test_login_e2e import log_in
from .test_manual_entry_e2e import COMPLETED

pytestmark = pytest.mark.e2e


def enter(page, *, learner_id, first, last, month, day):
    form = page.locator("#enter")
    form.get_by_label("ABIM ID").fill(learner_id)
    form.get_by_label("First name").fill(first)
    form.get_by_label("Last name").fill(last)
    form.get_by_label("Birth month").select_option(str(month))
    form.get_by_label("Birth day").fill(str(day))
    form.get_by_label("Completion date").fill(COMPLETED)
    permission = form.get_by_label("The learner agreed to share")
    if not permission.is_checked():
        permission.check()
    form.get_by_role("button", name="Save and add another").click()
    page.wait_for_load_state()


def test_records_say_what_became_of_them(page, provider_a, editor_a, roster, artifacts):
    activity = make_activity(provider_a, editor_a, title="Hypertension Update")
    log_in(page, "editor-a")
    page.goto(f"/activities/{activity.pars_id}/")

    # A rejected save is shown as a rejection, in red, with the reason and a way to correct.
    enter(page, learner_id="234567", first="Omar", last="Haddad", month=2, day=28)
    alert = page.locator(".alert-danger").first
    assert "rejected" in alert.inner_text() and "birth date does not match" in alert.inner_text()
    assert page.locator(".alert-success").count() == 0
    omar = Completion.objects.get(learner_id="234567")
    alert.get_by_role("link", name="Correct it").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/participants/{omar.pk}/correct/")
    page.screenshot(path=str(artifacts / "record-correct-after-rejection.png"), full_page=True)
    # The correct page says why, and leads back.
    assert "birth date does not match" in page.locator("#rejection-reason").inner_text()
    crumbs = page.get_by_role("navigation", name="breadcrumb")
    assert crumbs.get_by_role("link", name=f"Record {omar.pk}").is_visible()

    # Saving the correction unchanged is refused: nothing is deleted, nothing added.
    page.get_by_role("button", name="Save correction").click()
    page.wait_for_load_state()
    assert "Nothing changed" in page.locator("#form-errors").inner_text()
    assert page.locator("#form-errors").count() == 1
    omar.refresh_from_db()
    assert omar.status == "rejected" and Completion.objects.count() == 1

    # An accepted save is green and says accepted.
    page.goto(f"/activities/{activity.pars_id}/")
    enter(page, learner_id="123456", first="Jane", last="Smith", month=7, day=14)
    assert "accepted" in page.locator(".alert-success").first.inner_text()
    jane = Completion.objects.get(learner_id="123456")

    # "Already reported" appears once, links to the record and says how to change it.
    enter(page, learner_id="123456", first="Janet", last="Smith", month=7, day=14)
    errors = page.locator("#form-errors")
    assert errors.count() == 1
    text = errors.inner_text()
    assert text.count("Already reported") == 1
    assert "Delete" not in text and "correct" in text
    errors.get_by_role("link", name=f"Open record {jane.pk}").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/participants/{jane.pk}/")
