"""Reading files into plain rows. Parsers never touch the database.

The value readers below implement pars-spec §8.4 once for every format (and for the roster
file): each returns the normalized value or raises ValueError with a message for the user.
"""

import contextlib
import csv
import datetime as dt
import functools
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
REQUIRED = "This value is required."

_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:T.*)?$")
_MONTH_DAY = re.compile(r"^(?:\d{4}-|--)?(\d{1,2})[-/](\d{1,2})$")


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


# --- Participant files (pars-spec §8) --------------------------------------------------
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
HEADER_MISSING = "The header row is missing these columns: {columns}."
HEADER_UNKNOWN = "The header row has columns the template does not know: {columns}."
HEADER_REQUIRED = (
    "The first row must be the header row (Action, PARS Activity ID, Board, …) for {kind} files."
)
EXTRA_VALUES = "This row has {count} values; the template has {expected} columns."
FILE_EMPTY = "The file contains no participant rows."
NOT_UTF8 = "The file is not UTF-8 text. Save it as UTF-8 (a BOM is fine) and upload it again."
FORMULA_NOT_ALLOWED = "formula not allowed ({formula})"
PERMISSION_INVALID = "{value!r} is not Y or N."
YES = {"y", "yes", "true", "1", "x"}
NO = {"n", "no", "false", "0", ""}


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


def row_from_values(row_number: int, values: dict, source, id_lengths: dict[str, int]):
    """Build a ParticipantRow from {column: raw value}, reading each value by §8.4."""
    from .intake import ParticipantRow  # intake imports parsers' readers; avoid the cycle

    row = ParticipantRow(row_number=row_number, source=source)
    errors = row.errors

    def read(column, reader, *, required=True):
        raw = values.get(column)
        if type(raw) is str:  # text files: the common case, kept cheap
            raw = clean_text(raw)
            missing = not raw
        elif isinstance(raw, Formula):
            errors[ERROR_FIELD.get(column, column)] = FORMULA_NOT_ALLOWED.format(formula=raw)
            return None
        else:
            missing = raw is None or (isinstance(raw, str) and not raw.strip())
        if missing:
            if required:
                errors[ERROR_FIELD.get(column, column)] = REQUIRED
            return None
        try:
            return reader(raw)
        except ValueError as error:
            errors[ERROR_FIELD.get(column, column)] = str(error)
            return None

    row.action = (read("action", clean_text, required=False) or "add").lower()
    row.board_code = (read("board_code", clean_text, required=False) or "ABIM").upper()
    row.activity_ref = read("activity_ref", lambda v: read_padded_id(v, 9)) or ""
    length = id_lengths.get(row.board_code)
    row.learner_id = read("learner_id", lambda v: read_padded_id(v, length)) or ""
    row.first_name = read("first_name", clean_text, required=row.action == "add") or ""
    row.last_name = read("last_name", clean_text, required=row.action == "add") or ""
    row.birth_month = read("birth_month", read_month, required=row.action == "add")
    row.birth_day = read("birth_day", read_day, required=row.action == "add")
    row.completion_date = read("completion_date", read_date)
    row.credit_type = read("credit_type", clean_text) or ""
    row.moc_points = read("moc_points", read_decimal, required=row.action == "add")
    row.cme_credits = read("cme_credits", read_decimal, required=False)
    permission = read("learner_permission", read_permission, required=False)
    row.learner_permission = bool(permission) or row.action == "delete"
    if permission is None and row.action == "add" and "learner_permission" not in errors:
        row.learner_permission = False
    row.credit_id = read("credit_id", clean_text, required=False) or None
    return row


class Formula(str):
    """An Excel cell that holds a formula (refused per row, never evaluated)."""


CSV_BROKEN = "The file cannot be read as {kind} (line {line}): {detail}."


def _delimited_rows(reader, *, kind, **kwargs):
    try:
        yield from _delimited_rows_unchecked(reader, kind=kind, **kwargs)
    except csv.Error as error:
        line = getattr(reader, "line_num", "?")
        raise FileRefused(CSV_BROKEN.format(kind=kind, line=line, detail=error)) from None


