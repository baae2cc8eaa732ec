"""What the tests send the portal, built in one place: the personas; learner reports as the
portal's JSON, as ACCME's JSON (pars-spec §9) and as ACCME's XML (§8.1); upload files in the
template's columns (TSV, CSV, XLSX).

A persona (`who`) is given in a file's terms (learner_id, first_name, last_name,
birth_month, birth_day: JANE, OMAR) or as the web services' learner object (boardId,
firstName, …: JANE_JSON, OMAR_JSON); every builder takes either. An activity is an Activity
or its PARS ID."""

import copy
import csv
import io

from openpyxl import Workbook

from participants.parsers import TEMPLATE_COLUMNS, TEMPLATE_HEADERS

# --- Personas ----------------------------------------------------------------------------------

JANE = {"learner_id": "123456", "first_name": "Jane", "last_name": "Smith", "birth_month": "7",
        "birth_day": "14"}  # fmt: skip
OMAR = {"learner_id": "234567", "first_name": "Omar", "last_name": "Haddad", "birth_month": "2",
        "birth_day": "29"}  # fmt: skip
FILE_NAMES = ("learner_id", "first_name", "last_name", "birth_month", "birth_day")
JSON_NAMES = ("boardId", "firstName", "lastName", "birthMonth", "birthDay")


def learner(who) -> dict:
    """The web services' learner object of `who` (a copy of it when it already is one, even an
    incomplete one: validation tests send those)."""
    if "learner_id" not in who:
        return dict(who)
    return {json: who[name] for name, json in zip(FILE_NAMES, JSON_NAMES, strict=True)}


def board_fields(who) -> dict:
    """`who` in a file's terms."""
    if "boardId" not in who:
        return who
    return {name: who[json] for name, json in zip(FILE_NAMES, JSON_NAMES, strict=True)}


JANE_JSON = learner(JANE)
OMAR_JSON = learner(OMAR)


def pars_id(activity) -> str | None:
    return getattr(activity, "pars_id", activity)


# --- The portal's JSON learner reports (POST /api/v1/learner-reports) ------------------------


def report(activity, who=JANE_JSON, *, credits=(("MK", "10"),), completed="2015-12-18", **fields):
    """One JSON report; `credits` holds (type, points) pairs or whole credit objects; no
    activity (None) leaves activityId out."""
    data = {
        "activityId": pars_id(activity),
        "learner": learner(who),
        "completionDate": completed,
        "credits": [
            c if isinstance(c, dict) else {"creditType": c[0], "points": c[1]} for c in credits
        ],
    }
    if data["activityId"] is None:
        del data["activityId"]
    data.update(fields)
    return data


def reports(*items) -> dict:
    return {"reports": list(items)}


# --- ACCME's JSON learner report (pars-spec §9) ------------------------------------------------


def accme(who=JANE_JSON, *, activity="100000001", title="Hypertension Update",
          provider="0001234", organization="Provider A", credits=(("MK", 10),),
          completed="2015-12-18", birth=True, birth_year=1961, credit_id=None,
          **extra) -> dict:  # fmt: skip
    """One ActivityReport of ACCME's draft (v0.5 shape); `credit_id` on its certificates,
    `extra` in its XtensibleInfo (LearnerRecordAction is "add" unless given)."""
    who = learner(who)
    member = {"Name": {"GivenName": who["firstName"], "FamilyName": who["lastName"]}}
    if birth:
        month, day = int(who["birthMonth"]), int(who["birthDay"])
        member["PersonalInfo"] = {"BirthDate": f"{birth_year}-{month:02d}-{day:02d}"}
    certificates = []
    for code, points in credits:
        certificate = {
            "UniqueID": {"value": who["boardId"], "domain": "ABIM"},
            "CreditReceived": {"activityCertification": code, "creditUnit": "Point",
                               "numberOfCredits": points},
        }  # fmt: skip
        if credit_id is not None:
            certificate["CreditID"] = credit_id
        certificates.append(certificate)
    return {
        "ReportingOrganization": organization,
        "Member": member,
        "Activity": {
            "ProviderOrganization": provider,
            "Module": {
                "ModuleName": {"value": title, "moduleID": pars_id(activity)},
                "Status": "Completed",
                "CompletedDateTime": f"{completed}T00:00:00",
                "CreditCertificate": certificates,
            },
        },
        "XtensibleInfo": {"LearnerRecordAction": "add", **extra},
    }


def accme_document(*items) -> dict:
    return {"ACCMELearnerReports": {"ActivityReports": {
        "DateTimeCreated": "2015-12-20T10:00:00", "ActivityReport": list(items)}}}  # fmt: skip


