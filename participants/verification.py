"""Provisional verification (pars-spec §5 step 2) behind a small interface.

`get_verifier()` returns the configured implementation (setting BOARD_VERIFIER). The default
compares with the local roster table; a remote board endpoint can replace it by
implementing `verify()` with the same contract.
"""

import enum
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

from .models import RosterEntry

ID_NOT_FOUND = "{board} ID not found"
BIRTH_DATE_MISMATCH = "birth date does not match"
NAME_DIFFERS = "Name differs from the {board} roster ({first} {last})"
logger = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    MATCH = "match"
    NOT_FOUND = "not_found"
    BIRTH_MISMATCH = "birth_mismatch"
    UNAVAILABLE = "unavailable"  # the board could not answer now: retry later


@dataclass(frozen=True, slots=True)
class Candidate:
    board_id: int
    board_code: str
    learner_id: str
    first_name: str
    last_name: str
    birth_month: int
    birth_day: int


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    reason: str = ""
    warning: str = ""


def same_name(a: str, b: str) -> bool:
    """Names compare ignoring case and spacing (pars-spec §8.4)."""
    return "".join(a.split()).casefold() == "".join(b.split()).casefold()


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
                board_id__in=board_ids, learner_id__in=learner_ids
            ).values_list(
                "board_id", "learner_id", "first_name", "last_name", "birth_month", "birth_day"
            )
        }
        verdicts = []
        for c in candidates:
            entry = roster.get((c.board_id, c.learner_id))
            if entry is None:
                verdicts.append(Verdict(Outcome.NOT_FOUND, ID_NOT_FOUND.format(board=c.board_code)))
                continue
            first, last, month, day = entry
            if (month, day) != (c.birth_month, c.birth_day):
                verdicts.append(Verdict(Outcome.BIRTH_MISMATCH, BIRTH_DATE_MISMATCH))
                continue
            warning = ""
            if not (same_name(first, c.first_name) and same_name(last, c.last_name)):
                warning = NAME_DIFFERS.format(board=c.board_code, first=first, last=last)
            verdicts.append(Verdict(Outcome.MATCH, warning=warning))
        return verdicts


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
                    warning = NAME_DIFFERS.format(board=candidate.board_code, first=first,
                                                  last=last)  # fmt: skip
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


def get_verifier():
    return import_string(settings.BOARD_VERIFIER)()
