"""Writers, one per format, for exports, error reports, templates and board batches.

Spreadsheet cells that start with = + - @ tab or CR are prefixed with an apostrophe, so a
spreadsheet shows them as text instead of running them as formulas.
"""

import csv
import datetime as dt
import io
import itertools
from collections.abc import Iterable
from decimal import Decimal

from django.utils import timezone
from lxml import etree
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from activities.deadlines import deadline_table
from activities.validators import writable
from pars_portal.lib.values import neutralize

from .parsers import (
    REPORT_COLUMNS,
    TEMPLATE_HEADERS,
    element_from_json,
    field_label,
    header_key,
)

LEARNER_REPORT_ROOT = "ACCMELearnerReports"


# --- Times -----------------------------------------------------------------------------------
#
# Every time the portal shows or exports is in its time zone (settings.TIME_ZONE): pages say
# "11/30/2026 09:15 CST", text exports and the API ISO 8601 with the offset
# ("2026-11-30T09:15:00-06:00"), XLSX a date-time cell under a header naming the zone.


def local_time(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value).replace(microsecond=0)


def time_text(value: dt.datetime | None) -> str:
    """ISO 8601 with the portal's offset, to the second."""
    return local_time(value).isoformat() if value else ""


def time_zone_name() -> str:
    return timezone.get_current_timezone_name()


def export_text(value) -> str:
    """A typed export value as text-file exports write it (the upload template's forms)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return time_text(value)
    if isinstance(value, dt.date):
        return value.strftime("%m/%d/%Y")
    if isinstance(value, Decimal):
        return _points(value)
    return value if isinstance(value, str) else str(value)


def write_delimited(stream, header: list, rows: Iterable[list], *, delimiter: str, safe=True):
    """CSV or tab-delimited text, UTF-8 with a BOM (Excel then reads it as UTF-8)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\r\n")
    if header:
        writer.writerow(header)
    for row in rows:
        row = [export_text(v) for v in row]
        writer.writerow([neutralize(v) for v in row] if safe else row)
    text.flush()
    text.detach()


XLSX_DATE = "mm/dd/yyyy"
XLSX_TIME = "mm/dd/yyyy hh:mm"
XLSX_WIDTH_SAMPLE = 500  # rows read ahead to size the columns
XLSX_WIDTH_MAX = 60


def _xlsx_value(value):
    """(value, number format) for a cell: numbers and dates stay typed, times local."""
    if isinstance(value, dt.datetime):
        # Excel has no time zones: the local wall time, under a header naming the zone.
        return local_time(value).replace(tzinfo=None), XLSX_TIME
    if isinstance(value, dt.date):
        return value, XLSX_DATE
    if isinstance(value, Decimal):
        return value.normalize(), "General"
    return value, None


def _display_width(value) -> int:
    if isinstance(value, dt.datetime):
        return 16
    if isinstance(value, dt.date):
        return 10
    return len(export_text(value))


def write_xlsx(stream, header: list, rows: Iterable[list], *, title="Records", safe=True):
    """A workbook with a frozen, bold header row, columns sized to their contents, number
    and date cells where the value is a number or a date, and text cells (never formulas)
    for text."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    rows = iter(rows)
    ahead = list(itertools.islice(rows, XLSX_WIDTH_SAMPLE))
    widths = [len(str(h)) for h in header]
    for row in ahead:
        for index, value in enumerate(row):
            if index >= len(widths):
                widths.append(0)
            widths[index] = max(widths[index], _display_width(value))
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(width + 2, XLSX_WIDTH_MAX)
    if header:
        sheet.freeze_panes = "A2"
        bold = Font(bold=True)
        cells = []
        for name in header:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = bold
            cells.append(cell)
        sheet.append(cells)
    for row in itertools.chain(ahead, rows):
        cells = []
        for value in row:
            if isinstance(value, str):
                cell = WriteOnlyCell(sheet, value=writable(neutralize(value) if safe else value))
                cell.data_type = "s"  # text, never a formula
            else:
                value, number_format = _xlsx_value(value)
                cell = WriteOnlyCell(sheet, value=value)
                if number_format:
                    cell.number_format = number_format
            cells.append(cell)
        sheet.append(cells)
    workbook.save(stream)


# --- The learner report of pars-spec §8.1 / §9 ------------------------------------------------
#
# One report is built once, as the JSON shape of §9 (`report_data`); the XML is written from
# that same structure (`report_element`), so the two can never disagree.

# The portal never stores a birth year (pars-spec §3), but the drafts require BirthDate as
# YYYY-MM-DD: it writes this placeholder year, a leap year so that 29 February exists.
# Readers ignore the year.
PLACEHOLDER_BIRTH_YEAR = 1904


def birth_date_text(month: int, day: int) -> str:
    return f"{PLACEHOLDER_BIRTH_YEAR:04d}-{month:02d}-{day:02d}"


def completed_text(date: dt.date) -> str:
    """A completion date as the drafts' date-time (a completion never has a time)."""
    return f"{date.isoformat()}T00:00:00"


