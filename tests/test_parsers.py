"""Reading files into rows (pars-spec §8): the value readers of §8.4 and each format's
parser, without the database. What a row says here is what the preview and the error report
show."""

import datetime as dt
import io
import re
import zipfile
from decimal import Decimal
from types import SimpleNamespace

import pytest
from openpyxl import Workbook, load_workbook

from participants import parsers
from participants.parsers import (
    TEMPLATE_HEADERS,
    FileRefused,
    detect_format,
    parse_csv,
    parse_tsv,
    parse_xlsx,
    parse_xml,
    read_birth_date,
    read_date,
    read_day,
    read_decimal,
    read_month,
    read_padded_id,
    read_permission,
)
from participants.parsers import xlsx as xlsx_reader
from participants.parsers.columns import Formula

from .builders import JANE, OMAR, activity_report, cells, delimited, learner_report, tsv, xlsx

ID_LENGTHS = {"ABIM": 6}
ACTIVITY = SimpleNamespace(pars_id="100000001", title="Hypertension Update")
DEC_18 = dt.date(2015, 12, 18)


def rows_of(parse, content: bytes, meta=None):
    return list(
        parse(io.BytesIO(content), id_lengths=ID_LENGTHS, meta={} if meta is None else meta)
    )


def xml_rows_of(content: bytes, provider_id="0001234"):
    return list(parse_xml(io.BytesIO(content), provider_id=provider_id, id_lengths=ID_LENGTHS))


def xlsx_rows_of(tmp_path, content: bytes, meta=None):
    path = tmp_path / "file.xlsx"
    path.write_bytes(content)
    return list(parse_xlsx(path, id_lengths=ID_LENGTHS, meta={} if meta is None else meta))


def summary(row) -> tuple:
    return (
        row.action,
        row.activity_ref,
        row.learner_id,
        row.first_name,
        row.last_name,
        row.birth_month,
        row.birth_day,
        row.completion_date,
        row.credit_type,
        row.moc_points,
    )


JANE_ROW = ("add", "100000001", "123456", "Jane", "Smith", 7, 14, DEC_18, "MK", Decimal("10"))
OMAR_ROW = ("add", "100000001", "234567", "Omar", "Haddad", 2, 29, DEC_18, "MK", Decimal("10"))


# --- Value readers (§8.4) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "length", "expected"),
    [
        ("23456", 6, "023456"),
        (23456, 6, "023456"),
        (23456.0, 6, "023456"),
        (" 123456 ", 6, "123456"),
        ("1234", 7, "0001234"),
        ("100000001", 9, "100000001"),
        ("12345", None, "12345"),
        ("12a45", 6, "12a45"),
    ],
)
def test_ids_that_lost_leading_zeros_are_padded(value, length, expected):
    assert read_padded_id(value, length) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12/18/2015", DEC_18),
        ("2015-12-18", DEC_18),
        ("2015-12-18T10:30:00", DEC_18),
        (" 12/18/2015 ", DEC_18),
        ("1/2/2016", dt.date(2016, 1, 2)),
        ("01/02/2016", dt.date(2016, 1, 2)),
        (dt.datetime(2015, 12, 18, 23, 59), DEC_18),
        (DEC_18, DEC_18),
    ],
)
def test_dates_in_the_accepted_forms(value, expected):
    assert read_date(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "18/12/2015",
        "Dec 18 2015",
        "2015/12/18",
        "12-18-2015",
        "12/18/15",
        "2015-02-30",
        "13/01/2015",
        "20151218",
        "",
        "12/18/2015 10:00",
    ],
)
def test_any_other_date_is_an_error_never_a_guess(value):
    with pytest.raises(ValueError, match="is not a date; use MM/DD/YYYY or YYYY-MM-DD"):
        read_date(value)


@pytest.mark.parametrize(
    ("value", "shown"), [("42356", "42356"), (42356, "42356"), (42356.0, "42356.0")]
)
def test_an_excel_day_number_is_an_error_that_names_the_date_it_stands_for(value, shown):
    """A date column that lost its date format (in the sheet, or in Excel's CSV of it)."""
    with pytest.raises(ValueError) as error:
        read_date(value)
    assert str(error.value).startswith(
        f"'{shown}' is not a date; it looks like the day number Excel keeps for a date (here "
        "12/18/2015) in a cell not formatted as one."
    )


def test_an_excel_day_number_in_an_excel_file_is_a_row_error_naming_its_date(tmp_path):
    (row,) = xlsx_rows_of(tmp_path, xlsx([cells(ACTIVITY, completion_date=42356)]))
    assert row.completion_date is None
    assert "(here 12/18/2015)" in row.errors["completion_date"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.5", Decimal("10.5")),
        (" 10.5 ", Decimal("10.5")),
        ("10", Decimal("10")),
        (10, Decimal("10")),
        (10.25, Decimal("10.25")),
        (".25", Decimal("0.25")),
    ],
)
def test_numbers_use_a_dot(value, expected):
    assert read_decimal(value) == expected


@pytest.mark.parametrize("value", ["10,5", "1,000", "ten", "NaN", "Infinity", "-inf", "10 points"])
def test_other_numbers_are_an_error(value):
    with pytest.raises(ValueError, match="is not a number; use a dot as the decimal separator"):
        read_decimal(value)


@pytest.mark.parametrize("value", ["7", "07", 7, 7.0, " 7 "])
def test_month_seven_and_07_are_july(value):
    assert read_month(value) == 7


@pytest.mark.parametrize("value", ["0", "13", "July", "7.5", ""])
def test_bad_months(value):
    with pytest.raises(ValueError, match="is not a month; use 1 to 12"):
        read_month(value)


@pytest.mark.parametrize("value", ["0", "32", "first"])
def test_bad_days(value):
    with pytest.raises(ValueError, match="is not a day of the month"):
        read_day(value)


@pytest.mark.parametrize(
    "value", ["1970-07-14", "--07-14", "07-14", "7-14", "1970-07-14T00:00:00", dt.date(1970, 7, 14)]
)
def test_birth_date_forms_keep_month_and_day_only(value):
    assert read_birth_date(value) == (7, 14)


@pytest.mark.parametrize("value", ["July 14", "", "14.07."])
def test_bad_birth_dates(value):
    with pytest.raises(ValueError):
        read_birth_date(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Y", True),
        ("yes", True),
        (" y ", True),
        ("X", True),
        ("N", False),
        ("no", False),
        ("", False),
    ],
)
def test_permission_values(value, expected):
    assert read_permission(value) is expected


def test_permission_other_value_is_an_error():
    with pytest.raises(ValueError, match="'maybe' is not Y or N."):
        read_permission("maybe")


# --- Tab-delimited (§8.2) ----------------------------------------------------------------------