def v05_everything(item: dict, number: int) -> dict:
    """Every optional block of v0.5 present: REMS blocks, ProviderID, CreditID, CMECredits, an
    NPI and a state licence before the ABIM ID."""
    item = copy.deepcopy(item)
    item["Participants"] = {"Participant": {
        "LocalIdentifier": {"value": "42", "domain": "idd:lms:learner"},
        "Profession": "Physician", "PracticeArea": "Internal Medicine"}}  # fmt: skip
    item["Activity"]["RegulatoryInformation"] = {"CompliantToRegulation": {
        "label": "Opioid REMS", "value": "https://example.org/rems"}}  # fmt: skip
    item["XtensibleInfo"]["ProviderID"] = "0001234"
    item["XtensibleInfo"]["CMECredits"] = 1.5
    for index, certificate in enumerate(item["Activity"]["Module"]["CreditCertificate"]):
        board_id = certificate["UniqueID"]
        certificate["UniqueID"] = [{"value": "1234567893", "domain": "NPI"},
                                   {"value": "A12345", "domain": "CA"}, board_id]  # fmt: skip
        certificate["CreditID"] = f"ccid:lms:{number}-{index}"
    return item


# --- ACCME's XML learner report (pars-spec §8.1) -----------------------------------------------

MEDBIQ_NS = "http://ns.medbiq.org/activityreport/v1/"
MEMBER_NS = "http://ns.medbiq.org/member/v1/"


def credit_received(code, points, *, as_elements=False):
    if as_elements:
        return (
            f"<CreditReceived><activityCertification>{code}</activityCertification>"
            f"<creditUnit>Point</creditUnit><numberOfCredits>{points}</numberOfCredits>"
            "</CreditReceived>"
        )
    return (
        f'<CreditReceived activityCertification="{code}" creditUnit="Point" '
        f'numberOfCredits="{points}"/>'
    )


def activity_report(
    activity,
    who=JANE,
    *,
    title=None,
    credits=(("MK", "10"),),
    provider="0001234",
    organization="Provider A",
    birth=None,
    completed="2015-12-18",
    action="add",
    unique_under_member=False,
    as_elements=False,
    namespaced=False,
) -> str:
    """One ActivityReport, one element per line (an upload's row numbers are its certificates'
    lines). The title is the activity's (or "Hypertension Update" for a PARS ID); no
    `organization` leaves ReportingOrganization out; `unique_under_member` and `as_elements`
    are the tolerated shapes (UniqueID under Member, CreditReceived's values as elements)."""
    who = board_fields(who)
    if title is None:
        title = "Hypertension Update" if isinstance(activity, str) else activity.title
    birth = birth or f"--{int(who['birth_month']):02d}-{int(who['birth_day']):02d}"
    unique = f'<UniqueID domain="ABIM">{who["learner_id"]}</UniqueID>'
    certs = "\n".join(
        "<CreditCertificate>"
        + ("" if unique_under_member else unique)
        + credit_received(code, points, as_elements=as_elements)
        + "</CreditCertificate>"
        for code, points in credits
    )
    reporting = (
        f"<ReportingOrganization>{organization}</ReportingOrganization>" if organization else ""
    )
    member_ns = f' xmlns="{MEMBER_NS}"' if namespaced else ""
    return f"""
    <ActivityReport>
      {reporting}
      <Member{member_ns}>
        {unique if unique_under_member else ""}
        <Name><GivenName>{who["first_name"]}</GivenName><FamilyName>{who["last_name"]}</FamilyName></Name>
        <PersonalInfo><BirthDate>{birth}</BirthDate></PersonalInfo>
      </Member>
      <Activity>
        <ProviderOrganization>{provider}</ProviderOrganization>
        <Module>
          <ModuleName moduleID="{pars_id(activity)}">{title}</ModuleName>
          <Status>Completed</Status>
          <CompletedDateTime>{completed}</CompletedDateTime>
          {certs}
        </Module>
      </Activity>
      <XtensibleInfo><LearnerRecordAction>{action}</LearnerRecordAction></XtensibleInfo>
    </ActivityReport>"""  # noqa: E501


def learner_report(*reports, namespaced=False, prolog="", created="2015-12-20T10:00:00") -> bytes:
    """The XML document; no `created` leaves DateTimeCreated out."""
    created = f"<DateTimeCreated>{created}</DateTimeCreated>" if created else ""
    root_ns = f' xmlns="{MEDBIQ_NS}"' if namespaced else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{prolog}'
        f"<ACCMELearnerReports{root_ns}><ActivityReports>"
        f"{created}{''.join(reports)}"
        "</ActivityReports></ACCMELearnerReports>\n"
    ).encode()


# --- Upload files in the template's columns ----------------------------------------------------

FIELDS = [name for name, _, _ in TEMPLATE_COLUMNS]


def cells(activity, who=JANE, **values) -> list:
    """One row in template column order (all 14 columns, Credit ID empty)."""
    row = {
        "action": "add", "activity_ref": activity.pars_id, "board_code": "ABIM",
        "completion_date": "12/18/2015", "credit_type": "MK", "moc_points": "10",
        "cme_credits": "", "learner_permission": "Y", "credit_id": "", **who,
    }  # fmt: skip
    row.update(values)
    return [row[name] for name in FIELDS]


def delimited(rows, *, header=True, delimiter=",", newline="\r\n", bom=False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    if header:
        writer.writerow(TEMPLATE_HEADERS)
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + out.getvalue()).encode()


def tsv(rows, **kwargs) -> bytes:
    return delimited(rows, delimiter="\t", **kwargs)


def xlsx(rows, *, header=TEMPLATE_HEADERS) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    if header:
        sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
