"""Structural rules for one participant record (pars-spec §5 step 1), as pure functions.

The model's clean() and the intake pipeline both call `completion_errors()` with objects
they already loaded, so the rules exist once and the pipeline stays set-based.
"""

import datetime as dt
import functools
import re
from decimal import Decimal

from django.core.exceptions import ValidationError

from activities.validators import (
    BOARD_ID_INVALID,
    DATE_BEFORE_2014,
    FIRST_DAY,
    credit_id_problem,
    text_problem,
    validate_birth_month_day,
    validate_cme_credits,
    validate_moc_points,
    validate_points_within,
)

NOT_REGISTERED = "Activity {activity} is not registered for {board} MOC."
CREDIT_TYPE_NOT_OFFERED = (
    "Activity {activity} is not registered for the credit type {credit_type} "
    "(registered: {offered})."
)
COMPLETION_IN_FUTURE = "Completion date {date} is in the future."
COMPLETION_BEFORE_START = "Completion date {date} is before the activity started on {start}."
PERMISSION_MISSING = "The learner's permission to share the data with the board is required."
NAME_REQUIRED = "{field} is required."
NAME_FORMULA = "{field} starts with {first!r}, which a spreadsheet reads as a formula."
NAME_NO_LETTER = "{field} has no letter; write the name."
FORMULA_STARTS = ("=", "+", "-", "@")
NAME_TOO_LONG = "{field} is {length} characters long; at most 100 are allowed."
BOARD_ID_TOO_LONG = "The board ID is {length} characters long; at most 20 are allowed."


def fmt_date(value: dt.date) -> str:
    return f"{value.month:02d}/{value.day:02d}/{value.year:04d}"  # strftime drops year 1's zeros


@functools.lru_cache(maxsize=64)
def _pattern(pattern: str) -> re.Pattern:
    return re.compile(pattern)


@functools.lru_cache(maxsize=1024)  # a file repeats the same few values
def _points_problem(points: str, maximum: str | None) -> str:
    """What is wrong with `points` MOC points (at most `maximum`, if given); '' if nothing.
    Both as text: equal numbers written differently (10, 10.00) read differently in messages."""
    try:
        validate_moc_points(points)
        if maximum is not None:
            validate_points_within(Decimal(points), Decimal(maximum))
    except ValidationError as error:
        return error.messages[0]
    return ""


def completion_errors(
    *,
    activity,
    registration,
    offered_codes: set[str],
    board,
    learner_id: str,
    first_name: str,
    last_name: str,
    birth_month: int | None,
    birth_day: int | None,
    completion_date: dt.date | None,
    credit_type_code: str | None,
    moc_points: Decimal | None,
    learner_permission: bool,
    today: dt.date,
    cme_credits: Decimal | None = None,
    credit_id: str | None = None,
) -> dict[str, str]:
    """Return {field: message} for everything wrong with one record; empty when valid.

    `registration` is the activity's active registration for `board` (or None) and
    `offered_codes` the credit type codes it offers.
    """
    errors: dict[str, str] = {}
    if len(learner_id or "") > 20:
        errors["learner_id"] = BOARD_ID_TOO_LONG.format(length=len(learner_id))
    elif not _pattern(board.board_id_pattern).fullmatch(learner_id or ""):
        errors["learner_id"] = BOARD_ID_INVALID.format(
            board=board.code, description=board.board_id_description
        )
    if not (first_name or "").strip():
        errors["first_name"] = NAME_REQUIRED.format(field="First name")
    if not (last_name or "").strip():
        errors["last_name"] = NAME_REQUIRED.format(field="Last name")
    for field, label, value in (("first_name", "First name", first_name),
                                ("last_name", "Last name", last_name)):  # fmt: skip
        if value and (problem := text_problem(value, label)):
            errors[field] = problem
        elif value and len(value) > 100:
            errors[field] = NAME_TOO_LONG.format(field=label, length=len(value))
        elif value and value.lstrip().startswith(FORMULA_STARTS):
            # A spreadsheet would run it as a formula (and an export neutralises it with an
            # apostrophe): no name starts so.
            errors[field] = NAME_FORMULA.format(field=label, first=value.lstrip()[0])
        elif value and not value[0].isalpha() and not any(c.isalpha() for c in value):
            errors[field] = NAME_NO_LETTER.format(field=label)
    for field, error in validate_birth_month_day(birth_month, birth_day).items():
        errors[field] = error.messages[0]

    if registration is None:
        errors["activity"] = NOT_REGISTERED.format(activity=activity.pars_id, board=board.code)
    elif credit_type_code not in offered_codes:
        errors["credit_type"] = CREDIT_TYPE_NOT_OFFERED.format(
            activity=activity.pars_id,
            credit_type=credit_type_code,
            offered=", ".join(sorted(offered_codes)) or "none",
        )

    if moc_points is None:
        errors["moc_points"] = "MOC points are required."
    elif problem := _points_problem(
        str(moc_points), None if registration is None else str(registration.moc_points)
    ):
        errors["moc_points"] = problem

    if completion_date is None:
        errors["completion_date"] = "Completion date is required."
    elif completion_date < FIRST_DAY:
        errors["completion_date"] = DATE_BEFORE_2014.format(
            field="Completion date", date=fmt_date(completion_date)
        )
    elif completion_date > today:
        errors["completion_date"] = COMPLETION_IN_FUTURE.format(date=fmt_date(completion_date))
    elif completion_date < activity.start_date:
        errors["completion_date"] = COMPLETION_BEFORE_START.format(
            date=fmt_date(completion_date), start=fmt_date(activity.start_date)
        )

    if not learner_permission:
        errors["learner_permission"] = PERMISSION_MISSING
    if cme_credits is not None:
        try:
            validate_cme_credits(cme_credits)
        except ValidationError as error:
            errors["cme_credits"] = error.messages[0]
    if credit_id and (
        problem := text_problem(credit_id, "The credit ID") or credit_id_problem(credit_id)
    ):
        errors["credit_id"] = problem
    return errors


CORRECTED_RECORD_GONE = "Record {id} can no longer be corrected: it is {status}."


def correction_refused(record_id: int, status: str | None) -> str:
    """Why a record cannot be corrected ('' when it can): a deleted (or missing) record
    has nothing left to correct. The web form's page and every channel's pipeline ask this."""
    if status is None or status == "deleted":
        return CORRECTED_RECORD_GONE.format(id=record_id, status=status or "gone")
    return ""
