"""The HTTP client for a board's verification endpoint, against a real HTTP server on
loopback that these tests start: answers, hangs, 5xx and malformed answers. Records the
board cannot answer for stay `submitted`, nothing is lost, and they are verified later."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from participants.models import Completion, CompletionEvent
from participants.reverification import completions_verify_pending
from participants.verification import VERIFICATION_PENDING, HttpBoardVerifier

from .test_intake import row, submit

ROSTER = {"123456": ("Jane", "Smith", 7, 14)}


class Board:
    """A stand-in for ABIM's endpoint, driven by the test (mode: ok, hang, error, junk)."""

    def __init__(self):
        self.mode = "ok"
        self.calls = 0
        self.bodies = []
        # "hang": each call is held without an answer until the test ends (`released`);
        # `most_held` is how many calls were held at once (a client that waited for the
        # answer before trying again would never have two).
        self.released = threading.Event()
        self.held = 0
        self.most_held = 0
        self.lock = threading.Lock()
        board = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                board.calls += 1
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                board.bodies.append((self.path, self.headers["Authorization"], body))
                if board.mode == "hang":
                    with board.lock:
                        board.held += 1
                        board.most_held = max(board.most_held, board.held)
                    board.released.wait(timeout=60)
                    with board.lock:
                        board.held -= 1
                if board.mode == "error":
                    self.send_response(503)
                    self.end_headers()
                    return
                if board.mode == "junk":
                    payload = b"<html>maintenance</html>"
                else:
                    results = []
                    for record in body["records"]:
                        entry = ROSTER.get(record["boardId"])
                        if entry is None:
                            results.append({"result": "not_found"})
                        elif (record["birthMonth"], record["birthDay"]) != entry[2:]:
                            results.append({"result": "birth_date_mismatch"})
                        else:
                            results.append({"result": "match", "firstName": entry[0],
                                            "lastName": entry[1]})  # fmt: skip
                    payload = json.dumps({"results": results}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/abim"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()  # shutdown() waits up to one poll interval


@pytest.fixture
def board(settings):
    board = Board()
    settings.BOARD_VERIFIER = "participants.verification.HttpBoardVerifier"
    settings.BOARD_ENDPOINT_URL = board.url
    settings.BOARD_ENDPOINT_TOKEN = "board-secret"
    settings.BOARD_TIMEOUT_SECONDS = 0.3
    settings.BOARD_RETRIES = 2
    settings.BOARD_BACKOFF_SECONDS = 0.01
    yield board
    board.released.set()
    board.server.shutdown()


def test_the_board_answers_match_and_rejections(board, activity_a, editor_a):
    result = submit(activity_a, [row(activity_a, 1), row(activity_a, 2, learner_id="999999"),
                                 row(activity_a, 3, learner_id="123456", birth_day=15,
                                     credit_type="PS")], editor_a)  # fmt: skip
    assert [(o.status, o.reason) for o in result.outcomes] == [
        ("accepted", "Provisional verification: matches the ABIM roster"),
        ("rejected", "ABIM ID not found"),
        ("rejected", "birth date does not match"),
    ]
    path, auth, body = board.bodies[0]
    assert (path, auth) == ("/abim/verify", "Bearer board-secret")
    assert body["records"][0] == {"board": "ABIM", "boardId": "123456", "firstName": "Jane",
                                  "lastName": "Smith", "birthMonth": 7, "birthDay": 14}  # fmt: skip
    assert board.calls == 1  # one request for the whole batch


@pytest.mark.parametrize("mode", ["hang", "error", "junk"])
def test_a_board_that_hangs_fails_or_lies_leaves_records_submitted(
    board, activity_a, editor_a, mode
):
    board.mode = mode
    outcome = submit(activity_a, [row(activity_a)], editor_a).outcomes[0]
    assert (outcome.status, outcome.reason) == ("submitted", VERIFICATION_PENDING)
    record = Completion.objects.get()
    assert record.status == "submitted"
    # Retried with backoff where it may help (timeouts, 5xx), not for a wrong answer.
    assert board.calls == (1 if mode == "junk" else 3)
    if mode == "hang":  # each try gave up on its own timeout: the board never answered
        assert board.most_held == 3
    board.released.set()

    board.mode = "ok"
    counts = completions_verify_pending()
    record.refresh_from_db()
    assert record.status == "accepted"
    assert counts == {"checked": 1, "still_pending": 0, "accepted": 1}
    history = list(CompletionEvent.objects.filter(completion=record).order_by("id"))
    assert [(e.from_status, e.to_status) for e in history] == [
        ("", "submitted"),
        ("submitted", "accepted"),
    ]
    # Verifying again changes nothing more: no record is verified twice.
    assert completions_verify_pending()["checked"] == 0


def test_records_stay_pending_while_the_board_is_down(board, activity_a, editor_a):
    board.mode = "error"
    submit(activity_a, [row(activity_a)], editor_a)
    assert completions_verify_pending() == {"checked": 1, "still_pending": 1}
    assert Completion.objects.get().status == "submitted"


def test_name_differences_from_the_board_are_a_warning(board, activity_a, editor_a):
    outcome = submit(activity_a, [row(activity_a, first_name="Janet")], editor_a).outcomes[0]
    assert outcome.status == "accepted"
    assert outcome.warning == "Name differs from the ABIM roster"


def test_the_client_refuses_an_answer_of_the_wrong_length(board):
    assert HttpBoardVerifier._results(b'{"results": [{"result": "match"}]}', 2) is None
    assert HttpBoardVerifier._results(b'{"results": [{"result": "maybe"}]}', 1) is None
