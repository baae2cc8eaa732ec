"""Web services (/api/v1/) through a real HTTP client against the live server: every endpoint,
JSON and XML learner reports, every kind of bad input (400/401/404/415, nothing stored),
idempotent retries, sandbox and provider isolation, legacy module codes (pars-spec §7),
throttling and the offline API docs."""

import datetime as dt
import html
import json
import re
import urllib.parse
from decimal import Decimal
from functools import partial

import pytest
import time_machine
from django.utils import timezone

from activities.models import MocRegistration
from participants.apikeys import LearnerMatchThrottle, api_key_revoke
from participants.models import Completion, RosterEntry

from .builders import JANE_JSON as JANE
from .builders import OMAR_JSON as OMAR
from .builders import activity_report, learner_report, report, reports
from .conftest import key_record, make_activity, make_completion, make_key

NO_TOTALS = {"created": 0, "already_reported": 0, "deleted": 0, "error": 0}
DEC_18 = dt.date(2015, 12, 18)


# live_server makes these tests transactional: the reference data back, fresh throttles.
pytestmark = pytest.mark.usefixtures("seed_data", "fresh_throttles")


# --- Building requests -------------------------------------------------------------------------

# The XML reports here carry a completion time, as an LMS writes them.
xml_report = partial(activity_report, completed="2015-12-18T14:30:00")


def totals(**counts) -> dict:
    return {**NO_TOTALS, **counts}


def results(reply) -> list[tuple]:
    """(result, status) per record, in request order."""
    return [(r["result"], r["status"]) for r in reply.json["results"]]


def stored() -> list[tuple]:
    return sorted(
        Completion.objects.values_list("learner_id", "credit_type__code", "status", "is_sandbox")
    )


def assert_nothing_stored():
    assert not Completion.objects.exists()


# --- Authentication ----------------------------------------------------------------------------

