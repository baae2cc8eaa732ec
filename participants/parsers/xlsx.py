"""Excel (.xlsx) participant files: the template's columns in the participants sheet (the
first whose first row is the header, else the first).

openpyxl reads the workbook around the sheet (the sheets and their order, shared strings,
which styles are dates, the date system); the sheet's cells, which are nearly all the
file, are read here with lxml, each value as openpyxl's read-only worksheet gives it
(tests/test_parsers.py compares the two). openpyxl reads a sheet in Python element by
element, and a sheet without a <dimension> twice (once to find out that it has none):
that was most of an Excel upload's check. Any cell but the plain kinds (a number that is
not a date, a shared or inline string without formatting runs) goes through openpyxl's
own cell reader. Unlike openpyxl, rows are not padded to, nor cut at, the sheet's
<dimension> (see `_ParticipantsSheet.rows`).
"""

import contextlib
import re
import zipfile
import zlib
from collections.abc import Iterator

from lxml import etree
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils.cell import column_index_from_string, get_column_letter
from openpyxl.worksheet._reader import WorkSheetParser, _cast_number

from pars_portal.lib.files import FileRefused, refuse_xlsx_bomb
from pars_portal.lib.values import clean_text

from .columns import Formula, HeaderRequired, _looks_like_header
from .delimited import _delimited_rows
from .xml import DoctypeRefused, RefuseDoctype

XLSX_NOT_READABLE = "This is not a readable Excel (.xlsx) file."
XLSX_NO_HEADER = (
    "No sheet of this workbook ({sheets}) starts with the header row (Action, PARS Activity "
    "ID, Board, …). Put it in the first row of the participants sheet and upload it again."
)
_SAVE_AGAIN = (
    "which Excel never writes: nothing was read. Open it in Excel, save it and upload it again."
)
XLSX_OUT_OF_ORDER = "This Excel file lists row {row} after row {previous}, " + _SAVE_AGAIN
XLSX_ROW_TWICE = "This Excel file lists row {row} twice, " + _SAVE_AGAIN
XLSX_CELL_TWICE = "This Excel file gives cell {cell} twice, " + _SAVE_AGAIN
_NOT_PLAIN = object()
_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_ROW, _V, _F, _IS, _T = (_NS + name for name in ("row", "v", "f", "is", "t"))
_COORDINATE = re.compile(r"([A-Z]{1,3})[1-9][0-9]*").fullmatch
_MAX_COLUMN = 16384  # XFD
_UNREADABLE = (
    etree.XMLSyntaxError, zipfile.BadZipFile, zlib.error, EOFError, ValueError, IndexError,
)  # fmt: skip


def parse_xlsx(path, *, id_lengths, meta) -> Iterator:
    """The same columns in an .xlsx workbook's participants sheet (`_ParticipantsSheet`),
    header row first. Excel number and date cells count; a formula cell is a row error,
    never evaluated."""
    try:
        refuse_xlsx_bomb(path)
        sheet = _ParticipantsSheet(path)
    except FileRefused:
        raise
    except Exception:  # openpyxl raises many kinds for a broken or foreign file
        raise FileRefused(XLSX_NOT_READABLE) from None
    meta["sheet"] = sheet.name
    try:
        yield from _delimited_rows(
            sheet.rows(), kind="Excel", header_required=True, id_lengths=id_lengths, meta=meta
        )
    except HeaderRequired:
        if len(sheet.sheets) == 1:
            raise
        shown = [f"“{name}”" for name in sheet.sheets[:5]] + ["…"] * (len(sheet.sheets) > 5)
        raise FileRefused(XLSX_NO_HEADER.format(sheets=", ".join(shown))) from None
    finally:
        sheet.close()


