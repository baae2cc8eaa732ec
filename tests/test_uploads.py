"""Batch upload through the real views (pars-spec §8): every kind of bad input gets a row- or
file-level message (never a 500, never a partial write), the preview is exact and writes
nothing, confirming is idempotent, an interrupted commit is retried without duplicates,
the error report can be fixed and uploaded again, and providers only see their own uploads."""

import csv
import datetime as dt
import html
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from lxml import etree
from openpyxl import Workbook, load_workbook

from participants import statuses
from participants.models import Completion, CompletionEvent, RosterEntry, Upload
from participants.parsers import TEMPLATE_HEADERS
from participants.services.uploads import upload_issue_phase

from .builders import (
    FIELDS,
    JANE,
    OMAR,
    activity_report,
    cells,
    delimited,
    learner_report,
    tsv,
    xlsx,
)
from .conftest import make_completion

NO_TOTALS = {"created": 0, "already_reported": 0, "deleted": 0, "error": 0}

# Uploaded files go to each test's own folder.
pytestmark = pytest.mark.usefixtures("media_root")


# --- Driving the views -------------------------------------------------------------------------


def upload(client, name, content) -> Upload:
    """Upload through the real view; the immediate task backend has checked it already."""
    before = Upload.objects.count()
    response = client.post(reverse("upload_create"), {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Upload.objects.count() == before + 1
    created = Upload.objects.order_by("-id").first()
    assert response["Location"] == reverse("upload_detail", args=[created.pk])
    return created


def confirm(client, an_upload) -> Upload:
    response = client.post(reverse("upload_confirm", args=[an_upload.pk]))
    assert response.status_code == 302
    an_upload.refresh_from_db()
    return an_upload


def page(client, an_upload) -> str:
    response = client.get(reverse("upload_detail", args=[an_upload.pk]))
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def totals(**counts) -> dict:
    return {**NO_TOTALS, **counts}


def issues(an_upload) -> list[tuple]:
    """The problems the upload's page and error report show (row, field, message)."""
    shown = an_upload.issues.filter(phase=upload_issue_phase(an_upload)).order_by("row_number")
    return [(i.row_number, i.field, i.message) for i in shown]


def preview_row_numbers(text: str, group: str) -> list[int]:
    """Row numbers listed in one group of the preview ("created", "error", …)."""
    match = re.search(rf'data-preview="{group}"(.*?)</table>', text, re.S)
    assert match, f"no {group!r} group in the preview"
    return [int(n) for n in re.findall(r"<tr><td>(\d+)</td>", match.group(1))]


def assert_refused(client, an_upload, message):
    """A file-level refusal: one clear message, nothing read, nothing written."""
    assert an_upload.status == "refused"
    assert message in an_upload.message
    assert message in page(client, an_upload)
    assert not an_upload.issues.exists()
    assert an_upload.preview_rows == []
    assert not Completion.objects.exists()
    response = client.post(reverse("upload_confirm", args=[an_upload.pk]), follow=True)
    assert "cannot be confirmed" in html.unescape(response.content.decode())
    an_upload.refresh_from_db()
    assert an_upload.status == "refused"
    assert not Completion.objects.exists()


def keys():
    """Current (not deleted) records as (ABIM ID, credit type, completion date)."""
    return sorted(
        Completion.objects.exclude(status="deleted").values_list(
            "learner_id", "credit_type__code", "completion_date"
        )
    )


DEC_18 = dt.date(2015, 12, 18)


# --- Bad input: file-level refusals ------------------------------------------------------------


def test_csv_content_in_a_txt_file_is_refused_as_wrong_delimiter(
    client_of, editor_a, activity_a, roster
):
    client = client_of(editor_a)
    refused = upload(client, "participants.txt", delimited([cells(activity_a)]))
    assert_refused(client, refused, "This file is not tab-delimited")
    assert "contains ','" in refused.message


def test_csv_header_without_credit_type_is_refused_naming_the_column(
    client_of, editor_a, activity_a, roster
):
    header = [h for h in TEMPLATE_HEADERS if h != "Credit Type"]
    row = [
        v for v, h in zip(cells(activity_a), TEMPLATE_HEADERS, strict=True) if h != "Credit Type"
    ]
    content = (",".join(header) + "\r\n" + ",".join(row) + "\r\n").encode()
    client = client_of(editor_a)
    refused = upload(client, "participants.csv", content)
    assert_refused(client, refused, "The header row is missing these columns: Credit Type.")


def test_unknown_header_column_is_refused_naming_it(client_of, editor_a, activity_a, roster):
    header = ",".join(TEMPLATE_HEADERS) + ",Shoe Size"
    content = (header + "\r\n" + ",".join(cells(activity_a)) + ",42\r\n").encode()
    client = client_of(editor_a)
    refused = upload(client, "participants.csv", content)
    assert_refused(
        client, refused, "The header row has columns the template does not know: Shoe Size."
    )


def test_truncated_xml_is_refused_as_not_well_formed(client_of, editor_a, activity_a, roster):
    whole = learner_report(activity_report(activity_a), activity_report(activity_a, OMAR))
    client = client_of(editor_a)
    refused = upload(client, "report.xml", whole[: len(whole) * 2 // 3])
    assert_refused(client, refused, "The XML file is not well-formed")


BILLION_LAUGHS = """<!DOCTYPE ACCMELearnerReports [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY given "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
"""
EXTERNAL_ENTITY = '<!DOCTYPE ACCMELearnerReports [<!ENTITY given SYSTEM "file:///etc/passwd">]>\n'


@pytest.mark.parametrize("doctype", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["laughs", "xxe"])
def test_xml_with_a_doctype_is_refused_and_nothing_is_read(
    client_of, editor_a, activity_a, roster, doctype
):
    report = activity_report(activity_a, {**JANE, "first_name": "&given;"})
    client = client_of(editor_a)
    refused = upload(client, "report.xml", learner_report(report, prolog=doctype))
    assert_refused(client, refused, "The XML file contains a DOCTYPE or entity declaration")
    assert "root:" not in page(client, refused)  # /etc/passwd never shows
    assert refused.total_rows is None and refused.processed_rows == 0


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("header-only.csv", delimited([])),
        ("header-only.txt", tsv([])),
        ("header-only.xlsx", xlsx([])),
        ("empty-report.xml", learner_report()),
        ("blank-lines.txt", b"\r\n\t\t\t\r\n\r\n"),
    ],
)
def test_file_without_participant_rows_is_refused(client_of, editor_a, name, content):
    client = client_of(editor_a)
    refused = upload(client, name, content)
    assert_refused(client, refused, "The file contains no participant rows.")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("participants.xlsx", b"Action,PARS Activity ID\r\n", "This is not a readable Excel"),
        ("report.xml", b"Action,PARS Activity ID\r\n", "The XML file is not well-formed"),
        (
            "report.xml",
            b'<?xml version="1.0"?><ActivityReports><ActivityReport/></ActivityReports>',
            "the root element is <ActivityReports>, not <ACCMELearnerReports>",
        ),
        ("latin1.txt", "add\t100000001\tABIM\t123456\tZoë".encode("cp1252"), "not UTF-8"),
    ],
)
def test_file_that_cannot_be_read_is_refused_with_a_reason(
    client_of, editor_a, name, content, message
):
    client = client_of(editor_a)
    refused = upload(client, name, content)
    assert_refused(client, refused, message)


