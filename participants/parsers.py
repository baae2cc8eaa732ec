"""Reading files into plain rows. Parsers never touch the database.

The value readers below implement pars-spec §8.4 once for every format (and for the roster
file): each returns the normalized value or raises ValueError with a message for the user.
"""

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from activities.validators import BOARD_ID_INVALID, validate_birth_month_day

DATE_INVALID = "{value!r} is not a date; use MM/DD/YYYY or YYYY-MM-DD."
NUMBER_INVALID = "{value!r} is not a number; use a dot as the decimal separator (10.5)."
MONTH_INVALID = "{value!r} is not a month; use 1 to 12."
DAY_INVALID = "{value!r} is not a day of the month; use 1 to 31."
DIGITS_INVALID = "{value!r} must contain only digits."
REQUIRED = "This value is required."

_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:T.*)?$")
_MONTH_DAY = re.compile(r"^(?:\d{4}-|--)?(\d{1,2})[-/](\d{1,2})$")


def clean_text(value) -> str:
    if value is None:
        return ""
    return str(value).strip()


def _integral_text(value) -> str:
    """Excel number cells come as 1234 or 1234.0: keep the digits."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    return clean_text(value)


def read_padded_id(value, length: int | None) -> str:
    """An ID whose leading zeros a spreadsheet may have eaten (`1234` → `0001234`)."""
    text = _integral_text(value)
    if not text:
        raise ValueError(REQUIRED)
    if length and text.isdigit() and len(text) < length:
        text = text.zfill(length)
    return text


def read_digits_id(value, length: int) -> str:
    text = read_padded_id(value, length)
    if not text.isdigit():
        raise ValueError(DIGITS_INVALID.format(value=text))
    return text


def read_month(value) -> int:
    text = _integral_text(value)
    if not text.isdigit() or not 1 <= int(text) <= 12:
        raise ValueError(MONTH_INVALID.format(value=text))
    return int(text)


def read_day(value) -> int:
    text = _integral_text(value)
    if not text.isdigit() or not 1 <= int(text) <= 31:
        raise ValueError(DAY_INVALID.format(value=text))
    return int(text)


def read_birth_date(value) -> tuple[int, int]:
    """`YYYY-MM-DD` (year ignored), `--MM-DD` or `MM-DD` → (month, day); the year is dropped
    here so it is never stored."""
    if isinstance(value, dt.date):
        return value.month, value.day
    text = clean_text(value)
    match = _MONTH_DAY.match(text) or _ISO_DATE.match(text)
    if match and match.re is _ISO_DATE:
        return read_month(match.group(2)), read_day(match.group(3))
    if match:
        return read_month(match.group(1)), read_day(match.group(2))
    us = _US_DATE.match(text)
    if us:
        return read_month(us.group(1)), read_day(us.group(2))
    raise ValueError(DATE_INVALID.format(value=text))


def read_date(value) -> dt.date:
    """MM/DD/YYYY, M/D/YYYY or YYYY-MM-DD (a T-time is ignored); never a guess."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = clean_text(value)
    try:
        if match := _US_DATE.match(text):
            return dt.date(int(match.group(3)), int(match.group(1)), int(match.group(2)))
        if match := _ISO_DATE.match(text):
            return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        pass
    raise ValueError(DATE_INVALID.format(value=text))


def read_decimal(value) -> Decimal:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    text = clean_text(value)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(NUMBER_INVALID.format(value=text)) from None
    if not number.is_finite():
        raise ValueError(NUMBER_INVALID.format(value=text))
    return number


# --- The board roster file (CSV) -------------------------------------------------------

ROSTER_COLUMNS = {
    "board_id": ("board_id", "board id", "abim id", "abim_id", "learner_id"),
    "first_name": ("first_name", "first name", "given name"),
    "last_name": ("last_name", "last name", "family name"),
    "birth_month": ("birth_month", "birth month"),
    "birth_day": ("birth_day", "birth day"),
    "birth_date": ("birth_date", "birth date", "birthdate"),
    "board": ("board",),
}
ROSTER_HEADER_INVALID = (
    "The roster file needs a header row with board_id, first_name, last_name and either "
    "birth_month + birth_day or birth_date. Found: {found}."
)


@dataclass(frozen=True, slots=True)
class RosterRow:
    row_number: int
    board_code: str
    learner_id: str
    first_name: str
    last_name: str
    birth_month: int
    birth_day: int


@dataclass(frozen=True, slots=True)
class RowError:
    row_number: int
    field: str
    message: str

    def __str__(self):
        return f"Row {self.row_number}, {self.field}: {self.message}"


class FileRefused(ValueError):
    """The file as a whole cannot be read (one clear message, nothing processed)."""


def parse_roster_csv(
    stream: io.TextIOBase,
    *,
    default_board: str,
    id_length: int | None,
    id_pattern: str,
    id_description: str,
) -> Iterator[RosterRow | RowError]:
    reader = csv.reader(stream)
    header = next(reader, None) or []
    names = [clean_text(h).lower().lstrip("\ufeff") for h in header]
    index = {}
    for key, aliases in ROSTER_COLUMNS.items():
        for position, name in enumerate(names):
            if name in aliases:
                index[key] = position
                break
    has_birth = {"birth_month", "birth_day"} <= index.keys() or "birth_date" in index
    if not ({"board_id", "first_name", "last_name"} <= index.keys() and has_birth):
        raise FileRefused(ROSTER_HEADER_INVALID.format(found=", ".join(names) or "nothing"))

    def cell(values, key):
        position = index.get(key)
        return values[position] if position is not None and position < len(values) else ""

    for row_number, values in enumerate(reader, start=2):
        if not any(clean_text(v) for v in values):
            continue
        field = "board_id"
        try:
            learner_id = read_padded_id(cell(values, "board_id"), id_length)
            if not re.fullmatch(id_pattern, learner_id):
                raise ValueError(
                    BOARD_ID_INVALID.format(board=default_board, description=id_description)
                )
            field = "first_name"
            first_name = clean_text(cell(values, "first_name"))
            if not first_name:
                raise ValueError(REQUIRED)
            field = "last_name"
            last_name = clean_text(cell(values, "last_name"))
            if not last_name:
                raise ValueError(REQUIRED)
            if "birth_date" in index and clean_text(cell(values, "birth_date")):
                field = "birth_date"
                month, day = read_birth_date(cell(values, "birth_date"))
            else:
                field = "birth_month"
                month = read_month(cell(values, "birth_month"))
                field = "birth_day"
                day = read_day(cell(values, "birth_day"))
            if problems := validate_birth_month_day(month, day):
                field, error = next(iter(problems.items()))
                raise ValueError(error.messages[0])
        except ValueError as error:
            yield RowError(row_number, field, str(error))
            continue
        board = clean_text(cell(values, "board")).upper() or default_board
        yield RosterRow(row_number, board, learner_id, first_name, last_name, month, day)
