"""Downloads: participant exports (CSV, Excel, XML) hold the provider's records only, are safe
to open in a spreadsheet, and read back; the templates parse into one valid row."""

import csv
import datetime as dt
import html
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from lxml import etree
from openpyxl import load_workbook

from participants import parsers
from participants.exports import record_headers
from participants.models import Completion, Upload
from participants.parsers import TEMPLATE_HEADERS

from .conftest import make_activity, make_completion

ID_LENGTHS = {"ABIM": 6}
ENTERED = "Entered (America/Chicago)"  # the portal's time zone (settings.TIME_ZONE)
DEC_18 = dt.date(2015, 12, 18)
FORMATS = ["csv", "xlsx", "xml"]


# Uploaded and generated files go to each test's own folder.
pytestmark = pytest.mark.usefixtures("media_root")


def download(client, url) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return b"".join(response.streaming_content) if response.streaming else response.content


def table(content: bytes, file_format: str) -> list[list]:
    """Header and rows of an export, every cell as a string (None → "")."""
    if file_format == "xlsx":
        sheet = load_workbook(io.BytesIO(content)).worksheets[0]
        return [
            ["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)
        ]  # noqa: E501
    delimiter = "\t" if file_format == "tsv" else ","
    assert content.startswith(b"\xef\xbb\xbf")  # Excel then reads it as UTF-8
    return list(
        csv.reader(io.StringIO(content.decode("utf-8-sig"), newline=""), delimiter=delimiter)
    )


def xml_rows(content: bytes, provider_id="0001234") -> list:
    return list(
        parsers.parse_xml(io.BytesIO(content), provider_id=provider_id, id_lengths=ID_LENGTHS)
    )


def exported(content: bytes, file_format: str, provider_id="0001234") -> list[tuple]:
    """(ABIM ID, last name, PARS activity ID) of every exported record."""
    if file_format == "xml":
        rows = xml_rows(content, provider_id)
        return sorted((r.learner_id, r.last_name, r.activity_ref) for r in rows)
    header, *rows = table(content, file_format)
    assert header == record_headers()
    at = {name: header.index(name) for name in ("Board ID", "Last Name", "PARS Activity ID")}
    return sorted((r[at["Board ID"]], r[at["Last Name"]], r[at["PARS Activity ID"]]) for r in rows)


@pytest.fixture
def records(activity_a, activity_b, provider_a, editor_a):
    other_a = make_activity(provider_a, editor_a, title="Second activity of A")
    return {
        "a": make_completion(activity_a, last_name="Aardvark", completion_date=DEC_18),
        "a_ps": make_completion(activity_a, last_name="Aardwolf", credit="PS"),
        "a_other": make_completion(other_a, last_name="Albatross", learner_id="234567"),
        "b": make_completion(activity_b, last_name="Bumblebee", learner_id="345678"),
    }


# --- The provider's records only -----------------------------------------------------------


@pytest.mark.parametrize("file_format", FORMATS)
def test_activity_export_holds_that_activitys_records_only(
    client_of, editor_a, activity_a, records, file_format
):
    url = reverse("activity_export", args=[activity_a.pars_id, file_format])
    content = download(client_of(editor_a), url)
    assert exported(content, file_format) == [
        ("123456", "Aardvark", activity_a.pars_id),
        ("123456", "Aardwolf", activity_a.pars_id),
    ]


@pytest.mark.parametrize("file_format", FORMATS)
def test_participant_export_holds_the_providers_records_only(
    client_of, editor_a, editor_b, activity_a, activity_b, records, file_format
):
    url = reverse("participant_export", args=[file_format])
    mine = exported(download(client_of(editor_a), url), file_format)
    assert [last for _, last, _ in mine] == ["Aardvark", "Aardwolf", "Albatross"]
    theirs = exported(download(client_of(editor_b), url), file_format, "0005678")
    assert theirs == [("345678", "Bumblebee", activity_b.pars_id)]


@pytest.mark.parametrize("file_format", FORMATS)
def test_another_providers_activity_export_is_not_found(
    client_of, editor_b, activity_a, records, file_format
):
    url = reverse("activity_export", args=[activity_a.pars_id, file_format])
    assert client_of(editor_b).get(url).status_code == 404


def test_participant_export_follows_the_search_filter(client_of, editor_a, records):
    url = reverse("participant_export", args=["csv"]) + "?last_name=aardwolf"
    assert [r[1] for r in exported(download(client_of(editor_a), url), "csv")] == ["Aardwolf"]


def test_csv_export_row_has_the_template_columns_and_status(
    client_of, editor_a, activity_a, records
):
    record = records["a"]
    content = download(
        client_of(editor_a), reverse("activity_export", args=[activity_a.pars_id, "csv"])
    )
    header, *rows = table(content, "csv")
    row = dict(zip(header, next(r for r in rows if r[5] == "Aardvark"), strict=True))
    assert row | {ENTERED: ""} == {
        "Action": "add", "PARS Activity ID": activity_a.pars_id, "Board": "ABIM",
        "Board ID": "123456", "First Name": "Jane", "Last Name": "Aardvark",
        "Birth Month": "7", "Birth Day": "14", "Completion Date (MM/DD/YYYY)": "12/18/2015",
        "Credit Type": "MK", "MOC Points": "10", "CME Credits": "",
        "Learner Permission (Y/N)": "Y", "Credit ID": record.credit_id,
        "Record ID": str(record.pk),
        "Status": "Submitted", "Status Reason": "", "Warning": "", ENTERED: "",
        "Channel": "Web form",
        # Completed 12/18/2015, entered today: after the 2015 deadline and its grace period.
        "Late": "Late: sent after the deadline; Sent more than 30 days after completion",
    }  # fmt: skip


# --- Formula neutralisation ------------------------------------------------------------------

TRIGGERS = ["=", "+", "-", "@", "\t", "\r"]
PAYLOAD = "cmd|' /C calc'!A0"


@pytest.mark.parametrize("trigger", TRIGGERS, ids=["eq", "plus", "minus", "at", "tab", "cr"])
def test_csv_cell_starting_with_a_formula_trigger_is_neutralised(
    client_of, editor_a, activity_a, trigger
):
    make_completion(activity_a, first_name=trigger + PAYLOAD, last_name="Smith")
    content = download(client_of(editor_a), reverse("participant_export", args=["csv"]))
    header, row = table(content, "csv")
    cell = row[header.index("First Name")]
    assert cell.startswith("'")
    assert cell == "'" + trigger + PAYLOAD


@pytest.mark.parametrize("trigger", TRIGGERS, ids=["eq", "plus", "minus", "at", "tab", "cr"])
def test_xlsx_cell_starting_with_a_formula_trigger_is_text_not_a_formula(
    client_of, editor_a, activity_a, trigger
):
    make_completion(activity_a, first_name=trigger + PAYLOAD, last_name="Smith")
    content = download(client_of(editor_a), reverse("participant_export", args=["xlsx"]))
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("First Name") + 1)
    assert cell.data_type == "s"  # a string, not a formula ("f")
    assert isinstance(cell.value, str) and cell.value.startswith("'")
    assert cell.value == "'" + trigger + PAYLOAD


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_every_text_column_is_neutralised_not_only_names(
    client_of, editor_a, activity_a, file_format
):
    make_completion(
        activity_a, last_name="=HYPERLINK(\"http://x\")", status_reason="@SUM(A1)",
        warning="+1", credit_id="-ccid",
    )  # fmt: skip
    content = download(client_of(editor_a), reverse("participant_export", args=[file_format]))
    header, row = table(content, file_format)
    for column in ("Last Name", "Status Reason", "Warning", "Credit ID"):
        assert row[header.index(column)].startswith("'"), column


