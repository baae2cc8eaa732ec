"""Provisional verification (pars-spec §5 step 2) behind a small interface.

`get_verifier()` returns the configured implementation (setting BOARD_VERIFIER). The default
compares with the local roster table; a remote board endpoint can replace it by
implementing `verify()` with the same contract.
"""

import datetime as dt
import enum
import hashlib
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from pars_portal.lib.db import ManyIn

from .models import Completion, RosterEntry, RosterProbeFailure
from .rows import Learner

ID_NOT_FOUND = "{board} ID not found"
BIRTH_DATE_MISMATCH = "birth date does not match"
# Says only that the name differs: the roster's spelling is the board's data, not the
# provider's (an answer must never show roster data the provider did not send).
NAME_DIFFERS = "Name differs from the {board} roster"
logger = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    MATCH = "match"
    NOT_FOUND = "not_found"
    BIRTH_MISMATCH = "birth_mismatch"
    UNAVAILABLE = "unavailable"  # the board could not answer now: retry later


@dataclass(slots=True, kw_only=True)
class Candidate(Learner):
    """A learner to check against the board's roster; `board_id` is the board's key."""

    board_id: int


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    reason: str = ""
    warning: str = ""


def same_name(a: str, b: str) -> bool:
    """Names compare ignoring case and spacing (pars-spec §8.4)."""
    return a == b or "".join(a.split()).casefold() == "".join(b.split()).casefold()


_MATCH = Verdict(Outcome.MATCH)


def _roster_verdict(entry: tuple | None, c: Candidate) -> Verdict:
    """What a roster entry (first, last, birth month, birth day), or none, says of `c`."""
    if entry is None:
        return Verdict(Outcome.NOT_FOUND, ID_NOT_FOUND.format(board=c.board_code))
    first, last, month, day = entry
    if (month, day) != (c.birth_month, c.birth_day):
        return Verdict(Outcome.BIRTH_MISMATCH, BIRTH_DATE_MISMATCH)
    if same_name(first, c.first_name) and same_name(last, c.last_name):
        return _MATCH
    return Verdict(Outcome.MATCH, warning=NAME_DIFFERS.format(board=c.board_code))


