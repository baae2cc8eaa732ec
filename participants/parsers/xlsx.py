"""Excel (.xlsx) participant files: the template's columns in the first sheet."""

from collections.abc import Iterator

from openpyxl import load_workbook

from pars_portal.lib.files import FileRefused, refuse_xlsx_bomb

from .columns import Formula
from .delimited import _delimited_rows

XLSX_NOT_READABLE = "This is not a readable Excel (.xlsx) file."


def parse_xlsx(path, *, id_lengths, meta) -> Iterator:
    """The same columns in the first sheet of an .xlsx workbook, header row first. Excel
    number and date cells count; a formula cell is a row error, never evaluated."""
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
