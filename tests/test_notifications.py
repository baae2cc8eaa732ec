"""Rejection digests: one email per provider per run to its editors (with activity,
learner, reason and a link), and one to ACCME reviewers for board rejections."""

from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from participants.models import Completion
from participants.transmission import ingest_answers, transmit

from .conftest import make_user
from .test_intake import row, submit


def _tsv(activity, learner_ids):
    return "\n".join(
        "\t".join(["add", activity.pars_id, "ABIM", learner_id, "Jane", "Smith", "7", "14",
                   "12/18/2015", "MK", "10", "", "Y"])
        for learner_id in learner_ids
    ).encode()  # fmt: skip


def test_an_upload_with_rejections_sends_one_digest_to_the_editors(
    client_of, editor_a, viewer_a, activity_a, roster, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
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
    import json

    from participants.apikeys import api_key_create

    _, secret = api_key_create(provider=activity_a.provider, user=editor_a, name="t",
                               mode="sandbox")  # fmt: skip
    body = {"reports": [{"activityId": activity_a.pars_id, "completionDate": "2015-12-18",
                         "learner": {"boardId": "999999", "firstName": "X", "lastName": "Y",
                                     "birthMonth": 1, "birthDay": 1},
                         "credits": [{"creditType": "MK", "points": 10}]}]}  # fmt: skip
    mail.outbox.clear()
    client.post("/api/v1/learner-reports", json.dumps(body), content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {secret}")  # fmt: skip
    assert Completion.objects.get().status == "rejected"
    assert mail.outbox == []


def test_an_api_run_with_rejections_sends_one_digest(client, activity_a, editor_a, roster):
    import json

    from participants.apikeys import api_key_create

    make_user("editor-a2")  # not a member: gets nothing
    _, secret = api_key_create(provider=activity_a.provider, user=editor_a, name="t",
                               mode="production")  # fmt: skip
    reports = [{"activityId": activity_a.pars_id, "completionDate": "2015-12-18",
                "learner": {"boardId": learner, "firstName": "X", "lastName": "Y",
                            "birthMonth": 1, "birthDay": 1},
                "credits": [{"creditType": "MK", "points": 10}]}
               for learner in ("999991", "999992")]  # fmt: skip
    mail.outbox.clear()
    client.post("/api/v1/learner-reports", json.dumps({"reports": reports}),
                content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}")  # fmt: skip
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [editor_a.email]