def _amount(value: Decimal) -> Decimal:
    return value.normalize() if value == value.to_integral() else value


def report_data(
    *, provider_name: str, provider_id: str, first_name: str, last_name: str,
    birth_month: int, birth_day: int, pars_id: str, title: str, completion_date: dt.date,
    board: str, learner_id: str, credit_type: str, moc_points: Decimal, credit_id: str,
    action: str = "add", cme_credits: Decimal | None = None, extra: dict | None = None,
) -> dict:  # fmt: skip
    """One ActivityReport of one record, meeting every constraint of pars-spec §9.

    `action` is `add` or `delete`, never a status: a record's status and other portal
    facts go into XtensibleInfo (`extra`), the format's place for extensions. CME credits
    travel there too (`CMECredits`), since a CreditReceived must be in MOC points."""
    if action not in ("add", "delete"):
        raise ValueError(f"A learner report action is add or delete, not {action!r}.")
    info = {"LearnerRecordAction": action}
    if cme_credits is not None:
        info["CMECredits"] = _amount(cme_credits)
    info.update(extra or {})
    return {
        "ReportingOrganization": provider_name,
        "Member": {
            "Name": {"GivenName": first_name, "FamilyName": last_name},
            "PersonalInfo": {"BirthDate": birth_date_text(birth_month, birth_day)},
        },
        "Activity": {
            "ProviderOrganization": provider_id,
            "Module": {
                "ModuleName": {"value": title, "moduleID": pars_id},
                "Status": "Completed",
                "CompletedDateTime": completed_text(completion_date),
                "CreditCertificate": [
                    {
                        "UniqueID": {"value": learner_id, "domain": board},
                        "CreditReceived": {
                            "activityCertification": credit_type,
                            "creditUnit": "Point",
                            "numberOfCredits": _amount(moc_points),
                        },
                        "CreditID": credit_id,
                    }
                ],
            },
        },
        "XtensibleInfo": info,
    }


def report_element(data: dict) -> etree._Element:
    """The XML of a structure built by `report_data`."""
    return element_from_json(data)


def document_data(reports: list[dict], *, created=None) -> dict:
    """The whole learner report document in the JSON shape of pars-spec §9."""
    created = created or dt.datetime.now(dt.UTC).replace(microsecond=0)
    return {
        LEARNER_REPORT_ROOT: {
            "ActivityReports": {"DateTimeCreated": created.isoformat(), "ActivityReport": reports}
        }
    }


def write_learner_report(
    stream, reports: Iterable[etree._Element], *, created=None, namespace: str | None = None
):
    """Stream an XML learner report: reports are written one by one, never all in memory.
    With `namespace`, the wrapper elements are in it (as the reports are)."""
    created = created or dt.datetime.now(dt.UTC).replace(microsecond=0)

    def name(local):
        return etree.QName(namespace, local).text if namespace else local

    with etree.xmlfile(stream, encoding="utf-8") as xf:
        xf.write_declaration()
        nsmap = {None: namespace} if namespace else None
        with (
            xf.element(name(LEARNER_REPORT_ROOT), nsmap=nsmap),
            xf.element(name("ActivityReports")),
        ):
            stamp = etree.Element(name("DateTimeCreated"))
            stamp.text = created.isoformat()
            xf.write(stamp)
            for report in reports:
                xf.write(report)


