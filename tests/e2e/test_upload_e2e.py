"""File uploads through a real browser, the way a provider's staff member does it the first
time: fetch the template, fill it in, upload it, read the preview, confirm, download the
error report, fix the refused rows in it and upload it again.

Only the setup (provider, editor, an activity registered for ABIM MOC, the roster) and the
final record counts touch the ORM; everything in between happens in Chromium. The task
backend is "immediate" in tests, so checking and saving finish within the request."""

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from lxml import etree

from participants.models import Completion, RosterEntry

from ..builders import MEDBIQ_NS, activity_report, learner_report
from ..conftest import make_activity
from .test_login_e2e import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("media_root")]

# ABIM ID → (first name, last name, birth month, birth day): all on the roster.
DIPLOMATES = {
    "123456": ("Jane", "Smith", 7, 14),
    "234567": ("Omar", "Haddad", 2, 29),
    "345678": ("Lucia", "Moreno", 11, 3),
    "456789": ("Wei", "Chen", 1, 31),
    "567890": ("Amara", "Okafor", 5, 9),
    "678901": ("Pieter", "de Vries", 9, 22),
}


@pytest.fixture
def diplomates(abim):
    return [
        RosterEntry.objects.create(
            board=abim, learner_id=learner_id, first_name=first, last_name=last,
            birth_month=month, birth_day=day,
        )
        for learner_id, (first, last, month, day) in DIPLOMATES.items()
    ]  # fmt: skip


@pytest.fixture
def activity(provider_a, editor_a):
    # Registered for ABIM MOC: 10 points, MK; runs 2015-10-01 to 2015-12-30.
    return make_activity(provider_a, editor_a, title="Hypertension Update")


# --- What the user does and reads ---------------------------------------------------------


def download(page, trigger, folder: Path) -> Path:
    """Click `trigger` and save what the browser downloads under its suggested name."""
    with page.expect_download() as info:
        trigger.click()
    dl = info.value
    assert dl.failure() is None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / dl.suggested_filename
    dl.save_as(path)
    return path


def upload_file(page, path: Path) -> None:
    """Uploads → "Upload a file" → choose the file → "Upload and check"."""
    page.get_by_role("link", name="Uploads", exact=True).first.click()
    page.wait_for_load_state()
    page.get_by_role("link", name="Upload a file").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Upload participants").is_visible()
    page.get_by_label("File").set_input_files(str(path))
    page.get_by_role("button", name="Upload and check").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name=path.name).is_visible(), page.url


def status(page) -> str:
    return page.locator("#upload-status").get_attribute("data-status")


def totals(page) -> dict[str, int]:
    return page.locator("#totals [data-total]").evaluate_all(
        "cells => Object.fromEntries(cells.map(c => [c.dataset.total, +c.innerText.trim()]))"
    )


def issue_rows(page) -> list[tuple[str, str, str]]:
    """The "problems in the file" table: (row, field, reason)."""
    return [
        tuple(cell.strip() for cell in row)
        for row in page.locator("table:has(th:text-is('Reason')) tbody tr").evaluate_all(
            "rows => rows.map(r => [...r.querySelectorAll('td')].map(td => td.innerText))"
        )
    ]


def preview_learners(page, group: str) -> list[str]:
    """ABIM IDs in a preview group's "first rows" table."""
    return page.locator(f"[data-preview={group}] tbody td.pars-id:nth-child(2)").all_inner_texts()


def confirm(page, expected_label: str) -> None:
    button = page.locator("#confirm")
    assert button.inner_text().strip() == expected_label
    button.click()
    page.wait_for_load_state()
    assert status(page) == "done", page.locator("body").inner_text()
    assert page.get_by_role("heading", name="Result").is_visible()


def live_records(activity):
    return Completion.objects.filter(activity=activity).exclude(status=Completion.Status.DELETED)


# --- Files ----------------------------------------------------------------------------------


def tsv_row(header, *, pars_id, learner_id, completed="12/18/2015", points="10", **overrides):
    first, last, month, day = DIPLOMATES[learner_id]
    values = {
        "Action": "add",
        "PARS Activity ID": pars_id,
        "Board": "ABIM",
        "Board ID": learner_id,
        "First Name": first,
        "Last Name": last,
        "Birth Month": str(month),
        "Birth Day": str(day),
        "Completion Date (MM/DD/YYYY)": completed,
        "Credit Type": "MK",
        "MOC Points": points,
        "CME Credits": "",
        "Learner Permission (Y/N)": "Y",
        **overrides,
    }
    unknown = set(values) - set(header)
    assert not unknown, f"the template has no column {unknown}"
    return "\t".join(values.get(column, "") for column in header)