def test_harmless_values_are_exported_unchanged(client_of, editor_a, activity_a):
    make_completion(
        activity_a, first_name="Anne-Marie", last_name="O'Neil", cme_credits=Decimal("1.5")
    )
    header, row = table(
        download(client_of(editor_a), reverse("participant_export", args=["csv"])), "csv"
    )
    assert row[header.index("First Name")] == "Anne-Marie"
    assert row[header.index("Last Name")] == "O'Neil"
    assert row[header.index("CME Credits")] == "1.5"


# --- XML export ------------------------------------------------------------------------------


def test_xml_export_round_trips_through_the_xml_parser(client_of, editor_a, activity_a):
    first = make_completion(
        activity_a, first_name="=Zoë", last_name="Smith & Sons <Ltd>", completion_date=DEC_18,
        moc_points=Decimal("7.25"), credit_id="ccid:lms:abc-1", status="accepted",
    )  # fmt: skip
    second = make_completion(
        activity_a, credit="PS", learner_id="234567", first_name="Omar", last_name="Haddad",
        birth_month=2, birth_day=29, completion_date=dt.date(2015, 12, 1),
    )  # fmt: skip
    content = download(
        client_of(editor_a), reverse("activity_export", args=[activity_a.pars_id, "xml"])
    )
    rows = xml_rows(content)
    assert [r.errors for r in rows] == [{}, {}]
    got = [
        (r.action, r.activity_ref, r.board_code, r.learner_id, r.first_name, r.last_name,
         r.birth_month, r.birth_day, r.completion_date, r.credit_type, r.moc_points,
         r.credit_id, r.learner_permission)
        for r in rows
    ]  # fmt: skip
    want = [
        ("add", activity_a.pars_id, "ABIM", c.learner_id, c.first_name, c.last_name,
         c.birth_month, c.birth_day, c.completion_date, c.credit_type.code, c.moc_points,
         c.credit_id, True)
        for c in (first, second)
    ]  # fmt: skip
    assert got == want


