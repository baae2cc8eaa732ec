"""ACCME's published contract (pars-spec §9): every learner report the portal writes meets the
drafts' constraints, checked against the project's own JSON Schema after the §9 conversion;
exports round-trip; ACCME's JSON document goes in through the same pipeline as the portal's
own JSON; XML errors are filed under the element the file got wrong."""

import datetime as dt
import io
import json
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from jsonschema import Draft202012Validator
from lxml import etree

from activities.models import Channel
from participants import transmission
from participants.intake import intake_submit
from participants.learner_activity_api import learner_report_schema
from participants.models import Completion, CompletionEvent, FollowUp, Upload
from participants.parsers import parse_accme_json, parse_csv, parse_tsv, parse_xml
from participants.rows import ParticipantRow, Result
from participants.services.records import completion_delete

from .builders import accme, accme_document

VALIDATOR = Draft202012Validator(
    learner_report_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER
)

# Uploaded and generated files go to each test's own folder.
pytestmark = pytest.mark.usefixtures("media_root")


# --- pars-spec §9: XML → JSON, then the schema --------------------------------------------------

ALWAYS_LISTS = {"ActivityReport", "CreditCertificate"}  # arrays in the JSON shape
NUMBERS = {"numberOfCredits", "CMECredits"}
INTEGERS = {"RecordID"}


def _typed(name, text):
    if name in NUMBERS:
        number = float(text)
        return int(number) if number.is_integer() else number
    if name in INTEGERS:
        return int(text)
    return text


def _element_json(element):
    attributes = {etree.QName(k).localname: v for k, v in element.attrib.items()}
    children = list(element)
    text = (element.text or "").strip()
    if not children and not attributes:
        return _typed(etree.QName(element).localname, text)
    value = {name: _typed(name, v) for name, v in attributes.items()}
    if text:  # the text of ModuleName and UniqueID
        value["value"] = text
    for child in children:
        name = etree.QName(child).localname
        if name in ALWAYS_LISTS:
            value.setdefault(name, []).append(_element_json(child))
        else:
            assert name not in value, f"{name} twice in {etree.QName(element).localname}"
            value[name] = _element_json(child)
    return value


def xml_as_json(content: bytes) -> dict:
    """pars-spec §9's conversion: attributes become properties, the text of ModuleName and
    UniqueID becomes `value`; numbers the schema types as numbers are read as numbers."""
    root = etree.fromstring(content)
    return {etree.QName(root).localname: _element_json(root)}


def violations(document: dict) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in VALIDATOR.iter_errors(document)
    ]


def reports_of(document: dict) -> list[dict]:
    return document["ACCMELearnerReports"]["ActivityReports"]["ActivityReport"]


# --- Data: every kind of record -----------------------------------------------------------------


def row(activity, number=1, **values) -> ParticipantRow:
    fields = {
        "activity_ref": activity.pars_id, "learner_id": "123456", "first_name": "Jane",
        "last_name": "Smith", "birth_month": 7, "birth_day": 14,
        "completion_date": dt.date(2015, 12, 18), "credit_type": "MK",
        "moc_points": Decimal("10"), "learner_permission": True,
    }  # fmt: skip
    fields.update(values)
    return ParticipantRow(row_number=number, **fields)


def submit(activity, rows, actor, channel=Channel.FORM):
    return intake_submit(provider=activity.provider, rows=rows, actor=actor, channel=channel)


@pytest.fixture
def records(activity_a, editor_a, roster):
    """Accepted (with and without CME credits and credit IDs), rejected, deleted, a rejected
    record superseded by its correction, a record corrected by delete + add, a 29 February
    birthday."""
    result = submit(
        activity_a,
        [
            row(activity_a, 1, cme_credits=Decimal("1.5"), credit_id="ccid:lms:1"),
            row(activity_a, 2, credit_type="PS", moc_points=Decimal("2.25")),
            row(activity_a, 3, learner_id="234567", first_name="Omar", last_name="Haddad",
                birth_month=2, birth_day=29, cme_credits=Decimal("10")),
            row(activity_a, 4, learner_id="999999", first_name="Nobody", last_name="Known",
                completion_date=dt.date(2015, 12, 1)),
            row(activity_a, 5, learner_id="234567", first_name="Omar", last_name="Haddad",
                birth_month=3, birth_day=1, completion_date=dt.date(2015, 12, 2)),
        ],
        editor_a,
    )  # fmt: skip
    assert [o.result for o in result.outcomes] == [Result.CREATED] * 5
    ids = [o.completion_id for o in result.outcomes]
    # The rejected Omar (wrong birthday) corrected and resubmitted: supersedes it.
    omar = {"learner_id": "234567", "first_name": "Omar", "last_name": "Haddad"}
    fixed = row(activity_a, 1, **omar, birth_month=2, birth_day=29,
                completion_date=dt.date(2015, 12, 2))  # fmt: skip
    corrected = submit(activity_a, [fixed], editor_a)
    assert corrected.outcomes[0].result == Result.CREATED
    # Jane's PS record withdrawn.
    completion_delete(
        completion=Completion.objects.get(pk=ids[1]), actor=editor_a, reason="Entered twice",
        channel=Channel.FORM,
    )  # fmt: skip
    return Completion.objects.filter(activity=activity_a)