ENDPOINTS = [
    ("POST", "learner-reports"),
    ("GET", "completions"),
    ("GET", "completions/1"),
    ("DELETE", "completions/1"),
    ("GET", "completions/status?creditId=ccid:lms:1"),
    ("POST", "learner-match"),
    ("GET", "activities"),
    ("GET", "activities/000000001"),
    ("POST", "learner-activities"),
    ("GET", "learner-activities/123456"),
    ("DELETE", "learner-activities/123456"),
    ("GET", "learner-activities/status?CreditId=ccid:lms:1"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_missing_key_is_401_on_every_endpoint(api, activity_a, method, path):
    reply = api.request(method, path, body=b"{}", content_type="application/json")
    assert reply.status == 401
    assert reply.headers["www-authenticate"] == 'Bearer realm="PARS API"'
    assert reply.json["detail"] == "Authentication credentials were not provided."


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_invalid_key_is_401_on_every_endpoint(api, key_a, method, path):
    wrong = key_a[:-4] + ("AAAA" if not key_a.endswith("AAAA") else "BBBB")
    reply = api.request(method, path, key=wrong, body=b"{}", content_type="application/json")
    assert reply.status == 401
    assert reply.json["detail"] == "Invalid or revoked API key."


def test_revoked_key_is_401(api, key_a, editor_a):
    assert api.get("activities", key=key_a).status == 200
    api_key_revoke(key=key_record(key_a), user=editor_a)
    reply = api.get("activities", key=key_a)
    assert reply.status == 401
    assert reply.json["detail"] == "Invalid or revoked API key."
    reply = api.post_json("learner-reports", reports(), key=key_a)
    assert reply.status == 401


def test_key_in_x_api_key_header_works_too(api, key_a, activity_a):
    reply = api.get("activities", headers={"X-API-Key": key_a})
    assert reply.status == 200
    assert reply.json["count"] == 1


def test_a_call_records_the_keys_last_used_time(api, key_a):
    assert key_record(key_a).last_used_at is None
    before = timezone.now()
    assert api.get("completions", key=key_a).status == 200
    used = key_record(key_a).last_used_at
    assert used is not None
    assert before - dt.timedelta(seconds=1) <= used <= timezone.now()


def test_failed_authentication_does_not_touch_last_used(api, key_a, editor_a):
    api_key_revoke(key=key_record(key_a), user=editor_a)
    assert api.get("completions", key=key_a).status == 401
    assert key_record(key_a).last_used_at is None


# --- POST /learner-reports: JSON ---------------------------------------------------------------


def test_json_report_creates_one_accepted_record_per_credit(
    api, key_a, activity_a, roster, editor_a
):
    reply = api.post_json(
        "learner-reports",
        reports(report(activity_a, credits=[("MK", "10"), ("PS", "2.5")])),
        key=key_a,
    )
    assert reply.status == 200, reply.text
    body = reply.json
    assert body["sandbox"] is False
    assert body["totals"] == totals(created=2)
    assert [(r["record"], r["result"], r["status"]) for r in body["results"]] == [
        (1, "created", "accepted"),
        (2, "created", "accepted"),
    ]
    assert all(r["reason"] == "Provisional verification: matches the ABIM roster"
               for r in body["results"])  # fmt: skip
    records = {c.pk: c for c in Completion.objects.all()}
    assert set(records) == {r["id"] for r in body["results"]}
    mk = records[body["results"][0]["id"]]
    assert (mk.activity, mk.learner_id, mk.first_name, mk.last_name) == (
        activity_a, "123456", "Jane", "Smith"
    )  # fmt: skip
    assert (mk.birth_month, mk.birth_day, mk.completion_date) == (7, 14, DEC_18)
    assert (mk.credit_type.code, mk.moc_points) == ("MK", Decimal("10"))
    assert (mk.channel, mk.created_by, mk.is_sandbox) == ("api", editor_a, False)
    assert records[body["results"][1]["id"]].moc_points == Decimal("2.5")


def test_json_numbers_and_us_dates_are_read_like_uploads(api, key_a, activity_a, roster):
    learner = {**JANE, "boardId": 123456, "birthMonth": 7, "birthDay": 14}
    data = reports(
        report(
            activity_a,
            learner,
            credits=[
                {"creditType": "Medical Knowledge", "points": 10, "cmeCredits": 1.5}
            ],  # fmt: skip
            completed="12/18/2015",
        )
    )
    reply = api.post_json("learner-reports", data, key=key_a)
    assert reply.status == 200, reply.text
    assert results(reply) == [("created", "accepted")]
    record = Completion.objects.get()
    assert (record.credit_type.code, record.cme_credits) == ("MK", Decimal("1.5"))
    assert record.completion_date == DEC_18


def test_json_birth_date_keeps_only_month_and_day(api, key_a, activity_a, roster):
    learner = {k: v for k, v in JANE.items() if not k.startswith("birth")}
    learner["birthDate"] = "1961-07-14"
    reply = api.post_json("learner-reports", reports(report(activity_a, learner)), key=key_a)
    assert results(reply) == [("created", "accepted")]
    record = Completion.objects.get()
    assert (record.birth_month, record.birth_day) == (7, 14)


def test_json_roster_mismatches_are_stored_rejected_with_the_reason(api, key_a, activity_a, roster):
    data = reports(
        report(activity_a, {**OMAR, "birthMonth": "3", "birthDay": "1"}),
        report(activity_a, {**JANE, "boardId": "999999"}),
        report(activity_a, {**JANE, "firstName": "Janet"}),
    )
    reply = api.post_json("learner-reports", data, key=key_a)
    assert reply.status == 200
    body = reply.json["results"]
    assert [(r["result"], r["status"], r["reason"]) for r in body] == [
        ("created", "rejected", "birth date does not match"),
        ("created", "rejected", "ABIM ID not found"),
        ("created", "accepted", "Provisional verification: matches the ABIM roster"),
    ]
    assert body[2]["warning"] == "Name differs from the ABIM roster"
    assert Completion.objects.count() == 3


def test_json_record_errors_are_per_record_and_store_only_the_good_ones(
    api, key_a, activity_a, roster
):
    data = reports(
        report(activity_a),
        report(activity_a, OMAR, credits=[("MK", "10.1")]),
        report(activity_a, OMAR, completed="2999-01-01"),
        report(activity_a, OMAR, credits=[("PA", "1")]),
        report(activity_a, OMAR, learnerPermission=False),
        report(activity_a, OMAR, completed="18/12/2015"),
        report(activity_a, {**OMAR, "boardId": "12345X"}),
    )
    reply = api.post_json("learner-reports", data, key=key_a)
    assert reply.status == 200
    body = reply.json
    assert body["totals"] == totals(created=1, error=6)
    errors = [sorted(r["errors"]) for r in body["results"]]
    # Fields are named as the request names them.
    assert errors == [[], ["points"], ["completionDate"], ["creditType"],
                      ["learnerPermission"], ["completionDate"], ["boardId"]]  # fmt: skip
    assert body["results"][1]["errors"]["points"].startswith("MOC points must be a multiple")
    assert "is in the future" in body["results"][2]["errors"]["completionDate"]
    assert "not registered for the credit type PA" in body["results"][3]["errors"]["creditType"]
    assert all(r["id"] is None for r in body["results"][1:])
    assert stored() == [("123456", "MK", "accepted", False)]


def test_another_providers_activity_is_a_record_error_on_activity(
    api, key_a, activity_a, activity_b, roster
):
    reply = api.post_json(
        "learner-reports", reports(report(activity_b), report(activity_a)), key=key_a
    )
    assert reply.status == 200
    first, second = reply.json["results"]
    assert first["result"] == "error"
    assert first["errors"] == {
        "activityId": f"Activity {activity_b.pars_id} is not one of your provider's activities."
    }
    assert second["result"] == "created"
    assert not Completion.objects.filter(activity=activity_b).exists()


def test_json_delete_action_withdraws_the_record(api, key_a, activity_a, roster):
    created = api.post_json("learner-reports", reports(report(activity_a)), key=key_a)
    record_id = created.json["results"][0]["id"]
    reply = api.post_json(
        "learner-reports", reports(report(activity_a, action="delete")), key=key_a
    )
    assert reply.status == 200
    assert reply.json["totals"] == totals(deleted=1)
    assert reply.json["results"][0]["id"] == record_id
    record = Completion.objects.get(pk=record_id)
    assert record.status == "deleted"


# --- POST /learner-reports: XML ----------------------------------------------------------------


@pytest.mark.parametrize("namespaced", [False, True], ids=["plain", "medbiquitous-namespace"])
@pytest.mark.parametrize("content_type", ["application/xml", "text/xml; charset=utf-8"])
def test_xml_learner_report_creates_records(
    api, key_a, activity_a, roster, namespaced, content_type
):
    document = learner_report(
        xml_report(
            activity_a.pars_id, credits=[("MK", "10"), ("PS", "1.25")], namespaced=namespaced
        ),  # fmt: skip
        xml_report(activity_a.pars_id, OMAR, namespaced=namespaced),
        namespaced=namespaced,
    )
    reply = api.post_xml("learner-reports", document, key=key_a, content_type=content_type)
    assert reply.status == 200, reply.text
    assert reply.json["totals"] == totals(created=3)
    assert results(reply) == [("created", "accepted")] * 3
    assert stored() == [
        ("123456", "MK", "accepted", False),
        ("123456", "PS", "accepted", False),
        ("234567", "MK", "accepted", False),
    ]
    omar = Completion.objects.get(learner_id="234567")
    assert (omar.completion_date, omar.birth_month, omar.birth_day) == (DEC_18, 2, 29)
    assert omar.channel == "api"


def test_xml_record_errors_are_per_record(api, key_a, activity_a, roster):
    document = learner_report(
        xml_report(activity_a.pars_id),
        xml_report(activity_a.pars_id, OMAR, credits=[("MK", "99")]),
    )
    reply = api.post_xml("learner-reports", document, key=key_a)
    assert reply.status == 200
    first, second = reply.json["results"]
    assert first["result"] == "created"
    assert second["result"] == "error"
    assert list(second["errors"]) == ["numberOfCredits"]  # the XML's own name
    assert stored() == [("123456", "MK", "accepted", False)]


def test_xml_for_another_provider_is_refused_whole(api, key_a, activity_a, roster):
    document = learner_report(
        xml_report(activity_a.pars_id), xml_report(activity_a.pars_id, OMAR, provider="0005678")
    )
    reply = api.post_xml("learner-reports", document, key=key_a)
    assert reply.status == 400
    assert reply.json["detail"] == (
        "This file reports for provider 0005678, but you are uploading for provider 0001234."
    )
    assert_nothing_stored()


def test_xml_with_1000_records_posted_twice_creates_them_once(
    api, key_a, activity_a, abim, editor_a
):
    learners = [
        {
            "boardId": f"{500000 + n}",
            "firstName": f"Given{n}",
            "lastName": f"Family{n}",
            "birthMonth": str(n % 12 + 1),
            "birthDay": str(n % 28 + 1),
        }  # fmt: skip
        for n in range(1000)
    ]
    RosterEntry.objects.bulk_create(
        RosterEntry(
            board=abim,
            learner_id=p["boardId"],
            first_name=p["firstName"],
            last_name=p["lastName"],
            birth_month=int(p["birthMonth"]),
            birth_day=int(p["birthDay"]),
        )  # fmt: skip
        for p in learners
    )
    document = learner_report(
        *(xml_report(activity_a.pars_id, p, namespaced=True) for p in learners), namespaced=True
    )
    first = api.post_xml("learner-reports", document, key=key_a)
    assert first.status == 200, first.text[:2000]
    assert first.json["totals"] == totals(created=1000)
    assert {r["status"] for r in first.json["results"]} == {"accepted"}
    ids = [r["id"] for r in first.json["results"]]
    assert len(set(ids)) == 1000
    assert Completion.objects.count() == 1000

    second = api.post_xml("learner-reports", document, key=key_a)
    assert second.status == 200
    assert second.json["totals"] == totals(already_reported=1000)
    assert [r["id"] for r in second.json["results"]] == ids
    assert Completion.objects.count() == 1000


# --- POST /learner-reports: bad input ----------------------------------------------------------


def test_text_plain_is_415(api, key_a, activity_a, roster):
    body = json.dumps(reports(report(activity_a))).encode()
    reply = api.request("POST", "learner-reports", key=key_a, body=body, content_type="text/plain")
    assert reply.status == 415
    assert reply.json["detail"] == 'Unsupported media type "text/plain" in request.'
    assert_nothing_stored()


def test_invalid_json_is_400(api, key_a, activity_a, roster):
    body = json.dumps(reports(report(activity_a))).encode()[:-3]
    reply = api.post_json("learner-reports", body, key=key_a)
    assert reply.status == 400
    assert reply.json["detail"].startswith("JSON parse error")
    assert_nothing_stored()


def test_malformed_xml_is_400(api, key_a, activity_a, roster):
    document = learner_report(xml_report(activity_a.pars_id), xml_report(activity_a.pars_id, OMAR))
    reply = api.post_xml("learner-reports", document[: len(document) * 2 // 3], key=key_a)
    assert reply.status == 400
    assert reply.json["detail"].startswith("The XML file is not well-formed")
    assert_nothing_stored()


def test_xml_with_another_root_is_400(api, key_a, activity_a, roster):
    reply = api.post_xml("learner-reports", b"<Reports><ActivityReport/></Reports>", key=key_a)
    assert reply.status == 400
    assert reply.json["detail"] == (
        "This is not an XML learner report: the root element is <Reports>, not "
        "<ACCMELearnerReports>."
    )


BILLION_LAUGHS = """<!DOCTYPE ACCMELearnerReports [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""
EXTERNAL_ENTITY = '<!DOCTYPE ACCMELearnerReports [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'


@pytest.mark.parametrize(
    ("prolog", "first_name"),
    [(BILLION_LAUGHS, "&lol9;"), (EXTERNAL_ENTITY, "&xxe;"),
     ("<!DOCTYPE ACCMELearnerReports>\n", "Jane")],
    ids=["billion-laughs", "external-entity", "bare-doctype"],
)  # fmt: skip
def test_xml_with_a_doctype_is_400_and_stores_nothing(
    api, key_a, activity_a, roster, prolog, first_name
):
    learner = {**JANE, "firstName": first_name}
    document = learner_report(xml_report(activity_a.pars_id, learner), prolog=prolog)
    reply = api.post_xml("learner-reports", document, key=key_a)
    assert reply.status == 400
    assert reply.json["detail"].startswith(
        "The XML file contains a DOCTYPE or entity declaration, which is not allowed."
    )
    assert "root:" not in reply.text
    assert_nothing_stored()


@pytest.mark.slow  # 10,001 records
def test_10001_json_records_are_400_with_the_limit_and_store_nothing(
    api, key_a, activity_a, roster
):
    data = reports(*(report(activity_a, {**JANE, "boardId": f"{100000 + n}"})
                     for n in range(10_001)))  # fmt: skip
    reply = api.post_json("learner-reports", data, key=key_a)
    assert reply.status == 400
    assert reply.json["detail"] == (
        "A request may carry at most 10000 records; this one has 10001."
    )
    assert_nothing_stored()


@pytest.mark.slow  # 10,001 records
def test_10001_xml_records_are_400_with_the_limit_and_store_nothing(api, key_a, activity_a, roster):
    document = learner_report(
        *(xml_report(activity_a.pars_id, {**JANE, "boardId": f"{100000 + n}"})
          for n in range(10_001))
    )  # fmt: skip
    reply = api.post_xml("learner-reports", document, key=key_a)
    assert reply.status == 400
    assert reply.json["detail"] == (
        "A request may carry at most 10000 records; this one has 10001."
    )
    assert_nothing_stored()


def test_record_limit_counts_credits_and_is_a_setting(api, key_a, activity_a, roster, settings):
    settings.API_MAX_RECORDS = 3
    three = reports(
        report(activity_a, credits=[("MK", "1"), ("PS", "1")]), report(activity_a, OMAR)
    )
    four = reports(*three["reports"], report(activity_a, {**OMAR, "boardId": "345678"}))
    reply = api.post_json("learner-reports", four, key=key_a)
    assert reply.status == 400
    assert reply.json["detail"] == "A request may carry at most 3 records; this one has 4."
    assert_nothing_stored()
    reply = api.post_json("learner-reports", three, key=key_a)
    assert reply.status == 200
    assert reply.json["totals"] == totals(created=3)


def test_empty_reports_list_is_400(api, key_a, activity_a):
    reply = api.post_json("learner-reports", reports(), key=key_a)
    assert reply.status == 400
    assert reply.json["detail"] == "The request contains no records."


def test_request_body_over_the_size_limit_is_refused(api, key_a, activity_a, roster, settings):
    """DATA_UPLOAD_MAX_MEMORY_SIZE (API_MAX_BODY_MB) is the API's body limit (settings.py):
    a larger body must be refused before it is read, and nothing stored."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    data = reports(*(report(activity_a, {**JANE, "boardId": f"{100000 + n}"}) for n in range(30)))
    body = json.dumps(data).encode()
    assert len(body) > 4096
    reply = api.post_json("learner-reports", body, key=key_a)
    assert reply.status == 413, reply.text[:500]
    assert "Request body too large: the limit is" in reply.json["detail"]
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("top", {"colour": ["Unknown field."]}),
        (
            "report",
            {"reports[0]/colour": ["Unknown field."], "reports[0]/notes": ["Unknown field."]},
        ),
        ("learner", {"reports[0]/learner/middleName": ["Unknown field."]}),
        ("credit", {"reports[0]/credits[0]/unit": ["Unknown field."]}),
    ],
)
def test_unknown_fields_are_400_naming_them(api, key_a, activity_a, roster, where, expected):
    data = reports(report(activity_a))
    if where == "top":
        data["colour"] = "blue"
    elif where == "report":
        data["reports"][0].update(colour="blue", notes="x")
    elif where == "learner":
        data["reports"][0]["learner"]["middleName"] = "Q"
    else:
        data["reports"][0]["credits"][0]["unit"] = "Point"
    reply = api.post_json("learner-reports", data, key=key_a)
    assert reply.status == 400
    assert problems(reply) == expected
    assert_nothing_stored()


def problems(reply) -> dict:
    """The error body's problems as {path: [messages]}; every error answer has this shape."""
    assert set(reply.json) == {"detail", "errors"}, reply.json
    found = {}
    for item in reply.json["errors"]:
        found.setdefault(item["path"], []).append(item["message"])
    return found


def in_report(errors) -> dict:
    """Problems of the first report, by their path inside it."""
    return {f"reports[0]/{path}": messages for path, messages in errors.items()}


NOT_A_NUMBER = in_report({"credits[0]/points": ["Not a valid number."]})
WRONG_TYPES = {
    "credits-a-string": (
        lambda d: d["reports"][0].update(credits="MK 10"),
        in_report({"credits": ['Expected a list of items but got type "str".']}),
    ),
    "reports-an-object": (
        lambda d: d.update(reports={"learner": JANE}),
        {"reports": ['Expected a list of items but got type "dict".']},
    ),
    "reports-a-string": (
        lambda d: d.update(reports="all of them"),
        {"reports": ['Expected a list of items but got type "str".']},
    ),
    "learner-a-list": (
        lambda d: d["reports"][0].update(learner=[JANE]),
        in_report({"learner": ["Invalid data. Expected a dictionary, but got list."]}),
    ),
    "points-a-list": (lambda d: d["reports"][0]["credits"][0].update(points=[10]), NOT_A_NUMBER),
    "points-a-boolean": (
        lambda d: d["reports"][0]["credits"][0].update(points=True), NOT_A_NUMBER
    ),
    "first-name-null": (
        lambda d: d["reports"][0]["learner"].update(firstName=None),
        in_report({"learner/firstName": ["This field may not be null."]}),
    ),
    "permission-not-boolean": (
        lambda d: d["reports"][0].update(learnerPermission="maybe"),
        in_report({"learnerPermission": ["Must be a valid boolean."]}),
    ),
    "credits-empty": (
        lambda d: d["reports"][0].update(credits=[]),
        in_report({"credits": ["This list may not be empty."]}),
    ),
    "learner-missing": (
        lambda d: d["reports"][0].pop("learner"),
        in_report({"learner": ["This field is required."]}),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", WRONG_TYPES)
def test_wrong_types_are_400(api, key_a, activity_a, roster, case):
    change, expected = WRONG_TYPES[case]
    data = reports(report(activity_a))
    change(data)
    reply = api.post_json("learner-reports", data, key=key_a)
    assert reply.status == 400
    assert problems(reply) == expected
    assert_nothing_stored()


@pytest.mark.parametrize("body", [b"[]", b'"reports"', b"null", b"42"])
def test_json_body_that_is_not_an_object_is_400(api, key_a, body):
    reply = api.post_json("learner-reports", body, key=key_a)
    assert reply.status == 400
    assert_nothing_stored()


@pytest.mark.parametrize("points", ["1e30", "1E+9", "99999999999999999999999999999"])
def test_huge_points_are_a_record_error_not_a_server_error(api, key_a, activity_a, roster, points):
    reply = api.post_json(
        "learner-reports", reports(report(activity_a, credits=[("MK", points)])), key=key_a
    )
    assert reply.status == 200, reply.text[:500]
    assert reply.json["results"][0]["result"] == "error"
    assert list(reply.json["results"][0]["errors"]) == ["points"]
    assert_nothing_stored()


@pytest.mark.parametrize("cme", ["1234567", "12345.678", "-5"])
def test_out_of_range_cme_credits_are_a_record_error(api, key_a, activity_a, roster, cme):
    """The web form refuses these (forms.py: max_digits=6, decimal_places=2, min_value=0);
    the API must too, per record. A stored over-long amount would also make every later read
    of the provider's records fail (the model field is max_digits=6)."""
    credit = {"creditType": "MK", "points": "10", "cmeCredits": cme}
    reply = api.post_json("learner-reports", reports(report(activity_a, credits=[credit])),
                          key=key_a)  # fmt: skip
    assert reply.status == 200, reply.text[:500]
    listing = api.get("completions", key=key_a)
    outcome = reply.json["results"][0]
    assert (outcome["result"], list(outcome["errors"]), listing.status) == (
        "error", ["cmeCredits"], 200
    )  # fmt: skip
    assert_nothing_stored()


def test_credit_id_longer_than_300_characters_is_a_record_error(api, key_a, activity_a, roster):
    credit = {"creditType": "MK", "points": "10", "creditId": "ccid:" + "9" * 296}
    reply = api.post_json("learner-reports", reports(report(activity_a, credits=[credit])),
                          key=key_a)  # fmt: skip
    assert reply.status == 200, reply.text[:500]
    assert reply.json["results"][0]["result"] == "error"
    assert list(reply.json["results"][0]["errors"]) == ["creditId"]
    assert_nothing_stored()


def test_one_credit_id_on_two_records_of_one_request_is_not_a_server_error(
    api, key_a, activity_a, roster
):
    credits = [{"creditType": "MK", "points": "10", "creditId": "ccid:lms:77"},
               {"creditType": "PS", "points": "10", "creditId": "ccid:lms:77"}]  # fmt: skip
    reply = api.post_json("learner-reports", reports(report(activity_a, credits=credits)),
                          key=key_a)  # fmt: skip
    assert reply.status == 200, reply.text[:500]
    first, second = reply.json["results"]
    assert first["result"] == "created"
    assert second["result"] in ("error", "already_reported")
    assert Completion.objects.filter(credit_id="ccid:lms:77").count() == 1


# --- Idempotency -------------------------------------------------------------------------------


def test_replayed_request_reports_everything_already_reported_with_the_same_ids(
    api, key_a, activity_a, roster
):
    data = reports(
        report(activity_a, credits=[("MK", "10"), ("PS", "1")]),
        report(activity_a, {**OMAR, "birthDay": "28"}),
    )
    first = api.post_json("learner-reports", data, key=key_a)
    assert first.json["totals"] == totals(created=3)
    second = api.post_json("learner-reports", data, key=key_a)
    assert second.status == 200
    assert second.json["totals"] == totals(already_reported=3)
    assert [r["id"] for r in second.json["results"]] == [r["id"] for r in first.json["results"]]
    assert [r["status"] for r in second.json["results"]] == ["accepted", "accepted", "rejected"]
    assert all(r["message"].startswith(f"Already reported: record {r['id']}, entered ")
               for r in second.json["results"])  # fmt: skip
    assert Completion.objects.count() == 3


def test_retry_by_credit_id_with_other_values_is_already_reported(api, key_a, activity_a, roster):
    credit = {"creditType": "MK", "points": "10", "creditId": "ccid:lms:1234"}
    first = api.post_json("learner-reports", reports(report(activity_a, credits=[credit])),
                          key=key_a)  # fmt: skip
    record_id = first.json["results"][0]["id"]
    retry = report(activity_a, completed="2015-12-19", credits=[{**credit, "points": "5"}])
    reply = api.post_json("learner-reports", reports(retry), key=key_a)
    assert reply.status == 200
    assert reply.json["totals"] == totals(already_reported=1)
    result = reply.json["results"][0]
    assert (result["result"], result["id"], result["status"]) == (
        "already_reported", record_id, "accepted"
    )  # fmt: skip
    assert Completion.objects.count() == 1
    assert Completion.objects.get().completion_date == DEC_18


def test_sandbox_key_stores_sandbox_records_apart_from_production(
    api, key_a, sandbox_key_a, activity_a, roster
):
    data = reports(report(activity_a))
    sandbox = api.post_json("learner-reports", data, key=sandbox_key_a)
    assert sandbox.status == 200
    assert sandbox.json["sandbox"] is True
    assert sandbox.json["totals"] == totals(created=1)
    sandbox_record = Completion.objects.get(pk=sandbox.json["results"][0]["id"])
    assert sandbox_record.is_sandbox is True
    # A sandbox record never blocks (nor is) a real one.
    production = api.post_json("learner-reports", data, key=key_a)
    assert production.json["sandbox"] is False
    assert production.json["totals"] == totals(created=1)
    assert stored() == [("123456", "MK", "accepted", False), ("123456", "MK", "accepted", True)]
    listed = api.get("completions", key=sandbox_key_a).json
    assert [r["id"] for r in listed["results"]] == [sandbox_record.pk]
    assert listed["results"][0]["sandbox"] is True


# --- Legacy ABIM module codes (pars-spec §7) ---------------------------------------------------


@pytest.fixture
def legacy_activity(activity_a):
    activity_a.legacy_module_code = "ABC123"
    activity_a.save()
    return activity_a


def test_legacy_module_code_accepted_before_the_sunset(
    api, key_a, legacy_activity, roster, settings
):
    settings.LEGACY_MODULE_CODE_SUNSET = "2099-01-01"
    reply = api.post_json("learner-reports", reports(report(None, moduleCode="ABC123")), key=key_a)
    assert reply.status == 200
    assert results(reply) == [("created", "accepted")]
    assert Completion.objects.get().activity == legacy_activity
    xml = api.post_xml("learner-reports", learner_report(xml_report("ABC123", OMAR)), key=key_a)
    assert results(xml) == [("created", "accepted")]
    assert Completion.objects.filter(activity=legacy_activity).count() == 2


def test_legacy_module_code_refused_after_the_sunset_naming_the_pars_id(
    api, key_a, legacy_activity, roster, settings
):
    settings.LEGACY_MODULE_CODE_SUNSET = "2000-01-01"
    expected = (
        "The legacy ABIM module code ABC123 is no longer accepted since 01/01/2000; "
        f"use PARS activity ID {legacy_activity.pars_id}."
    )
    reply = api.post_json("learner-reports", reports(report(None, moduleCode="ABC123")), key=key_a)
    assert reply.status == 200
    assert reply.json["results"][0]["result"] == "error"
    assert reply.json["results"][0]["errors"] == {"activityId": expected}
    xml = api.post_xml("learner-reports", learner_report(xml_report("ABC123")), key=key_a)
    assert xml.json["results"][0]["errors"] == {"ModuleName/@moduleID": expected}
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("now", "accepted"),
    [("2016-12-31 23:30 -06:00", True), ("2017-01-01 00:30 -06:00", False)],
    ids=["last-day", "sunset-day"],
)
def test_legacy_module_code_sunset_is_the_day_the_portal_receives_the_record(
    api, key_a, legacy_activity, roster, settings, now, accepted
):
    settings.LEGACY_MODULE_CODE_SUNSET = "2017-01-01"
    with time_machine.travel(now, tick=True):
        reply = api.post_json(
            "learner-reports", reports(report(None, moduleCode="ABC123")), key=key_a
        )
    assert reply.status == 200
    result = reply.json["results"][0]
    if accepted:
        assert result["result"] == "created"
    else:
        assert result["result"] == "error"
        assert legacy_activity.pars_id in result["errors"]["activityId"]


def test_legacy_module_code_is_matched_regardless_of_case(
    api, key_a, legacy_activity, roster, settings
):
    """The pipeline compares legacy codes upper-cased (intake.py, resolve_activity), so
    "abc123" is meant to find ABC123."""
    settings.LEGACY_MODULE_CODE_SUNSET = "2099-01-01"
    reply = api.post_json("learner-reports", reports(report(None, moduleCode="abc123")), key=key_a)
    assert reply.json["results"][0]["errors"] == {}
    assert results(reply) == [("created", "accepted")]


def test_unknown_legacy_module_code_is_a_record_error(api, key_a, legacy_activity, roster):
    reply = api.post_json("learner-reports", reports(report(None, moduleCode="ZZZ999")), key=key_a)
    assert reply.json["results"][0]["errors"] == {
        "activityId": "Activity ZZZ999 is not one of your provider's activities."
    }


# --- GET /completions --------------------------------------------------------------------------


@pytest.fixture
def records(activity_a, activity_b, provider_a, editor_a):
    """Provider A: three production records (two activities, accepted/rejected), one
    sandbox record; provider B: one record."""
    other = make_activity(provider_a, editor_a, title="Sepsis Update", codes=("MK",))
    jan = make_completion(activity_a, status="accepted")
    ps = make_completion(activity_a, credit="PS", status="accepted", credit_id="ccid:lms:ps-1")
    omar = make_completion(
        other, learner_id="234567", first_name="Omar", last_name="Haddad", birth_month=2,
        birth_day=29, completion_date=DEC_18, status="rejected",
    )  # fmt: skip
    sandbox = make_completion(activity_a, is_sandbox=True, status="accepted")
    theirs = make_completion(activity_b, status="accepted")
    base = timezone.now() - dt.timedelta(days=3)
    for n, record in enumerate([jan, ps, omar, sandbox, theirs]):
        Completion.objects.filter(pk=record.pk).update(
            status_changed_at=base + dt.timedelta(days=n)
        )
    return {"jan": jan, "ps": ps, "omar": omar, "sandbox": sandbox, "theirs": theirs,
            "other": other, "base": base}  # fmt: skip


def listed_ids(reply) -> list[int]:
    assert reply.status == 200, reply.text
    return [r["id"] for r in reply.json["results"]]


def test_list_shows_own_production_records_only(api, key_a, records, activity_a):
    reply = api.get("completions", key=key_a)
    assert listed_ids(reply) == [records["jan"].pk, records["ps"].pk, records["omar"].pk]
    body = reply.json
    assert (body["count"], body["next"], body["previous"]) == (3, None, None)
    jan = body["results"][0]
    assert jan == {
        "id": records["jan"].pk, "activityId": activity_a.pars_id, "board": "ABIM",
        "boardId": "123456", "firstName": "Jane", "lastName": "Smith", "birthMonth": 7,
        "birthDay": 14, "completionDate": "2015-10-31", "creditType": "MK", "points": 10.0,
        "cmeCredits": None, "creditId": records["jan"].credit_id, "status": "accepted",
        "statusReason": "",
        "warning": "", "statusChangedAt": jan["statusChangedAt"],
        "createdAt": jan["createdAt"], "channel": "form", "sandbox": False, "correctsId": None,
        # Reported years after the 2015 deadline and more than 30 days after completion.
        "late": {"deadline": "late", "over30Days": True},
    }  # fmt: skip


def test_list_filters(api, key_a, records, activity_a):
    def ids(**params):
        return listed_ids(api.get("completions", key=key_a, params=params))

    jan, ps, omar = records["jan"].pk, records["ps"].pk, records["omar"].pk
    assert ids(activityId=activity_a.pars_id) == [jan, ps]
    assert ids(activityId=str(int(records["other"].pars_id))) == [omar]  # zeros restored
    assert ids(status="rejected") == [omar]
    assert ids(status="accepted") == [jan, ps]
    assert ids(status="deleted") == []
    assert ids(boardId="234567") == [omar]
    assert ids(completionDate="2015-12-18") == [omar]
    assert ids(completionDate="12/18/2015") == [omar]
    assert ids(completionDate="2015-10-31") == [jan, ps]
    since = records["base"] + dt.timedelta(days=1)
    assert ids(updatedSince=since.isoformat()) == [ps, omar]
    assert ids(updatedSince=(since + dt.timedelta(seconds=1)).isoformat()) == [omar]
    assert ids(activityId=activity_a.pars_id, status="accepted", boardId="123456",
               completionDate="2015-10-31", updatedSince=since.isoformat()) == [ps]  # fmt: skip
    assert ids(activityId=records["theirs"].activity.pars_id) == []


@pytest.mark.parametrize(
    "params", [{"completionDate": "18/12/2015"}, {"updatedSince": "yesterday"}],
    ids=["completionDate", "updatedSince"],
)  # fmt: skip
def test_list_invalid_filter_is_400(api, key_a, records, params):
    reply = api.get("completions", key=key_a, params=params)
    assert reply.status == 400
    assert reply.json["detail"].startswith("Invalid filter:")


def test_list_pagination(api, key_a, records, live_server):
    first = api.get("completions", key=key_a, params={"page_size": 2})
    assert listed_ids(first) == [records["jan"].pk, records["ps"].pk]
    assert first.json["count"] == 3
    assert first.json["previous"] is None
    next_url = first.json["next"]
    assert next_url.startswith(live_server.url + "/api/v1/completions?")
    second = api.get(next_url[len(live_server.url) :], key=key_a)
    assert listed_ids(second) == [records["omar"].pk]
    assert second.json["next"] is None
    assert second.json["previous"].startswith(live_server.url)
    assert api.get("completions", key=key_a, params={"page": 9}).status == 404


# --- GET/DELETE /completions/{id} --------------------------------------------------------------


def test_get_one_record(api, key_a, records):
    reply = api.get(f"completions/{records['ps'].pk}", key=key_a)
    assert reply.status == 200
    assert (reply.json["id"], reply.json["creditType"], reply.json["creditId"]) == (
        records["ps"].pk, "PS", "ccid:lms:ps-1"
    )  # fmt: skip


def test_delete_withdraws_the_record_and_keeps_it_with_the_reason(api, key_a, records, editor_a):
    record = records["jan"]
    reply = api.delete(f"completions/{record.pk}", key=key_a, data={"reason": "Wrong learner"})
    assert reply.status == 200, reply.text
    assert (reply.json["status"], reply.json["statusReason"]) == ("deleted", "Wrong learner")
    record.refresh_from_db()
    assert (record.status, record.status_reason) == ("deleted", "Wrong learner")
    event = record.events.order_by("-id").first()
    assert (event.to_status, event.channel, event.actor) == ("deleted", "api", editor_a)
    assert api.get(f"completions/{record.pk}", key=key_a).json["status"] == "deleted"
    again = api.delete(f"completions/{record.pk}", key=key_a)
    assert again.status == 409
    assert "already deleted" in again.json["detail"]


def test_delete_without_a_body_uses_the_default_reason(api, key_a, records):
    reply = api.delete(f"completions/{records['ps'].pk}", key=key_a)
    assert reply.status == 200
    assert reply.json["statusReason"] == "Deleted through the web service"


def test_delete_with_an_unknown_field_is_400(api, key_a, records):
    reply = api.delete(f"completions/{records['ps'].pk}", key=key_a, data={"why": "x"})
    assert reply.status == 400
    assert problems(reply) == {"why": ["Unknown field."]}
    records["ps"].refresh_from_db()
    assert records["ps"].status == "accepted"


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_another_providers_record_is_404_not_403(api, key_a, records, method):
    reply = api.request(method, f"completions/{records['theirs'].pk}", key=key_a)
    assert reply.status == 404
    assert reply.json == {"detail": "No Completion matches the given query.", "errors": []}
    records["theirs"].refresh_from_db()
    assert records["theirs"].status == "accepted"


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_sandbox_key_on_a_production_record_is_404(api, sandbox_key_a, records, method):
    reply = api.request(method, f"completions/{records['jan'].pk}", key=sandbox_key_a)
    assert reply.status == 404
    records["jan"].refresh_from_db()
    assert records["jan"].status == "accepted"


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_production_key_on_a_sandbox_record_is_404(api, key_a, records, method):
    reply = api.request(method, f"completions/{records['sandbox'].pk}", key=key_a)
    assert reply.status == 404
    records["sandbox"].refresh_from_db()
    assert records["sandbox"].status == "accepted"


def test_sandbox_key_sees_and_deletes_its_own_record(api, sandbox_key_a, records):
    record = records["sandbox"]
    assert api.get(f"completions/{record.pk}", key=sandbox_key_a).json["sandbox"] is True
    assert api.delete(f"completions/{record.pk}", key=sandbox_key_a).status == 200
    record.refresh_from_db()
    assert record.status == "deleted"


def test_unknown_record_id_is_404(api, key_a, records):
    assert api.get("completions/999999", key=key_a).status == 404


# --- GET /completions/status -------------------------------------------------------------------


def test_status_by_credit_id(api, key_a, records):
    reply = api.get("completions/status", key=key_a, params={"creditId": "ccid:lms:ps-1"})
    assert reply.status == 200
    assert reply.json == [
        {"id": records["ps"].pk, "creditType": "PS", "status": "accepted", "statusReason": "",
         "statusChangedAt": reply.json[0]["statusChangedAt"]}
    ]  # fmt: skip


def test_status_by_activity_learner_birth_and_date(api, key_a, records, activity_a):
    params = {"activityId": activity_a.pars_id, "boardId": "123456", "birth": "07-14",
              "completionDate": "2015-10-31"}  # fmt: skip
    reply = api.get("completions/status", key=key_a, params=params)
    assert reply.status == 200
    assert [(r["id"], r["creditType"], r["status"]) for r in reply.json] == [
        (records["jan"].pk, "MK", "accepted"),
        (records["ps"].pk, "PS", "accepted"),
    ]
    wrong_birth = api.get("completions/status", key=key_a, params={**params, "birth": "07-15"})
    assert wrong_birth.status == 404


def test_status_of_a_deleted_record_is_404(api, key_a, records):
    api.delete(f"completions/{records['ps'].pk}", key=key_a)
    reply = api.get("completions/status", key=key_a, params={"creditId": "ccid:lms:ps-1"})
    assert reply.status == 404
    assert reply.json == {"detail": "No current record matches.", "errors": []}


def test_status_of_another_providers_record_is_404(api, key_b, records):
    reply = api.get("completions/status", key=key_b, params={"creditId": "ccid:lms:ps-1"})
    assert reply.status == 404


def test_status_needs_parameters(api, key_a, records, activity_a):
    reply = api.get("completions/status", key=key_a, params={"activityId": activity_a.pars_id})
    assert reply.status == 400
    assert reply.json["detail"] == (
        "Give creditId, or activityId, boardId, birth (MM-DD) and completionDate; "
        "missing: boardId, birth, completionDate."
    )


@pytest.mark.parametrize(("birth", "date"), [("14-07", "2015-10-31"), ("07-14", "31/10/2015")])
def test_status_with_unreadable_birth_or_date_is_400(api, key_a, records, birth, date):
    params = {"activityId": "1", "boardId": "123456", "birth": birth, "completionDate": date}
    reply = api.get("completions/status", key=key_a, params=params)
    assert reply.status == 400


# --- POST /learner-match -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("learner", "expected"),
    [
        (JANE, "match"),
        ({**JANE, "boardId": "999999"}, "not_found"),
        ({**JANE, "birthDay": "15"}, "birth_date_mismatch"),
        ({**JANE, "lastName": "Smyth"}, "name_differs"),
        ({**JANE, "firstName": "  jane ", "lastName": "SMITH"}, "match"),
    ],
    ids=["match", "not-found", "birth-mismatch", "name-differs", "case-and-spacing"],
)
def test_learner_match(api, key_a, roster, learner, expected):
    data = {**learner, "birthMonth": int(learner["birthMonth"]),
            "birthDay": int(learner["birthDay"])}  # fmt: skip
    reply = api.post_json("learner-match", data, key=key_a)
    assert reply.status == 200, reply.text
    assert reply.json == {"result": expected}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"birthMonth": 13}, {"birthMonth": ["Ensure this value is less than or equal to 12."]}),
        ({"boardId": None}, {"boardId": ["This field may not be null."]}),
        ({"ssn": "123"}, {"ssn": ["Unknown field."]}),
        ({"board": "ABFM"}, {}),
    ],
    ids=["month-13", "no-board-id", "unknown-field", "unknown-board"],
)
def test_learner_match_bad_input_is_400(api, key_a, roster, change, expected):
    data = {**JANE, "birthMonth": 7, "birthDay": 14, **change}
    reply = api.post_json("learner-match", data, key=key_a)
    assert reply.status == 400
    assert problems(reply) == expected
    if change == {"board": "ABFM"}:
        assert reply.json["detail"] == "Unknown board 'ABFM'."


