"""Transmission to the board and the board's answers (pars-spec §5 step 3), in both
acceptance modes, with a real HTTP server on loopback standing in for the board."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from lxml import etree

from participants.models import Completion, CompletionEvent, FollowUp, TransmissionBatch
from participants.services.records import completion_delete
from participants.transmission import ingest_answers, simulated_board_answers, transmit

from .test_intake import row, submit

# Batch files go to each test's own folder.
pytestmark = pytest.mark.usefixtures("media_root")


def batch_records(batch):
    root = etree.fromstring(batch.file.read())
    return [
        (r.findtext(".//RecordID"), r.findtext(".//LearnerRecordAction"))
        for r in root.iter("ActivityReport")
    ]


def test_accepted_records_go_in_a_batch_once(activity_a, editor_a, roster):
    created = submit(activity_a, [row(activity_a, 1), row(activity_a, 2, learner_id="999999")],
                     editor_a).outcomes  # fmt: skip
    (batch,) = transmit()
    accepted = Completion.objects.get(pk=created[0].completion_id)
    assert batch_records(batch) == [(str(accepted.pk), "add")]  # the rejected one stays
    assert (accepted.transmitted_in, accepted.transmitted_at is not None) == (batch, True)
    assert batch.status == "file"  # no board endpoint configured
    assert transmit() == []  # nothing is sent twice


def test_sandbox_records_are_never_transmitted(activity_a, editor_a, roster):
    from participants.intake import intake_submit

    intake_submit(provider=activity_a.provider, rows=[row(activity_a)], actor=editor_a,
                  channel="api", sandbox=True)  # fmt: skip
    assert Completion.objects.get().status == "accepted"
    assert transmit() == []


def test_a_deleted_record_the_board_has_is_sent_as_a_deletion(activity_a, editor_a, roster):
    outcome = submit(activity_a, [row(activity_a)], editor_a).outcomes[0]
    transmit()
    record = Completion.objects.get(pk=outcome.completion_id)
    completion_delete(completion=record, actor=editor_a, reason="wrong learner", channel="form")
    (batch,) = transmit()
    assert batch_records(batch) == [(str(record.pk), "delete")]
    assert transmit() == []


class BoardServer:
    def __init__(self):
        self.fail = True
        self.received = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if server.fail:
                    self.send_response(503)
                    self.end_headers()
                    return
                server.received.append((self.path, body))
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def test_a_failed_push_sends_the_records_again_next_time_and_only_once(
    activity_a, editor_a, roster, settings
):
    server = BoardServer()
    settings.BOARD_ENDPOINT_URL = server.url
    settings.BOARD_TIMEOUT_SECONDS = 2
    submit(activity_a, [row(activity_a)], editor_a)
    (failed,) = transmit()
    assert failed.status == "failed" and "503" in failed.error
    assert Completion.objects.get().transmitted_at is None  # not lost: still to send
    server.fail = False
    (sent,) = transmit()
    assert sent.status == "sent"
    assert len(server.received) == 1 and server.received[0][0] == "/batches"
    assert transmit() == [] and len(server.received) == 1  # never sent twice
    server.httpd.shutdown()


def test_board_rejection_flips_the_record_and_replaying_changes_nothing(
    activity_a, editor_a, roster
):
    outcome = submit(activity_a, [row(activity_a)], editor_a).outcomes[0]
    transmit()
    answers = [{"recordId": outcome.completion_id, "result": "rejected", "reasonCode": "DOB",
                "reason": "Birth date does not match ABIM records"}]  # fmt: skip
    report = ingest_answers(answers)
    record = Completion.objects.get()
    assert (report.rejected, record.status) == (1, "rejected")
    assert record.status_reason == (
        "Rejected by ABIM: Birth date does not match ABIM records (DOB)"
    )
    event = record.events.last()
    assert (event.channel, event.from_status, event.to_status) == ("board", "accepted", "rejected")
    events = CompletionEvent.objects.count()
    again = ingest_answers(answers)
    assert (again.rejected, again.unchanged, CompletionEvent.objects.count()) == (0, 1, events)


def test_bad_answers_are_reported_and_change_nothing(activity_a, editor_a, roster):
    outcome = submit(activity_a, [row(activity_a)], editor_a).outcomes[0]
    untransmitted = submit(activity_a, [row(activity_a, credit_type="PS")], editor_a).outcomes[0]
    transmit_only = Completion.objects.filter(pk=outcome.completion_id)
    Completion.objects.exclude(pk=outcome.completion_id).update(transmitted_at=None)
    del transmit_only
    report = ingest_answers([
        {"recordId": 999999, "result": "rejected"},
        {"recordId": untransmitted.completion_id, "result": "rejected"},
        {"recordId": outcome.completion_id, "result": "maybe"},
        "garbage",
    ])  # fmt: skip
    assert len(report.problems) == 4
    assert set(Completion.objects.values_list("status", flat=True)) == {"accepted"}
    assert ingest_answers({"not": "a list"}).problems


def test_an_answer_for_a_deleted_record_is_ignored(activity_a, editor_a, roster):
    outcome = submit(activity_a, [row(activity_a)], editor_a).outcomes[0]
    transmit()
    record = Completion.objects.get()
    completion_delete(completion=record, actor=editor_a, reason="oops", channel="form")
    report = ingest_answers([{"recordId": outcome.completion_id, "result": "rejected"}])
    assert report.problems and Completion.objects.get().status == "deleted"


def test_provisional_mode_loop_with_the_simulated_board(activity_a, editor_a, roster):
    good, name_differs = submit(
        activity_a, [row(activity_a, 1), row(activity_a, 2, first_name="Janet", credit_type="PS")],
        editor_a,
    ).outcomes  # fmt: skip
    assert (good.status, name_differs.status) == ("accepted", "accepted")  # provisional
    (batch,) = transmit()
    report = ingest_answers(simulated_board_answers(batch))
    assert (report.confirmed, report.rejected) == (1, 1)
    confirmed = Completion.objects.get(pk=good.completion_id)
    assert confirmed.status == "accepted" and confirmed.board_confirmed_at is not None
    rejected = Completion.objects.get(pk=name_differs.completion_id)
    assert rejected.status == "rejected"
    assert (
        rejected.status_reason == "Rejected by ABIM: Name does not match the board's records (NAME)"
    )


def test_board_mode_accepts_only_after_the_board_confirms(activity_a, editor_a, roster, settings):
    settings.ACCEPTANCE_MODE = "board"
    outcome = submit(activity_a, [row(activity_a)], editor_a).outcomes[0]
    assert outcome.status == "submitted"
    (batch,) = transmit()
    assert Completion.objects.get().status == "submitted"
    ingest_answers(simulated_board_answers(batch))
    record = Completion.objects.get()
    assert (record.status, record.status_reason) == ("accepted", "Confirmed by ABIM")
    assert record.events.last().channel == "board"


def test_the_answer_endpoint_needs_the_board_token(client, activity_a, editor_a, roster, settings):
    settings.BOARD_ANSWER_TOKEN = "abim-token"
    outcome = submit(activity_a, [row(activity_a)], editor_a).outcomes[0]
    transmit()
    body = json.dumps([{"recordId": outcome.completion_id, "result": "accepted"}])
    url = "/api/v1/board/answers"
    assert client.post(url, body, content_type="application/json").status_code == 401
    wrong = client.post(url, body, content_type="application/json",
                        HTTP_AUTHORIZATION="Bearer nope")  # fmt: skip
    assert wrong.status_code == 401
    ok = client.post(url, body, content_type="application/json",
                     HTTP_AUTHORIZATION="Bearer abim-token")  # fmt: skip
    assert ok.status_code == 200 and ok.json()["confirmed"] == 1
    assert TransmissionBatch.objects.count() == 1


def test_answer_file_command_replayed_changes_nothing(activity_a, editor_a, roster, tmp_path):
    from django.core.management import CommandError, call_command

    outcome = submit(activity_a, [row(activity_a)], editor_a).outcomes[0]
    transmit()
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"answers": [
        {"recordId": outcome.completion_id, "result": "rejected", "reasonCode": "ID",
         "reason": "Unknown ABIM ID"}]}))  # fmt: skip
    call_command("ingest_board_answers", str(answers))
    events = CompletionEvent.objects.count()
    call_command("ingest_board_answers", str(answers))
    assert CompletionEvent.objects.count() == events
    assert Completion.objects.get().status == "rejected"
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("ingest_board_answers", str(broken))
    assert Completion.objects.get().status == "rejected"


def test_a_board_rejected_record_that_is_corrected_is_not_sent_as_a_deletion(
    activity_a, editor_a, roster
):
    outcome = submit(activity_a, [row(activity_a, first_name="Janet")], editor_a).outcomes[0]
    (batch,) = transmit()
    ingest_answers(simulated_board_answers(batch))
    assert Completion.objects.get().status == "rejected"
    submit(activity_a, [row(activity_a, corrects_id=outcome.completion_id)], editor_a)
    (second,) = transmit()
    assert (second.additions, second.deletions) == (1, 0)
    follow_up = Completion.objects.get(pk=outcome.completion_id).follow_up
    assert follow_up.reason == "Rejected by ABIM: Name does not match the board's records (NAME)"


@pytest.mark.parametrize("record_id", [[1], {"id": 1}, True, False, "1", 1.0, None], ids=repr)
def test_a_record_id_that_is_not_an_integer_is_a_problem_not_record_1(
    activity_a, editor_a, roster, record_id
):
    submit(activity_a, [row(activity_a)], editor_a)
    transmit()
    report = ingest_answers([{"recordId": record_id, "result": "rejected", "reason": "x"}])
    assert report.problems == ["Answer 1: recordId must be an integer."]
    assert Completion.objects.get().status == "accepted"


def test_a_huge_reason_is_kept_capped(activity_a, editor_a, roster):
    outcome = submit(activity_a, [row(activity_a)], editor_a).outcomes[0]
    transmit()
    reason = "x" * 1_000_000
    ingest_answers([{"recordId": outcome.completion_id, "result": "rejected", "reason": reason,
                     "reasonCode": "y" * 1000}])  # fmt: skip
    record = Completion.objects.get()
    assert len(record.status_reason) < 300
    event = record.events.last()
    assert len(json.dumps(event.detail)) < 1000


def test_an_answer_after_a_delete_is_recorded_once_not_applied(activity_a, editor_a, roster):
    outcome = submit(activity_a, [row(activity_a)], editor_a).outcomes[0]
    transmit()
    record = Completion.objects.get()
    completion_delete(completion=record, actor=editor_a, reason="oops", channel="form")
    answer = [{"recordId": outcome.completion_id, "result": "rejected", "reason": "late"}]
    ingest_answers(answer)
    ingest_answers(answer)
    record.refresh_from_db()
    assert record.status == "deleted"
    last = record.events.order_by("pk").last()
    assert (last.from_status, last.to_status, last.channel) == ("deleted", "deleted", "board")
    assert record.events.filter(channel="board").count() == 1
    assert not FollowUp.objects.exists()