def test_xml_for_another_provider_is_refused(client_of, editor_a, activity_a, roster):
    content = learner_report(activity_report(activity_a, provider="0005678"))
    client = client_of(editor_a)
    refused = upload(client, "report.xml", content)
    assert_refused(
        client,
        refused,
        "This file reports for provider 0005678, but you are uploading for provider 0001234.",
    )


def test_file_over_the_size_cap_is_a_form_error_and_nothing_is_stored(
    client_of, editor_a, settings, tmp_path
):
    settings.UPLOAD_MAX_MB = 1
    big = SimpleUploadedFile("big.csv", b"x" * int(1.1 * 1024 * 1024))
    response = client_of(editor_a).post(reverse("upload_create"), {"file": big})
    assert response.status_code == 200
    assert "The file is 1.1 MB; the limit is 1 MB." in html.unescape(response.content.decode())
    assert not Upload.objects.exists()
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "The submitted file is empty."),
        ("participants.pdf", b"%PDF-1.4", "Upload a .txt/.tsv (tab-delimited), .csv, .xlsx or"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "Excel 97–2003 workbook"),
        ("lms-export.xls", b"<html><table><tr><td>Action</td></tr></table></html>", "web page"),
        ("report.xml", b"<html><body>Sign in</body></html>", "This file is a web page (HTML)"),
    ],
)
def test_empty_or_unknown_file_is_a_form_error(client_of, editor_a, name, content, message):
    response = client_of(editor_a).post(
        reverse("upload_create"), {"file": SimpleUploadedFile(name, content)}
    )
    assert response.status_code == 200
    assert message in html.unescape(response.content.decode())
    assert not Upload.objects.exists()


# --- Bad input: row-level errors ---------------------------------------------------------------


def test_row_with_16_values_is_a_row_error_and_the_other_rows_are_saved(
    client_of, editor_a, activity_a, roster
):
    content = tsv([cells(activity_a), cells(activity_a, OMAR) + ["extra", "more"]], header=False)
    client = client_of(editor_a)
    checked = upload(client, "participants.txt", content)
    assert checked.status == "preview"
    assert checked.preview_totals == totals(created=1, error=1)
    assert issues(checked) == [(2, "", "This row has 16 values; the template has 14 columns.")]
    assert "This row has 16 values" in page(client, checked)
    done = confirm(client, checked)
    assert done.status == "done"
    assert keys() == [("123456", "MK", DEC_18)]


@pytest.mark.parametrize("header", [True, False], ids=["header", "no-header"])
def test_tab_delimited_with_or_without_header_row(client_of, editor_a, activity_a, roster, header):
    content = tsv([cells(activity_a), cells(activity_a, OMAR)], header=header)
    client = client_of(editor_a)
    checked = upload(client, "participants.txt", content)
    assert checked.preview_totals == totals(created=2)
    first = 2 if header else 1
    assert preview_row_numbers(page(client, checked), "created") == [first, first + 1]
    assert confirm(client, checked).result_totals == totals(created=2)
    assert keys() == [("123456", "MK", DEC_18), ("234567", "MK", DEC_18)]
    assert set(Completion.objects.values_list("status", flat=True)) == {"accepted"}


@pytest.mark.parametrize(
    ("name", "build"), [("bom.txt", tsv), ("bom.csv", delimited)], ids=["tsv", "csv"]
)
def test_utf8_bom_is_allowed(client_of, editor_a, activity_a, roster, name, build):
    content = build([cells(activity_a, {**JANE, "first_name": "Zoë"})], bom=True)
    assert content.startswith(b"\xef\xbb\xbf")
    client = client_of(editor_a)
    checked = upload(client, name, content)
    assert checked.preview_totals == totals(created=1)
    confirm(client, checked)
    record = Completion.objects.get()
    assert (record.first_name, record.learner_id) == ("Zoë", "123456")


@pytest.mark.parametrize(
    ("name", "build"), [("crlf.txt", tsv), ("crlf.csv", delimited)], ids=["tsv", "csv"]
)
def test_windows_line_endings(client_of, editor_a, activity_a, roster, name, build):
    content = build([cells(activity_a), cells(activity_a, OMAR)], newline="\r\n")
    assert b"\r\n" in content
    client = client_of(editor_a)
    checked = upload(client, name, content)
    assert checked.preview_totals == totals(created=2)
    confirm(client, checked)
    # Nothing of the line ending sticks to the last column or to a name.
    assert not Completion.objects.filter(learner_permission=False).exists()
    assert {r.first_name + r.last_name for r in Completion.objects.all()} == {
        "JaneSmith",
        "OmarHaddad",
    }


