"""Provisional verification (pars-spec §5 step 2) behind a small interface.

`get_verifier()` returns the configured implementation (setting BOARD_VERIFIER). The default
compares with the local roster table; a remote board endpoint can replace it by
implementing `verify()` with the same contract.
"""

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

from .models import RosterEntry

ID_NOT_FOUND = "{board} ID not found"
BIRTH_DATE_MISMATCH = "birth date does not match"
NAME_DIFFERS = "Name differs from the {board} roster ({first} {last})"


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


def get_verifier():
    return import_string(settings.BOARD_VERIFIER)()
