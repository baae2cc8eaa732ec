"""A provider editor's day, walked in Chromium: what used to cost a phone call to ACCME
(provider staff issue): corrections that change nothing, rejections that looked like
successes, "already reported" without a way to the record."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from activities.models import PortalEvent
from participants.models import ApiKey, Completion, RosterEntry
from participants.parsers import TEMPLATE_HEADERS

from ..conftest import make_activity, make_completion
from .test_login_e2e import log_in
from .test_manual_entry_e2e import COMPLETED
from .test_upload_e2e import download, issue_rows, status, upload_file

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("media_root")]


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


# --- The upload wizard --------------------------------------------------------------------


def csv_file(folder, name, rows) -> Path:
    header = ",".join(TEMPLATE_HEADERS)
    path = folder / name
    path.write_text("\r\n".join([header, *(",".join(r) for r in rows)]) + "\r\n")
    return path


def csv_row(activity, learner_id, first, last, month, day, credit="MK", points="10"):
    return ["add", activity.pars_id, "ABIM", learner_id, first, last, str(month), str(day),
            "12/18/2015", credit, points, "", "Y", ""]  # fmt: skip


def rows_listed(page) -> list[int]:
    return [int(r) for r in page.locator("#rows tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.row)")]  # fmt: skip


def test_the_upload_wizard_shows_what_the_roster_check_decided(
    page, provider_a, editor_a, roster, tmp_path, artifacts
):
    activity = make_activity(provider_a, editor_a, title="Hypertension Update", codes=("MK", "PS"))
    log_in(page, "editor-a")
    path = csv_file(tmp_path, "week-50.csv", [
        csv_row(activity, "123456", "Jane", "Smith", 7, 14),  # row 2: accepted
        csv_row(activity, "123456", "Janet", "Smith", 7, 14, credit="PS"),  # 3: warning
        csv_row(activity, "234567", "Omar", "Haddad", 2, 28),  # 4: rejected (birthday)
        csv_row(activity, "999999", "Alex", "Nobody", 3, 3),  # 5: rejected (unknown)
    ])  # fmt: skip
    upload_file(page, path)
    page.screenshot(path=str(artifacts / "upload-preview.png"), full_page=True)
    kinds = page.locator("#kinds")
    expected = {"accepted": [2, 3], "rejected": [4, 5], "warning": [3]}
    for kind, rows in expected.items():
        link = kinds.locator(f"[data-kind={kind}]")
        assert link.locator("strong").inner_text() == str(len(rows))
        link.click()
        page.wait_for_load_state()
        assert rows_listed(page) == rows, kind
    page.get_by_role("link", name="Back to the preview").click()
    page.wait_for_load_state()
    page.locator("#confirm").click()
    page.wait_for_load_state()
    assert status(page) == "done"
    # After the save, each count opens exactly those records.
    for kind, rows in expected.items():
        page.locator(f"#kinds [data-kind={kind}]").click()
        page.wait_for_load_state()
        shown = page.locator("#records tbody tr").count()
        assert shown == len(rows), kind
        page.go_back()
        page.wait_for_load_state()

    # The same file again has nothing to save: it says so and ends there.
    upload_file(page, path)
    assert status(page) == "nothing"
    assert page.locator("#nothing-to-save").is_visible() and page.locator("#confirm").count() == 0

    # A file waiting for confirmation can be discarded (asked first), and is recorded so.
    other = csv_file(tmp_path, "mistake.csv", [csv_row(activity, "234567", "Omar", "Haddad", 2,
                                                       29, credit="PS")])  # fmt: skip
    upload_file(page, other)
    page.locator("#discard").click()
    page.locator("#discard-dialog").get_by_role("button", name="Discard").click()
    page.wait_for_load_state()
    assert status(page) == "discarded"
    assert not Completion.objects.filter(learner_id="234567", credit_type__code="PS").exists()
    assert PortalEvent.objects.filter(action="upload.discard", actor=editor_a).exists()


def test_an_error_report_uploaded_again_unchanged_gives_the_same_errors(
    page, provider_a, editor_a, roster, tmp_path
):
    activity = make_activity(provider_a, editor_a, title="Hypertension Update")
    log_in(page, "editor-a")
    path = csv_file(tmp_path, "formulas.csv", [
        csv_row(activity, "123456", "=1+1", "Smith", 7, 14),
        csv_row(activity, "234567", "Omar", "Haddad", 2, 29, points="-1"),
    ])  # fmt: skip
    upload_file(page, path)
    first = issue_rows(page)
    assert [row[1] for row in first] == ["First Name", "MOC Points"]
    report = download(page, page.locator("#error-report"), tmp_path / "downloads")
    assert "'=1+1" in report.read_text(encoding="utf-8-sig")  # neutralised for Excel
    upload_file(page, report)
    assert issue_rows(page) == first


def test_keys_are_made_once_copied_and_revoked_only_when_confirmed(page, provider_a, editor_a):
    log_in(page, "editor-a")
    page.goto("/api/")
    page.get_by_label("Name").fill("Moodle test")
    page.get_by_role("button", name="Create API key").click()
    page.wait_for_load_state()
    secret = page.locator("#api-key-secret").inner_text()
    key = ApiKey.objects.get()
    assert secret.startswith(key.prefix)

    # The copy button puts the key on the clipboard.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.locator("#copy-key").click()
    # (Not wait_for_function: its polling evaluates a string, which the portal's CSP
    # forbids — it failed whenever the button had not changed at the first look.)
    expect(page.locator("#copy-key")).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret

    # Reloading the page makes no second key, and the secret is not shown again.
    page.reload()
    assert ApiKey.objects.count() == 1
    assert page.locator("#secret-gone").is_visible()
    assert secret not in page.content()

    # Revoking asks first; saying no changes nothing, saying yes revokes.
    page.goto("/api/")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Revoke").click()
    page.wait_for_timeout(300)
    assert asked and "cannot be undone" in asked[0]
    key.refresh_from_db()
    assert key.revoked_at is None
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke").click()
    page.wait_for_load_state()
    key.refresh_from_db()
    assert key.revoked_at is not None

    # The revoke address opened in the browser explains itself in the portal's layout.
    response = page.goto(f"/api/keys/{key.pk}/revoke/")
    assert response.status == 405
    assert page.get_by_role("heading", name="This address is an action").is_visible()
    assert page.get_by_role("link", name="Back to the portal").is_visible()


def test_search_finds_by_the_beginning_of_a_name_and_shows_its_filters(
    page, provider_a, editor_a, artifacts
):
    activity = make_activity(provider_a, editor_a, title="Hypertension Update")
    make_completion(activity, first_name="Jürgen", last_name="Müller", learner_id="123456")
    make_completion(activity, first_name="Anna", last_name="Smith", learner_id="234567")
    gone = make_completion(activity, first_name="Jörg", last_name="Mueller-Gone",
                           learner_id="345678", status="deleted")  # fmt: skip
    log_in(page, "editor-a")
    page.get_by_role("link", name="Participants", exact=True).first.click()
    page.wait_for_load_state()
    # Deleted records are out of the way by default, and the page says so.
    assert "Deleted and superseded records hidden" in page.locator("#active-filters").inner_text()
    assert page.locator("#record-count").inner_text() == "2 records"

    # The beginning of the name, typed without the accent or the capital.
    page.get_by_role("textbox", name="Last name").fill("mul")
    page.get_by_role("textbox", name="Activity").fill("hypertension")
    page.get_by_role("textbox", name="Completed from").fill("2015-01-01")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    assert page.locator("#record-count").inner_text() == "1 record"
    assert "Müller" in page.locator("table").first.inner_text()
    chips = page.locator("#active-filters")
    assert "Last name: mul" in chips.inner_text() and "Activity: hypertension" in chips.inner_text()
    page.screenshot(path=str(artifacts / "search-with-filters.png"), full_page=True)

    # One click shows the deleted ones too; one click removes a filter.
    chips.get_by_role("link", name="Show them").click()
    page.wait_for_load_state()
    assert page.locator("#record-count").inner_text() == "1 record"  # "mul" ≠ "mue"
    page.get_by_role("textbox", name="Last name").fill("mu")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    assert page.locator("#record-count").inner_text() == "2 records"
    assert f"/participants/{gone.pk}/" in page.content()
    page.get_by_role("link", name="Remove the filter Last name: mu").click()
    page.wait_for_load_state()
    assert page.locator("#record-count").inner_text() == "3 records"
    assert page.get_by_role("textbox", name="Last name").input_value() == ""

    # A backwards date range says so instead of showing nothing.
    page.get_by_role("textbox", name="Completed to").fill("2014-06-01")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    assert "is before" in page.locator("#search-errors").inner_text()


SHEET = [  # a paper sign-in sheet: ABIM ID, first, last, birth month, birth day
    ("123456", "Jane", "Smith", 7, 14),
    ("234567", "Omar", "Haddad", 2, 29),
    ("345678", "Grace", "Okafor", 3, 8),
    ("456789", "Wei", "Liu", 11, 30),
    ("567890", "Ana", "Rossi", 5, 1),
]


def test_five_sign_in_sheet_records_with_the_keyboard_only(page, provider_a, editor_a, roster):
    for learner_id, first, last, month, day in SHEET[2:]:
        RosterEntry.objects.create(board=roster[0].board, learner_id=learner_id,
                                   first_name=first, last_name=last, birth_month=month,
                                   birth_day=day)  # fmt: skip
    activity = make_activity(provider_a, editor_a, title="Grand Rounds")
    log_in(page, "editor-a")
    page.goto(f"/activities/{activity.pars_id}/")
    keys = page.keyboard

    # The live check: a wrong birth date is flagged before anything is saved.
    page.locator("#id_learner_id").focus()
    keys.type("123456")
    keys.press("Tab")
    keys.press("Tab")
    keys.press("Tab")
    keys.type("07")  # the month list: "07 – July"
    keys.press("Tab")
    keys.type("15")
    check = page.locator("#learner-check")
    check.filter(has_text="birth date does not match").wait_for()
    assert "alert-danger" in check.get_attribute("class")
    page.locator("#id_birth_day").fill("")
    page.locator("#id_learner_id").fill("")
    page.locator("#id_learner_id").focus()

    for index, (learner_id, first, last, month, day) in enumerate(SHEET):
        # After "Save and add another" the cursor is already in the ABIM ID field.
        assert page.evaluate("document.activeElement.id") == "id_learner_id", index
        keys.type(learner_id)
        keys.press("Tab")
        keys.type(first)
        keys.press("Tab")
        keys.type(last)
        keys.press("Tab")
        keys.type(f"{month:02d}")
        keys.press("Tab")
        keys.type(str(day))
        keys.press("Tab")
        if index == 0:
            # The date is one tab stop, typed as on the sheet; the permission is confirmed
            # once for the whole sheet.
            assert page.evaluate("document.activeElement.id") == "id_completion_date"
            keys.type("12/18/2015")
            keys.press("Tab")
            assert page.evaluate("document.activeElement.id") == "id_credit_type"
            keys.press("Tab")  # credit type: the only one
            keys.press("Tab")  # MOC points: the registered ones
            keys.press("Tab")  # CME credits: none
            assert page.evaluate("document.activeElement.id") == "id_learner_permission"
            keys.press("Space")
        else:
            assert page.locator("#id_completion_date").input_value() == "12/18/2015"
            assert page.locator("#id_learner_permission").is_checked()
        # The roster's answer is there before saving.
        page.locator("#learner-check").filter(has_text="birth date matches").wait_for()
        page.locator("#id_birth_day").press("Enter")  # Enter: "Save and add another"
        page.wait_for_load_state()
        assert page.locator(".alert-success").first.is_visible(), page.content()

    records = Completion.objects.filter(activity=activity).order_by("pk")
    assert [r.learner_id for r in records] == [s[0] for s in SHEET]
    assert {r.status for r in records} == {"accepted"}
    assert all(r.learner_permission for r in records)
    assert {r.completion_date.isoformat() for r in records} == {"2015-12-18"}