def assert_all_kinds(records):
    statuses = set(records.values_list("status", flat=True))
    assert statuses == {"accepted", "rejected", "deleted"}
    assert records.filter(corrects__isnull=False).exists()


def download(client, url) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return b"".join(response.streaming_content) if response.streaming else response.content


# --- Everything the portal writes validates -----------------------------------------------------


def test_activity_xml_export_meets_the_drafts_constraints(client_of, editor_a, records):
    assert_all_kinds(records)
    content = download(
        client_of(editor_a),
        reverse("activity_export", args=[records[0].activity.pars_id, "xml"]),
    )
    document = xml_as_json(content)
    assert violations(document) == []
    written = reports_of(document)
    assert len(written) == records.count()
    # The year is a placeholder, a leap year: 29 February is a real date in it.
    births = {r["Member"]["PersonalInfo"]["BirthDate"] for r in written}
    assert "1904-02-29" in births and dt.date.fromisoformat("1904-02-29")
    actions = {r["XtensibleInfo"]["RecordStatus"]: r["XtensibleInfo"]["LearnerRecordAction"]
               for r in written}  # fmt: skip
    assert actions == {"accepted": "add", "rejected": "add", "deleted": "delete"}
    for report, record in zip(written, records.order_by("id"), strict=True):
        certificate = report["Activity"]["Module"]["CreditCertificate"][0]
        assert certificate["CreditID"] == record.credit_id
        assert report["Activity"]["Module"]["CompletedDateTime"] == (
            f"{record.completion_date.isoformat()}T00:00:00"
        )
        cme = report["XtensibleInfo"].get("CMECredits")
        assert (Decimal(str(cme)) if cme is not None else None) == record.cme_credits


def test_search_export_with_deleted_and_corrected_records_meets_the_constraints(
    client_of, editor_a, records
):
    assert_all_kinds(records)
    # The search with deleted (and superseded) records shown: every record.
    url = reverse("participant_export", args=["xml"]) + "?status=all"
    content = download(client_of(editor_a), url)
    document = xml_as_json(content)
    assert violations(document) == []
    assert len(reports_of(document)) == records.count()


def test_xml_sample_meets_the_constraints(client_of, editor_a):
    content = download(client_of(editor_a), reverse("upload_template", args=["xml"]))
    assert violations(xml_as_json(content)) == []


def test_transmission_batches_with_adds_and_deletes_meet_the_constraints(records, editor_a):
    first = transmission.transmit()
    assert [b.additions for b in first] == [records.filter(status="accepted").count()]
    completion_delete(
        completion=records.filter(status="accepted").first(), actor=editor_a,
        reason="Not completed", channel=Channel.FORM,
    )  # fmt: skip
    second = transmission.transmit()
    assert [(b.additions, b.deletions) for b in second] == [(0, 1)]
    for batch in first + second:
        batch.file.open("rb")
        document = xml_as_json(batch.file.read())
        batch.file.close()
        assert violations(document) == []
    deletion = reports_of(document)[0]
    assert deletion["XtensibleInfo"]["LearnerRecordAction"] == "delete"
    # CME credits travel to the board too.
    sent = [r["XtensibleInfo"].get("CMECredits") for b in first for r in reports_of(
        xml_as_json(b.file.open("rb").read()))]  # fmt: skip
    assert 1.5 in sent