def test_xml_export_is_a_learner_report(client_of, editor_a, activity_a, records):
    content = download(client_of(editor_a), reverse("participant_export", args=["xml"]))
    root = etree.fromstring(content)
    assert root.tag == "ACCMELearnerReports"
    reports = root.findall("ActivityReports/ActivityReport")
    assert len(reports) == 3
    assert {r.findtext("Activity/ProviderOrganization") for r in reports} == {"0001234"}


# --- Templates -------------------------------------------------------------------------------

EXAMPLE = {
    "activity_ref": "123456789", "board_code": "ABIM", "learner_id": "123456",
    "first_name": "Jane", "last_name": "Smith", "birth_month": 7, "birth_day": 14,
    "completion_date": DEC_18, "credit_type": "MK", "moc_points": Decimal("10"),
    "learner_permission": True,
}  # fmt: skip


@pytest.mark.parametrize("file_format", ["tsv", "csv", "xlsx", "xml"])
def test_template_parses_back_into_exactly_one_valid_row(
    client_of, viewer_a, tmp_path, file_format
):
    content = download(client_of(viewer_a), reverse("upload_template", args=[file_format]))
    meta = {}
    if file_format == "xlsx":
        path = tmp_path / "template.xlsx"
        path.write_bytes(content)
        rows = list(parsers.parse_xlsx(path, id_lengths=ID_LENGTHS, meta=meta))
    elif file_format == "xml":
        rows = xml_rows(content)
    else:
        parse = parsers.parse_tsv if file_format == "tsv" else parsers.parse_csv
        rows = list(parse(io.BytesIO(content), id_lengths=ID_LENGTHS, meta=meta))
    assert len(rows) == 1
    (row,) = rows
    assert row.errors == {}
    assert row.action == "add"
    # The sample row is dated today: a template never suggests a stale or future year.
    expected = EXAMPLE | {"completion_date": timezone.localdate()}
    assert {name: getattr(row, name) for name in EXAMPLE} == expected
    if file_format != "xml":
        assert meta["header"] == TEMPLATE_HEADERS


