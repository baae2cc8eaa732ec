"""Rejection digests: one email per provider per run to its editors (with activity,
learner, reason and a link), and one to ACCME reviewers for board rejections."""

from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from participants.models import Completion
from participants.transmission import ingest_answers, transmit

from .builders import report, reports
from .conftest import api_request, make_key, make_user
from .test_intake import row, submit


def unknown(board_id) -> dict:
    """A learner the roster does not know (the web services' learner object)."""
    return {"boardId": board_id, "firstName": "X", "lastName": "Y", "birthMonth": 1,
            "birthDay": 1}  # fmt: skip


def _tsv(activity, learner_ids):
    return "\n".join(
        "\t".join(["add", activity.pars_id, "ABIM", learner_id, "Jane", "Smith", "7", "14",
                   "12/18/2015", "MK", "10", "", "Y"])
        for learner_id in learner_ids
    ).encode()  # fmt: skip


def test_an_upload_with_rejections_sends_one_digest_to_the_editors(
    client_of, editor_a, viewer_a, activity_a, roster, media_root
):
    client = client_of(editor_a)
    content = _tsv(activity_a, ["123456", "999991", "999992"])
    client.post(reverse("upload_create"), {"file": SimpleUploadedFile("u.txt", content)})
    mail.outbox.clear()
    upload = editor_a.memberships.get().provider.uploads.get()
    client.post(reverse("upload_confirm", args=[upload.pk]))
    assert len(mail.outbox) == 1  # one digest, not one per record
    message = mail.outbox[0]
    assert message.to == [editor_a.email]  # editors only, not the viewer
    assert message.subject == "PARS: 2 participant records rejected"
    assert activity_a.pars_id in message.body and "999991" in message.body
    assert "ABIM ID not found" in message.body
    record = Completion.objects.get(learner_id="999991")
    assert f"/participants/{record.pk}/" in message.body


def test_board_rejections_notify_the_provider_and_the_reviewers(
    activity_a, editor_a, reviewer, roster
):
    outcome = submit(activity_a, [row(activity_a)], editor_a).outcomes[0]
    transmit()
    mail.outbox.clear()
    ingest_answers([{"recordId": outcome.completion_id, "result": "rejected",
                     "reasonCode": "DOB", "reason": "Birth date does not match"}])  # fmt: skip
    recipients = sorted(tuple(m.to) for m in mail.outbox)
    assert recipients == [(editor_a.email,), (reviewer.email,)]
    to_reviewers = next(m for m in mail.outbox if m.to == [reviewer.email])
    assert "Provider A" in to_reviewers.body and "Rejected by ABIM" in to_reviewers.body


def test_sandbox_rejections_send_nothing(client, activity_a, editor_a, roster):
    secret = make_key(activity_a.provider, editor_a, mode="sandbox", name="t")
    body = reports(report(activity_a, unknown("999999"), credits=[("MK", 10)]))
    mail.outbox.clear()
    api_request(client, "post", "learner-reports", secret, body)
    assert Completion.objects.get().status == "rejected"
    assert mail.outbox == []


def test_an_api_run_with_rejections_sends_one_digest(client, activity_a, editor_a, roster):
    make_user("editor-a2")  # not a member: gets nothing
    secret = make_key(activity_a.provider, editor_a, name="t")
    body = reports(*(report(activity_a, unknown(board_id), credits=[("MK", 10)])
                     for board_id in ("999991", "999992")))  # fmt: skip
    mail.outbox.clear()
    api_request(client, "post", "learner-reports", secret, body)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [editor_a.email]