def test_schema_catches_what_the_drafts_forbid():
    """The checks above can fail: the schema refuses each mistake the portal once made."""
    from participants.exports import document_data, report_data

    good = json.loads(json.dumps(document_data([report_data(
        provider_name="A", provider_id="0001234", first_name="Jane", last_name="Smith",
        birth_month=7, birth_day=14, pars_id="100000001", title="T",
        completion_date=dt.date(2015, 12, 18), board="ABIM", learner_id="123456",
        credit_type="MK", moc_points=Decimal("10"), credit_id="ccid:lms:1",
    )]), default=float))  # fmt: skip
    assert violations(good) == []
    report = reports_of(good)[0]
    module = report["Activity"]["Module"]
    certificate = module["CreditCertificate"][0]
    mistakes = [
        (report["Member"]["PersonalInfo"], "BirthDate", "--07-14"),
        (module, "CompletedDateTime", "2015-12-18"),
        (certificate, "CreditID", None),
        (certificate, "CreditID", "ccid:42"),
        (report["XtensibleInfo"], "LearnerRecordAction", "deleted"),
        (certificate["CreditReceived"], "numberOfCredits", "10"),
        (certificate["CreditReceived"], "numberOfCredits", 10.1),
    ]
    for where, name, value in mistakes:
        original = where[name]
        if value is None:
            del where[name]
        else:
            where[name] = value
        assert violations(good), (name, value)
        where[name] = original


# --- Round trips --------------------------------------------------------------------------------