def test_blank_lines_and_lines_of_only_tabs_are_skipped(client_of, editor_a, activity_a, roster):
    content = (
        "\t".join(cells(activity_a))
        + "\r\n\r\n"
        + "\t" * 13
        + "\r\n   \t \t\r\n"
        + "\t".join(cells(activity_a, OMAR))
        + "\t\t\t\r\n\t\r\n"  # trailing empty columns
    ).encode()
    client = client_of(editor_a)
    checked = upload(client, "blank-lines.txt", content)
    assert checked.preview_totals == totals(created=2)
    assert not checked.issues.exists()
    # Row numbers are the file's lines, blank ones included.
    assert preview_row_numbers(page(client, checked), "created") == [1, 5]
    confirm(client, checked)
    assert len(keys()) == 2


def test_row_numbers_count_leading_blank_lines(client_of, editor_a, activity_a, roster):
    """The row number staff look up in their file is the file's line, also when the file
    starts with blank lines."""
    content = b"\r\n\t\t\r\n" + tsv([cells(activity_a, moc_points="10,5")], header=False)
    client = client_of(editor_a)
    checked = upload(client, "leading-blank.txt", content)
    assert checked.preview_totals == totals(error=1)
    assert issues(checked)[0][:2] == (3, "moc_points")


def test_a_line_of_only_commas_is_blank_in_csv(client_of, editor_a, activity_a, roster):
    content = delimited([cells(activity_a), [""] * 14, cells(activity_a, OMAR)])
    client = client_of(editor_a)
    checked = upload(client, "commas.csv", content)
    assert checked.preview_totals == totals(created=2)


def test_board_id_that_lost_its_leading_zero_is_padded(client_of, editor_a, activity_a, abim):
    RosterEntry.objects.create(
        board=abim, learner_id="023456", first_name="Ana", last_name="Oliveira",
        birth_month=3, birth_day=9,
    )  # fmt: skip
    ana = {"learner_id": "23456", "first_name": "Ana", "last_name": "Oliveira",
           "birth_month": "3", "birth_day": "9"}  # fmt: skip
    assert activity_a.pars_id == "100000001"  # nine digits: nothing to pad
    client = client_of(editor_a)
    checked = upload(client, "zeros.csv", delimited([cells(activity_a, ana)]))
    assert checked.preview_totals == totals(created=1)
    confirm(client, checked)
    record = Completion.objects.get()
    assert (record.learner_id, record.status) == ("023456", "accepted")


def test_xml_provider_id_that_lost_its_leading_zeros_matches(
    client_of, editor_a, activity_a, roster
):
    client = client_of(editor_a)
    checked = upload(
        client, "report.xml", learner_report(activity_report(activity_a, provider="1234"))
    )
    assert checked.status == "preview"
    assert checked.preview_totals == totals(created=1)


@pytest.mark.parametrize("date", ["12/18/2015", "2015-12-18", "12/18/2015 ", "2015-12-18T09:30"])
def test_us_and_iso_completion_dates_are_accepted(client_of, editor_a, activity_a, roster, date):
    client = client_of(editor_a)
    checked = upload(client, "dates.csv", delimited([cells(activity_a, completion_date=date)]))
    assert checked.preview_totals == totals(created=1)
    confirm(client, checked)
    assert Completion.objects.get().completion_date == DEC_18


def test_day_first_date_is_a_row_error_naming_the_completion_date(
    client_of, editor_a, activity_a, roster
):
    content = delimited([cells(activity_a), cells(activity_a, OMAR, completion_date="18/12/2015")])
    client = client_of(editor_a)
    checked = upload(client, "dates.csv", content)
    assert checked.preview_totals == totals(created=1, error=1)
    message = "'18/12/2015' is not a date; use MM/DD/YYYY or YYYY-MM-DD."
    assert issues(checked) == [(3, "completion_date", message)]
    text = page(client, checked)
    assert "Completion Date (MM/DD/YYYY)" in text and message in text
    assert preview_row_numbers(text, "error") == [3]
    confirm(client, checked)
    assert keys() == [("123456", "MK", DEC_18)]


def test_points_with_a_decimal_comma_is_a_row_error(client_of, editor_a, activity_a, roster):
    content = delimited([cells(activity_a, moc_points="10,5"), cells(activity_a, OMAR)])
    client = client_of(editor_a)
    checked = upload(client, "points.csv", content)
    assert checked.preview_totals == totals(created=1, error=1)
    assert issues(checked) == [
        (2, "moc_points", "'10,5' is not a number; use a dot as the decimal separator (10.5).")
    ]
    assert "MOC Points" in page(client, checked)
    confirm(client, checked)
    assert keys() == [("234567", "MK", DEC_18)]


def test_excel_formula_cell_is_a_row_error(client_of, editor_a, activity_a, roster):
    formula = cells(activity_a, OMAR, moc_points="=5+5")
    client = client_of(editor_a)
    checked = upload(client, "formula.xlsx", xlsx([cells(activity_a), formula]))
    assert checked.file_format == "xlsx"
    assert checked.preview_totals == totals(created=1, error=1)
    assert issues(checked) == [(3, "moc_points", "formula not allowed (=5+5)")]
    assert "formula not allowed" in page(client, checked)
    confirm(client, checked)
    assert keys() == [("123456", "MK", DEC_18)]


def test_the_preview_names_the_sheet_read_when_the_workbook_has_several(
    client_of, editor_a, activity_a, roster
):
    book = Workbook()
    book.active.title = "Instructions"
    book.active.append(["How to fill this in: one learner per row, on the next sheet."])
    participants = book.create_sheet("Learners Dec 2015")
    for row in [list(TEMPLATE_HEADERS), cells(activity_a), cells(activity_a, OMAR)]:
        participants.append(row)
    out = io.BytesIO()
    book.save(out)
    client = client_of(editor_a)
    checked = upload(client, "two-sheets.xlsx", out.getvalue())
    assert checked.preview_totals == totals(created=2), issues(checked)
    assert checked.sheet == "Learners Dec 2015"
    assert "rows read from the sheet “Learners Dec 2015”" in page(client, checked)
    single = upload(client, "one-sheet.xlsx", xlsx([cells(activity_a)]))
    assert single.sheet == "" and "rows read from the sheet" not in page(client, single)