class _ParticipantsSheet:
    """The workbook's first worksheet whose first row is the template's header (a workbook
    may open on an instructions sheet), else its first worksheet, as openpyxl's
    `workbook.worksheets[0]` (chart sheets skipped); read row by row."""

    def __init__(self, path):
        reader = ExcelReader(path, read_only=True, data_only=False)
        self.archive = reader.archive
        try:
            reader.read_manifest()
            reader.read_strings()
            reader.read_workbook()
            apply_stylesheet(reader.archive, reader.wb)  # which styles are dates
            names = {
                rel.target: sheet.name for sheet, rel in reader.parser.find_sheets()
                if rel.target in reader.valid_files and "chartsheet" not in rel.Type
            }  # fmt: skip
            targets = list(names)
            if not targets:
                raise FileRefused(XLSX_NOT_READABLE)  # no worksheet
            book = reader.wb
            # openpyxl's own cell reader, for every cell the plain path below does not take.
            self.cells = WorkSheetParser(
                None, reader.shared_strings, data_only=False, epoch=book.epoch,
                date_formats=book._date_formats, timedelta_formats=book._timedelta_formats,
            )  # fmt: skip
            self.target = targets[0]
            if len(targets) > 1:
                self.target = next(filter(self._starts_with_the_header, targets), targets[0])
            self.sheets = [names[t] for t in targets]
            # Which sheet the rows (and their numbers) are from, when there was a choice.
            self.name = names[self.target] if len(targets) > 1 else ""
        except BaseException:
            self.archive.close()
            raise

    def _starts_with_the_header(self, target) -> bool:
        """Whether the sheet's first row that holds a value is the header (read no further);
        a row is blank here as the row reader skips it (a cell of spaces holds nothing)."""
        with contextlib.closing(self.rows(target)) as rows:
            for values in rows:
                if any(clean_text(v) for v in values):
                    return _looks_like_header(values)
        return False

    def close(self):
        self.archive.close()

    def rows(self, target=None) -> Iterator[list]:
        """Each row's values from column A to its last cell that holds one (missing cells
        are None), a formula cell as Formula; a missing row is an empty one, so that rows
        keep their numbers. Every row and cell of the sheet: openpyxl stops at the sheet's
        <dimension> and pads rows to it (a stale one dropped rows; a huge one made a 6 KB
        file pad a million rows to 16,384 cells each), and without one cuts a row at its
        last cell in the file (cells out of order were dropped). A row listed after a later
        one, or a cell given twice, refuses the file (openpyxl kept one and dropped the
        other)."""
        try:
            with self.archive.open(target or self.target) as source:
                yield from self._rows_of(source)
        except DoctypeRefused:
            raise FileRefused(XLSX_NOT_READABLE) from None  # a DOCTYPE in the sheet
        except FileRefused:
            raise  # its own reason (rows out of order), not "unreadable" (a ValueError)
        except _UNREADABLE:
            raise FileRefused(XLSX_NOT_READABLE) from None

    def _rows_of(self, source):
        counter = 1
        cells = self.cells
        cells.row_counter = cells.col_counter = 0  # each sheet from its start
        elements = etree.iterparse(RefuseDoctype(source), events=("end",), tag=_ROW,
                                   resolve_entities=False, load_dtd=False, no_network=True,
                                   huge_tree=False)  # fmt: skip
        for _event, row in elements:
            position = row.get("r")
            if position is None:
                cells.row_counter += 1
            else:
                try:
                    cells.row_counter = int(position)
                except ValueError:
                    as_float = float(position)
                    if not as_float.is_integer():
                        raise
                    cells.row_counter = int(as_float)
            cells.col_counter = 0
            found = [self._cell(element) for element in row]
            number = cells.row_counter
            row.clear()
            while row.getprevious() is not None:  # keep memory flat
                del row.getparent()[0]
            if number < counter:  # openpyxl dropped such a row without a word
                previous = counter - 1
                raise FileRefused(
                    XLSX_ROW_TWICE.format(row=number) if number == previous
                    else XLSX_OUT_OF_ORDER.format(row=number, previous=previous)
                )  # fmt: skip
            for _ in range(counter, number):
                counter += 1
                yield []
            counter += 1
            yield self._values(found, number)

    @staticmethod
    def _values(found, number) -> list:
        width = max((column for column, value in found if value is not None), default=0)
        values = [None] * width
        for column, value in found:
            if 1 <= column <= width and value is not None:
                if values[column - 1] is not None:  # openpyxl kept the last one
                    cell = f"{get_column_letter(column)}{number}"
                    raise FileRefused(XLSX_CELL_TWICE.format(cell=cell))
                values[column - 1] = value
        return values

    def _cell(self, element):
        """(column, value) of a <c> element, as openpyxl's read-only cell has them."""
        cells = self.cells
        kind = element.get("t")
        coordinate = element.get("r")
        style = element.get("s")
        if coordinate is None:
            column = cells.col_counter + 1
        elif (match := _COORDINATE(coordinate)) and (
            column := column_index_from_string(match[1])
        ) <= _MAX_COLUMN:
            pass
        else:
            column = 0  # unusual: openpyxl's reader decides (and raises what it raises)
        if column and element.find(_F) is None:
            value = _plain(element, kind, style, cells)
            if value is not _NOT_PLAIN:
                cells.col_counter = column
                return column, value
        parsed = cells.parse_cell(element)
        value = parsed["value"]
        if parsed["data_type"] == "f":  # an array formula by its text, not its object
            return parsed["column"], Formula(getattr(value, "text", value))
        return parsed["column"], value


def _plain(element, kind, style, cells):
    """The value of a cell without a formula that is a shared string, a number that is not
    a date, or an inline string without formatting runs; _NOT_PLAIN for any other."""
    if kind == "s":
        text = element.findtext(_V)
        return cells.shared_strings[int(text)] if text else None
    if kind is None or kind == "n":
        if style and cells.date_formats and int(style) in cells.date_formats:
            return _NOT_PLAIN
        text = element.findtext(_V)
        return _cast_number(text) if text else None
    if kind == "inlineStr":
        string = element.find(_IS)
        if string is None:
            return None
        if len(string) == 0:
            return ""
        if len(string) == 1 and string[0].tag == _T:
            return string[0].text or ""
    return _NOT_PLAIN
