"""The participant template's columns (pars-spec §8): headers, labels in messages,
and one row of values turned into a `ParticipantRow`. Shared by the delimited, XLSX and
error-report formats."""

import functools
import re

from pars_portal.lib.files import FileRefused
from pars_portal.lib.values import (
    REQUIRED,
    clean_text,
    read_date,
    read_day,
    read_decimal,
    read_month,
    read_padded_id,
)

from ..rows import ParticipantRow

#
# Every parser yields ParticipantRow objects (with `source`: the row as it was in the file,
# for the error report) and raises FileRefused when the file as a whole cannot be read.

TEMPLATE_COLUMNS = [
    # (field, header, required)
    ("action", "Action", True),
    ("activity_ref", "PARS Activity ID", True),
    ("board_code", "Board", True),
    ("learner_id", "Board ID", True),
    ("first_name", "First Name", True),
    ("last_name", "Last Name", True),
    ("birth_month", "Birth Month", True),
    ("birth_day", "Birth Day", True),
    ("completion_date", "Completion Date (MM/DD/YYYY)", True),
    ("credit_type", "Credit Type", True),
    ("moc_points", "MOC Points", True),
    ("cme_credits", "CME Credits", False),
    ("learner_permission", "Learner Permission (Y/N)", True),
    ("credit_id", "Credit ID", False),  # our extension: the idempotency key (ccid:<system>:<id>)
]
TEMPLATE_HEADERS = [header for _, header, _ in TEMPLATE_COLUMNS]
# Pipeline field names used in row errors, per column.
ERROR_FIELD = {"activity_ref": "activity", "board_code": "board"}
# What users call each field in messages and error reports.
FIELD_LABELS = {ERROR_FIELD.get(name, name): header for name, header, _ in TEMPLATE_COLUMNS}
FIELD_LABELS[""] = "Row"


# In XML learner reports, the element or attribute that holds each field.
XML_FIELD_LABELS = {
    "action": "LearnerRecordAction", "activity": "ModuleName/@moduleID",
    "board": "UniqueID/@domain", "learner_id": "UniqueID", "first_name": "GivenName",
    "last_name": "FamilyName", "birth_month": "BirthDate", "birth_day": "BirthDate",
    "completion_date": "CompletedDateTime", "status": "Status",
    "credit_type": "activityCertification", "credit_unit": "creditUnit",
    "moc_points": "numberOfCredits", "cme_credits": "CMECredits",
    "learner_permission": "LearnerPermission", "credit_id": "CreditID", "": "ActivityReport",
}  # fmt: skip


def field_label(field: str, file_format: str = "") -> str:
    labels = XML_FIELD_LABELS if file_format == "xml" else FIELD_LABELS
    return labels.get(field, field.replace("_", " ").capitalize())


WRONG_DELIMITER = (
    "This file is not tab-delimited: its first row has no tabs but contains {found}. "
    "Save it as 'Text (Tab delimited)' or upload it as a .csv file."
)
CSV_WRONG_DELIMITER = (
    "This file is not comma-separated: its first row has no commas but contains {found}. "
    "Save it as 'CSV UTF-8 (Comma delimited)'{or_tsv}."
)
HEADER_MISSING = "The header row is missing these columns: {columns}."
HEADER_AGAIN = "This row is the header row again, not a participant: remove it."
HEADER_DIFFERENT = (
    "Row {line} is a header row with other columns than the header above it (two files put "
    "together?): nothing was read. Give both parts the same columns, or upload them as two "
    "files."
)
HEADER_UNKNOWN = "The header row has columns the template does not know: {columns}."
HEADER_REQUIRED = (
    "The first row must be the header row (Action, PARS Activity ID, Board, …) for {kind} files."
)
EXTRA_VALUES = "This row has {count} values; the template has {expected} columns."
FILE_EMPTY = "The file contains no participant rows."
NOT_UTF8 = (
    "The file is not UTF-8 text. Line {line} has the byte 0x{byte:02X}{seen}, which UTF-8 does "
    "not allow. Save the file as UTF-8 (in Excel: “CSV UTF-8”, or “Unicode Text” for "
    "tab-delimited; a BOM is fine) and upload it again."
)
NOT_TEXT = (
    "The file is not UTF-8 text. Line {line} has a NUL byte, which text never holds (UTF-16 "
    "without its byte order mark, or not a text file). Save the file as UTF-8 (in Excel: "
    "“CSV UTF-8”, or “Unicode Text” for tab-delimited) and upload it again."
)
NOT_UTF16 = (
    "The file starts as UTF-16 text (“Unicode Text”) but is not UTF-16 throughout. Save it "
    "again as UTF-8 or Unicode Text and upload it again."
)
FORMULA_NOT_ALLOWED = "formula not allowed ({formula})"
PERMISSION_INVALID = "{value!r} is not Y or N."
YES = {"y", "yes", "true", "1", "x"}
NO = {"n", "no", "false", "0", ""}