def test_excel_number_and_date_cells_are_accepted(client_of, editor_a, activity_a, abim):
    RosterEntry.objects.create(
        board=abim, learner_id="023456", first_name="Ana", last_name="Oliveira",
        birth_month=3, birth_day=9,
    )  # fmt: skip
    rows = [
        ["add", int(activity_a.pars_id), "ABIM", 23456, "Ana", "Oliveira", 3, 9,
         dt.datetime(2015, 12, 18), "MK", 10, 2.5, "Y"],
        ["add", float(activity_a.pars_id), "ABIM", 23456.0, "Ana", "Oliveira", 3.0, 9.0,
         dt.date(2015, 12, 19), "PS", 7.25, None, "Y"],
    ]  # fmt: skip
    client = client_of(editor_a)
    checked = upload(client, "numbers.xlsx", xlsx(rows, header=TEMPLATE_HEADERS[:13]))
    assert checked.preview_totals == totals(created=2), issues(checked)
    confirm(client, checked)
    records = Completion.objects.order_by("completion_date")
    assert [(r.learner_id, r.completion_date, str(r.moc_points)) for r in records] == [
        ("023456", DEC_18, "10.00"),
        ("023456", dt.date(2015, 12, 19), "7.25"),
    ]
    assert records[0].cme_credits == 2.5
    assert {r.status for r in records} == {"accepted"}


def test_row_for_another_providers_activity_is_a_row_error(
    client_of, editor_a, activity_a, activity_b, roster
):
    content = delimited([cells(activity_a), cells(activity_b, OMAR)])
    client = client_of(editor_a)
    checked = upload(client, "mixed.csv", content)
    assert checked.preview_totals == totals(created=1, error=1)
    message = f"Activity {activity_b.pars_id} is not one of your provider's activities."
    assert issues(checked) == [(3, "activity", message)]
    confirm(client, checked)
    assert not Completion.objects.filter(activity=activity_b).exists()
    assert keys() == [("123456", "MK", DEC_18)]


# --- XML learner report (§8.1) -----------------------------------------------------------------


@pytest.mark.parametrize("namespaced", [False, True], ids=["plain", "medbiquitous-ns"])
def test_xml_with_and_without_namespaces(client_of, editor_a, activity_a, roster, namespaced):
    content = learner_report(
        activity_report(activity_a, namespaced=namespaced),
        activity_report(activity_a, OMAR, namespaced=namespaced),
        namespaced=namespaced,
    )
    client = client_of(editor_a)
    checked = upload(client, "report.xml", content)
    assert checked.file_format == "xml"
    assert checked.preview_totals == totals(created=2)
    confirm(client, checked)
    jane = Completion.objects.get(learner_id="123456")
    assert (jane.first_name, jane.last_name, jane.birth_month, jane.birth_day) == (
        "Jane", "Smith", 7, 14,
    )  # fmt: skip
    assert (jane.completion_date, jane.credit_type.code, jane.moc_points) == (DEC_18, "MK", 10)
    assert jane.status == "accepted" and jane.upload == checked


@pytest.mark.parametrize("as_elements", [False, True], ids=["attributes", "elements"])
def test_xml_credit_received_values_as_attributes_or_elements(
    client_of, editor_a, activity_a, roster, as_elements
):
    report = activity_report(activity_a, credits=[("PS", "7.5")], as_elements=as_elements)
    client = client_of(editor_a)
    confirm(client, upload(client, "report.xml", learner_report(report)))
    record = Completion.objects.get()
    assert (record.credit_type.code, str(record.moc_points)) == ("PS", "7.50")


@pytest.mark.parametrize("under_member", [False, True], ids=["in-certificate", "under-member"])
def test_xml_unique_id_under_member_or_certificate(
    client_of, editor_a, activity_a, roster, under_member
):
    report = activity_report(activity_a, OMAR, unique_under_member=under_member)
    client = client_of(editor_a)
    confirm(client, upload(client, "report.xml", learner_report(report)))
    record = Completion.objects.get()
    assert (record.learner_id, record.status) == ("234567", "accepted")


def test_xml_two_credit_certificates_are_two_records(client_of, editor_a, activity_a, roster):
    report = activity_report(activity_a, credits=[("MK", "10"), ("PS", "5")])
    client = client_of(editor_a)
    checked = upload(client, "report.xml", learner_report(report))
    assert checked.preview_totals == totals(created=2)
    rows = preview_row_numbers(page(client, checked), "created")
    assert len(rows) == 2 and rows[0] < rows[1]  # each certificate's own line
    confirm(client, checked)
    assert keys() == [("123456", "MK", DEC_18), ("123456", "PS", DEC_18)]


@pytest.mark.parametrize("birth", ["1970-07-14", "--07-14", "07-14"])
def test_xml_birth_date_forms(client_of, editor_a, activity_a, roster, birth):
    client = client_of(editor_a)
    confirm(
        client,
        upload(client, "report.xml", learner_report(activity_report(activity_a, birth=birth))),
    )
    record = Completion.objects.get()
    assert (record.birth_month, record.birth_day, record.status) == (7, 14, "accepted")


def test_xml_completed_datetime_with_a_time_keeps_the_date(client_of, editor_a, activity_a, roster):
    report = activity_report(activity_a, completed="2015-12-18T23:30:00-05:00")
    client = client_of(editor_a)
    confirm(client, upload(client, "report.xml", learner_report(report)))
    assert Completion.objects.get().completion_date == DEC_18


def test_xml_learner_record_action_delete(client_of, editor_a, activity_a, roster):
    existing = make_completion(activity_a, completion_date=DEC_18, status="accepted")
    report = activity_report(activity_a, action="delete")
    client = client_of(editor_a)
    checked = upload(client, "report.xml", learner_report(report))
    assert checked.preview_totals == totals(deleted=1)
    existing.refresh_from_db()
    assert existing.status == "accepted"  # not before confirm
    assert confirm(client, checked).result_totals == totals(deleted=1)
    existing.refresh_from_db()
    assert existing.status == "deleted"
    assert existing.events.last().to_status == "deleted"