@pytest.mark.parametrize("header", [True, False])
def test_tsv_with_or_without_a_header_row(header):
    meta = {}
    rows = rows_of(parse_tsv, tsv([cells(ACTIVITY), cells(ACTIVITY, OMAR)], header=header), meta)
    assert [summary(r) for r in rows] == [JANE_ROW, OMAR_ROW]
    assert [r.errors for r in rows] == [{}, {}]
    assert [r.row_number for r in rows] == ([2, 3] if header else [1, 2])
    assert meta.get("header", []) == (TEMPLATE_HEADERS if header else [])


def test_tsv_header_in_another_order_is_followed():
    order = [TEMPLATE_HEADERS.index(h) for h in reversed(TEMPLATE_HEADERS)]
    header = "\t".join(TEMPLATE_HEADERS[i] for i in order)
    line = "\t".join(cells(ACTIVITY)[i] for i in order)
    (row,) = rows_of(parse_tsv, f"{header}\n{line}\n".encode())
    assert summary(row) == JANE_ROW and row.errors == {}


def test_tsv_bom_crlf_blank_lines_tab_only_lines_and_trailing_empty_columns():
    content = (
        "\ufeff"
        + "\t".join(cells(ACTIVITY))
        + "\t\t\t\r\n\r\n\t\t\t\t\r\n \t \r\n"
        + "\t".join(cells(ACTIVITY, OMAR))
        + "\r\n"
    ).encode()
    rows = rows_of(parse_tsv, content)
    assert [summary(r) for r in rows] == [JANE_ROW, OMAR_ROW]
    assert [r.errors for r in rows] == [{}, {}]
    assert rows[1].row_number == 5


def test_tsv_values_are_trimmed():
    padded = [f"  {v} " if v else v for v in cells(ACTIVITY)]
    (row,) = rows_of(parse_tsv, tsv([padded], header=False))
    assert summary(row) == JANE_ROW and row.errors == {}


def test_tsv_with_every_value_in_quotes_reads_as_without():
    # As some LMS and database tools export tab-delimited text.
    quoted = [[f'"{v}"' for v in row] for row in (TEMPLATE_HEADERS, cells(ACTIVITY))]
    meta = {}
    (row,) = rows_of(parse_tsv, "".join("\t".join(r) + "\r\n" for r in quoted).encode(), meta)
    assert summary(row) == JANE_ROW and row.errors == {}
    assert meta["header"] == TEMPLATE_HEADERS
    assert row.source == cells(ACTIVITY)  # the error report writes the values, not the quotes


def test_tsv_quotes_inside_a_value_are_kept_and_a_wrapped_value_loses_its_own():
    names = ['"O""Brien"', 'O"Brien', '"Jimmy', 'Jimmy"', '""', '"Jo "" Ann"']
    lines = ["\t".join(cells(ACTIVITY, {**JANE, "last_name": name})) for name in names]
    rows = rows_of(parse_tsv, "\n".join(lines).encode())  # as written, not re-quoted
    assert [r.last_name for r in rows] == ['O"Brien', 'O"Brien', '"Jimmy', 'Jimmy"', "", 'Jo " Ann']
    assert [r.row_number for r in rows] == [1, 2, 3, 4, 5, 6]  # no value spans lines


def test_tsv_written_by_a_csv_writer_reads_back_as_written():
    # The error report and the export quote a value that holds a quote (csv's QUOTE_MINIMAL).
    content = tsv([cells(ACTIVITY, {**JANE, "last_name": 'O"Brien'})])
    assert b'"O""Brien"' in content
    (row,) = rows_of(parse_tsv, content)
    assert row.last_name == 'O"Brien'


def test_tsv_row_with_extra_values_is_a_row_error():
    (row,) = rows_of(parse_tsv, tsv([cells(ACTIVITY) + ["x", "y"]], header=False))
    assert row.errors == {"__all__": "This row has 16 values; the template has 14 columns."}


def test_tsv_row_with_13_values_is_fine():
    (row,) = rows_of(parse_tsv, tsv([cells(ACTIVITY)[:13]], header=False))
    assert row.errors == {} and row.credit_id is None


@pytest.mark.parametrize(("delimiter", "found"), [(",", "','"), (";", "';'"), ("|", "'|'")])
def test_tsv_in_another_delimiter_is_refused(delimiter, found):
    content = delimited([cells(ACTIVITY)], delimiter=delimiter)
    with pytest.raises(FileRefused, match="This file is not tab-delimited") as refused:
        rows_of(parse_tsv, content)
    assert f"contains {found}" in str(refused.value)


@pytest.mark.parametrize(
    ("delimiter", "found"), [(";", "contains ';'"), ("\t", "contains tabs"), ("|", "contains '|'")]
)
def test_csv_in_another_delimiter_is_refused_saying_so(delimiter, found):
    """Not "the first row must be the header row": it is one, separated by something else."""
    content = delimited([cells(ACTIVITY)], delimiter=delimiter)
    with pytest.raises(FileRefused, match="This file is not comma-separated") as refused:
        rows_of(parse_csv, content)
    assert found in str(refused.value)
    assert ("upload it as a .txt file" in str(refused.value)) == (delimiter == "\t")


@pytest.mark.parametrize(
    ("parse", "delimiter", "hint"),
    [(parse_csv, ",", "sep=,"), (parse_tsv, "\t", "sep=\t"), (parse_csv, ",", '"sep=,"')],
)
def test_excel_separator_line_is_not_a_row(parse, delimiter, hint):
    """Excel reads a first line "sep=," as the separator to use; some tools write one."""
    content = f"{hint}\r\n".encode() + delimited([cells(ACTIVITY)], delimiter=delimiter)
    meta = {}
    (row,) = rows_of(parse, content, meta)
    assert summary(row) == JANE_ROW and row.errors == {} and row.row_number == 3
    assert meta["header"] == TEMPLATE_HEADERS


@pytest.mark.parametrize("hint", ["sep=;", "sep=,", " sep=, "])
def test_the_separator_is_checked_on_the_row_after_the_separator_line(hint):
    content = f"{hint}\r\n".encode() + delimited([cells(ACTIVITY)], delimiter=";")
    with pytest.raises(FileRefused, match="This file is not comma-separated: .* contains ';'"):
        rows_of(parse_csv, content)
    with pytest.raises(FileRefused, match="This file is not tab-delimited: .* contains ';'"):
        rows_of(parse_tsv, content)


def test_a_separator_line_with_spaces_around_it_is_not_a_row():
    content = b" sep=\t \n" + tsv([cells(ACTIVITY)])
    meta = {}
    (row,) = rows_of(parse_tsv, content, meta)
    assert row.errors == {} and row.row_number == 3 and meta["header"] == TEMPLATE_HEADERS