# --- What the portal offers for download ----------------------------------------------------

RECORD_EXTRA_HEADERS = [
    "Record ID", "Status", "Status Reason", "Warning", "Entered", "Channel", "Late",
]  # fmt: skip


def record_headers() -> list[str]:
    """The export's columns; "Entered" names the time zone its times are in."""
    zone = time_zone_name()
    return TEMPLATE_HEADERS + [
        f"Entered ({zone})" if h == "Entered" else h for h in RECORD_EXTRA_HEADERS
    ]


CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "tsv": "text/tab-separated-values; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xml": "application/xml; charset=utf-8",
}
EXTENSIONS = {"csv": "csv", "tsv": "txt", "xlsx": "xlsx", "xml": "xml"}


def _points(value):
    return format(value.normalize(), "f") if value is not None else ""


def record_cells(c, table=None) -> list:
    """A Completion as the template's columns (so an export can be uploaded again) plus its
    status, typed: numbers, dates and the entry time stay numbers, a date and a datetime;
    each writer formats them (`export_text` for text files, typed cells in XLSX)."""
    return [
        # A deleted record's last instruction was a delete; its credit ID names exactly that
        # record, so uploading the export again reports it "already deleted" and never
        # touches its correction.
        record_action(c),
        c.activity.pars_id,
        c.board.code,
        c.learner_id,
        c.first_name,
        c.last_name,
        c.birth_month,
        c.birth_day,
        c.completion_date,
        c.credit_type.code,
        c.moc_points,
        c.cme_credits,
        "Y" if c.learner_permission else "N",
        c.credit_id,
        c.pk,
        c.get_status_display(),
        c.status_reason,
        c.warning,
        c.created_at,
        c.get_channel_display(),
        "; ".join(c.lateness(table).labels),
    ]


def record_action(c) -> str:
    return "delete" if c.status == "deleted" else "add"


def record_extra(c) -> dict:
    """What exports and API answers say of a record in XtensibleInfo."""
    extra = {"RecordID": c.pk, "RecordStatus": c.status}
    if c.status_reason:
        extra["StatusReason"] = c.status_reason
    if c.warning:
        extra["Warning"] = c.warning
    return extra


def record_data(c, *, action: str | None = None, extra: dict | None = None) -> dict:
    """A Completion as one ActivityReport (pars-spec §9 JSON shape). Exports describe the
    record in XtensibleInfo (`record_extra`); transmissions pass their own `extra`."""
    if extra is None:
        extra = record_extra(c)
    return report_data(
        provider_name=c.provider.name,
        provider_id=c.provider.accme_id,
        first_name=c.first_name,
        last_name=c.last_name,
        birth_month=c.birth_month,
        birth_day=c.birth_day,
        pars_id=c.activity.pars_id,
        title=c.activity.title,
        completion_date=c.completion_date,
        board=c.board.code,
        learner_id=c.learner_id,
        credit_type=c.credit_type.code,
        moc_points=c.moc_points,
        credit_id=c.credit_id,
        cme_credits=c.cme_credits,
        action=action or record_action(c),
        extra=extra,
    )


def record_report(c, *, action: str | None = None, extra: dict | None = None) -> etree._Element:
    """Raises ValueError for text a learner report cannot hold (transmission sets such a
    record aside; exports use `exported_report`)."""
    return report_element(record_data(c, action=action, extra=extra))