def diplomate_report(
    *, pars_id, learner_id, completed="2015-12-18", points="10", as_elements=False
) -> str:
    """One ActivityReport per §8.1 for one of the DIPLOMATES. as_elements: CreditReceived
    values as child elements and UniqueID directly under Member (the tolerated variants),
    else attributes and UniqueID in the CreditCertificate."""
    first, last, month, day = DIPLOMATES[learner_id]
    who = {"learner_id": learner_id, "first_name": first, "last_name": last,
           "birth_month": month, "birth_day": day}  # fmt: skip
    return activity_report(
        pars_id, who, birth=f"1970-{month:02d}-{day:02d}", completed=completed,
        credits=[("MK", points)], unique_under_member=as_elements, as_elements=as_elements,
    )  # fmt: skip


def local_name(element) -> str:
    return etree.QName(element).localname


# --- Stories --------------------------------------------------------------------------------


def test_tab_delimited_upload_preview_confirm_fix_error_report_and_reupload(
    page, editor_a, activity, diplomates, artifacts, tmp_path
):
    pars_id = activity.pars_id
    log_in(page, "editor-a")

    # 1. Fetch the tab-delimited template, as a new user would, and fill it in.
    page.get_by_role("link", name="Uploads", exact=True).first.click()
    page.wait_for_load_state()
    assert page.locator("#uploads").inner_text().count("No uploads yet.") == 1
    page.get_by_role("link", name="Upload a file").click()
    page.wait_for_load_state()
    template = download(
        page, page.get_by_role("link", name="Tab-delimited template (.txt)"), tmp_path / "dl"
    )
    header_line = template.read_text(encoding="utf-8-sig").splitlines()[0]
    header = header_line.split("\t")
    assert header[:13] == [
        "Action", "PARS Activity ID", "Board", "Board ID", "First Name", "Last Name",
        "Birth Month", "Birth Day", "Completion Date (MM/DD/YYYY)", "Credit Type",
        "MOC Points", "CME Credits", "Learner Permission (Y/N)",
    ]  # fmt: skip

    lines = [
        header_line,  # line 1
        tsv_row(header, pars_id=pars_id, learner_id="123456"),  # 2: good
        tsv_row(header, pars_id=pars_id, learner_id="234567"),  # 3: good
        tsv_row(header, pars_id=pars_id, learner_id="345678"),  # 4: good
        tsv_row(header, pars_id=pars_id, learner_id="123456"),  # 5: duplicate of row 2
        tsv_row(header, pars_id=pars_id, learner_id="456789", completed="18/12/2015"),  # 6
        tsv_row(header, pars_id=pars_id, learner_id="567890", points="10,5"),  # 7
    ]
    first_file = tmp_path / "participants-december.txt"
    first_file.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")

    # 2. Upload it: the preview says what would happen, and nothing is saved yet.
    upload_file(page, first_file)
    assert status(page) == "preview"
    assert page.get_by_role("heading", name="Preview — nothing has been saved yet").is_visible()
    assert totals(page) == {"created": 3, "already_reported": 1, "deleted": 0, "error": 2}
    assert page.locator("#same-file").count() == 0
    assert sorted(preview_learners(page, "created")) == ["123456", "234567", "345678"]
    assert preview_learners(page, "already_reported") == ["123456"]
    assert "row 2" in page.locator("[data-preview=already_reported]").inner_text()
    problems = issue_rows(page)
    assert [(row, field) for row, field, _ in problems] == [
        ("6", "Completion Date (MM/DD/YYYY)"),
        ("7", "MOC Points"),
    ]
    assert "'18/12/2015' is not a date" in problems[0][2]
    assert "'10,5' is not a number" in problems[1][2]
    assert page.get_by_role("heading", name="2 problems in the file").is_visible()
    assert live_records(activity).count() == 0
    page.screenshot(path=str(artifacts / "upload-tsv-preview.png"), full_page=True)

    # 3. Confirm: three records created, the duplicate and the bad rows not.
    confirm(page, "Confirm and save 3 records")
    assert totals(page) == {"created": 3, "already_reported": 1, "deleted": 0, "error": 2}
    assert page.locator("#confirm").count() == 0
    assert live_records(activity).count() == 3
    page.screenshot(path=str(artifacts / "upload-tsv-result.png"), full_page=True)

    # 4. The error report: only the two refused rows, as they were, plus Row/Field/Reason.
    error_link = page.get_by_role("link", name="Download the error report")
    assert error_link.inner_text().strip() == "Download the error report (Tab-delimited)"
    report = download(page, error_link, tmp_path / "dl")
    assert report.name == "participants-december-errors.txt"
    report_text = report.read_text(encoding="utf-8-sig")
    table = list(csv.reader(io.StringIO(report_text, newline=""), delimiter="\t"))
    table = [r for r in table if any(r)]
    assert table[0] == header + ["Row", "Field", "Reason"]
    assert len(table) == 3, table
    by_learner = {r[3]: r for r in table[1:]}
    assert sorted(by_learner) == ["456789", "567890"]
    bad_date, bad_points = by_learner["456789"], by_learner["567890"]
    assert bad_date[: len(header)] == lines[5].split("\t")
    assert bad_points[: len(header)] == lines[6].split("\t")
    assert bad_date[len(header) :][:2] == ["6", "Completion Date (MM/DD/YYYY)"]
    assert bad_points[len(header) :][:2] == ["7", "MOC Points"]
    assert "not a date" in bad_date[-1]
    assert "not a number" in bad_points[-1]

    # 5. Fix the two values in the report itself and upload it again.
    fixed_text = report_text.replace("\t18/12/2015\t", "\t12/18/2015\t").replace(
        "\t10,5\t", "\t10\t"
    )
    assert fixed_text != report_text
    fixed = tmp_path / "fixed" / report.name
    fixed.parent.mkdir()
    fixed.write_text(fixed_text, encoding="utf-8")
    upload_file(page, fixed)
    assert status(page) == "preview"
    assert totals(page) == {"created": 2, "already_reported": 0, "deleted": 0, "error": 0}
    assert sorted(preview_learners(page, "created")) == ["456789", "567890"]
    assert page.locator("#error-report").count() == 0
    assert page.locator("#same-file").count() == 0
    confirm(page, "Confirm and save 2 records")
    assert totals(page)["created"] == 2

    records = live_records(activity)
    assert records.count() == 5
    assert sorted(records.values_list("learner_id", flat=True)) == [
        "123456", "234567", "345678", "456789", "567890",
    ]  # fmt: skip
    assert set(records.values_list("status", flat=True)) == {Completion.Status.ACCEPTED}
    assert not Completion.objects.filter(status=Completion.Status.DELETED).exists()

    # 6. The very first file again: recognised, and nothing would be saved twice.
    upload_file(page, first_file)
    assert status(page) == "nothing"  # finished: nothing to save, nothing to confirm
    same = page.locator("#same-file")
    assert same.is_visible()
    assert "This exact file was already uploaded" in same.inner_text()
    assert same.get_by_role("link", name=first_file.name).is_visible()
    assert totals(page) == {"created": 0, "already_reported": 4, "deleted": 0, "error": 2}
    assert sorted(preview_learners(page, "already_reported")) == [
        "123456", "123456", "234567", "345678",
    ]  # fmt: skip
    assert page.locator("[data-preview=created]").count() == 0
    page.screenshot(path=str(artifacts / "upload-tsv-same-file.png"), full_page=True)
    # Nothing to save: no confirm button, a plain explanation instead.
    assert page.locator("#confirm").count() == 0
    assert "Nothing in this file needs saving" in page.locator("#nothing-to-save").inner_text()
    assert live_records(activity).count() == 5

    # 7. The upload history lists all three uploads.
    page.get_by_role("link", name="Uploads", exact=True).first.click()
    page.wait_for_load_state()
    history = page.locator("#uploads tbody tr")
    assert history.count() == 3
    assert "0 created · 4 already reported · 0 deleted · 2 errors" in history.nth(0).inner_text()
    assert "2 created · 0 already reported · 0 deleted · 0 errors" in history.nth(1).inner_text()
    assert "3 created · 1 already reported · 0 deleted · 2 errors" in history.nth(2).inner_text()