@pytest.mark.parametrize("parse", [parse_csv, parse_tsv, "xlsx"])
def test_a_header_row_again_is_one_clear_row_error(parse, tmp_path):
    rows = [cells(ACTIVITY), list(TEMPLATE_HEADERS), cells(ACTIVITY, OMAR)]
    if parse == "xlsx":
        found = xlsx_rows_of(tmp_path, xlsx(rows))
    else:
        found = rows_of(parse, delimited(rows, delimiter="," if parse is parse_csv else "\t"))
    assert [(r.row_number, r.errors) for r in found] == [
        (2, {}),
        (3, {"__all__": "This row is the header row again, not a participant: remove it."}),
        (4, {}),
    ]


@pytest.mark.parametrize("parse", [parse_csv, parse_tsv])
def test_a_header_row_again_with_other_columns_refuses_the_file(parse):
    """The rows below it would be read under the first header's columns: swapped values."""
    swapped = list(TEMPLATE_HEADERS)
    swapped[10], swapped[11] = swapped[11], swapped[10]  # MOC Points ⇄ CME Credits
    omar = cells(ACTIVITY, OMAR, moc_points="2.5", cme_credits="1")
    omar[10], omar[11] = omar[11], omar[10]
    delimiter = "," if parse is parse_csv else "\t"
    content = delimited([cells(ACTIVITY), swapped, omar], delimiter=delimiter)
    with pytest.raises(FileRefused) as refused:
        rows_of(parse, content)
    assert str(refused.value).startswith(
        "Row 3 is a header row with other columns than the header above it"
    )
    shorter = delimited([cells(ACTIVITY), TEMPLATE_HEADERS[:11]], delimiter=delimiter)
    with pytest.raises(FileRefused, match="Row 3 is a header row with other columns"):
        rows_of(parse, shorter)


def test_non_utf8_file_is_refused_naming_the_line_and_the_byte():
    content = tsv([cells(ACTIVITY), cells(ACTIVITY, {**OMAR, "first_name": "Zoë"})])
    with pytest.raises(FileRefused) as refused:
        rows_of(parse_tsv, content.decode().encode("cp1252"))  # Excel's "Text" on Windows
    assert str(refused.value).startswith(
        "The file is not UTF-8 text. Line 3 has the byte 0xEB (“ë” in Windows-1252), which "
        "UTF-8 does not allow. Save the file as UTF-8"
    )


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("parse", [parse_tsv, parse_csv])
def test_utf16_with_its_bom_reads_as_utf8_does(parse, encoding):
    """Excel's "Unicode Text" is UTF-16 with a byte order mark: unambiguous, so read."""
    rows = [cells(ACTIVITY, {**JANE, "first_name": "Zoë"}), cells(ACTIVITY, OMAR)]
    content = tsv(rows) if parse is parse_tsv else delimited(rows, delimiter=",")
    text = content.decode()
    if encoding == "utf-16":
        utf16 = text.encode("utf-16")  # with this machine's BOM
    else:
        bom = "\ufeff".encode(encoding)
        utf16 = bom + text.encode(encoding)
    expected = [
        (r.row_number, r.first_name, r.learner_id, r.errors) for r in rows_of(parse, content)
    ]
    got = [(r.row_number, r.first_name, r.learner_id, r.errors) for r in rows_of(parse, utf16)]
    assert got == expected
    assert [name for _, name, _, _ in got] == ["Zoë", "Omar"]


@pytest.mark.parametrize("parse", [parse_tsv, parse_csv])
def test_utf16_without_its_bom_is_refused_not_read_as_rows_of_nul_bytes(parse):
    content = tsv([cells(ACTIVITY, JANE)]).decode().encode("utf-16-le")
    with pytest.raises(FileRefused) as refused:
        rows_of(parse, content)
    assert str(refused.value).startswith(
        "The file is not UTF-8 text. Line 1 has a NUL byte, which text never holds"
    )


@pytest.mark.parametrize("content", [b"", b"\r\n\r\n", b"\t\t\r\n", tsv([])])
def test_tsv_without_rows_is_refused(content):
    with pytest.raises(FileRefused, match="The file contains no participant rows."):
        rows_of(parse_tsv, content)


def test_delete_row_needs_no_names_or_points():
    values = cells(
        ACTIVITY,
        action="delete",
        first_name="",
        last_name="",
        birth_month="",
        birth_day="",
        moc_points="",
        learner_permission="",
    )
    (row,) = rows_of(parse_tsv, tsv([values], header=False))
    assert row.errors == {}
    assert (row.action, row.learner_permission) == ("delete", True)


def test_missing_required_values_name_their_fields():
    values = cells(ACTIVITY, learner_id="", completion_date="", credit_type="")
    (row,) = rows_of(parse_tsv, tsv([values], header=False))
    assert row.errors == {
        "learner_id": "This value is required.",
        "completion_date": "This value is required.",
        "credit_type": "This value is required.",
    }


# --- CSV (§8.3) --------------------------------------------------------------------------------


def test_csv_reads_quoted_values():
    content = delimited([cells(ACTIVITY, {**JANE, "last_name": "Smith, Jr."}, moc_points="10,5")])
    (row,) = rows_of(parse_csv, content)
    assert row.last_name == "Smith, Jr."
    assert row.errors == {
        "moc_points": "'10,5' is not a number; use a dot as the decimal separator (10.5)."
    }


def test_csv_needs_a_header_row():
    with pytest.raises(FileRefused, match="The first row must be the header row"):
        rows_of(parse_csv, delimited([cells(ACTIVITY)], header=False))


def test_csv_header_missing_a_column_is_refused_naming_it():
    header = ",".join(h for h in TEMPLATE_HEADERS if h not in ("Credit Type", "MOC Points"))
    with pytest.raises(FileRefused) as refused:
        rows_of(parse_csv, f"{header}\n".encode())
    assert str(refused.value) == "The header row is missing these columns: Credit Type, MOC Points."


def test_csv_unknown_header_column_is_refused_naming_it():
    content = (",".join(TEMPLATE_HEADERS + ["Specialty"]) + "\n").encode()
    with pytest.raises(FileRefused) as refused:
        rows_of(parse_csv, content)
    assert str(refused.value) == (
        "The header row has columns the template does not know: Specialty."
    )


def test_csv_error_report_columns_are_ignored():
    header = ",".join(TEMPLATE_HEADERS + ["Row", "Field", "Reason"])
    line = ",".join(cells(ACTIVITY) + ["3", "MOC Points", "bad"])
    (row,) = rows_of(parse_csv, f"{header}\r\n{line}\r\n".encode())
    assert summary(row) == JANE_ROW and row.errors == {}


def test_csv_header_only_is_refused():
    with pytest.raises(FileRefused, match="The file contains no participant rows."):
        rows_of(parse_csv, delimited([]))