def upload_and_confirm(client, name, content) -> Upload:
    response = client.post(reverse("upload_create"), {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 302, response.content.decode()[:2000]
    upload = Upload.objects.order_by("-id").first()
    if upload.status == Upload.Status.PREVIEW:
        client.post(reverse("upload_confirm", args=[upload.pk]))
        upload.refresh_from_db()
    return upload


def forget_every_record():
    """A fresh portal: the same providers, activities, registrations and roster, no records."""
    FollowUp.objects.all().delete()
    CompletionEvent.objects.all().delete()
    Completion.objects.update(corrects=None)
    Completion.objects.all().delete()
    Upload.objects.all().delete()


def record_values(queryset) -> list[tuple]:
    return sorted(
        queryset.values_list(
            "activity__pars_id", "learner_id", "first_name", "last_name", "birth_month",
            "birth_day", "completion_date", "credit_type__code", "moc_points", "cme_credits",
            "credit_id", "status",
        )
    )  # fmt: skip


def test_activity_export_uploaded_into_a_fresh_portal_gives_the_same_records(
    client_of, editor_a, activity_a, roster
):
    result = submit(
        activity_a,
        [
            row(activity_a, 1, cme_credits=Decimal("1.5"), credit_id="ccid:lms:1"),
            row(activity_a, 2, credit_type="PS", moc_points=Decimal("2.25")),
            row(activity_a, 3, learner_id="234567", first_name="Omar", last_name="Haddad",
                birth_month=2, birth_day=29, cme_credits=Decimal("0.75")),
            row(activity_a, 4, learner_id="999999", first_name="Nobody", last_name="Known"),
        ],
        editor_a,
    )  # fmt: skip
    assert result.count(Result.CREATED) == 4
    before = record_values(Completion.objects.all())
    client = client_of(editor_a)
    content = download(client, reverse("activity_export", args=[activity_a.pars_id, "xml"]))

    forget_every_record()
    first = upload_and_confirm(client, "export.xml", content)
    assert first.result_totals == {"created": 4, "already_reported": 0, "deleted": 0, "error": 0}
    assert record_values(Completion.objects.all()) == before  # CME credits and credit IDs too

    again = upload_and_confirm(client, "export-again.xml", content)
    assert again.preview_totals == {"created": 0, "already_reported": 4, "deleted": 0,
                                    "error": 0}  # fmt: skip
    assert record_values(Completion.objects.all()) == before


@pytest.mark.parametrize("file_format", ["xml", "csv", "tsv", "xlsx"])
def test_an_export_with_deleted_and_corrected_records_uploaded_again_changes_nothing(
    client_of, editor_a, records, file_format
):
    assert_all_kinds(records)
    client = client_of(editor_a)
    before = record_values(Completion.objects.all())
    url = reverse("participant_export", args=[file_format]) + "?status=all"
    content = download(client, url)
    extension = {"tsv": "txt"}.get(file_format, file_format)
    upload = upload_and_confirm(client, f"participants.{extension}", content)
    # Deleted records are written as deletes naming their credit ID: already deleted.
    assert upload.preview_totals == {"created": 0, "already_reported": records.count(),
                                     "deleted": 0, "error": 0}  # fmt: skip
    assert record_values(Completion.objects.all()) == before


def test_deleting_a_record_again_by_its_credit_id_is_already_reported(activity_a, editor_a, roster):
    created = submit(activity_a, [row(activity_a, credit_id="ccid:lms:7")], editor_a)
    record = Completion.objects.get(pk=created.outcomes[0].completion_id)
    delete = row(activity_a, action="delete", credit_id="ccid:lms:7")
    first = submit(activity_a, [delete], editor_a).outcomes[0]
    assert (first.result, first.completion_id) == (Result.DELETED, record.pk)
    again = submit(activity_a, [delete], editor_a).outcomes[0]
    assert (again.result, again.completion_id, again.status) == (
        Result.ALREADY_REPORTED, record.pk, "deleted"
    )  # fmt: skip
    assert again.message == f"Already deleted: record {record.pk} (credit ID ccid:lms:7)."


def test_a_delete_by_credit_id_never_touches_the_records_correction(activity_a, editor_a, roster):
    """The deleted record and its correction share the natural key: the credit ID decides."""
    first = submit(activity_a, [row(activity_a, first_name="Janet")], editor_a).outcomes[0]
    old = Completion.objects.get(pk=first.completion_id)
    correction = submit(
        activity_a,
        [row(activity_a, 1, action="delete", credit_id=old.credit_id), row(activity_a, 2)],
        editor_a,
    ).outcomes  # fmt: skip
    assert [o.result for o in correction] == [Result.DELETED, Result.CREATED]
    replay = submit(activity_a, [row(activity_a, action="delete", credit_id=old.credit_id)],
                    editor_a).outcomes[0]  # fmt: skip
    assert replay.result == Result.ALREADY_REPORTED
    assert Completion.objects.get(pk=correction[1].completion_id).status == "accepted"


# --- Credit IDs ---------------------------------------------------------------------------------


def test_minted_credit_ids_are_stable_and_of_the_drafts_form(activity_a, editor_a, roster):
    outcome = submit(activity_a, [row(activity_a)], editor_a).outcomes[0]
    record = Completion.objects.get(pk=outcome.completion_id)
    assert re.fullmatch(r"ccid:pars:[^:]+", record.credit_id)
    retry = submit(activity_a, [row(activity_a)], editor_a).outcomes[0]
    assert (retry.result, retry.completion_id) == (Result.ALREADY_REPORTED, record.pk)
    record.refresh_from_db()
    assert record.credit_id == Completion.objects.get(pk=record.pk).credit_id


BAD_CREDIT_IDS = ["ccid:42", "lms-42", "ccid:a:b:c", "ccid::1", "ccid:a:", "ccid:" + "x" * 300]


@pytest.mark.parametrize("credit_id", BAD_CREDIT_IDS)
@pytest.mark.parametrize("action", ["add", "delete"])
def test_a_credit_id_not_of_the_drafts_form_is_an_error_on_the_credit_id(
    activity_a, editor_a, roster, credit_id, action
):
    outcome = submit(activity_a, [row(activity_a, action=action, credit_id=credit_id)],
                     editor_a).outcomes[0]  # fmt: skip
    assert outcome.result == Result.ERROR
    assert list(outcome.errors) == ["credit_id"]
    assert not Completion.objects.exists()


def test_bad_credit_id_in_a_file_names_the_row_and_the_field(client_of, editor_a, activity_a):
    header = "Action,PARS Activity ID,Board,Board ID,First Name,Last Name,Birth Month,Birth Day,"
    header += "Completion Date,Credit Type,MOC Points,CME Credits,Learner Permission,Credit ID"
    line = f"add,{activity_a.pars_id},ABIM,123456,Jane,Smith,7,14,12/18/2015,MK,10,,Y,lms-42"
    upload = upload_and_confirm(client_of(editor_a), "p.csv", f"{header}\r\n{line}\r\n".encode())
    issue = upload.issues.get(phase="check")
    assert (issue.row_number, issue.field) == (2, "credit_id")
    assert "ccid:<your system>:<your ID>" in issue.message


# --- Reading: fidelity --------------------------------------------------------------------------

ID_LENGTHS = {"ABIM": 6}


def accme_report(**changes) -> dict:
    """Jane's ActivityReport with a credit ID, then `changes`: a value (or DELETE) at each
    path (`Member__PersonalInfo`, `{CERT}__CreditReceived__creditUnit`, …)."""
    report = accme(credit_id="ccid:lms:1")
    for path, value in changes.items():
        *parents, last = path.split("__")
        where = report
        for part in parents:
            where = where[int(part)] if part.isdigit() else where[part]
        if value is DELETE:
            del where[last]
        else:
            where[last] = value
    return report


DELETE = object()
CERT = "Activity__Module__CreditCertificate__0"


def read_json(*reports):
    return parse_accme_json(accme_document(*reports), provider_id="0001234", id_lengths=ID_LENGTHS)


def read_xml(*reports):
    """The same reports as XML, written by the portal's own §9 mapping."""
    from participants.exports import report_element, write_learner_report

    buffer = io.BytesIO()
    write_learner_report(buffer, [report_element(r) for r in reports])
    buffer.seek(0)
    return list(parse_xml(buffer, provider_id="0001234", id_lengths=ID_LENGTHS))


@pytest.mark.parametrize("read", [read_json, read_xml], ids=["json", "xml"])
def test_a_status_other_than_completed_is_an_error_on_status(read):
    (only,) = read(accme_report(Activity__Module__Status="Started"))
    assert list(only.errors) == ["status"]
    assert "'Started'" in only.errors["status"]


@pytest.mark.parametrize("read", [read_json, read_xml], ids=["json", "xml"])
def test_a_credit_unit_other_than_point_is_an_error_on_credit_unit_only(read):
    (only,) = read(accme_report(**{f"{CERT}__CreditReceived__creditUnit": "Hours"}))
    assert list(only.errors) == ["credit_unit"]
    assert (only.credit_type, only.moc_points) == ("MK", Decimal("10"))


@pytest.mark.parametrize("read", [read_json, read_xml], ids=["json", "xml"])
def test_an_npi_beside_the_abim_id_is_ignored_in_either_order(read):
    npi = {"value": "1234567893", "domain": "NPI"}
    abim = {"value": "123456", "domain": "ABIM"}
    for ids in ([npi, abim], [abim, npi], [{"value": "A1234", "domain": "CA"}, abim]):
        (only,) = read(accme_report(**{f"{CERT}__UniqueID": ids}))
        assert (only.errors, only.board_code, only.learner_id) == ({}, "ABIM", "123456")


@pytest.mark.parametrize("read", [read_json, read_xml], ids=["json", "xml"])
def test_a_certificate_with_no_board_id_says_which_ids_it_found(read):
    (only,) = read(accme_report(**{f"{CERT}__UniqueID": [{"value": "1", "domain": "NPI"}]}))
    assert list(only.errors) == ["board"]
    assert "found domain NPI" in only.errors["board"]


@pytest.mark.parametrize("read", [read_json, read_xml], ids=["json", "xml"])
def test_a_report_without_personal_info_is_an_error_on_the_birth_date(read):
    (only,) = read(accme_report(Member__PersonalInfo=DELETE))
    assert only.errors == {
        "birth_month": "Birth month and day are required for ABIM MOC "
        "(Member/PersonalInfo/BirthDate)."
    }


@pytest.mark.parametrize("read", [read_json, read_xml], ids=["json", "xml"])
def test_cme_credits_are_read_from_the_portals_extension(read):
    (only,) = read(accme_report(XtensibleInfo={"LearnerRecordAction": "add", "CMECredits": 1.5}))
    assert (only.errors, only.cme_credits) == ({}, Decimal("1.5"))


def test_an_empty_credit_type_is_required_in_every_format(activity_a, editor_a, roster):
    text_row = (
        f"add\t{activity_a.pars_id}\tABIM\t123456\tJane\tSmith\t7\t14\t12/18/2015\t\t10\t\tY\n"
    )
    (tsv,) = parse_tsv(io.BytesIO(text_row.encode()), id_lengths=ID_LENGTHS, meta={})
    csv_text = "Action,PARS Activity ID,Board,Board ID,First Name,Last Name,Birth Month,"
    csv_text += "Birth Day,Completion Date,Credit Type,MOC Points,Learner Permission\r\n"
    csv_text += f"add,{activity_a.pars_id},ABIM,123456,Jane,Smith,7,14,12/18/2015,,10,Y\r\n"
    (csv_row,) = parse_csv(io.BytesIO(csv_text.encode()), id_lengths=ID_LENGTHS, meta={})
    (xml,) = read_xml(accme_report(**{f"{CERT}__CreditReceived__activityCertification": ""}))
    (json_row,) = read_json(accme_report(**{f"{CERT}__CreditReceived__activityCertification": ""}))
    outcomes = submit(activity_a, [tsv, csv_row, xml, json_row], editor_a).outcomes
    for outcome in outcomes:
        assert outcome.result == Result.ERROR
        assert "required" in outcome.errors["credit_type"]
        assert "''" not in outcome.errors["credit_type"]


def test_placeholder_year_is_a_leap_year():
    from participants.exports import PLACEHOLDER_BIRTH_YEAR

    dt.date(PLACEHOLDER_BIRTH_YEAR, 2, 29)  # raises if 29 February does not exist
