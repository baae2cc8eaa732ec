"""The whole ABIM loop through a real browser: a record the portal accepts provisionally is
sent to the (simulated) board, which rejects it; the provider gets the email, an ACCME
reviewer works the follow-up, the provider corrects the record and the board confirms the
corrected one.

The ORM sets up the people, the activity and the roster; transmitting a batch and feeding the
board's answers back in are back-office steps, called here the way the worker calls them.
Everything a person does happens in Chromium."""

import re

import pytest

from activities.models import Channel
from participants.models import Completion, FollowUp
from participants.transmission import ingest_answers, simulated_board_answers, transmit

from ..conftest import make_activity
from .test_login_e2e import log_in

pytestmark = pytest.mark.e2e

COMPLETED = "2015-12-18"  # a date input's value (shown as 12/18/2015)
NAME_REJECTION = "Rejected by ABIM: Name does not match the board's records (NAME)"


def open_record(page, record_id):
    page.goto(f"/participants/{record_id}/")
    page.wait_for_load_state()


def transmit_and_answer():
    """The back office: one batch to ABIM, answered by the simulated board."""
    (batch,) = transmit()
    report = ingest_answers(simulated_board_answers(batch))
    assert report.problems == []
    return batch, report


def test_board_rejection_is_followed_up_corrected_and_confirmed(
    page, browser, live_server, provider_a, editor_a, reviewer, roster, media_root,
    mailoutbox, artifacts,
):  # fmt: skip
    activity = make_activity(provider_a, editor_a, title="Hypertension Update")  # 10 points, MK
    assert editor_a.email and reviewer.email

    # 1. The editor enters Janet Smith: the roster knows 123456 as Jane Smith, born 07/14. The
    #    portal's check only warns about the name, so the record is accepted provisionally.
    log_in(page, "editor-a")
    page.goto(f"/activities/{activity.pars_id}/")
    form = page.locator("#enter")
    form.get_by_label("ABIM ID").fill("123456")
    form.get_by_label("First name").fill("Janet")
    form.get_by_label("Last name").fill("Smith")
    form.get_by_label("Birth month").select_option("7")
    form.get_by_label("Birth day").fill("14")
    form.get_by_label("Completion date").fill(COMPLETED)
    form.get_by_label("Credit type").select_option("MK")
    form.get_by_label("The learner agreed to share").check()
    form.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_load_state()
    saved = page.get_by_role("alert").filter(has_text="saved").first.inner_text()
    match = re.search(r"Record (\d+) saved: accepted", saved)
    assert match, saved
    # The warning names the roster's spelling, so the editor can see what ABIM has.
    assert "Warning: Name differs from the ABIM roster" in saved
    first_id = int(match.group(1))

    page.locator("#records").get_by_role("link", name=str(first_id), exact=True).click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/participants/{first_id}/")
    assert page.locator("#status").inner_text() == "Accepted"
    warning = page.locator(".alert-warning").filter(has_text="Name differs")
    assert "Name differs from the ABIM roster" in warning.inner_text()

    # 2. Back office: the batch goes to ABIM; the simulated board rejects the name.
    mailoutbox.clear()
    batch, report = transmit_and_answer()
    assert (batch.additions, batch.deletions) == (1, 0)
    assert (report.confirmed, report.rejected) == (0, 1)
    assert batch.file.path.startswith(str(media_root))

    to_editor = [m for m in mailoutbox if m.to == [editor_a.email]]
    to_reviewer = [m for m in mailoutbox if m.to == [reviewer.email]]
    assert len(mailoutbox) == 2, [(m.to, m.subject) for m in mailoutbox]
    assert len(to_editor) == 1 and len(to_reviewer) == 1
    editor_mail = to_editor[0]
    assert editor_mail.subject == "PARS: 1 participant record rejected"
    assert "Smith, Janet" in editor_mail.body
    assert NAME_REJECTION in editor_mail.body
    assert f"/participants/{first_id}/" in editor_mail.body
    reviewer_mail = to_reviewer[0]
    assert reviewer_mail.subject == "PARS: ABIM rejected 1 record from 1 provider"
    assert "Smith, Janet" in reviewer_mail.body
    assert NAME_REJECTION in reviewer_mail.body

    # 3. The editor reloads the record: rejected, with ABIM's reason.
    page.reload()
    page.wait_for_load_state()
    assert page.locator("#status").inner_text() == "Rejected"
    assert page.locator("#reason").inner_text() == NAME_REJECTION
    history = page.locator("#history").inner_text()
    assert "Accepted → Rejected" in history
    assert NAME_REJECTION in history

    # 4. The reviewer, in a browser of their own, works the queue.
    reviewer_context = browser.new_context(base_url=live_server.url)
    try:
        desk = reviewer_context.new_page()
        desk.set_default_timeout(10_000)
        log_in(desk, "reviewer")
        desk.get_by_role("link", name="Rejection queue").first.click()
        desk.wait_for_load_state()
        assert desk.get_by_label("Show").input_value() == "open"
        rows = desk.locator("#queue tbody tr")
        assert rows.count() == 1
        row = rows.first
        row_text = row.inner_text()
        assert "Provider A" in row_text
        assert activity.pars_id in row_text
        assert "Smith, Janet" in row_text
        assert NAME_REJECTION in row_text
        assert "Open" in row_text
        desk.screenshot(path=str(artifacts / "abim-loop-queue.png"), full_page=True)

        row.get_by_role("link", name="0 days").click()
        desk.wait_for_load_state()
        follow_up = FollowUp.objects.get(completion_id=first_id)
        assert desk.url.endswith(f"/review/{follow_up.pk}/")
        heading = desk.get_by_role("heading", level=1).inner_text()
        assert heading == f"Record {first_id}: Janet Smith · Provider A"
        assert desk.locator("#assignee").inner_text() == "nobody"

        desk.get_by_role("button", name="Assign to me").click()
        desk.wait_for_load_state()
        assert "Assigned to you." in desk.get_by_role("alert").first.inner_text()
        assert desk.locator("#assignee").inner_text() == "reviewer"

        desk.get_by_label("Method").select_option("phone")
        desk.get_by_label("Note").fill("Called the coordinator: the learner's first name is Jane.")
        desk.get_by_role("button", name="Log contact").click()
        desk.wait_for_load_state()
        assert "Contact logged." in desk.get_by_role("alert").first.inner_text()
        contacts = desk.locator("#contacts li")
        assert contacts.count() == 1
        contact = contacts.first.inner_text()
        assert "Phone" in contact
        assert "the learner's first name is Jane" in contact
        history = desk.locator("#history").inner_text()
        assert "Follow-up assigned to reviewer" in history
        assert "Provider contacted by phone on" in history
        assert "the learner's first name is Jane" in history
        assert NAME_REJECTION in history
        desk.screenshot(path=str(artifacts / "abim-loop-follow-up.png"), full_page=True)

        # 5. The editor corrects the rejected record.
        open_record(page, first_id)
        page.get_by_role("link", name="Correct", exact=True).click()
        page.wait_for_load_state()
        assert page.get_by_label("First name").input_value() == "Janet"
        page.get_by_label("First name").fill("Jane")
        page.get_by_label("The learner agreed to share").check()
        page.get_by_role("button", name="Save correction").click()
        page.wait_for_load_state()
        second_id = int(re.search(r"/participants/(\d+)/$", page.url).group(1))
        assert second_id != first_id
        assert page.locator("#status").inner_text() == "Accepted"
        assert page.locator(".alert-warning").filter(has_text="Name differs").count() == 0
        corrects = page.locator("#corrects-link")
        assert corrects.inner_text() == f"Record {first_id}"
        corrects.click()
        page.wait_for_load_state()
        assert page.url.endswith(f"/participants/{first_id}/")
        assert page.locator("#status").inner_text() == "Deleted"
        history = page.locator("#history").inner_text()
        assert "Accepted → Rejected" in history
        assert "Rejected → Deleted" in history

        # 6. Back office again: the corrected record goes to ABIM and is confirmed.
        mailoutbox.clear()
        batch, report = transmit_and_answer()
        assert batch.additions == 1
        assert (report.confirmed, report.rejected) == (1, 0)
        assert mailoutbox == []
        second = Completion.objects.get(pk=second_id)
        assert second.status == Completion.Status.ACCEPTED
        assert second.board_confirmed_at is not None
        assert second.transmitted_in_id == batch.pk
        assert (second.first_name, second.corrects_id) == ("Jane", first_id)
        assert second.events.filter(channel=Channel.BOARD, reason="Confirmed by ABIM").exists()
        first = Completion.objects.get(pk=first_id)
        assert first.status == Completion.Status.DELETED
        assert first.board_confirmed_at is None
        assert first.events.filter(
            channel=Channel.BOARD, to_status=Completion.Status.REJECTED, reason=NAME_REJECTION
        ).exists()

        # 7. The reviewer closes the follow-up; the open queue is empty.
        desk.reload()
        desk.wait_for_load_state()
        desk.get_by_label("Resolution").select_option(label="Provider resubmitted")
        desk.get_by_role("button", name="Mark resolved").click()
        desk.wait_for_load_state()
        assert desk.locator("#resolution").inner_text() == "Provider resubmitted"
        assert desk.get_by_role("button", name="Log contact").count() == 0
        assert "Follow-up resolved: Provider resubmitted" in desk.locator("#history").inner_text()
        desk.screenshot(path=str(artifacts / "abim-loop-follow-up-resolved.png"), full_page=True)

        desk.get_by_role("link", name="Rejection queue").first.click()
        desk.wait_for_load_state()
        assert desk.get_by_label("Show").input_value() == "open"
        assert desk.locator("#queue tbody").inner_text().strip() == "No rejected records here."
        desk.get_by_label("Show").select_option("resolved")
        desk.get_by_role("button", name="Filter").click()
        desk.wait_for_load_state()
        resolved_rows = desk.locator("#queue tbody tr")
        assert resolved_rows.count() == 1
        assert "Provider resubmitted" in resolved_rows.first.inner_text()
        desk.screenshot(path=str(artifacts / "abim-loop-queue-resolved.png"), full_page=True)
    finally:
        reviewer_context.close()