def test_csv_line_of_only_commas_is_blank():
    rows = rows_of(parse_csv, delimited([cells(ACTIVITY), [""] * 14, cells(ACTIVITY, OMAR)]))
    assert [summary(r) for r in rows] == [JANE_ROW, OMAR_ROW]


def test_credit_type_label_is_passed_on():
    (row,) = rows_of(parse_csv, delimited([cells(ACTIVITY, credit_type=" Medical Knowledge ")]))
    assert row.credit_type == "Medical Knowledge" and row.errors == {}


# --- Excel (§8.3) ------------------------------------------------------------------------------


def test_xlsx_formula_cell_is_a_row_error(tmp_path):
    (row,) = xlsx_rows_of(tmp_path, xlsx([cells(ACTIVITY, moc_points="=5+5")]))
    assert row.errors == {"moc_points": "formula not allowed (=5+5)"}


def test_xlsx_formula_in_an_id_cell_is_a_row_error(tmp_path):
    (row,) = xlsx_rows_of(tmp_path, xlsx([cells(ACTIVITY, learner_id="=123000+456")]))
    assert row.errors == {"learner_id": "formula not allowed (=123000+456)"}


def test_xlsx_number_and_date_cells(tmp_path):
    values = ["add", 100000001, "ABIM", 23456.0, "Ana", "Oliveira", 3, 9.0,
              dt.datetime(2015, 12, 18), "MK", 10, 2.5, "Y"]  # fmt: skip
    (row,) = xlsx_rows_of(tmp_path, xlsx([values], header=TEMPLATE_HEADERS[:13]))
    assert row.errors == {}
    assert (row.activity_ref, row.learner_id, row.birth_month, row.birth_day) == (
        "100000001",
        "023456",
        3,
        9,
    )
    assert (row.completion_date, row.moc_points, row.cme_credits) == (
        DEC_18,
        Decimal("10"),
        Decimal("2.5"),
    )


def test_xlsx_needs_a_header_row(tmp_path):
    with pytest.raises(FileRefused, match="The first row must be the header row"):
        xlsx_rows_of(tmp_path, xlsx([cells(ACTIVITY)], header=None))


def test_xlsx_reads_the_first_sheet_only(tmp_path):
    workbook = Workbook()
    workbook.active.append(TEMPLATE_HEADERS)
    workbook.active.append(cells(ACTIVITY))
    workbook.create_sheet("Notes").append(["whatever", "is", "here"])
    out = io.BytesIO()
    workbook.save(out)
    (row,) = xlsx_rows_of(tmp_path, out.getvalue())
    assert summary(row) == JANE_ROW


@pytest.mark.parametrize("content", [b"PK\x03\x04 not really a zip", b"just text"])
def test_file_that_is_not_an_xlsx_is_refused(tmp_path, content):
    with pytest.raises(FileRefused, match="This is not a readable Excel"):
        xlsx_rows_of(tmp_path, content)


# The sheet's cells are read with lxml (participants.parsers.xlsx), the rest of the
# workbook with openpyxl: every kind of cell, row and sheet below must read exactly as
# openpyxl's read-only worksheet gives it (values, types, row numbers and widths).

_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml."
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_XLSX_PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}worksheet+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet2.xml" ContentType="{_CT}worksheet+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_CT}styles+xml"/>'
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}sharedStrings+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_REL}officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    ),
    "xl/_rels/workbook.xml.rels": (  # the second sheet's part listed first
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId2" Type="{_REL}worksheet" Target="worksheets/sheet2.xml"/>'
        f'<Relationship Id="rId1" Type="{_REL}worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId3" Type="{_REL}styles" Target="styles.xml"/>'
        f'<Relationship Id="rId4" Type="{_REL}sharedStrings" Target="sharedStrings.xml"/>'
        "</Relationships>"
    ),
    # Styles: 0 general, 1 a date, 2 a custom date and time, 3 a duration, 4 a plain number.
    "xl/styles.xml": (
        f'<styleSheet xmlns="{_MAIN}">'
        '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd hh:mm"/></numFmts>'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        "</cellStyleXfs>"
        '<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '<xf numFmtId="46" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '<xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
        "</cellStyles></styleSheet>"
    ),
    "xl/sharedStrings.xml": (
        f'<sst xmlns="{_MAIN}" count="5" uniqueCount="5">'
        "<si><t>add</t></si>"
        '<si><t xml:space="preserve">  Jane </t></si>'
        "<si><r><rPr><b/></rPr><t>Dr. </t></r><r><t>Omar</t></r></si>"
        '<si><t>Yamada</t><rPh sb="0" eb="1"><t>ヤマダ</t></rPh></si>'
        "<si><t/></si>"
        "</sst>"
    ),
    "xl/worksheets/sheet2.xml": (
        f'<worksheet xmlns="{_MAIN}">'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>second sheet</t></is></c></row>'
        "</sheetData></worksheet>"
    ),
}
_CELLS = (  # every kind of cell, one row each way
    '<c r="A{n}" t="s"><v>0</v></c><c r="B{n}" t="s"><v>1</v></c>'
    '<c r="C{n}" t="s"><v>2</v></c><c r="D{n}" t="s"><v>3</v></c><c r="E{n}" t="s"><v>4</v></c>'
    '<c r="F{n}"><v>123456</v></c><c r="G{n}" t="n"><v>2.5</v></c><c r="H{n}"><v>1E3</v></c>'
    '<c r="I{n}" s="1"><v>42356</v></c><c r="J{n}" s="2"><v>42356.75</v></c>'
    '<c r="K{n}" s="3"><v>1.5</v></c><c r="L{n}" s="4"><v>7</v></c><c r="M{n}" s="1"/>'
    '<c r="N{n}" t="inlineStr"><is><t>inline</t></is></c><c r="O{n}" t="inlineStr"><is/></c>'
    '<c r="P{n}" t="inlineStr"/>'
    '<c r="Q{n}" t="inlineStr"><is><r><t>ri</t></r><r><t>ch</t></r></is></c>'
    '<c r="R{n}" t="inlineStr"><is><t/></is></c><c r="S{n}" t="b"><v>1</v></c>'
    '<c r="T{n}" t="e"><v>#N/A</v></c><c r="U{n}" t="str"><f>A1&amp;B1</f><v>addJane</v></c>'
    '<c r="V{n}" t="str"><v>no formula</v></c><c r="W{n}" t="d"><v>2015-12-18T10:30:00</v></c>'
    '<c r="X{n}"><f>1+1</f><v>2</v></c><c r="Y{n}"><v></v></c><c r="Z{n}" t="s"><v></v></c>'
)
_SHEETS = {
    "every kind of cell": (
        '<dimension ref="A1:Z2"/>',
        f'<row r="1">{_CELLS.format(n=1)}</row><row r="2">{_CELLS.format(n=2)}</row>',
    ),
    "no dimension, gaps, cells without positions": (
        "",
        (
            '<row r="2"><c r="B2"><v>1</v></c><c><v>2</v></c><c t="s"><v>0</v></c></row>'
            '<row r="5"><c r="A5"><v>5</v></c><c r="D5"><v>4</v></c></row>'
            '<row><c><v>6</v></c></row><row r="9"/>'
        ),
    ),
    "dimension larger than the data": (
        '<dimension ref="A1:F9"/>',
        ('<row r="2"><c r="A2"><v>1</v></c></row><row r="3"><c r="F3"><v>6</v></c></row>'),
    ),
    "unusual positions": (
        '<dimension ref="A1:C3"/>',
        (
            '<row r="1.0"><c r="b1"><v>1</v></c><c r="C1"><v>2</v></c></row>'
            '<row r="3"><c r="A3" t="s"><v>3</v></c></row>'
        ),
    ),
    "shared and array formulas": (
        "",
        (
            '<row r="1"><c r="A1"><f t="shared" ref="A1:A3" si="0">B1*2</f><v>2</v></c></row>'
            '<row r="2"><c r="A2"><f t="shared" si="0"/><v>4</v></c>'
            '<c r="B2"><f t="array" ref="B2">SUM(C1:C2)</f><v>0</v></c></row>'
        ),
    ),
    "empty": ("", ""),
}