# --- Adds and deletes in one file --------------------------------------------------------------


def test_mixed_file_with_adds_and_deletes(client_of, editor_a, activity_a, roster):
    old = make_completion(activity_a, credit="PS", completion_date=DEC_18, status="accepted")
    content = tsv(
        [
            cells(activity_a),
            cells(activity_a, action="delete", credit_type="PS"),
            cells(activity_a, OMAR),
            cells(activity_a, OMAR, action="DELETE", completion_date="12/01/2015"),
        ]
    )
    client = client_of(editor_a)
    checked = upload(client, "mixed.txt", content)
    assert checked.preview_totals == totals(created=2, deleted=1, error=1)
    assert issues(checked)[0][:2] == (5, "")
    assert "No record to delete" in issues(checked)[0][2]
    assert confirm(client, checked).result_totals == checked.preview_totals
    old.refresh_from_db()
    assert old.status == "deleted"
    assert keys() == [("123456", "MK", DEC_18), ("234567", "MK", DEC_18)]


def test_delete_then_add_of_the_same_key_in_one_file_is_a_correction(
    client_of, editor_a, activity_a, roster
):
    old = make_completion(activity_a, completion_date=DEC_18, first_name="Janet", status="accepted")
    content = delimited([cells(activity_a, action="delete"), cells(activity_a)])
    client = client_of(editor_a)
    checked = upload(client, "correction.csv", content)
    assert checked.preview_totals == totals(created=1, deleted=1)
    assert confirm(client, checked).result_totals == totals(created=1, deleted=1)
    old.refresh_from_db()
    new = Completion.objects.exclude(pk=old.pk).get()
    assert old.status == "deleted"
    assert (new.first_name, new.status) == ("Jane", "accepted")


def test_delete_then_add_correction_is_linked_to_the_deleted_record(
    client_of, editor_a, activity_a, roster
):
    """pars-spec §5: a correction is a delete plus a new add, linked to each other."""
    old = make_completion(activity_a, completion_date=DEC_18, first_name="Janet", status="accepted")
    content = delimited([cells(activity_a, action="delete"), cells(activity_a)])
    client = client_of(editor_a)
    confirm(client, upload(client, "correction.csv", content))
    new = Completion.objects.exclude(pk=old.pk).get()
    assert new.corrects_id == old.pk


# --- Preview, confirm, idempotency -------------------------------------------------------------


def test_preview_totals_are_exact_and_nothing_is_written_before_confirm(
    client_of, editor_a, activity_a, roster
):
    reported = make_completion(activity_a, credit="PS", completion_date=DEC_18, status="accepted")
    withdrawn = make_completion(
        activity_a, credit="PS", completion_date=DEC_18, status="accepted", learner_id="234567",
        first_name="Omar", last_name="Haddad", birth_month=2, birth_day=29,
    )  # fmt: skip
    content = delimited(
        [
            cells(activity_a),  # 2 created
            cells(activity_a, OMAR),  # 3 created
            cells(activity_a, credit_type="PS"),  # 4 already reported
            cells(activity_a, OMAR, action="delete", credit_type="PS"),  # 5 deleted
            cells(activity_a, OMAR, moc_points="12"),  # 6 error: more than registered
            cells(activity_a),  # 7 already reported (same as row 2)
        ]
    )
    client = client_of(editor_a)
    checked = upload(client, "preview.csv", content)
    assert checked.status == "preview"
    assert checked.preview_totals == {"created": 2, "already_reported": 2, "deleted": 1, "error": 1}
    assert checked.total_rows == 6
    # Nothing written yet.
    assert Completion.objects.count() == 2
    assert not Completion.objects.filter(upload=checked).exists()
    withdrawn.refresh_from_db()
    assert withdrawn.status == "accepted"
    assert CompletionEvent.objects.count() == 0

    text = page(client, checked)
    assert "Preview — nothing has been saved yet" in text
    assert "Confirm and save 2 records and 1 deletion" in text
    assert preview_row_numbers(text, "created") == [2, 3]
    assert preview_row_numbers(text, "already_reported") == [4, 7]
    assert preview_row_numbers(text, "deleted") == [5]
    assert preview_row_numbers(text, "error") == [6]
    assert f"Already reported: record {reported.pk}" in text
    assert "Already reported in row 2 of this submission." in text

    done = confirm(client, checked)
    assert done.status == "done"
    assert done.result_totals == done.preview_totals
    assert Completion.objects.filter(upload=done).count() == 2
    withdrawn.refresh_from_db()
    assert withdrawn.status == "deleted"
    assert Completion.objects.count() == 4
    text = page(client, done)
    assert re.search(r'data-total="created">2<', text)
    assert re.search(r'data-total="error">1<', text)


def test_duplicate_rows_in_different_batches_count_the_same_in_preview_and_result(
    client_of, editor_a, activity_a, roster, settings
):
    """A row repeated further down a large file is "already reported" in the preview; the
    result must say the same (and must not claim a record was created twice)."""
    settings.INTAKE_BATCH_SIZE = 2
    content = delimited([cells(activity_a), cells(activity_a, OMAR), cells(activity_a)])
    client = client_of(editor_a)
    checked = upload(client, "dupes.csv", content)
    assert checked.preview_totals == totals(created=2, already_reported=1)
    done = confirm(client, checked)
    assert Completion.objects.count() == 2
    assert done.result_totals == totals(created=2, already_reported=1)


def test_correction_across_a_batch_boundary_previews_as_it_commits(
    client_of, editor_a, activity_a, roster, settings
):
    settings.INTAKE_BATCH_SIZE = 1
    make_completion(activity_a, completion_date=DEC_18, first_name="Janet", status="accepted")
    content = delimited([cells(activity_a, action="delete"), cells(activity_a)])
    client = client_of(editor_a)
    checked = upload(client, "correction.csv", content)
    done = confirm(client, checked)
    assert done.result_totals == totals(created=1, deleted=1)
    assert checked.preview_totals == done.result_totals