@pytest.mark.parametrize("namespace", [MEDBIQ_NS, None], ids=["medbiq-namespace", "no-namespace"])
def test_xml_learner_report_preview_confirm_fix_error_report_and_reupload(
    page, editor_a, activity, diplomates, artifacts, tmp_path, namespace
):
    pars_id = activity.pars_id
    variant = "ns" if namespace else "no-ns"
    # The file without a namespace also uses the other tolerated shapes (§8.1).
    as_elements = namespace is None
    report = [
        diplomate_report(pars_id=pars_id, learner_id="123456", as_elements=as_elements),
        diplomate_report(
            pars_id=pars_id, learner_id="234567", completed="2015-12-18T14:05:00",
            as_elements=as_elements,
        ),
        diplomate_report(pars_id=pars_id, learner_id="345678", as_elements=as_elements),
        diplomate_report(pars_id=pars_id, learner_id="123456", as_elements=as_elements),  # dup
        diplomate_report(
            pars_id=pars_id, learner_id="456789", completed="18/12/2015", as_elements=as_elements
        ),
        diplomate_report(
            pars_id=pars_id, learner_id="567890", points="10,5", as_elements=as_elements
        ),
    ]  # fmt: skip
    xml_file = tmp_path / f"learner-report-{variant}.xml"
    document = learner_report(
        *report, namespaced=namespace is not None, created="2016-01-05T09:30:00"
    )
    xml_file.write_bytes(document)

    log_in(page, "editor-a")
    upload_file(page, xml_file)
    assert status(page) == "preview", page.locator("body").inner_text()
    assert totals(page) == {"created": 3, "already_reported": 1, "deleted": 0, "error": 2}
    assert sorted(preview_learners(page, "created")) == ["123456", "234567", "345678"]
    assert preview_learners(page, "already_reported") == ["123456"]
    problems = issue_rows(page)
    assert [field for _, field, _ in problems] == ["CompletedDateTime", "numberOfCredits"]
    assert "'18/12/2015' is not a date" in problems[0][2]
    assert "'10,5' is not a number" in problems[1][2]
    assert live_records(activity).count() == 0
    page.screenshot(path=str(artifacts / f"upload-xml-{variant}-preview.png"), full_page=True)

    confirm(page, "Confirm and save 3 records")
    assert totals(page) == {"created": 3, "already_reported": 1, "deleted": 0, "error": 2}
    assert live_records(activity).count() == 3
    page.screenshot(path=str(artifacts / f"upload-xml-{variant}-result.png"), full_page=True)

    # The XML error report: the two refused ActivityReports, each with its UploadError.
    error_link = page.get_by_role("link", name="Download the error report")
    assert error_link.inner_text().strip() == "Download the error report (XML learner report)"
    error_report = download(page, error_link, tmp_path / "dl")
    assert error_report.name == f"learner-report-{variant}-errors.xml"
    report_bytes = error_report.read_bytes()
    root = etree.fromstring(report_bytes)
    assert local_name(root) == "ACCMELearnerReports"
    reports = [e for e in root.iter() if local_name(e) == "ActivityReport"]
    assert len(reports) == 2
    learners = [
        next(e.text for e in r.iter() if local_name(e) == "UniqueID").strip() for r in reports
    ]
    assert learners == ["456789", "567890"]
    upload_errors = [e for e in root.iter() if local_name(e) == "UploadError"]
    assert [e.get("field") for e in upload_errors] == ["CompletedDateTime", "numberOfCredits"]
    # The report stays in the upload's namespace, UploadError included.
    namespaces = {etree.QName(e).namespace for e in root.iter() if isinstance(e.tag, str)}
    assert namespaces == {namespace}
    assert [e.get("line") for e in upload_errors] == [row for row, _, _ in problems]
    assert "not a date" in upload_errors[0].text
    assert "not a number" in upload_errors[1].text

    # Fix the two values in the report and upload it again.
    fixed_text = report_bytes.decode("utf-8").replace(">18/12/2015<", ">2015-12-18<")
    fixed_text = fixed_text.replace('"10,5"', '"10"').replace(">10,5<", ">10<")
    assert fixed_text.count("2015-12-18") >= 2
    assert '"10,5"' not in fixed_text and ">10,5<" not in fixed_text
    fixed = tmp_path / "fixed" / error_report.name
    fixed.parent.mkdir()
    fixed.write_text(fixed_text, encoding="utf-8")
    upload_file(page, fixed)
    assert status(page) == "preview", page.locator("body").inner_text()
    assert totals(page) == {"created": 2, "already_reported": 0, "deleted": 0, "error": 0}
    assert sorted(preview_learners(page, "created")) == ["456789", "567890"]
    confirm(page, "Confirm and save 2 records")
    assert totals(page)["created"] == 2

    records = live_records(activity)
    assert sorted(records.values_list("learner_id", flat=True)) == [
        "123456", "234567", "345678", "456789", "567890",
    ]  # fmt: skip
    assert set(records.values_list("status", flat=True)) == {Completion.Status.ACCEPTED}
    assert set(records.values_list("completion_date", flat=True)) == {dt.date(2015, 12, 18)}

    # The same file again: recognised, all its good rows already reported.
    upload_file(page, xml_file)
    assert page.locator("#same-file").is_visible()
    assert totals(page) == {"created": 0, "already_reported": 4, "deleted": 0, "error": 2}
    assert live_records(activity).count() == 5