def _workbook(dimension, rows, *, date1904=False, prolog="") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in _XLSX_PARTS.items():
            archive.writestr(name, text)
        archive.writestr("xl/workbook.xml", (
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<workbookPr date1904="{int(date1904)}"/><sheets>'
            '<sheet name="Participants" sheetId="1" r:id="rId1"/>'
            '<sheet name="Other" sheetId="2" r:id="rId2"/></sheets></workbook>'
        ))  # fmt: skip
        archive.writestr("xl/worksheets/sheet1.xml", (
            f'{prolog}<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f"{dimension}<sheetData>{rows}</sheetData></worksheet>"
        ))  # fmt: skip
    return out.getvalue()


def _formula(value):  # an array formula by its text (openpyxl gives an object)
    return Formula(getattr(value, "text", value))


def _as_openpyxl_reads_it(path) -> list:
    """Each row's values as openpyxl gives them, without the empty cells it pads the row
    with after its last value (to the sheet's dimension)."""
    workbook = load_workbook(path, read_only=True, data_only=False)
    try:
        rows = [[_formula(c.value) if c.data_type == "f" else c.value for c in cells]
                for cells in workbook.worksheets[0].iter_rows()]  # fmt: skip
    finally:
        workbook.close()
    for values in rows:
        while values and values[-1] is None:
            values.pop()
    return [[(type(v), v) for v in values] for values in rows]


def _as_the_portal_reads_it(path) -> list:
    sheet = xlsx_reader._ParticipantsSheet(path)
    try:
        return [[(type(v), v) for v in values] for values in sheet.rows()]
    finally:
        sheet.close()


@pytest.mark.parametrize("date1904", [False, True])
@pytest.mark.parametrize("name", sorted(_SHEETS))
def test_xlsx_sheet_reads_as_openpyxl_reads_it(tmp_path, name, date1904):
    path = tmp_path / "book.xlsx"
    path.write_bytes(_workbook(*_SHEETS[name], date1904=date1904))
    expected = _as_openpyxl_reads_it(path)
    assert _as_the_portal_reads_it(path) == expected
    if name == "every kind of cell":  # the sheet holds what it should, not nothing
        assert len(expected) == 2 and len(expected[0]) == 24  # Y and Z hold nothing
        assert expected[0][8][0] is dt.datetime and expected[0][20][0] is Formula


def test_xlsx_written_by_openpyxl_reads_as_openpyxl_reads_it(tmp_path):
    """Both ways openpyxl writes (inline strings, no <dimension>, in write-only mode), with
    numbers, dates, times, booleans, formulas, empty cells and a gap."""
    values = [["add", 100000001, 2.5, dt.datetime(2015, 12, 18), dt.date(2016, 1, 2),
               dt.time(10, 30), True, None, "=1+1", "", " text "]]  # fmt: skip
    for write_only in (False, True):
        workbook = Workbook(write_only=write_only)
        sheet = workbook.create_sheet("Participants") if write_only else workbook.active
        for row in [TEMPLATE_HEADERS, *values, [], *values]:
            sheet.append(row)
        path = tmp_path / f"book-{write_only}.xlsx"
        workbook.save(path)
        expected = _as_openpyxl_reads_it(path)
        assert _as_the_portal_reads_it(path) == expected and len(expected) == 4


def test_xlsx_rows_and_cells_that_openpyxl_would_drop_are_read(tmp_path):
    """openpyxl stops at the <dimension>'s last row, and without a dimension cuts a row at
    its last cell in the file: a file whose dimension is out of date, or whose cells are out
    of order, would lose values silently. Every row and cell is read here."""
    path = tmp_path / "book.xlsx"
    path.write_bytes(_workbook("", '<row r="1"><c r="D1"><v>4</v></c><c r="A1"><v>5</v></c></row>'))
    assert _as_openpyxl_reads_it(path) == [[(int, 5)]]  # what openpyxl gives
    assert _as_the_portal_reads_it(path) == [[(int, 5), (type(None), None), (type(None), None),
                                              (int, 4)]]  # fmt: skip
    path.write_bytes(_workbook('<dimension ref="A1:B2"/>', (
        '<row r="1"><c r="A1"><v>1</v></c><c r="C1"><v>3</v></c></row>'
        '<row r="2"><c r="B2"><v>2</v></c></row><row r="4"><c r="A4"><v>4</v></c></row>'
    )))  # fmt: skip
    assert len(_as_openpyxl_reads_it(path)) == 2  # what openpyxl gives
    assert _as_the_portal_reads_it(path) == [
        [(int, 1), (type(None), None), (int, 3)],
        [(type(None), None), (int, 2)],
        [],
        [(int, 4)],
    ]


def test_xlsx_with_a_huge_dimension_and_rows_far_apart_reads_only_what_is_there(tmp_path):
    """A 6 KB file claiming 1,048,576 rows of 16,384 columns, with its second row far down:
    openpyxl padded every row between to 16,384 cells (the worker was busy for hours); the
    rows between are empty ones here, and the row far down is read with its number."""
    header = "".join(
        f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{name}</t></is></c>'
        for i, name in enumerate(TEMPLATE_HEADERS)
    )
    data = "".join(
        f'<c r="{chr(65 + i)}200000" t="inlineStr"><is><t>{value}</t></is></c>'
        for i, value in enumerate(cells(ACTIVITY))
    )
    content = _workbook('<dimension ref="A1:XFD1048576"/>',
                        f'<row r="1">{header}</row><row r="200000">{data}</row>')  # fmt: skip
    assert len(content) < 7_000
    (row,) = xlsx_rows_of(tmp_path, content)
    assert row.row_number == 200000 and summary(row) == JANE_ROW and row.errors == {}