def _writable_data(data):
    if isinstance(data, dict):
        return {key: _writable_data(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_writable_data(value) for value in data]
    return writable(data)


def exported_report(c) -> etree._Element:
    """A record for an export: characters XML cannot hold (only in data from before the
    portal refused them) are shown as U+FFFD, so an export never fails."""
    try:
        return record_report(c)
    except ValueError:
        return report_element(_writable_data(record_data(c)))


def write_records(stream, file_format: str, completions) -> None:
    """Export participant records in the given format, streaming from the queryset."""

    records = completions.select_related("activity", "board", "credit_type", "provider")
    records = records.iterator(chunk_size=2000)
    header = record_headers()
    table = deadline_table()
    if file_format == "xml":
        write_learner_report(stream, (exported_report(c) for c in records))
    elif file_format == "xlsx":
        write_xlsx(stream, header, (record_cells(c, table) for c in records))
    else:
        delimiter = "\t" if file_format == "tsv" else ","
        rows = (record_cells(c, table) for c in records)
        write_delimited(stream, header, rows, delimiter=delimiter)


def write_template(stream, file_format: str) -> None:
    """An empty template with one example row, for providers to fill in."""
    today = timezone.localdate()  # a sample of this year, never in the future
    example = ["add", "123456789", "ABIM", "123456", "Jane", "Smith", "7", "14",
               today.strftime("%m/%d/%Y"), "MK", "10", "", "Y", ""]  # fmt: skip
    if file_format == "xml":
        report = report_element(
            report_data(
                provider_name="Your provider name", provider_id="0001234",
                first_name="Jane", last_name="Smith", birth_month=7, birth_day=14,
                pars_id="123456789", title="Activity title",
                completion_date=today, board="ABIM", learner_id="123456",
                credit_type="MK", moc_points=Decimal("10"), credit_id="ccid:mylms:1",
            )
        )  # fmt: skip
        write_learner_report(stream, [report])
    elif file_format == "xlsx":
        write_xlsx(stream, TEMPLATE_HEADERS, [example], title="Participants", safe=False)
    else:
        delimiter = "\t" if file_format == "tsv" else ","
        write_delimited(stream, TEMPLATE_HEADERS, [example], delimiter=delimiter, safe=False)


def write_error_report(stream, upload, issues) -> None:
    """The refused rows as the file had them, plus Row, Field and Reason, in the upload's
    own format, so staff fix them in place and upload the report again (the parsers
    ignore the three extra columns)."""

    grouped: list[tuple] = []
    for issue in issues:
        same_row = grouped and grouped[-1][0] == issue.row_number
        if same_row and grouped[-1][1][0].source == issue.source:
            grouped[-1][1].append(issue)
        else:
            grouped.append((issue.row_number, [issue]))
    if upload.file_format == "xml":
        reports = [_xml_error(items) for _, items in grouped]
        namespace = etree.QName(reports[0]).namespace if reports else None
        write_learner_report(stream, reports, namespace=namespace)
        return
    header = list(upload.header or TEMPLATE_HEADERS)
    # A re-uploaded error report carries old Row/Field/Reason columns: drop them.
    keep = [i for i, h in enumerate(header) if header_key(h) not in REPORT_COLUMNS]
    width = len(header)
    header = [header[i] for i in keep]
    rows = []
    for row_number, items in grouped:
        cells = list(items[0].source or [])[:width]
        cells += [""] * (width - len(cells))
        cells = [cells[i] for i in keep]
        fields = "; ".join(field_label(i.field) for i in items)
        reasons = "; ".join(i.message for i in items)
        rows.append(cells + [row_number, fields, reasons])
    header = header + ERROR_COLUMNS
    if upload.file_format == "xlsx":
        # Cells as sent: text cells, never formulas, so the report uploads back unchanged.
        write_xlsx(stream, header, rows, title="Errors", safe=False)
    else:
        # CSV has no cell types: a value starting with = + - @ gets the apostrophe, as in
        # every other export (a spreadsheet would run it as a formula).
        delimiter = "\t" if upload.file_format == "tsv" else ","
        write_delimited(stream, header, rows, delimiter=delimiter)


ERROR_COLUMNS = ["Row", "Field", "Reason"]


def _xml_error(issues) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    report = etree.fromstring(issues[0].source.encode(), parser) if issues[0].source else None
    if report is None:
        report = etree.Element("ActivityReport")
    info = next((c for c in report if etree.QName(c).localname == "XtensibleInfo"), None)
    if info is None:
        info = etree.SubElement(report, etree.QName(etree.QName(report).namespace, "XtensibleInfo"))
    namespace = etree.QName(report).namespace
    for issue in issues:
        error = etree.SubElement(
            info, etree.QName(namespace, "UploadError"), line=str(issue.row_number)
        )
        if issue.field:
            error.set("field", field_label(issue.field, "xml"))
        error.text = issue.message
    return report