def _delimited_rows_unchecked(reader, *, kind, header_required, id_lengths, meta, first_line=1):
    expected = len(TEMPLATE_COLUMNS)
    columns = None
    produced = 0
    for line_number, cells in enumerate(reader, start=first_line):
        if not any(clean_text(c) for c in cells):
            continue  # blank line, or only delimiters
        if columns is None:
            if _looks_like_header(cells):
                columns = map_header(cells, kind=kind)
                meta["header"] = [clean_text(c) for c in cells]
                continue
            if header_required:
                raise FileRefused(HEADER_REQUIRED.format(kind=kind))
            columns = [name for name, _, _ in TEMPLATE_COLUMNS]
        if len(cells) > len(columns):  # trailing empty columns: cut once (linear)
            end = len(cells)
            while end > len(columns) and not clean_text(cells[end - 1]):
                end -= 1
            cells = cells[:end]
        values = {col: cell for col, cell in zip(columns, cells, strict=False) if col}
        row = row_from_values(line_number, values, list(cells), id_lengths)
        if len(cells) > len(columns):
            row.errors["__all__"] = EXTRA_VALUES.format(count=len(cells), expected=expected)
        produced += 1
        yield row
    if not produced:
        raise FileRefused(FILE_EMPTY)


def _text_lines(stream):
    """Decode UTF-8 (BOM allowed) line by line, with a file-level error otherwise."""
    wrapper = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        yield from wrapper
    except UnicodeDecodeError:
        raise FileRefused(NOT_UTF8) from None
    finally:
        with contextlib.suppress(ValueError):
            wrapper.detach()  # leave the upload's file open for its owner


