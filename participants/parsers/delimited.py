"""Tab-delimited and comma-separated participant files (pars-spec §8.2, §8.3)."""

import codecs
import contextlib
import csv
import functools
import io
import itertools
import re
from collections.abc import Iterator

from pars_portal.lib.files import FileRefused
from pars_portal.lib.values import clean_text

from .columns import (
    CSV_WRONG_DELIMITER,
    EXTRA_VALUES,
    FILE_EMPTY,
    HEADER_AGAIN,
    HEADER_DIFFERENT,
    NOT_TEXT,
    NOT_UTF8,
    NOT_UTF16,
    TEMPLATE_COLUMNS,
    WRONG_DELIMITER,
    HeaderRequired,
    _looks_like_header,
    map_header,
    row_from_values,
)

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
                raise HeaderRequired(kind)
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
        if row.errors and _looks_like_header(cells):  # two files put together, say
            _header_again(cells, columns, kind=kind, line=line_number)
            row.errors = {"__all__": HEADER_AGAIN}
        produced += 1
        yield row
    if not produced:
        raise FileRefused(FILE_EMPTY)


def _header_again(cells, columns, *, kind, line):
    """A header row further down must name the columns the rows above had, in their
    order: else the rows below it would be read under the wrong columns."""
    try:
        same = _named(map_header(cells, kind=kind)) == _named(columns)
    except FileRefused:
        same = False
    if not same:
        raise FileRefused(HEADER_DIFFERENT.format(line=line))


def _named(columns) -> list:
    columns = list(columns)
    while columns and columns[-1] is None:  # trailing empty header cells
        columns.pop()
    return columns


def _text_lines(stream):
    """Decode UTF-8 (BOM allowed) line by line, with a file-level error naming the first
    line that is not; or UTF-16 with its BOM (Excel's "Unicode Text": unambiguous)."""
    start = stream.tell()
    utf16 = stream.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    stream.seek(start)
    wrapper = io.TextIOWrapper(stream, encoding="utf-16" if utf16 else "utf-8-sig", newline="")
    try:
        for number, line in enumerate(wrapper, start=1):
            if "\x00" in line:  # never in text: UTF-16 without its BOM, or not text at all
                raise FileRefused(NOT_TEXT.format(line=number))
            yield line
    except UnicodeDecodeError:
        if utf16:
            raise FileRefused(NOT_UTF16) from None
        raise FileRefused(_not_utf8(stream, start)) from None
    finally:
        with contextlib.suppress(ValueError):
            wrapper.detach()  # leave the upload's file open for its owner


def _not_utf8(stream, start) -> str:
    """Where the first byte that is not UTF-8 is, read again from the start (only when
    there is one), as the refusal says it."""
    stream.seek(start)
    line, pending = 1, b""
    for chunk in iter(functools.partial(stream.read, 1 << 16), b""):
        data = pending + chunk
        try:
            _, consumed = codecs.utf_8_decode(data, "strict", False)
        except UnicodeDecodeError as error:
            line += data.count(b"\n", 0, error.start)
            byte = data[error.start]
            break
        line += data.count(b"\n", 0, consumed)
        pending = data[consumed:]
    else:
        byte = pending[0] if pending else 0  # a character cut off at the end
    seen = bytes([byte]).decode("cp1252", "replace")
    seen = f" (“{seen}” in Windows-1252)" if seen.isprintable() and seen != "\ufffd" else ""
    return NOT_UTF8.format(line=line, byte=byte, seen=seen)


def _from_the_first_line(stream) -> tuple[str, Iterator[str], int]:
    """The file's first line that holds something, every line from it on, and how many
    lines came before it: blank ones, and Excel's "sep=," line (which names the separator
    for Excel and is not a row; the separator is checked on the row after it)."""
    lines = _text_lines(stream)
    for skipped, line in enumerate(lines):
        if line.strip() and not _SEPARATOR_LINE.match(line.strip()):
            return line, itertools.chain([line], lines), skipped
    raise FileRefused(FILE_EMPTY)


_SEPARATOR_LINE = re.compile(r'"?sep=.?"?\s*$', re.IGNORECASE)


class _Unwrapped:
    """Tab-delimited rows with each value that is wrapped in double quotes unwrapped, a
    doubled quote inside it being one quote, as spreadsheet programs write a value that
    holds a quote, and some tools every value (`"Jane"` is Jane). Any other quote is part
    of its value, and no value spans lines."""

    def __init__(self, reader):
        self.reader = reader

    @property
    def line_num(self) -> int:
        return self.reader.line_num

    def __iter__(self):
        for cells in self.reader:
            if '"' in "".join(cells):
                cells = [_unwrapped(cell) for cell in cells]
            yield cells


def _unwrapped(cell: str) -> str:
    value = cell.strip()
    inside = value[1:-1]
    if len(value) >= 2 and value[0] == value[-1] == '"' and '"' not in inside.replace('""', ""):
        return inside.replace('""', '"')
    return cell


def parse_tsv(stream, *, id_lengths, meta) -> Iterator:
    """The tab-delimited template (§8.2): optional header (detected), CRLF, BOM, blank
    lines, trailing empty columns, values wrapped in quotes."""
    first, lines, skipped = _from_the_first_line(stream)
    if "\t" not in first:
        found = next((f"'{d}'" for d in (",", ";", "|") if d in first), "no delimiter at all")
        raise FileRefused(WRONG_DELIMITER.format(found=found))
    # The template has no quoting: a `"` is part of a value, never a quote (a stray one must
    # not swallow the rows after it), unless it wraps the whole value (_Unwrapped).
    reader = _Unwrapped(csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))
    yield from _delimited_rows(
        reader,
        kind="tab-delimited",
        header_required=False,
        id_lengths=id_lengths,
        meta=meta,
        first_line=skipped + 1,
    )


def parse_csv(stream, *, id_lengths, meta) -> Iterator:
    """The same columns as CSV, with a header row (§8.3). A "CSV" separated by something
    else (Excel's under regional settings: semicolons) is refused saying so."""
    first, lines, skipped = _from_the_first_line(stream)
    if "," not in first and (found := [d for d in ("\t", ";", "|") if d in first]):
        name = "tabs" if found[0] == "\t" else f"'{found[0]}'"
        or_tsv = ", or upload it as a .txt file (tab-delimited)" if found[0] == "\t" else ""
        raise FileRefused(CSV_WRONG_DELIMITER.format(found=name, or_tsv=or_tsv))
    yield from _delimited_rows(
        csv.reader(lines), kind="CSV", header_required=True, id_lengths=id_lengths,
        meta=meta, first_line=skipped + 1,
    )  # fmt: skip