class RosterVerifier:
    """Checks candidates against the local RosterEntry table: one query per call."""

    def verify(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        if not candidates:
            return []
        board_ids = {c.board_id for c in candidates}
        learner_ids = {c.learner_id for c in candidates}
        roster = {
            (board_id, learner_id): (first, last, month, day)
            for board_id, learner_id, first, last, month, day in RosterEntry.objects.filter(
                ManyIn(F("board_id"), board_ids), ManyIn(F("learner_id"), learner_ids)
            ).values_list(
                "board_id", "learner_id", "first_name", "last_name", "birth_month", "birth_day"
            )
        }
        return [_roster_verdict(roster.get((c.board_id, c.learner_id)), c) for c in candidates]


class HttpBoardVerifier:
    """Asks a board's verification endpoint (BOARD_ENDPOINT_URL + "/verify").

    Request: POST {"records": [{"board", "boardId", "firstName", "lastName", "birthMonth",
    "birthDay"}, …]} with `Authorization: Bearer BOARD_ENDPOINT_TOKEN`. Answer: 200 with
    {"results": [{"result": "match" | "not_found" | "birth_date_mismatch",
    "firstName": …, "lastName": …}, …]} in the same order. Timeouts, connection errors and
    5xx are retried with backoff; if the board still cannot answer — or answers something
    malformed — every record gets UNAVAILABLE: it stays `submitted` and is verified again
    later (`manage.py verify_pending`). Nothing is lost and nothing is guessed.
    """

    RESULTS = {
        "match": Outcome.MATCH,
        "not_found": Outcome.NOT_FOUND,
        "birth_date_mismatch": Outcome.BIRTH_MISMATCH,
    }

    def __init__(self, *, url=None, token=None, timeout=None, retries=None, backoff=None):
        self.url = (url or settings.BOARD_ENDPOINT_URL).rstrip("/") + "/verify"
        self.token = token if token is not None else settings.BOARD_ENDPOINT_TOKEN
        self.timeout = timeout if timeout is not None else settings.BOARD_TIMEOUT_SECONDS
        self.retries = retries if retries is not None else settings.BOARD_RETRIES
        self.backoff = backoff if backoff is not None else settings.BOARD_BACKOFF_SECONDS

    def verify(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        if not candidates:
            return []
        body = json.dumps(
            {
                "records": [
                    {"board": c.board_code, "boardId": c.learner_id, "firstName": c.first_name,
                     "lastName": c.last_name, "birthMonth": c.birth_month,
                     "birthDay": c.birth_day}
                    for c in candidates
                ]
            }
        ).encode()  # fmt: skip
        answer = self._post(body)
        results = self._results(answer, len(candidates))
        if results is None:
            return [Verdict(Outcome.UNAVAILABLE)] * len(candidates)
        verdicts = []
        for candidate, item in zip(candidates, results, strict=True):
            outcome = self.RESULTS[item["result"]]
            if outcome == Outcome.NOT_FOUND:
                verdicts.append(Verdict(outcome, ID_NOT_FOUND.format(board=candidate.board_code)))
            elif outcome == Outcome.BIRTH_MISMATCH:
                verdicts.append(Verdict(outcome, BIRTH_DATE_MISMATCH))
            else:
                first, last = item.get("firstName") or "", item.get("lastName") or ""
                warning = ""
                if (
                    first
                    and last
                    and not (
                        same_name(first, candidate.first_name)
                        and same_name(last, candidate.last_name)
                    )
                ):
                    warning = NAME_DIFFERS.format(board=candidate.board_code)
                verdicts.append(Verdict(outcome, warning=warning))
        return verdicts

    def _post(self, body: bytes) -> bytes | None:
        request = urllib.request.Request(  # noqa: S310 - a configured https/http endpoint
            self.url, data=body, method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )  # fmt: skip
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    return response.read()
            except urllib.error.HTTPError as error:
                if error.code < 500:
                    logger.error("Board endpoint refused the request: HTTP %s", error.code)
                    return None
                logger.warning("Board endpoint failed: HTTP %s (try %s)", error.code, attempt + 1)
            except (urllib.error.URLError, TimeoutError, OSError) as error:
                logger.warning("Board endpoint unreachable: %s (try %s)", error, attempt + 1)
        return None

    @classmethod
    def _results(cls, answer: bytes | None, expected: int) -> list | None:
        if answer is None:
            return None
        try:
            results = json.loads(answer)["results"]
        except (ValueError, KeyError, TypeError):
            logger.error("Board endpoint answered something that is not the expected JSON")
            return None
        if (
            not isinstance(results, list)
            or len(results) != expected
            or not all(isinstance(r, dict) and r.get("result") in cls.RESULTS for r in results)
        ):
            logger.error("Board endpoint answered %s results that do not fit", type(results))
            return None
        return results


# --- The sandbox roster ---------------------------------------------------------------------
#
# Sandbox API keys are checked against these test learners, never the board's roster (like
# PARS's test site); the API page publishes them.
SANDBOX_ROSTER = [
    # (board, board ID, first name, last name, birth month, birth day)
    ("ABIM", "123456", "Jane", "Smith", 7, 14),
    ("ABIM", "234567", "Omar", "Haddad", 2, 29),
    ("ABIM", "900001", "Ana", "Alvarez", 1, 15),
    ("ABIM", "900002", "Ben", "Okafor", 3, 31),
    ("ABIM", "900003", "Chen", "Li", 5, 5),
    ("ABIM", "900004", "Dana", "Novak", 8, 22),
    ("ABIM", "900005", "Emil", "Roth", 10, 1),
    ("ABIM", "900006", "Farah", "Siddiqui", 12, 31),
]


class SandboxVerifier:
    """The same rules as RosterVerifier, against SANDBOX_ROSTER."""

    def verify(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        roster = {(board, learner): (first, last, month, day)
                  for board, learner, first, last, month, day in SANDBOX_ROSTER}  # fmt: skip
        return [_roster_verdict(roster.get((c.board_code, c.learner_id)), c) for c in candidates]


def get_verifier(*, sandbox: bool = False):
    """The configured verifier; for sandbox keys, the sandbox roster."""
    if sandbox:
        return SandboxVerifier()
    return import_string(settings.BOARD_VERIFIER)()


# --- Failed roster checks, limited per provider -----------------------------------------------
#
# Each "ID not found" or "birth date does not match" tells whoever sent the record something
# about the board's roster. RosterGuard counts each provider's distinct failed checks (board,
# ID and birthday; the same record sent again counts once) over a window, across every
# channel and previews, and once the limit is reached tells nothing more: later records are
# kept "held" (not checked) until the window frees up, then checked (verify_pending).

ROSTER_CHECK_HELD = (
    "Roster check held: your provider reached its limit of failed roster checks; the record "
    "is checked automatically when the limit frees up"
)
ROSTER_LIMIT_REACHED = (
    "Your provider reached the limit of {limit} failed roster checks (ID not found, birth "
    "date does not match) in {hours} hours. Nothing of this request was checked or stored; "
    "send it again after {when}."
)
FAILED = (Outcome.NOT_FOUND, Outcome.BIRTH_MISMATCH)


def probe_hash(candidate: Candidate) -> str:
    text = f"{candidate.board_id}:{candidate.learner_id}:{candidate.birth_month}:"
    return hashlib.sha256(f"{text}{candidate.birth_day}".encode()).hexdigest()


class RosterGuard:
    def __init__(self, provider_id: int, *, now: dt.datetime | None = None):
        self.provider_id = provider_id
        self.limit = settings.ROSTER_FAILURE_LIMIT
        self.hours = settings.ROSTER_FAILURE_WINDOW_HOURS
        self.now = now or timezone.now()
        self.since = self.now - dt.timedelta(hours=self.hours)
        self.recent = RosterProbeFailure.objects.filter(provider_id=provider_id, at__gte=self.since)
        self.used = self.recent.count()

    @property
    def exhausted(self) -> bool:
        return self.used >= self.limit

    def frees_up_at(self) -> dt.datetime:
        """When the oldest failure in the window leaves it."""
        oldest = self.recent.order_by("at").values_list("at", flat=True).first()
        return (oldest or self.now) + dt.timedelta(hours=self.hours)

    def refusal(self) -> str:
        when = timezone.localtime(self.frees_up_at()).strftime("%m/%d/%Y %H:%M %Z")
        return ROSTER_LIMIT_REACHED.format(limit=self.limit, hours=self.hours, when=when)

    def screen(self, candidates: Sequence[Candidate], verdicts: Sequence[Verdict]) -> list[bool]:
        """Which verdicts may be told, in order. Once the limit is reached nothing more is
        told: a verdict after it, a match included, would still tell something."""
        failed = {probe_hash(c) for c, v in zip(candidates, verdicts, strict=True)
                  if v.outcome in FAILED}  # fmt: skip
        known = set(self.recent.filter(probe__in=failed).values_list("probe", flat=True))
        told, new = [], {}
        for candidate, verdict in zip(candidates, verdicts, strict=True):
            if self.exhausted:
                told.append(False)
                continue
            if verdict.outcome in FAILED:
                probe = probe_hash(candidate)
                if probe not in known and probe not in new:
                    new[probe] = RosterProbeFailure(
                        provider_id=self.provider_id, probe=probe, at=self.now
                    )
                    self.used += 1
            told.append(True)
        if new:
            RosterProbeFailure.objects.bulk_create(
                new.values(), update_conflicts=True, unique_fields=["provider", "probe"],
                update_fields=["at"],
            )  # fmt: skip
        return told


# --- What a verdict makes of a record (pars-spec §5 step 2) ------------------------------

ACCEPTED_PROVISIONAL = "Provisional verification: matches the {board} roster"
VERIFIED_AWAITING_BOARD = "Matches the {board} roster; awaiting the board's validation"
VERIFICATION_PENDING = "Verification pending: the board could not be reached"


def status_after(verdict, board_code: str) -> tuple[str, str]:
    """A record's status and reason after provisional verification (pars-spec §5 step 2),
    in the configured acceptance mode."""
    if verdict.outcome == Outcome.MATCH:
        if settings.ACCEPTANCE_MODE == "board":
            return Completion.Status.SUBMITTED, VERIFIED_AWAITING_BOARD.format(board=board_code)
        return Completion.Status.ACCEPTED, ACCEPTED_PROVISIONAL.format(board=board_code)
    if verdict.outcome == Outcome.UNAVAILABLE:
        return Completion.Status.SUBMITTED, VERIFICATION_PENDING
    return Completion.Status.REJECTED, verdict.reason