def first_records():
    return Completion.objects.order_by("pk")


def test_same_file_twice_creates_nothing_the_second_time(client_of, editor_a, activity_a, roster):
    content = tsv([cells(activity_a), cells(activity_a, OMAR), cells(activity_a, credit_type="PS")])
    client = client_of(editor_a)
    first = confirm(client, upload(client, "week-50.txt", content))
    assert first.result_totals == totals(created=3)
    assert 'id="same-file"' not in page(client, first)

    again = upload(client, "week-50 (1).txt", content)
    assert again.same_file_as == first
    text = page(client, again)
    assert 'id="same-file"' in text
    assert "This exact file was already uploaded on" in text
    assert again.preview_totals == totals(already_reported=3)
    # Nothing to save: the upload ends there instead of waiting for a confirmation.
    assert again.status == Upload.Status.NOTHING
    assert 'id="confirm"' not in text and 'id="nothing-to-save"' in text
    assert Completion.objects.count() == 3
    assert CompletionEvent.objects.count() == 3
    # Which rows were already reported: the count links to them, each with its record.
    assert 'id="already-reported-rows"' in text and 'id="deleted-rows"' not in text
    listed = client.get(f"/uploads/{again.pk}/", {"rows": "already_reported"})
    assert listed.status_code == 200
    for record in first_records():
        assert f"record {record.pk}" in listed.content.decode()


def test_same_rows_reordered_in_another_file_create_nothing(
    client_of, editor_a, activity_a, roster
):
    rows = [cells(activity_a), cells(activity_a, OMAR), cells(activity_a, credit_type="PS")]
    client = client_of(editor_a)
    confirm(client, upload(client, "first.csv", delimited(rows)))
    reordered = upload(client, "second.txt", tsv(list(reversed(rows)), header=False))
    assert reordered.same_file_as is None
    assert 'id="same-file"' not in page(client, reordered)
    assert reordered.preview_totals == totals(already_reported=3)
    assert reordered.status == Upload.Status.NOTHING
    assert Completion.objects.count() == 3


# --- An interrupted commit ---------------------------------------------------------------------


