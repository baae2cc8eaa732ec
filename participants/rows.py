"""The channel contract: what every channel hands the intake pipeline (`ParticipantRow`)
and what it gets back (`RowOutcome` per row, `IntakeResult` for a submission).

Parsers, forms, serializers and the admin fill rows; `participants.intake` decides their
outcomes. Nothing here touches the database.
"""

import datetime as dt
import enum
from dataclasses import dataclass, field
from decimal import Decimal


class Action(enum.StrEnum):
    ADD = "add"
    DELETE = "delete"


LEARNER_FIELDS = ("board_code", "learner_id", "first_name", "last_name", "birth_month",
                  "birth_day")  # fmt: skip


@dataclass(slots=True, kw_only=True)
class Learner:
    """Who a record is about, as every channel, the roster and the board name a learner:
    the board, the board's ID of the learner, names, birth month and day (never the year).
    Participant rows, roster rows and verification candidates are learners."""

    board_code: str = "ABIM"
    learner_id: str = ""
    first_name: str = ""
    last_name: str = ""
    birth_month: int | None = None
    birth_day: int | None = None

    @classmethod
    def of(cls, source, **values):
        """The learner named by `source` (a row, a record, a roster entry: anything with
        these attributes), with `values` given or overridden."""
        for name in LEARNER_FIELDS:
            if name not in values:
                values[name] = getattr(source, name)
        return cls(**values)


@dataclass(slots=True, kw_only=True)
class ParticipantRow(Learner):
    """One normalized record from any channel. Parsers fill it; values they could not
    read go into `errors` as {field: message}, so every problem is reported the same way."""

    row_number: int
    action: str = Action.ADD
    activity_ref: str = ""  # PARS activity ID, or a legacy ABIM module code
    completion_date: dt.date | None = None
    credit_type: str = ""  # code (MK) or label (Medical Knowledge)
    moc_points: Decimal | None = None
    cme_credits: Decimal | None = None
    learner_permission: bool = False
    credit_id: str | None = None
    corrects_id: int | None = None  # the web form's "correct this record"
    errors: dict[str, str] = field(default_factory=dict)
    source: object = None  # the row as the file had it, for the error report


class Result(enum.StrEnum):
    CREATED = "created"
    ALREADY_REPORTED = "already_reported"
    DELETED = "deleted"
    ERROR = "error"


@dataclass(slots=True)
class RowOutcome:
    row_number: int
    result: Result
    completion_id: int | None = None
    status: str = ""
    reason: str = ""
    warning: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""
    row: ParticipantRow | None = field(default=None, repr=False)


@dataclass(slots=True)
class IntakeResult:
    outcomes: list[RowOutcome] = field(default_factory=list)

    def count(self, result: Result) -> int:
        return sum(1 for o in self.outcomes if o.result == result)

    @property
    def totals(self) -> dict[str, int]:
        return {r.value: self.count(r) for r in Result}


def normalize_name(value: str) -> str:
    return " ".join((value or "").split())