@pytest.mark.parametrize(("rows", "message"), [
    ('<row r="1"><c r="A1"><v>1</v></c></row><row r="3"><c r="A3"><v>3</v></c></row>'
     '<row r="2"><c r="A2"><v>2</v></c></row>', "lists row 2 after row 3"),
    ('<row r="1"><c r="A1"><v>1</v></c></row><row r="1"><c r="A1"><v>2</v></c></row>',
     "lists row 1 twice"),
    ('<row r="1"><c r="A1"><v>1</v></c><c r="B1"><v>2</v></c><c r="B1"><v>3</v></c></row>',
     "gives cell B1 twice"),
])  # fmt: skip
def test_xlsx_rows_or_cells_out_of_order_refuse_the_file_instead_of_dropping_values(
    tmp_path, rows, message
):
    """openpyxl kept one of two rows (or cells) with the same number and dropped the
    other without a word; Excel never writes such a file: it is refused, naming the row
    or the cell."""
    path = tmp_path / "book.xlsx"
    path.write_bytes(_workbook("", rows))
    with pytest.raises(FileRefused) as refused:
        _as_the_portal_reads_it(path)
    assert str(refused.value) == (
        f"This Excel file {message}, which Excel never writes: nothing was read. Open it in "
        "Excel, save it and upload it again."
    )


def _book_of(*sheets) -> bytes:
    """A workbook of sheets given as (name, rows), in this order."""
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets:
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


INSTRUCTIONS = ("Instructions", [["How to fill this in"], [], ["One learner per row.", 1]])
PARTICIPANTS = ("Participants", [list(TEMPLATE_HEADERS), cells(ACTIVITY), cells(ACTIVITY, OMAR)])


@pytest.mark.parametrize("order", ["instructions first", "participants first"])
def test_xlsx_participants_are_read_from_the_sheet_that_has_the_header(tmp_path, order):
    sheets = [INSTRUCTIONS, PARTICIPANTS]
    if order == "participants first":
        sheets.reverse()
    meta = {}
    rows = xlsx_rows_of(tmp_path, _book_of(*sheets), meta)
    assert [(r.row_number, r.first_name, r.learner_id, r.errors) for r in rows] == [
        (2, "Jane", "123456", {}), (3, "Omar", "234567", {})
    ]  # fmt: skip
    assert meta["sheet"] == "Participants"  # the preview names it: there was a choice


def test_xlsx_sheet_choice_skips_blank_rows_as_the_row_reader_does(tmp_path):
    spaced = ("Participants", [[" "], [None, ""], *PARTICIPANTS[1]])  # spaces above the header
    meta = {}
    rows = xlsx_rows_of(tmp_path, _book_of(INSTRUCTIONS, spaced), meta)
    assert [(r.row_number, r.first_name, r.errors) for r in rows] == [
        (4, "Jane", {}), (5, "Omar", {})
    ]  # fmt: skip
    assert meta["sheet"] == "Participants"


def test_xlsx_of_one_sheet_names_no_sheet(tmp_path):
    meta = {}
    rows = xlsx_rows_of(tmp_path, _book_of(PARTICIPANTS), meta)
    assert [r.first_name for r in rows] == ["Jane", "Omar"]
    assert meta["sheet"] == ""


def test_xlsx_without_a_header_on_any_sheet_is_refused_naming_the_sheets(tmp_path):
    headless = ("Participants", [cells(ACTIVITY)])
    with pytest.raises(FileRefused) as refused:
        xlsx_rows_of(tmp_path, _book_of(INSTRUCTIONS, headless))
    assert str(refused.value) == (
        "No sheet of this workbook (“Instructions”, “Participants”) starts with the header row "
        "(Action, PARS Activity ID, Board, …). Put it in the first row of the participants "
        "sheet and upload it again."
    )
    with pytest.raises(FileRefused, match="The first row must be the header row"):
        xlsx_rows_of(tmp_path, _book_of(headless))  # one sheet: as before


def test_xlsx_sheet_that_cannot_be_read_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "book.xlsx"
    for rows in (
        '<row r="1"><c r="A1"><v>abc</v></c></row>',  # not a number
        '<row r="1"><c r="A1" t="s"><v>99</v></c></row>',  # no such shared string
        '<row r="1"><c r="A1"><v>1</v></c>',  # not well-formed
        '<row r="1.5"><c r="A1"><v>1</v></c></row>',
    ):  # no such row
        path.write_bytes(_workbook("", rows))
        with pytest.raises(FileRefused, match=r"This is not a readable Excel \(\.xlsx\) file"):
            list(parse_xlsx(path, id_lengths=ID_LENGTHS, meta={}))


def test_xlsx_sheet_with_a_doctype_is_refused(tmp_path):
    path = tmp_path / "book.xlsx"
    path.write_bytes(_workbook(
        "", '<row r="1"><c r="A1" t="inlineStr"><is><t>&x;</t></is></c></row>',
        prolog='<!DOCTYPE worksheet [<!ENTITY x "expanded">]>',
    ))  # fmt: skip
    with pytest.raises(FileRefused, match=r"This is not a readable Excel \(\.xlsx\) file"):
        list(parse_xlsx(path, id_lengths=ID_LENGTHS, meta={}))


# --- XML learner report (§8.1) -----------------------------------------------------------------


@pytest.mark.parametrize("namespaced", [False, True])
def test_xml_with_or_without_namespaces(namespaced):
    content = learner_report(
        activity_report(ACTIVITY, namespaced=namespaced),
        activity_report(ACTIVITY, OMAR, namespaced=namespaced),
        namespaced=namespaced,
    )
    rows = xml_rows_of(content)
    assert [summary(r) for r in rows] == [JANE_ROW, OMAR_ROW]
    assert [r.errors for r in rows] == [{}, {}]
    assert all(r.learner_permission for r in rows)


@pytest.mark.parametrize("before", [b"\n", b"\r\n\r\n", b"\xef\xbb\xbf\n", b"  \t"])
def test_xml_with_whitespace_before_its_declaration_is_read_with_its_own_line_numbers(before):
    """XML allows nothing before `<?xml …?>`; a script that printed a blank line first
    is common, and its reports are read, numbered by their lines in the file as sent."""
    content = learner_report(activity_report(ACTIVITY), activity_report(ACTIVITY, OMAR))
    as_sent = before.replace(b"\xef\xbb\xbf", b"") + content
    lines = [i for i, line in enumerate(as_sent.split(b"\n"), 1) if b"<CreditCertificate" in line]
    rows = xml_rows_of(before + content)
    assert [summary(r) for r in rows] == [JANE_ROW, OMAR_ROW]
    assert [r.row_number for r in rows] == lines and len(set(lines)) == 2