class HeaderRequired(FileRefused):
    """A file that must start with the header row does not."""

    def __init__(self, kind: str):
        super().__init__(HEADER_REQUIRED.format(kind=kind))


def header_key(value) -> str:
    return re.sub(r"[^a-z0-9]", "", clean_text(value).lower().lstrip("\ufeff"))


_HEADER_KEYS = {header_key(header.split("(")[0]): name for name, header, _ in TEMPLATE_COLUMNS}


def _column_key(header) -> str:
    """A header without its parenthesised note: "Completion Date (MM/DD/YYYY)" → completiondate."""
    return header_key(clean_text(header).split("(")[0])


def _column_for(header) -> str | None:
    key = _column_key(header)
    return _HEADER_KEYS.get(key)


def _looks_like_header(cells) -> bool:
    known = [c for c in cells if _column_for(c)]
    return len(known) >= 3


# The error report and the export add these; both can be uploaded again as they are.
REPORT_COLUMNS = {"row", "field", "reason", "recordid", "status", "statusreason", "warning",
                  "entered", "channel", "late"}  # fmt: skip


def map_header(cells, *, kind: str) -> list[str | None]:
    columns = [_column_for(c) if clean_text(c) else None for c in cells]
    unknown = [
        clean_text(c)
        for c, col in zip(cells, columns, strict=True)
        # The portal's own report columns, e.g. "Entered (America/Chicago)", are ignored.
        if clean_text(c) and not col and _column_key(c) not in REPORT_COLUMNS
    ]
    if unknown:
        raise FileRefused(HEADER_UNKNOWN.format(columns=", ".join(unknown)))
    missing = [h for name, h, required in TEMPLATE_COLUMNS if required and name not in columns]
    if missing:
        raise FileRefused(HEADER_MISSING.format(columns=", ".join(missing)))
    return columns


def read_permission(value) -> bool:
    text = clean_text(value).lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValueError(PERMISSION_INVALID.format(value=clean_text(value)))


class Formula(str):
    """An Excel cell that holds a formula (refused per row, never evaluated)."""


def _read(values, errors, column, reader, required=True):
    """One value of a row read by `reader` (None: its text, trimmed); a problem goes into
    `errors` under the column's field name and gives None."""
    raw = values.get(column)
    problem = None
    if type(raw) is str:  # text files: the common case, kept cheap
        raw = raw.strip()
        if raw[:1] == "'":
            raw = clean_text(raw)  # the text marker before a value that starts like a formula
        if not raw:
            problem = REQUIRED if required else ""
        elif reader is None:
            return raw
    elif isinstance(raw, Formula):
        problem = FORMULA_NOT_ALLOWED.format(formula=raw)
    elif raw is None or (isinstance(raw, str) and not raw.strip()):
        problem = REQUIRED if required else ""
    if problem is None:
        try:
            return clean_text(raw) if reader is None else reader(raw)
        except ValueError as error:
            problem = str(error)
    if problem:
        errors[ERROR_FIELD.get(column, column)] = problem
    return None


@functools.cache
def _padded(length: int | None):
    """The reader of an ID `length` digits long (leading zeros a spreadsheet ate)."""
    return functools.partial(read_padded_id, length=length)


def row_from_values(row_number: int, values: dict, source, id_lengths: dict[str, int]):
    """Build a ParticipantRow from {column: raw value}, reading each value by §8.4.
    (Plain module functions, no closure per row: 100,000 rows a file.)"""
    row = ParticipantRow(row_number=row_number, source=source)
    errors = row.errors
    action = (_read(values, errors, "action", None, False) or "add").lower()
    add = action == "add"
    row.action = action
    row.board_code = board = (_read(values, errors, "board_code", None, False) or "ABIM").upper()
    row.activity_ref = _read(values, errors, "activity_ref", _padded(9)) or ""
    row.learner_id = _read(values, errors, "learner_id", _padded(id_lengths.get(board))) or ""
    row.first_name = _read(values, errors, "first_name", None, add) or ""
    row.last_name = _read(values, errors, "last_name", None, add) or ""
    row.birth_month = _read(values, errors, "birth_month", read_month, add)
    row.birth_day = _read(values, errors, "birth_day", read_day, add)
    row.completion_date = _read(values, errors, "completion_date", read_date)
    row.credit_type = _read(values, errors, "credit_type", None) or ""
    row.moc_points = _read(values, errors, "moc_points", read_decimal, add)
    row.cme_credits = _read(values, errors, "cme_credits", read_decimal, False)
    permission = _read(values, errors, "learner_permission", read_permission, False)
    row.learner_permission = bool(permission) or action == "delete"
    if permission is None and add and "learner_permission" not in errors:
        row.learner_permission = False
    row.credit_id = _read(values, errors, "credit_id", None, False) or None
    return row
