"""Value rules shared by models, forms, the intake pipeline and the admin.

Messages are constants so tests assert the exact words users see.
"""

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

PROVIDER_ID_INVALID = "ACCME provider ID must be 7 digits (for example 0001234)."
ACTIVITY_ID_INVALID = "PARS activity ID must be 9 digits."
POINTS_NOT_POSITIVE = "MOC points must be more than 0."
POINTS_NOT_QUARTER = "MOC points must be a multiple of 0.25 (for example 0.25, 1.5, 10)."
POINTS_ABOVE_MAXIMUM = (
    "This activity is registered for {maximum} MOC points; {points} is more than that."
)
BOARD_ID_INVALID = "{board} ID must be {description}."
BIRTH_MONTH_INVALID = "Birth month must be a number from 1 to 12."
BIRTH_DAY_INVALID = "Birth day must be a number from 1 to {last_day} for that month."

# pars-spec §9: a credit ID is echoed back in everything the portal writes, so it must have
# the form ACCME's drafts require (`ccid:<source>:<id>`, at most 300 characters).
CREDIT_ID_RE = re.compile(r"ccid:[^:]+:[^:]+")
CREDIT_ID_MAX = 300
CREDIT_ID_INVALID = (
    "The credit ID must have the form ccid:<your system>:<your ID> (for example "
    "ccid:mylms:42): two colons, nothing empty between them; {value!r} does not."
)

# Characters XML 1.0 (every learner report) and XLSX cannot hold: C0 controls but tab and
# line breaks, lone surrogates, U+FFFE and U+FFFF. One such character in one record would
# stop every transmission and export that includes it.
UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# In names, titles and IDs also every other control character, bidirectional overrides and
# isolates, and zero-width characters: they only hide what a value really says.
HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069"
                    "\ufeff\ud800-\udfff\ufffe\uffff]")  # fmt: skip
CHARACTER_INVALID = (
    "{field} contains the character U+{code:04X}, which cannot be written to a learner "
    "report or a spreadsheet; retype it."
)
CHARACTER_HIDDEN = "{field} contains the invisible character U+{code:04X}; retype it."


def text_problem(value: str, field: str, *, plain: bool = True) -> str:
    """'' when `value` can go into every file the portal writes, else the message. `plain`
    (names, titles, IDs) also refuses control, bidirectional and zero-width characters;
    otherwise (reasons, notes) only what XML and XLSX cannot hold."""
    found = (HIDDEN if plain else UNWRITABLE).search(value or "")
    if not found:
        return ""
    code = ord(found.group())
    template = CHARACTER_INVALID if UNWRITABLE.match(found.group()) else CHARACTER_HIDDEN
    return template.format(field=field, code=code)


def validate_plain_text(value: str) -> None:
    """Model field validator for names, titles and codes that reach exports."""
    if problem := text_problem(value, "This text"):
        raise ValidationError(problem, code="character")


def writable(value: str) -> str:
    """`value` with what XML and XLSX cannot hold replaced by U+FFFD (for text the portal
    did not check itself, e.g. a board's answer, and for old data in exports)."""
    return UNWRITABLE.sub("\ufffd", value) if isinstance(value, str) else value


AMOUNT_TOO_LARGE = "{field} must be at most 9999.99."
CME_CREDITS_INVALID = "CME credits must be 0 or more, with at most 2 decimals."
MAX_AMOUNT = Decimal("9999.99")  # the columns hold 6 digits, 2 of them decimals

PROVIDER_ID_RE = re.compile(r"^\d{7}$")
ACTIVITY_ID_RE = re.compile(r"^\d{9}$")
QUARTER = Decimal("0.25")
# Longest day per month, leap years allowed (the birth year is never collected).
DAYS_IN_MONTH = {
    1: 31,
    2: 29,
    3: 31,
    4: 30,
    5: 31,
    6: 30,
    7: 31,
    8: 31,
    9: 30,
    10: 31,
    11: 30,
    12: 31,
}


def credit_id_problem(value: str) -> str:
    """'' when `value` is a credit ID of the drafts' form, else the message for the user."""
    if len(value) > CREDIT_ID_MAX:
        return f"The credit ID is {len(value)} characters long; at most 300 are allowed."
    if not CREDIT_ID_RE.fullmatch(value):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return CREDIT_ID_INVALID.format(value=shown)
    return ""


FIRST_DAY = dt.date(2014, 1, 1)  # ABIM MOC reporting through PARS covers 2014 onwards
DATE_BEFORE_2014 = "{field} {date} is before 2014; ABIM MOC through PARS starts in 2014."


def validate_from_2014(value) -> None:
    if value is not None and value < FIRST_DAY:
        raise ValidationError(
            DATE_BEFORE_2014.format(field="The date", date=value.strftime("%m/%d/%Y")),
            code="before_2014",
        )


def validate_provider_id(value: str) -> None:
    if not PROVIDER_ID_RE.match(value or ""):
        raise ValidationError(PROVIDER_ID_INVALID, code="provider_id")


def validate_activity_id(value: str) -> None:
    if not ACTIVITY_ID_RE.match(value or ""):
        raise ValidationError(ACTIVITY_ID_INVALID, code="activity_id")


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else str(value)


def validate_moc_points(value) -> None:
    try:
        points = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError(POINTS_NOT_QUARTER, code="points_step") from None
    if points <= 0:
        raise ValidationError(POINTS_NOT_POSITIVE, code="points_positive")
    if points > MAX_AMOUNT:
        raise ValidationError(AMOUNT_TOO_LARGE.format(field="MOC points"), code="points_max")
    if points % QUARTER != 0:
        raise ValidationError(POINTS_NOT_QUARTER, code="points_step")


def validate_points_within(points: Decimal, maximum: Decimal) -> None:
    if points > maximum:
        raise ValidationError(
            POINTS_ABOVE_MAXIMUM.format(maximum=_fmt(maximum), points=_fmt(points)),
            code="points_maximum",
        )


def validate_birth_month_day(month: int | None, day: int | None) -> dict[str, ValidationError]:
    """Return field errors (empty when the month/day pair can be a birthday)."""
    errors = {}
    if month is None or not 1 <= month <= 12:
        errors["birth_month"] = ValidationError(BIRTH_MONTH_INVALID, code="birth_month")
    last_day = DAYS_IN_MONTH.get(month, 31)
    if day is None or not 1 <= day <= last_day:
        errors["birth_day"] = ValidationError(
            BIRTH_DAY_INVALID.format(last_day=last_day), code="birth_day"
        )
    return errors


def validate_cme_credits(value) -> None:
    credits = Decimal(value)
    if credits > MAX_AMOUNT:
        raise ValidationError(AMOUNT_TOO_LARGE.format(field="CME credits"), code="cme_max")
    if credits < 0 or credits != credits.quantize(Decimal("0.01")):
        raise ValidationError(CME_CREDITS_INVALID, code="cme_credits")
