"""Value readers (pars-spec §8.4), written once for every format, the roster file and the
admin's imports: each returns the normalized value or raises ValueError with a message for
the user. And the guard that keeps a spreadsheet from reading a value as a formula.
"""

import datetime as dt
import functools
import re
from decimal import Decimal, InvalidOperation

DATE_INVALID = "{value!r} is not a date; use MM/DD/YYYY or YYYY-MM-DD."
DATE_AS_DAY_NUMBER = (
    "{value!r} is not a date; it looks like the day number Excel keeps for a date (here "
    "{date:%m/%d/%Y}) in a cell not formatted as one. Format the column as a date "
    "(MM/DD/YYYY), or type the date, and save the file again."
)
NUMBER_INVALID = "{value!r} is not a number; use a dot as the decimal separator (10.5)."
MONTH_INVALID = "{value!r} is not a month; use 1 to 12."
DAY_INVALID = "{value!r} is not a day of the month; use 1 to 31."
REQUIRED = "This value is required."

_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:T.*)?$")
_MONTH_DAY = re.compile(r"^(?:\d{4}-|--)?(\d{1,2})[-/](\d{1,2})$")
# Excel's day numbers for 1982-02-18 to 2099-12-31 (day 1 is 1900-01-01, counted from
# 1899-12-30 for its 1900 leap-year bug): only ever named in a message, never read as a date.
_EXCEL_DAY_NUMBER = re.compile(r"^([3-7]\d{4})(?:\.0+)?$")
_EXCEL_DAY_ZERO = dt.date(1899, 12, 30)


# Characters XML 1.0 (and so every learner report, and XLSX) cannot hold: C0 controls but
# tab and line breaks, lone surrogates, U+FFFE and U+FFFF.
XML_UNSAFE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
CHARACTER_NOT_ALLOWED = "contains the character U+{code:04X}, which a learner report cannot hold"


def unsafe_character(text: str) -> str:
    """'' when `text` can be written to XML and XLSX, else what is wrong with it."""
    found = XML_UNSAFE.search(text)
    return CHARACTER_NOT_ALLOWED.format(code=ord(found.group())) if found else ""


# The apostrophe the portal (and Excel) puts before a value that starts like a formula is
# a "text" marker, not part of the value: read "'=1+1" as "=1+1" and "'-1" as "-1", so an
# error report uploaded again unchanged gives the same errors.
_TEXT_MARKER = re.compile(r"^'(?=[=+\-@\t\r])")


def clean_text(value) -> str:
    if type(value) is str:
        value = value.strip()
        return _TEXT_MARKER.sub("", value, count=1) if value[:1] == "'" else value
    if value is None:
        return ""
    return str(value).strip()


def cell_text(value) -> str:
    """A spreadsheet cell as text the readers accept again (for error reports)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.strftime("%m/%d/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _integral_text(value) -> str:
    """Excel number cells come as 1234 or 1234.0: keep the digits."""
    if type(value) is str:
        return value.strip()
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
    return _read_date_text(clean_text(value))


@functools.lru_cache(maxsize=4096)  # a file repeats the same few dates
def _read_date_text(text: str) -> dt.date:
    try:
        if match := _US_DATE.match(text):
            return dt.date(int(match.group(3)), int(match.group(1)), int(match.group(2)))
        if match := _ISO_DATE.match(text):
            return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        pass
    if (days := _EXCEL_DAY_NUMBER.match(text)) and int(days.group(1)) <= 73050:
        date = _EXCEL_DAY_ZERO + dt.timedelta(days=int(days.group(1)))
        raise ValueError(DATE_AS_DAY_NUMBER.format(value=text, date=date))
    raise ValueError(DATE_INVALID.format(value=text))


def read_decimal(value) -> Decimal:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    return _read_decimal_text(clean_text(value))


@functools.lru_cache(maxsize=4096)
def _read_decimal_text(text: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(NUMBER_INVALID.format(value=text)) from None
    if not number.is_finite():
        raise ValueError(NUMBER_INVALID.format(value=text))
    return number


# --- Spreadsheet formulas ----------------------------------------------------------------
# A value that starts like a formula is written with a leading apostrophe, so a
# spreadsheet shows it as text and never evaluates it (the readers above drop it again).

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value):
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