@pytest.mark.parametrize("file_format", ["tsv", "csv", "xlsx", "xml"])
def test_filled_in_template_uploads_as_one_record(
    client_of, editor_a, activity_a, roster, file_format
):
    """The template as downloaded, with only the example's activity ID replaced."""
    client = client_of(editor_a)
    content = download(client, reverse("upload_template", args=[file_format]))
    if file_format == "xlsx":
        workbook = load_workbook(io.BytesIO(content))
        workbook.worksheets[0]["B2"] = activity_a.pars_id
        out = io.BytesIO()
        workbook.save(out)
        content = out.getvalue()
    else:
        content = content.replace(b"123456789", activity_a.pars_id.encode())
    name = {"tsv": "t.txt", "csv": "t.csv", "xlsx": "t.xlsx", "xml": "t.xml"}[file_format]
    response = client.post(reverse("upload_create"), {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 302
    upload = Upload.objects.get()
    assert upload.preview_totals["created"] == 1, upload.message
    client.post(reverse("upload_confirm", args=[upload.pk]))
    record = Completion.objects.get()
    assert (record.learner_id, record.status) == ("123456", "accepted")


# --- Exports never break, and are safe to upload again ------------------------------------------


def test_a_name_with_a_control_character_does_not_break_the_exports(
    client_of, editor_a, activity_a, roster
):
    """A control character that came in through an upload must not turn every later
    Excel or XML export of the provider into a server error."""
    line = ",".join(["add", activity_a.pars_id, "ABIM", "123456", "Ja\x01ne", "Smith", "7",
                     "14", "12/18/2015", "MK", "10", "", "Y", ""])  # fmt: skip
    content = (",".join(TEMPLATE_HEADERS) + "\r\n" + line + "\r\n").encode()
    client = client_of(editor_a)
    client.post(reverse("upload_create"), {"file": SimpleUploadedFile("ctl.csv", content)})
    upload = Upload.objects.get()
    client.post(reverse("upload_confirm", args=[upload.pk]))
    make_completion(activity_a, credit="PS", first_name="Jane")  # an ordinary record
    client.raise_request_exception = False
    for file_format in FORMATS:
        url = reverse("participant_export", args=[file_format])
        response = client.get(url)
        assert response.status_code == 200, file_format
        content = b"".join(response.streaming_content)
        assert len(exported(content, file_format)) == Completion.objects.count()


@pytest.mark.parametrize("as_is", [True, False], ids=["as-is", "status-columns-removed"])
def test_uploading_an_export_again_changes_nothing(client_of, editor_a, activity_a, roster, as_is):
    """The export has the template's columns "so an export can be uploaded again"
    (exports.record_cells); doing so must not delete or re-create anything, also for a
    record that was corrected (its deleted original is exported too)."""
    old = make_completion(activity_a, completion_date=DEC_18, first_name="Janet", status="deleted")
    new = make_completion(activity_a, completion_date=DEC_18, status="accepted", corrects=old)
    other = make_completion(
        activity_a, learner_id="234567", first_name="Omar", last_name="Haddad", birth_month=2,
        birth_day=29, status="accepted",
    )  # fmt: skip
    client = client_of(editor_a)
    content = download(client, reverse("activity_export", args=[activity_a.pars_id, "csv"]))
    if not as_is:  # what staff do in a spreadsheet when the upload refuses those columns
        out = io.StringIO()
        csv.writer(out).writerows(row[: len(TEMPLATE_HEADERS)] for row in table(content, "csv"))
        content = out.getvalue().encode()
    response = client.post(
        reverse("upload_create"), {"file": SimpleUploadedFile("export.csv", content)}
    )
    assert response.status_code == 302
    upload = Upload.objects.get()
    assert upload.status == "nothing", upload.message  # nothing to save: it ends there
    page = html.unescape(client.get(reverse("upload_detail", args=[upload.pk])).content.decode())
    assert "Will be deleted" not in page
    preview = upload.preview_totals
    assert (preview["created"], preview["deleted"]) == (0, 0), preview
    client.post(reverse("upload_confirm", args=[upload.pk]))
    assert sorted(Completion.objects.exclude(status="deleted").values_list("pk", flat=True)) == [
        new.pk,
        other.pk,
    ]