def test_learner_match_is_throttled_per_provider(
    api, key_a, key_b, provider_a, editor_a, roster, monkeypatch
):
    # DRF reads the rates into SimpleRateThrottle.THROTTLE_RATES when it is imported, so
    # overriding settings.REST_FRAMEWORK (even with api_settings.reload()) would not reach it.
    monkeypatch.setattr(
        LearnerMatchThrottle, "THROTTLE_RATES", {"learner_match": "3/min", "api_key": "1000/min"}
    )
    data = {**JANE, "birthMonth": 7, "birthDay": 14}
    for _ in range(3):
        assert api.post_json("learner-match", data, key=key_a).status == 200
    throttled = api.post_json("learner-match", data, key=key_a)
    assert throttled.status == 429
    assert throttled.json["detail"].startswith("Request was throttled.")
    assert 0 < int(throttled.headers["retry-after"]) <= 60
    # More keys do not mean more tries: the limit is the provider's.
    other_key = make_key(provider_a, editor_a, name="Second LMS")
    assert api.post_json("learner-match", data, key=other_key).status == 429
    # Another provider is not affected.
    assert api.post_json("learner-match", data, key=key_b).status == 200
    # Only learner-match has the stricter rate.
    assert api.get("activities", key=key_a).status == 200


# --- GET /activities ---------------------------------------------------------------------------