def test_xml_with_prefixed_namespaces():
    content = (
        b'<?xml version="1.0"?><ar:ACCMELearnerReports xmlns:ar="http://ns.medbiq.org/ar/v1/">'
        b"<ar:ActivityReports>"
        + activity_report(ACTIVITY).replace("<", "<ar:").replace("<ar:/", "</ar:").encode()
        + b"</ar:ActivityReports></ar:ACCMELearnerReports>"
    )
    (row,) = xml_rows_of(content)
    assert summary(row) == JANE_ROW and row.errors == {}


@pytest.mark.parametrize("as_elements", [False, True])
def test_xml_credit_received_as_attributes_or_child_elements(as_elements):
    report = activity_report(ACTIVITY, credits=[("PS", "7.25")], as_elements=as_elements)
    (row,) = xml_rows_of(learner_report(report))
    assert (row.credit_type, row.moc_points, row.errors) == ("PS", Decimal("7.25"), {})


@pytest.mark.parametrize("under_member", [False, True])
def test_xml_unique_id_in_certificate_or_under_member(under_member):
    report = activity_report(ACTIVITY, OMAR, unique_under_member=under_member)
    (row,) = xml_rows_of(learner_report(report))
    assert (row.board_code, row.learner_id, row.errors) == ("ABIM", "234567", {})


def test_xml_each_credit_certificate_is_one_record():
    report = activity_report(ACTIVITY, credits=[("MK", "10"), ("PS", "5")])
    rows = xml_rows_of(learner_report(report))
    assert [(r.credit_type, r.moc_points, r.learner_id) for r in rows] == [
        ("MK", Decimal("10"), "123456"),
        ("PS", Decimal("5"), "123456"),
    ]
    assert rows[0].row_number < rows[1].row_number


@pytest.mark.parametrize("birth", ["1970-07-14", "--07-14", "07-14"])
def test_xml_birth_date_forms(birth):
    (row,) = xml_rows_of(learner_report(activity_report(ACTIVITY, birth=birth)))
    assert (row.birth_month, row.birth_day, row.errors) == (7, 14, {})


@pytest.mark.parametrize("completed", ["2015-12-18", "2015-12-18T14:05:00", "2015-12-18T23:59:59Z"])
def test_xml_completed_datetime_time_is_ignored(completed):
    (row,) = xml_rows_of(learner_report(activity_report(ACTIVITY, completed=completed)))
    assert (row.completion_date, row.errors) == (DEC_18, {})


def test_xml_learner_record_action_delete():
    (row,) = xml_rows_of(learner_report(activity_report(ACTIVITY, action="delete")))
    assert (row.action, row.errors) == ("delete", {})


def test_xml_provider_id_without_leading_zeros_matches():
    (row,) = xml_rows_of(learner_report(activity_report(ACTIVITY, provider="1234")))
    assert row.errors == {}


def test_xml_for_another_provider_is_refused():
    content = learner_report(activity_report(ACTIVITY, provider="0005678"))
    with pytest.raises(FileRefused) as refused:
        xml_rows_of(content)
    assert str(refused.value) == (
        "This file reports for provider 0005678, but you are uploading for provider 0001234."
    )


def test_xml_bad_values_are_row_errors():
    report = activity_report(
        ACTIVITY, birth="July 14", completed="18/12/2015", credits=[("MK", "10,5")]
    )
    (row,) = xml_rows_of(learner_report(report))
    assert set(row.errors) == {"birth_month", "completion_date", "moc_points"}


def test_xml_with_another_root_is_refused():
    content = b'<?xml version="1.0"?><Roster><Person/></Roster>'
    with pytest.raises(FileRefused, match="the root element is <Roster>"):
        xml_rows_of(content)


def test_truncated_xml_is_refused():
    content = learner_report(activity_report(ACTIVITY), activity_report(ACTIVITY, OMAR))
    with pytest.raises(FileRefused, match="The XML file is not well-formed"):
        xml_rows_of(content[:-200])


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("Jos&eacute;", "line {line} has &eacute; which is an HTML name, not XML. Write the "
                        "character itself (é) or &#233; instead"),
        ("Jos&unknown;", "line {line} has &unknown; which XML does not define."),
        ("Smith & Jones", "line {line}, column {column} has an “&” that starts no character "
                          "reference. Write it as &amp;"),
    ],
)  # fmt: skip
def test_xml_with_an_html_entity_or_a_bare_ampersand_says_which_and_where(written, message):
    """The usual slips of a hand-made or HTML-minded export: lxml's own message is "no
    element found" for the first two, and a bare "&" is not a DOCTYPE."""
    report = activity_report(ACTIVITY, {**JANE, "first_name": "NAME"})
    content = learner_report(report).replace(b"NAME", written.encode())
    before = content[: content.index(b"&")]
    line = before.count(b"\n") + 1
    column = len(before) - before.rfind(b"\n") + 1  # where libxml2 expected the name
    with pytest.raises(FileRefused) as refused:
        xml_rows_of(content)
    expected = f"The XML file is not well-formed: {message.format(line=line, column=column)}"
    assert str(refused.value).startswith(expected)


def test_xml_in_another_encoding_than_it_declares_names_the_line():
    report = activity_report(ACTIVITY, {**JANE, "first_name": "José"})
    content = learner_report(report).decode().encode("cp1252")  # says UTF-8 in its first line
    line = content[: content.index("José".encode("cp1252"))].count(b"\n") + 1
    with pytest.raises(FileRefused) as refused:
        xml_rows_of(content)
    assert str(refused.value) == (
        f"The XML file is not well-formed: line {line} has bytes that are not in the file's "
        "encoding (UTF-8, unless its first line declares another). Save the file as UTF-8 and "
        "upload it again."
    )


def test_xml_syntax_errors_are_one_line():
    content = learner_report(activity_report(ACTIVITY, {**JANE, "first_name": "J\x00"}))
    with pytest.raises(FileRefused) as refused:
        xml_rows_of(content)
    message = str(refused.value)
    assert message.startswith("The XML file is not well-formed: Invalid character")
    assert "\n" not in message and ", line " in message


def test_xml_without_reports_is_refused():
    with pytest.raises(FileRefused, match="The file contains no participant rows."):
        xml_rows_of(learner_report())