def parse_tsv(stream, *, id_lengths, meta) -> Iterator:
    """The tab-delimited template (§8.2): optional header (detected), CRLF, BOM, blank
    lines, trailing empty columns."""
    lines = _text_lines(stream)
    first = None
    skipped = 0
    for line in lines:
        if line.strip():
            first = line
            break
        skipped += 1
    if first is None:
        raise FileRefused(FILE_EMPTY)
    if "\t" not in first:
        found = next((f"'{d}'" for d in (",", ";", "|") if d in first), "no delimiter at all")
        raise FileRefused(WRONG_DELIMITER.format(found=found))

    def all_lines():
        yield first
        yield from lines

    # The template has no quoting: a `"` is part of a value, never a quote (a stray one must
    # not swallow the rows after it).
    reader = csv.reader(all_lines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    yield from _delimited_rows(
        reader,
        kind="tab-delimited",
        header_required=False,
        id_lengths=id_lengths,
        meta=meta,
        first_line=skipped + 1,
    )


def parse_csv(stream, *, id_lengths, meta) -> Iterator:
    """The same columns as CSV, with a header row (§8.3)."""
    reader = csv.reader(_text_lines(stream))
    yield from _delimited_rows(
        reader, kind="CSV", header_required=True, id_lengths=id_lengths, meta=meta
    )


XLSX_NOT_READABLE = "This is not a readable Excel (.xlsx) file."
XLSX_TOO_LARGE = "This Excel file expands to more than {limit} MB; split it into smaller files."
XLSX_MAX_EXPANDED = 1024 * 1024 * 1024
XLSX_MAX_RATIO = 200


def refuse_xlsx_bomb(file) -> None:
    """Refuse a workbook (a path or a binary file) whose parts would expand to more than
    XLSX_MAX_EXPANDED, or more than XLSX_MAX_RATIO times their size (a zip bomb), before
    anything decompresses them. zipfile never expands a part beyond its declared size."""
    import zipfile

    with zipfile.ZipFile(file) as archive:
        expanded = 0
        for info in archive.infolist():
            expanded += info.file_size
            ratio = info.file_size / max(info.compress_size, 1)
            if expanded > XLSX_MAX_EXPANDED or ratio > XLSX_MAX_RATIO:
                raise FileRefused(XLSX_TOO_LARGE.format(limit=XLSX_MAX_EXPANDED // 2**20))


def parse_xlsx(path, *, id_lengths, meta) -> Iterator:
    """The same columns in the first sheet of an .xlsx workbook, header row first. Excel
    number and date cells count; a formula cell is a row error, never evaluated."""
    from openpyxl import load_workbook

    try:
        refuse_xlsx_bomb(path)
        workbook = load_workbook(path, read_only=True, data_only=False)
    except FileRefused:
        raise
    except Exception:  # openpyxl raises many kinds for a broken or foreign file
        raise FileRefused(XLSX_NOT_READABLE) from None
    try:
        sheet = workbook.worksheets[0]

        def rows():
            for cells in sheet.iter_rows():
                yield [Formula(c.value) if c.data_type == "f" else c.value for c in cells]

        yield from _delimited_rows(
            rows(), kind="Excel", header_required=True, id_lengths=id_lengths, meta=meta
        )
    finally:
        workbook.close()


# --- XML learner report (§8.1) ---------------------------------------------------------

XML_DOCTYPE_REFUSED = (
    "The XML file contains a DOCTYPE or entity declaration, which is not allowed. Remove the "
    "<!DOCTYPE …> line and upload it again."
)
XML_MALFORMED = "The XML file is not well-formed: {detail}."
XML_WRONG_ROOT = (
    "This is not an XML learner report: the root element is <{root}>, not <ACCMELearnerReports>."
)
XML_WRONG_PROVIDER = (
    "This file reports for provider {found}, but you are uploading for provider {expected}."
)
XML_NOT_COMPLETED = "Module status is {status!r}; only 'Completed' activities can be reported."
XML_NO_CERTIFICATE = "The ActivityReport has no CreditCertificate."
XML_CREDIT_UNIT = "creditUnit is {unit!r}; MOC credit is reported in 'Point'."
XML_NO_BOARD_ID = (
    "No UniqueID of this certificate is a board ID (domain {boards}); found domain {found}."
)
XML_BIRTH_REQUIRED = (
    "Birth month and day are required for ABIM MOC (Member/PersonalInfo/BirthDate)."
)
_POINT_UNITS = ("", "point", "points", "moc point", "moc points")
_PROLOG_LIMIT = 64 * 1024


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


@functools.cache
def _any_namespace(path: tuple) -> str:
    return "/".join("{*}" + name for name in path)


def _child(element, *path):
    """The first descendant along `path` of local names (any namespace or none)."""
    if element is None:
        return None
    return element.find(_any_namespace(path))


def _children(element, name):
    return element.findall("{*}" + name) if element is not None else []


def _text(element) -> str:
    return clean_text(element.text) if element is not None else ""


def _value(element, name) -> str:
    """A CreditReceived value: an attribute or a child element."""
    if element is None:
        return ""
    for key, value in element.attrib.items():
        if _local(key) == name:
            return clean_text(value)
    return _text(_child(element, name))


class _RefuseDoctype:
    """Wraps the upload: refuses a DOCTYPE/ENTITY before lxml sees the root element."""

    def __init__(self, stream):
        self.stream = stream
        self.prolog = b""
        self.checked = False

    def read(self, size=-1):
        data = self.stream.read(size if size and size > 0 else 65536)
        if not self.checked:
            self.prolog += data
            lowered = self.prolog.upper()
            if b"<!DOCTYPE" in lowered or b"<!ENTITY" in lowered:
                raise FileRefused(XML_DOCTYPE_REFUSED)
            # Once past the prolog (the root element has started), a DOCTYPE is impossible.
            if (
                re.search(rb"<[A-Za-z_]", self.prolog)
                or len(self.prolog) > _PROLOG_LIMIT
                or not data
            ):
                self.checked = True
                self.prolog = b""
        return data


def parse_xml(stream, *, provider_id: str, id_lengths) -> Iterator:
    """Stream the XML learner report with lxml: one row per CreditCertificate. Tolerant of
    namespaces, attribute-or-element values and UniqueID placement; refuses DTDs and
    entities outright. Row numbers are the certificate's line in the file."""
    from lxml import etree

    context = etree.iterparse(
        _RefuseDoctype(stream),
        events=("end",),
        tag="{*}ActivityReport",  # only reports reach Python: the rest stays in C
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    produced = 0
    try:
        for _event, element in context:
            if not produced:
                _check_document(element.getroottree())
            for row in _report_rows(element, provider_id, id_lengths):
                produced += 1
                yield row
            # Keep memory flat: drop this report and what came before it.
            element.clear()
            parent = element.getparent()
            while parent is not None and element.getprevious() is not None:
                del parent[0]
        if not produced and context.root is not None:
            _check_document(context.root.getroottree())
    except etree.XMLSyntaxError as error:
        message = str(error.msg if hasattr(error, "msg") else error)
        if "entity" in message.lower() or "doctype" in message.lower():
            raise FileRefused(XML_DOCTYPE_REFUSED) from None
        raise FileRefused(XML_MALFORMED.format(detail=message)) from None
    if not produced:
        raise FileRefused(FILE_EMPTY)


def _check_document(tree):
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise FileRefused(XML_DOCTYPE_REFUSED)
    root = _local(tree.getroot().tag)
    if root != "ACCMELearnerReports":
        raise FileRefused(XML_WRONG_ROOT.format(root=root))


def _board_unique_id(candidates, boards):
    """The UniqueID whose domain is a board (a certificate may also carry the NPI or a state
    licence); one without a domain is taken as ABIM's. Returns (element, error)."""
    found = []
    for unique in candidates:
        domain = clean_text(unique.get("domain")).upper()
        if not domain or domain in boards:
            return unique, ""
        found.append(domain)
    if not found:
        return None, ""
    return None, XML_NO_BOARD_ID.format(boards=" or ".join(sorted(boards)), found=", ".join(found))


def _report_rows(report, provider_id, id_lengths, first_number=None):
    from lxml import etree

    from .intake import ParticipantRow

    source = etree.tostring(report)
    member = _child(report, "Member")
    activity = _child(report, "Activity")
    module = _child(activity, "Module")
    provider = _text(_child(activity, "ProviderOrganization"))
    if provider and provider.isdigit() and provider.zfill(7) != provider_id:
        raise FileRefused(XML_WRONG_PROVIDER.format(found=provider.zfill(7), expected=provider_id))
    module_name = _child(module, "ModuleName")
    activity_ref = clean_text(module_name.get("moduleID")) if module_name is not None else ""
    if activity_ref.isdigit():
        activity_ref = activity_ref.zfill(9)
    given = _text(_child(member, "Name", "GivenName"))
    family = _text(_child(member, "Name", "FamilyName"))
    birth = _text(_child(member, "PersonalInfo", "BirthDate"))
    status = _text(_child(module, "Status"))
    completed = _text(_child(module, "CompletedDateTime"))
    info = _child(report, "XtensibleInfo")
    action = (_text(_child(info, "LearnerRecordAction")) or "add").lower()
    permission_text = _text(_child(info, "LearnerPermission"))
    cme_text = _text(_child(info, "CMECredits"))  # the portal's extension (pars-spec §9)
    member_ids = _children(member, "UniqueID")
    certificates = _children(module, "CreditCertificate")
    if not certificates:
        row = ParticipantRow(row_number=first_number or report.sourceline or 0, source=source)
        row.errors["credit_type"] = XML_NO_CERTIFICATE
        yield row
        return
    for offset, certificate in enumerate(certificates):
        # JSON reports (parse_accme_json) are numbered by their place in the request.
        number = first_number + offset if first_number else certificate.sourceline or 0
        row = ParticipantRow(row_number=number, source=source)
        errors = row.errors
        row.action = action
        row.activity_ref = activity_ref
        if not activity_ref:
            errors["activity"] = "ModuleName has no moduleID (the PARS activity ID)."
        row.first_name, row.last_name = given, family
        unique, problem = _board_unique_id(
            _children(certificate, "UniqueID") or member_ids, id_lengths.keys()
        )
        if problem:
            errors["board"] = problem
        if unique is not None:
            row.board_code = clean_text(unique.get("domain")).upper() or "ABIM"
        if not problem:
            try:
                row.learner_id = read_padded_id(_text(unique), id_lengths.get(row.board_code))
            except ValueError as error:
                errors["learner_id"] = str(error)
        if action == "add" and not birth:
            errors["birth_month"] = XML_BIRTH_REQUIRED
        elif birth:
            try:
                row.birth_month, row.birth_day = read_birth_date(birth)
            except ValueError as error:
                errors["birth_month"] = str(error)
        if status and status.lower() != "completed" and action == "add":
            errors["status"] = XML_NOT_COMPLETED.format(status=status)
        try:
            row.completion_date = read_date(completed)
        except ValueError as error:
            errors["completion_date"] = str(error)
        for received in _children(certificate, "CreditReceived"):
            unit = _value(received, "creditUnit")
            if unit.lower() not in _POINT_UNITS:
                errors.setdefault("credit_unit", XML_CREDIT_UNIT.format(unit=unit))
            if not row.credit_type:
                row.credit_type = _value(received, "activityCertification")
            number_text = _value(received, "numberOfCredits")
            if row.moc_points is None and number_text:
                try:
                    row.moc_points = read_decimal(number_text)
                except ValueError as error:
                    errors["moc_points"] = str(error)
        if cme_text:
            try:
                row.cme_credits = read_decimal(cme_text)
            except ValueError as error:
                errors["cme_credits"] = str(error)
        row.credit_id = _text(_child(certificate, "CreditID")) or None
        # The ACCME learner report has no permission field: submitting the record attests
        # it, unless the file says otherwise in XtensibleInfo/LearnerPermission.
        try:
            row.learner_permission = read_permission(permission_text) if permission_text else True
        except ValueError as error:
            errors["learner_permission"] = str(error)
        yield row


# --- ACCME's learner report as JSON (pars-spec §9) --------------------------------------
#
# The JSON document of ACCME's drafts is the XML tree of §8.1 (attributes become properties,
# the text of ModuleName and UniqueID becomes `value`). Its shape is checked first, with the
# draft's member names in every message; each report is then turned into the XML element it
# stands for and read by `_report_rows`, so both forms of the learner report are read by the
# same code.

JSON_NOT_A_REPORT = (
    "This is not an ACCME learner report: the body must be a JSON object with the member "
    "ACCMELearnerReports."
)
SHAPE_REQUIRED = "is required"
SHAPE_UNKNOWN = "is not a member of ACCME's learner report"
SHAPE_EMPTY = "must hold at least one item"
SHAPE_TYPE = "must be {expected}, not {found}"
SHAPE_TOO_MANY_PROBLEMS = 100
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
               list: "a list", dict: "an object", type(None): "null"}  # fmt: skip


class ReportShapeError(FileRefused):
    """A JSON learner report whose shape is wrong. `problems` holds (report index or None,
    member path, message) for each problem found, in document order."""

    def __init__(self, problems):
        self.problems = problems
        report, path, message = problems[0]
        super().__init__(f"{path}: {message}")


@dataclass(frozen=True)
class _Object:
    members: dict  # name → (spec, required)
    closed: bool = False  # unknown members refused, where the drafts forbid them


@dataclass(frozen=True)
class _Many:
    item: object  # a list of these, or one of them alone (the drafts disagree on UniqueID)


_TEXT, _ID, _NUMBER, _FLAG, _IGNORED = "text", "id", "number", "flag", "ignored"
_EXPECTED = {_TEXT: "a string", _ID: "a string or an integer", _NUMBER: "a number",
             _FLAG: "a string or a boolean", _IGNORED: "an object"}  # fmt: skip
_UNIQUE_ID = _Object({"value": (_ID, True), "domain": (_TEXT, True)})
_CERTIFICATE = _Object({
    "UniqueID": (_Many(_UNIQUE_ID), True),
    "CreditReceived": (_Object({
        "activityCertification": (_TEXT, True), "creditUnit": (_TEXT, True),
        "numberOfCredits": (_NUMBER, True),
    }), True),
    "CreditID": (_TEXT, False),  # the drafts require it; §9 reads reports without one
})  # fmt: skip
_REPORT = _Object({
    "ReportingOrganization": (_TEXT, True),
    "Member": (_Object({
        "Name": (_Object({"GivenName": (_TEXT, True), "FamilyName": (_TEXT, True)}), True),
        "PersonalInfo": (_Object({"BirthDate": (_TEXT, False)}, closed=True), False),
        "UniqueID": (_Many(_UNIQUE_ID), False),  # §8.1: may sit under Member
    }), True),
    "Participants": (_IGNORED, False),  # REMS only (v0.5); ABIM MOC does not use it
    "Activity": (_Object({
        "ProviderOrganization": (_ID, True),
        "RegulatoryInformation": (_IGNORED, False),  # REMS only
        "Module": (_Object({
            "ModuleName": (_Object({"value": (_TEXT, True), "moduleID": (_ID, True)}), True),
            "Status": (_TEXT, True),
            "CompletedDateTime": (_TEXT, True),
            "CreditCertificate": (_Many(_CERTIFICATE), True),
        }), True),
    }), True),
    "XtensibleInfo": (_Object({
        "LearnerRecordAction": (_TEXT, True),
        "LearnerPermission": (_FLAG, False),
        "CMECredits": (_NUMBER, False),
        "ProviderID": (_ID, False),
    }), True),
}, closed=True)  # fmt: skip
_DOCUMENT = _Object({
    "ACCMELearnerReports": (_Object({
        "ActivityReports": (_Object({
            "DateTimeCreated": (_TEXT, True),
            "ActivityReport": (_Many(_REPORT), True),
        }, closed=True), True),
    }, closed=True), True),
}, closed=True)  # fmt: skip


def _scalar(value, kind):
    """The value as text for the XML reader, or None when its JSON type is wrong."""
    if kind == _TEXT:
        return value if isinstance(value, str) else None
    if isinstance(value, bool):
        return str(value).lower() if kind == _FLAG else None
    if kind == _FLAG:
        return value if isinstance(value, str) else None
    if kind == _ID and isinstance(value, int | str):
        return str(value)
    if kind == _NUMBER and isinstance(value, int | float | str):
        return str(value)
    return None


class _ShapeCheck:
    def __init__(self):
        self.problems = []
        self.report = None  # index of the report being checked

    def problem(self, path, message):
        if len(self.problems) < SHAPE_TOO_MANY_PROBLEMS:
            self.problems.append((self.report, _path_text(path), message))

    def walk(self, value, spec, path):
        """A clean copy of `value` (known members only, scalars as text), or None."""
        if isinstance(spec, _Many):
            items = value if isinstance(value, list) else [value]
            if isinstance(value, list) and not value:
                self.problem(path, SHAPE_EMPTY)
            clean = []
            for index, item in enumerate(items):
                item_path = [*path, index] if isinstance(value, list) else path
                if spec.item is _REPORT:
                    self.report = index
                clean.append(self.walk(item, spec.item, item_path))
            if spec.item is _REPORT:
                self.report = None
            return clean
        if isinstance(spec, _Object) or spec == _IGNORED:
            if not isinstance(value, dict):
                self.problem(path, SHAPE_TYPE.format(expected="an object", found=_type(value)))
                return None
            if spec == _IGNORED:
                return None
            clean = {}
            for name, (member_spec, required) in spec.members.items():
                if name in value:
                    checked = self.walk(value[name], member_spec, [*path, name])
                    if checked is not None and member_spec != _IGNORED:
                        clean[name] = checked
                elif required:
                    self.problem([*path, name], SHAPE_REQUIRED)
            if spec.closed:
                for name in value.keys() - spec.members.keys():
                    self.problem([*path, str(name)], SHAPE_UNKNOWN)
            return clean
        text = _scalar(value, spec)
        if text is None:
            self.problem(path, SHAPE_TYPE.format(expected=_EXPECTED[spec], found=_type(value)))
        elif problem := unsafe_character(text):
            self.problem(path, problem)
            return None
        return text


def _type(value) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _path_text(path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else ("/" if text else "") + part
    return text


def parse_accme_json(data, *, provider_id: str, id_lengths) -> list:
    """ACCME's learner report document (pars-spec §9; drafts v0.4 and v0.5) as rows, one per
    CreditCertificate, numbered 1, 2, … in the order of the request. Raises ReportShapeError
    naming every member the document got wrong, and FileRefused for another provider's."""
    if not isinstance(data, dict) or "ACCMELearnerReports" not in data:
        raise FileRefused(JSON_NOT_A_REPORT)
    check = _ShapeCheck()
    clean = check.walk(data, _DOCUMENT, [])
    if check.problems:
        raise ReportShapeError(check.problems)
    reports = clean["ACCMELearnerReports"]["ActivityReports"]["ActivityReport"]
    rows = []
    for report in reports:
        element = element_from_json(report)
        rows.extend(_report_rows(element, provider_id, id_lengths, first_number=len(rows) + 1))
    return rows


# Where the XML of §8.1 has an attribute; a member named "value" is the element's text.
XML_ATTRIBUTES = {
    "ModuleName": {"moduleID"},
    "UniqueID": {"domain"},
    "CreditReceived": {"activityCertification", "creditUnit", "numberOfCredits"},
}


def _xml_text(value) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def element_from_json(data: dict, name: str = "ActivityReport"):
    """The XML element a JSON learner report stands for (pars-spec §9's mapping, reversed).
    The writers use it too: a report is built once, as JSON, and written in either form."""
    from lxml import etree

    element = etree.Element(name)
    attributes = XML_ATTRIBUTES.get(name, ())
    for key, value in data.items():
        if key == "value":
            element.text = _xml_text(value)
        elif key in attributes:
            element.set(key, _xml_text(value))
        elif isinstance(value, dict):
            element.append(element_from_json(value, key))
        elif isinstance(value, list):
            element.extend(element_from_json(item, key) for item in value)
        elif value is not None:
            etree.SubElement(element, key).text = _xml_text(value)
    return element


# --- Choosing the parser ------------------------------------------------------------------

FORMAT_UNKNOWN = (
    "Upload a .txt/.tsv (tab-delimited), .csv, .xlsx or .xml file; {name!r} is none of these."
)
EXTENSIONS = {".txt": "tsv", ".tsv": "tsv", ".tab": "tsv", ".csv": "csv", ".xlsx": "xlsx",
              ".xml": "xml"}  # fmt: skip


def detect_format(file_name: str, head: bytes) -> str:
    """The format from the file's content where it is unambiguous, else its extension."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(b"PK\x03\x04"):
        return "xlsx"
    if start.startswith(b"<"):
        return "xml"
    suffix = "." + file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if suffix in EXTENSIONS and EXTENSIONS[suffix] not in ("xlsx", "xml"):
        return EXTENSIONS[suffix]
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]  # says xlsx/xml but is not: its parser refuses it clearly
    raise FileRefused(FORMAT_UNKNOWN.format(name=file_name))


def parse_file(path, file_format: str, *, provider_id: str, id_lengths, meta) -> Iterator:
    """Rows of a stored upload, streamed. Raises FileRefused for an unreadable file."""
    if file_format == "xlsx":
        yield from parse_xlsx(path, id_lengths=id_lengths, meta=meta)
        return
    with open(path, "rb") as stream:
        if file_format == "xml":
            yield from parse_xml(stream, provider_id=provider_id, id_lengths=id_lengths)
        elif file_format == "csv":
            yield from parse_csv(stream, id_lengths=id_lengths, meta=meta)
        else:
            yield from parse_tsv(stream, id_lengths=id_lengths, meta=meta)