def test_activities_lists_own_activities_with_their_registration(
    api, key_a, activity_a, activity_b, provider_a, editor_a
):
    unregistered = make_activity(provider_a, editor_a, title="Not for MOC", points=None)
    reply = api.get("activities", key=key_a)
    assert reply.status == 200
    body = reply.json
    assert body["count"] == 2
    by_id = {a["activityId"]: a for a in body["results"]}
    assert set(by_id) == {activity_a.pars_id, unregistered.pars_id}
    assert by_id[activity_a.pars_id] == {
        "activityId": activity_a.pars_id, "providerActivityId": activity_a.provider_activity_id,
        "title": "Hypertension Update", "activityType": "Course", "startDate": "2015-10-01",
        "endDate": "2015-12-30", "reportingYear": 2015, "cmeCredits": 10.0,
        "legacyModuleCode": None,
        "registration": {"board": "ABIM", "points": 10.0, "creditTypes": ["MK", "PS"]},
    }  # fmt: skip
    assert by_id[unregistered.pars_id]["registration"] is None


def test_activity_with_withdrawn_registration_shows_none(api, key_a, activity_a):
    MocRegistration.objects.filter(activity=activity_a).update(
        status=MocRegistration.Status.WITHDRAWN
    )
    reply = api.get(f"activities/{activity_a.pars_id}", key=key_a)
    assert reply.status == 200
    assert reply.json["registration"] is None