def crash_on_second_event_write(monkeypatch):
    """The second batch's write fails after its records were inserted, inside its
    transaction (history entries are the batch's last write, whichever way it writes)."""
    calls = []

    def fail_second(write):
        def wrapper(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                raise OSError("disk full")
            return write(*args, **kwargs)

        return wrapper

    manager = CompletionEvent.objects
    monkeypatch.setattr(manager, "bulk_create", fail_second(manager.bulk_create))
    if hasattr(statuses, "insert_returning_ids"):  # the lean bulk insert
        real = statuses.insert_returning_ids
        events = fail_second(real)

        def insert(model, rows, **kwargs):
            write = events if model is CompletionEvent else real
            return write(model, rows, **kwargs)

        monkeypatch.setattr(statuses, "insert_returning_ids", insert)
    return calls


SIX = [
    (JANE, "MK", "12/18/2015"),
    (OMAR, "MK", "12/18/2015"),
    (JANE, "PS", "12/18/2015"),
    (OMAR, "PS", "12/18/2015"),
    (JANE, "MK", "12/19/2015"),
    (OMAR, "MK", "12/19/2015"),
]


def test_crash_in_the_middle_of_a_commit_then_retry_saves_every_row_once(
    client_of, editor_a, activity_a, roster, settings, monkeypatch
):
    settings.INTAKE_BATCH_SIZE = 2
    rows = [cells(activity_a, who, credit_type=ct, completion_date=d) for who, ct, d in SIX]
    client = client_of(editor_a)
    checked = upload(client, "six.csv", delimited(rows))
    assert checked.preview_totals == totals(created=6)

    crash_on_second_event_write(monkeypatch)
    failed = confirm(client, checked)
    assert failed.status == "failed"
    assert "interrupted" in failed.message
    assert "after 2 of 6 rows" in failed.message
    text = page(client, failed)
    assert failed.message in text and "Resume saving" in text
    # Only the first batch was saved; nothing of the batch that failed.
    saved = Completion.objects.filter(upload=failed)
    assert sorted(saved.values_list("learner_id", "credit_type__code")) == [
        ("123456", "MK"),
        ("234567", "MK"),
    ]
    assert CompletionEvent.objects.count() == 2

    response = client.post(reverse("upload_retry", args=[failed.pk]))
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == "done"
    assert failed.result_totals == totals(created=6)
    assert Completion.objects.count() == 6
    assert keys() == sorted(
        (who["learner_id"], ct, dt.datetime.strptime(d, "%m/%d/%Y").date()) for who, ct, d in SIX
    )
    assert CompletionEvent.objects.count() == 6
    assert not failed.issues.exists()
    # Retrying a finished upload does nothing.
    response = client.post(reverse("upload_retry", args=[failed.pk]), follow=True)
    assert "Only an interrupted upload can be retried." in html.unescape(response.content.decode())
    assert Completion.objects.count() == 6


# --- Error report ------------------------------------------------------------------------------

BAD_POINTS = "'10,5' is not a number; use a dot as the decimal separator (10.5)."


def read_delimited(content: bytes, delimiter) -> list[list[str]]:
    text = content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def write_delimited(rows, delimiter) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode()


def read_xlsx(content: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def write_xlsx_rows(rows) -> bytes:
    return xlsx(rows, header=None)


def error_report(client, an_upload) -> bytes:
    response = client.get(reverse("upload_errors", args=[an_upload.pk]))
    assert response.status_code == 200
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize("file_format", ["tsv", "csv", "xlsx"])
def test_error_report_lists_refused_rows_unchanged_and_can_be_fixed_and_uploaded(
    client_of, editor_a, activity_a, roster, file_format
):
    good = cells(activity_a)
    bad = cells(activity_a, OMAR, moc_points="10,5")
    worse = cells(activity_a, OMAR, credit_type="PS", completion_date="18/12/2015", board_code="")
    name, content = {
        "tsv": ("batch.txt", tsv([good, bad, worse], header=False)),
        "csv": ("batch.csv", delimited([good, bad, worse])),
        "xlsx": ("batch.xlsx", xlsx([good, bad, worse])),
    }[file_format]
    client = client_of(editor_a)
    done = confirm(client, upload(client, name, content))
    assert done.result_totals == totals(created=1, error=2)

    report = error_report(client, done)
    if file_format == "xlsx":
        rows = [["" if v is None else v for v in r] for r in read_xlsx(report)]
    else:
        rows = read_delimited(report, "\t" if file_format == "tsv" else ",")
    header, *body = rows
    assert header == TEMPLATE_HEADERS + ["Row", "Field", "Reason"]
    first = 1 if file_format == "tsv" else 2
    assert [r[:14] for r in body] == [bad, worse]  # only the refused rows, unchanged
    assert [r[14:] for r in body] == [
        [first + 1, "MOC Points", BAD_POINTS],
        [first + 2, "Completion Date (MM/DD/YYYY)",
         "'18/12/2015' is not a date; use MM/DD/YYYY or YYYY-MM-DD."],
    ] if file_format == "xlsx" else [
        [str(first + 1), "MOC Points", BAD_POINTS],
        [str(first + 2), "Completion Date (MM/DD/YYYY)",
         "'18/12/2015' is not a date; use MM/DD/YYYY or YYYY-MM-DD."],
    ]  # fmt: skip

    body[0][FIELDS.index("moc_points")] = "10"
    body[1][FIELDS.index("completion_date")] = "12/18/2015"
    fixed_rows = [header, *body]
    fixed = {
        "tsv": lambda: write_delimited(fixed_rows, "\t"),
        "csv": lambda: write_delimited(fixed_rows, ","),
        "xlsx": lambda: write_xlsx_rows(fixed_rows),
    }[file_format]()
    again = upload(client, f"fixed-{name}", fixed)
    assert again.preview_totals == totals(created=2), issues(again)
    assert confirm(client, again).result_totals == totals(created=2)
    assert keys() == [("123456", "MK", DEC_18), ("234567", "MK", DEC_18), ("234567", "PS", DEC_18)]


def local(tree, name) -> list:
    return tree.xpath(f".//*[local-name()='{name}']")


@pytest.mark.parametrize("namespaced", [False, True], ids=["plain", "medbiquitous-ns"])
def test_xml_error_report_lists_refused_reports_and_can_be_fixed_and_uploaded(
    client_of, editor_a, activity_a, roster, namespaced
):
    content = learner_report(
        activity_report(activity_a, namespaced=namespaced),
        activity_report(activity_a, OMAR, credits=[("MK", "10,5")], namespaced=namespaced),
        namespaced=namespaced,
    )
    client = client_of(editor_a)
    done = confirm(client, upload(client, "report.xml", content))
    assert done.result_totals == totals(created=1, error=1)

    report = error_report(client, done)
    tree = etree.fromstring(report)
    assert etree.QName(tree).localname == "ACCMELearnerReports"
    (refused,) = local(tree, "ActivityReport")  # only the refused report
    assert [e.text for e in local(refused, "GivenName")] == ["Omar"]
    assert local(refused, "CreditReceived")[0].get("numberOfCredits") == "10,5"  # unchanged
    (error,) = local(refused, "UploadError")
    (issue,) = done.issues.filter(phase="commit")
    assert error.text == BAD_POINTS
    assert error.get("field") == issue.field_label  # as the upload's page names it
    assert error.get("line") == str(issue.row_number)

    fixed = report.replace(b'numberOfCredits="10,5"', b'numberOfCredits="10"')
    again = upload(client, "report-errors.xml", fixed)
    assert again.preview_totals == totals(created=1), issues(again)
    confirm(client, again)
    assert keys() == [("123456", "MK", DEC_18), ("234567", "MK", DEC_18)]


def test_xml_error_report_of_a_single_line_file_lists_every_refused_report(
    client_of, editor_a, activity_a, roster
):
    """Machine-written XML often has no line breaks: every refused report must still be in
    the error report, each with its own errors."""
    bad_points = activity_report(activity_a, OMAR, credits=[("MK", "10,5")])
    bad_date = activity_report(activity_a, completed="18/12/2015")
    good = activity_report(activity_a, OMAR, credits=[("PS", "5")])
    one_line = b"".join(
        line.strip() for line in learner_report(bad_points, good, bad_date).splitlines()
    )
    client = client_of(editor_a)
    checked = upload(client, "one-line.xml", one_line)
    assert checked.preview_totals == totals(created=1, error=2)
    tree = etree.fromstring(error_report(client, checked))
    reports = local(tree, "ActivityReport")
    assert [local(r, "GivenName")[0].text for r in reports] == ["Omar", "Jane"]
    assert [[e.text for e in local(r, "UploadError")] for r in reports] == [
        [BAD_POINTS],
        ["'18/12/2015' is not a date; use MM/DD/YYYY or YYYY-MM-DD."],
    ]


def test_xlsx_error_report_with_date_cells_can_be_fixed_and_uploaded(
    client_of, editor_a, activity_a, roster
):
    """Excel date cells of a refused row must come back in the report as something the
    upload reads again (not "2015-12-18 00:00:00")."""
    bad = cells(activity_a, OMAR, moc_points="10,5")
    bad[FIELDS.index("completion_date")] = dt.datetime(2015, 12, 18)
    bad[FIELDS.index("learner_id")] = 234567
    client = client_of(editor_a)
    done = upload(client, "dates.xlsx", xlsx([bad]))
    assert (done.status, done.preview_totals) == (Upload.Status.NOTHING, totals(error=1))
    header, row = read_xlsx(error_report(client, done))
    row[FIELDS.index("moc_points")] = "10"
    again = upload(client, "dates-errors.xlsx", xlsx([row], header=header))
    assert again.preview_totals == totals(created=1), issues(again)


# --- History and access ------------------------------------------------------------------------


def test_upload_history_lists_the_upload_with_its_totals(client_of, editor_a, activity_a, roster):
    content = delimited([cells(activity_a), cells(activity_a, OMAR, moc_points="10,5")])
    client = client_of(editor_a)
    previewed = upload(client, "waiting.csv", content)
    done = confirm(client, upload(client, "history.csv", content.replace(b"Jane", b"JANE")))
    response = client.get(reverse("upload_list"))
    assert response.status_code == 200
    text = html.unescape(response.content.decode())
    assert "history.csv" in text and "waiting.csv" in text
    assert reverse("upload_detail", args=[done.pk]) in text
    assert reverse("upload_detail", args=[previewed.pk]) in text
    assert "1 created · 0 already reported · 0 deleted · 1 errors" in text
    assert text.index("history.csv") < text.index("waiting.csv")  # newest first


def test_other_provider_cannot_see_or_act_on_an_upload(
    client_of, editor_a, editor_b, activity_a, roster
):
    content = delimited([cells(activity_a), cells(activity_a, OMAR, moc_points="10,5")])
    theirs = upload(client_of(editor_a), "a.csv", content)
    client = client_of(editor_b)
    assert client.get(reverse("upload_detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("upload_errors", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("upload_confirm", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("upload_retry", args=[theirs.pk])).status_code == 404
    assert "a.csv" not in client.get(reverse("upload_list")).content.decode()
    theirs.refresh_from_db()
    assert theirs.status == "preview"
    assert not Completion.objects.exists()


def test_viewer_sees_the_upload_but_cannot_confirm_it(
    client_of, editor_a, viewer_a, activity_a, roster
):
    theirs = upload(client_of(editor_a), "a.csv", delimited([cells(activity_a)]))
    client = client_of(viewer_a)
    text = page(client, theirs)
    assert "a.csv" in text and 'id="confirm"' not in text
    assert client.get(reverse("upload_errors", args=[theirs.pk])).status_code == 200
    assert client.post(reverse("upload_confirm", args=[theirs.pk])).status_code == 403
    assert client.get(reverse("upload_create")).status_code == 403
    theirs.refresh_from_db()
    assert theirs.status == "preview"
    assert not Completion.objects.exists()


def test_resumed_save_does_not_replay_saved_delete_and_add_rows(
    client_of, editor_a, activity_a, roster, settings, monkeypatch
):
    """Review finding: a retry must resume after the last saved batch. A file that deletes
    and re-adds a record, interrupted later, must not delete the corrected record again."""
    original = make_completion(activity_a, status="accepted", completion_date=dt.date(2015, 12, 18))
    settings.INTAKE_BATCH_SIZE = 2
    rows = [
        ["delete", activity_a.pars_id, "ABIM", "123456", "Jane", "Smith", "7", "14",
         "12/18/2015", "MK", "10", "", "Y"],
        ["add", activity_a.pars_id, "ABIM", "123456", "Jane", "Smith", "7", "14",
         "12/18/2015", "MK", "10", "", "Y"],
        ["add", activity_a.pars_id, "ABIM", "234567", "Omar", "Haddad", "2", "29",
         "12/18/2015", "MK", "10", "", "Y"],
    ]  # fmt: skip
    content = "\n".join("\t".join(r) for r in rows).encode()
    client = client_of(editor_a)
    client.post(reverse("upload_create"), {"file": SimpleUploadedFile("fix.txt", content)})
    upload = Upload.objects.get()
    calls = {"n": 0}
    real = statuses.insert_returning_ids

    def failing_second_batch(model, rows, **kwargs):
        if model is Completion:
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("worker killed")
        return real(model, rows, **kwargs)

    monkeypatch.setattr(statuses, "insert_returning_ids", failing_second_batch)
    client.post(reverse("upload_confirm", args=[upload.pk]))
    upload.refresh_from_db()
    assert (upload.status, upload.committed_rows) == ("failed", 2)
    corrected = Completion.objects.get(status="accepted", learner_id="123456")
    assert corrected.corrects_id == original.pk
    monkeypatch.setattr(statuses, "insert_returning_ids", real)
    client.post(reverse("upload_retry", args=[upload.pk]))
    upload.refresh_from_db()
    assert upload.status == "done"
    corrected.refresh_from_db()
    assert corrected.status == "accepted"  # not deleted again by a replayed row
    assert Completion.objects.exclude(status="deleted").count() == 2
    assert upload.result_totals == {"created": 2, "already_reported": 0, "deleted": 1, "error": 0}


def test_delete_and_add_in_different_batches_are_still_a_linked_correction(
    client_of, editor_a, activity_a, roster, settings
):
    original = make_completion(activity_a, status="accepted", completion_date=dt.date(2015, 12, 18))
    settings.INTAKE_BATCH_SIZE = 1
    rows = [
        ["delete", activity_a.pars_id, "ABIM", "123456", "Jane", "Smith", "7", "14",
         "12/18/2015", "MK", "10", "", "Y"],
        ["add", activity_a.pars_id, "ABIM", "123456", "Jane", "Smith", "7", "14",
         "12/18/2015", "MK", "10", "", "Y"],
    ]  # fmt: skip
    content = "\n".join("\t".join(r) for r in rows).encode()
    client = client_of(editor_a)
    client.post(reverse("upload_create"), {"file": SimpleUploadedFile("fix.txt", content)})
    client.post(reverse("upload_confirm", args=[Upload.objects.get().pk]))
    new = Completion.objects.get(status="accepted")
    assert new.corrects_id == original.pk


def test_the_upload_page_watches_a_small_status_answer(client_of, editor_a, activity_a, roster):
    """The page's script follows the upload's state instead of reloading every 2 s; the
    answer says where the upload is, and the page keeps a reload for browsers without script."""
    client = client_of(editor_a)
    an_upload = upload(client, "two.tsv", tsv([cells(activity_a), cells(activity_a, who=OMAR)]))
    state = client.get(reverse("upload_status", args=[an_upload.pk])).json()
    assert state == {
        "status": "preview", "working": False, "processed": 2, "total": 2, "percent": 100,
    }  # fmt: skip
    confirm(client, an_upload)
    assert client.get(reverse("upload_status", args=[an_upload.pk])).json()["status"] == "done"