DOCTYPE_REFUSED = "The XML file contains a DOCTYPE or entity declaration, which is not allowed."
XXE = '<!DOCTYPE ACCMELearnerReports [<!ENTITY given SYSTEM "file:///etc/passwd">]>\n'
LAUGHS = (
    '<!DOCTYPE ACCMELearnerReports [<!ENTITY a "aaaaaaaaaa">'
    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY given "&b;&b;&b;&b;&b;&b;&b;&b;">]>\n'
)


@pytest.mark.parametrize("doctype", [XXE, LAUGHS, "<!DOCTYPE ACCMELearnerReports>\n"])
def test_xml_doctype_is_refused(doctype):
    report = activity_report(ACTIVITY, {**JANE, "first_name": "&given;"})
    with pytest.raises(FileRefused, match=DOCTYPE_REFUSED):
        xml_rows_of(learner_report(report, prolog=doctype))


@pytest.mark.parametrize(
    "padding",
    [" " * 140_000, "<!-- " + "x" * 140_000 + " -->\n", "<!-- <note> -->\n" + " " * 70_000],
    ids=["whitespace", "long-comment", "comment-with-a-tag"],
)
def test_xml_doctype_after_a_long_prolog_is_refused_too(padding):
    """ "A DOCTYPE, entity declaration or external reference is refused outright" — also
    when comments or whitespace push it past the first bytes the parser looks at."""
    report = activity_report(ACTIVITY, {**JANE, "first_name": "&given;"})
    with pytest.raises(FileRefused, match=DOCTYPE_REFUSED):
        xml_rows_of(learner_report(report, prolog=padding + XXE))


def test_xml_comments_and_processing_instructions_are_harmless():
    report = activity_report(ACTIVITY).replace(
        "<Status>", "<!-- a <comment> --><?app note?><Status>"
    )
    (row,) = xml_rows_of(learner_report(report, prolog="<!-- exported by LMS -->\n"))
    assert summary(row) == JANE_ROW and row.errors == {}


# --- Choosing the parser ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("a.txt", b"add\t1", "tsv"),
        ("a.TSV", b"add\t1", "tsv"),
        ("a.tab", b"x", "tsv"),
        ("a.csv", b"Action,", "csv"),
        ("a.xlsx", b"PK\x03\x04", "xlsx"),
        ("a.csv", b"PK\x03\x04", "xlsx"),
        ("a.xml", b"<?xml", "xml"),
        ("a.txt", b"\xef\xbb\xbf  <ACCMELearnerReports", "xml"),
        ("a.xlsx", b"Action,", "xlsx"),
        ("a.xml", b"Action,", "xml"),
    ],
)
def test_format_from_content_or_extension(name, head, expected):
    assert detect_format(name, head) == expected


@pytest.mark.parametrize("name", ["a.pdf", "participants", "a.xls"])
def test_unknown_format_is_refused(name):
    with pytest.raises(FileRefused, match="Upload a .txt/.tsv"):
        detect_format(name, b"Action,")


def _open_document() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:  # as LibreOffice writes it: the mimetype first
        book.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        book.writestr("content.xml", "<office:document-content/>")
    return out.getvalue()


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)


@pytest.mark.parametrize(
    ("name", "head", "message"),
    [
        ("participants.xls", OLE, "This is an Excel 97–2003 workbook (.xls) or a password"),
        ("protected.xlsx", OLE, "or a password-protected Office file, which cannot be read"),
        ("participants.ods", _open_document()[:512], "This is an OpenDocument spreadsheet"),
        ("export.xls", b"<html><body><table><tr><td>Action", "This file is a web page (HTML)"),
        ("export.xml", b"\xef\xbb\xbf\r\n<!DOCTYPE HTML PUBLIC", "This file is a web page"),
        ("export.csv", b"<TABLE border=1><TR><TD>Action", "This file is a web page (HTML)"),
        ("saved.xls", b"<!-- saved from url=(0014)about:internet -->\n<html>", "a web page"),
        ("page.xml", b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD', "a web page"),
    ],
)
def test_files_taken_for_a_spreadsheet_are_refused_with_what_to_do(name, head, message):
    with pytest.raises(FileRefused, match=re.escape(message)) as refused:
        detect_format(name, head)
    assert "save it as “Excel Workbook (.xlsx)”" in str(refused.value)


@pytest.mark.parametrize(
    "head", [b"<metadataReport>", b"<header/>", b"<tableau>", b"<ACCMELearnerReports>"]
)
def test_xml_whose_root_only_begins_like_an_html_tag_is_xml(head):
    assert detect_format("r.xml", head) == "xml"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body/></html>',
         "This file is a web page (HTML)"),
        (b'<?xml version="1.0"?><?mso-application progid="Excel.Sheet"?>'
         b'<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet/></Workbook>',
         "This is an Excel 2003 XML Spreadsheet"),
    ],
)  # fmt: skip
def test_well_formed_xml_that_is_a_page_or_a_spreadsheet_says_so(content, message):
    with pytest.raises(FileRefused, match=re.escape(message)):
        xml_rows_of(content)


def test_parse_file_picks_the_parser(tmp_path):
    path = tmp_path / "upload.bin"
    path.write_bytes(tsv([cells(ACTIVITY)], header=False))
    rows = list(
        parsers.parse_file(path, "tsv", provider_id="0001234", id_lengths=ID_LENGTHS, meta={})
    )
    assert [summary(r) for r in rows] == [JANE_ROW]


@pytest.mark.parametrize("delimiter", [",", "\t"], ids=["csv", "tsv"])
def test_a_million_trailing_empty_cells_are_read_in_linear_time(delimiter):
    """A 1 MB row of delimiters once made the parser quadratic (14 minutes of a shared
    worker). Linear now: guarded by an alarm so that a regression fails instead of hanging."""
    import signal

    header = delimiter.join(TEMPLATE_HEADERS)
    values = ["add", "100000001", "ABIM", "123456", "Jane", "Smith", "7", "14", "12/18/2015",
              "MK", "10", "", "Y"]  # fmt: skip
    content = f"{header}\r\n{delimiter.join(values)}{delimiter * 1_000_000}\r\n".encode()
    parse = parse_csv if delimiter == "," else parse_tsv

    def too_slow(signum, frame):
        raise TimeoutError("parsing one row of a million cells took more than 20 seconds")

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(20)
    try:
        (row,) = parse(io.BytesIO(content), id_lengths={"ABIM": 6}, meta={})
        extra = values + ["", "x"]
        (too_many,) = parse(
            io.BytesIO(f"{header}\r\n{delimiter.join(extra)}{delimiter * 1_000_000}\r\n".encode()),
            id_lengths={"ABIM": 6}, meta={},
        )  # fmt: skip
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert (row.errors, row.first_name) == ({}, "Jane")
    assert too_many.errors == {"__all__": "This row has 15 values; the template has 14 columns."}