def test_one_activity(api, key_a, activity_a):
    reply = api.get(f"activities/{activity_a.pars_id}", key=key_a)
    assert reply.status == 200
    assert reply.json["activityId"] == activity_a.pars_id
    assert reply.json["registration"]["creditTypes"] == ["MK", "PS"]


def test_another_providers_activity_is_404(api, key_a, activity_b):
    assert api.get(f"activities/{activity_b.pars_id}", key=key_a).status == 404
    assert api.get("activities/999999999", key=key_a).status == 404


# --- Schema and docs ---------------------------------------------------------------------------


def test_schema_is_served_without_a_key_and_documents_every_endpoint(api):
    reply = api.get("schema", params={"format": "json"})
    assert reply.status == 200
    schema = reply.json
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "PARS Portal web services"
    assert set(schema["paths"]) == {
        "/api/v1/learner-reports", "/api/v1/completions", "/api/v1/completions/{id}",
        "/api/v1/completions/status", "/api/v1/learner-match", "/api/v1/activities",
        "/api/v1/activities/{activity_id}", "/api/v1/learner-reports/xml",
        "/api/v1/learner-activities",
        "/api/v1/learner-activities/{learnerId}", "/api/v1/learner-activities/status",
    }  # fmt: skip
    assert set(schema["paths"]["/api/v1/completions/{id}"]) == {"get", "delete"}
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    # One content type per operation (a generated client breaks on a required body offered
    # in several), every body required.
    bodies = {path: operations["post"]["requestBody"] for path, operations in
              schema["paths"].items() if "post" in operations}  # fmt: skip
    assert {path: set(body["content"]) for path, body in bodies.items()} == {
        "/api/v1/learner-reports": {"application/json"},
        "/api/v1/learner-reports/xml": {"application/xml"},
        "/api/v1/learner-match": {"application/json"},
        "/api/v1/learner-activities": {"application/json"},
    }
    assert all(body["required"] for body in bodies.values())
    yaml = api.get("schema")
    assert yaml.status == 200
    assert yaml.headers["content-type"].startswith("application/vnd.oai.openapi")
    assert b"/api/v1/learner-reports" in yaml.body


def docs_page_and_script(api) -> tuple[str, str]:
    """The docs page and its own script: served apart (no inline script: the portal's
    Content-Security-Policy allows scripts from the portal only)."""
    page = api.get("docs").text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "an inline script"
    script = re.search(r'<script src="(/api/v1/docs\?script=[^"]*)"', page).group(1)
    return page, api.get(html.unescape(script)).text


def test_docs_load_everything_from_the_portal_itself(api, live_server):
    reply = api.get("docs")
    assert reply.status == 200
    page, script = docs_page_and_script(api)
    assert "SwaggerUIBundle" in script
    own = urllib.parse.urlsplit(live_server.url).netloc
    hosts = set(re.findall(r"https?://([^/\"'\s<>]+)", page))
    hosts |= set(re.findall(r"""(?:src|href)\s*=\s*["']//([^/"']+)""", page))
    assert hosts <= {own}, f"the docs page names other hosts: {hosts - {own}}"
    assets = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', page)
    assert any(a.endswith(".js") for a in assets)
    assert any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), asset
        loaded = api.get(asset)
        assert loaded.status == 200, asset
        assert len(loaded.body) > 0
        if asset.endswith(".css"):
            assert not re.search(rb"url\(\s*['\"]?(?:https?:)?//|@import", loaded.body), asset
    schema_url = re.search(r'url: "([^"]+)"', script).group(1)
    assert api.get(schema_url).status == 200


def test_docs_do_not_call_the_online_validator(api):
    """Swagger UI's default validatorUrl is https://validator.swagger.io/validator: on any host
    but localhost it loads a badge image from there, sending the schema's URL along. The
    offline docs must turn it off (validatorUrl: null or "none")."""
    _, script = docs_page_and_script(api)
    settings_json = re.search(r"const swaggerSettings = (\{.*?\});", script, re.S).group(1)
    swagger_settings = json.loads(settings_json)
    assert "validatorUrl" in swagger_settings, swagger_settings
    assert swagger_settings["validatorUrl"] in (None, "none")
