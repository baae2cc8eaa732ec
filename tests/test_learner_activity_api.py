"""ACCME's Learner Activity API draft and ACCME's JSON learner report, through real HTTP on
loopback: the draft's four operations with its parameter names and status codes, for every
kind of key; ACCME's JSON in, with the same outcomes as the portal's own JSON; bad documents
refused whole with the report index and the member path."""

import copy
import json

import pytest
from jsonschema import Draft202012Validator

from participants.api import JSON_FIELD_NAMES
from participants.apikeys import api_key_revoke
from participants.learner_activity_api import learner_report_schema
from participants.models import Completion
from participants.parsers import XML_FIELD_LABELS

from .builders import OMAR_JSON as OMAR
from .builders import accme, accme_document, report, reports, v05_everything
from .conftest import key_record, make_key
from .test_interchange import forget_every_record

# live_server makes these tests transactional: the reference data back, fresh throttles.
pytestmark = pytest.mark.usefixtures("seed_data", "fresh_throttles")

VALIDATOR = Draft202012Validator(learner_report_schema())
REPORTS = "ACCMELearnerReports/ActivityReports/ActivityReport"


def v04_minimal(item: dict, number: int) -> dict:
    """v0.4: no ProviderID, no REMS; and only what is required (no CreditID, no CME)."""
    return copy.deepcopy(item)


def canonical(errors: dict) -> list[str]:
    """Error fields back to the pipeline's names, whatever the request called them."""
    names = {v: k for labels in (XML_FIELD_LABELS, JSON_FIELD_NAMES) for k, v in labels.items()}
    return sorted({names.get(field, field).replace("birth_day", "birth_month") for field in errors})


def outcomes(reply) -> list[tuple]:
    assert reply.status == 200, reply.text[:1000]
    return [(r["result"], r["status"], r["reason"], canonical(r["errors"]))
            for r in reply.json["results"]]  # fmt: skip


def stored_values() -> list[tuple]:
    return sorted(
        Completion.objects.values_list(
            "learner_id", "first_name", "last_name", "birth_month", "birth_day",
            "completion_date", "credit_type__code", "moc_points", "status",
        )
    )  # fmt: skip


CASES = [  # (the portal's JSON report, the same in ACCME's shape)
    (report, accme, {}),  # accepted
    (lambda a: report(a, {**OMAR, "birthMonth": "3"}),  # rejected: birth date does not match
     lambda **k: accme({**OMAR, "birthMonth": "3"}, **k), {}),
    (lambda a: report(a, credits=[("PA", "1")]), lambda **k: accme(credits=[("PA", 1)], **k), {}),
    (lambda a: report(a, OMAR, credits=[("MK", "10.1")]),
     lambda **k: accme(OMAR, credits=[("MK", 10.1)], **k), {}),
    (lambda a: report(a, OMAR, completed="2999-01-01"),
     lambda **k: accme(OMAR, completed="2999-01-01", **k), {}),
]  # fmt: skip


@pytest.mark.parametrize("shape", [v05_everything, v04_minimal], ids=["v0.5-all", "v0.4-bare"])
def test_accme_json_gets_the_same_outcomes_as_the_portals_json(
    api, key_a, activity_a, roster, shape
):
    own = api.post_json(
        "learner-reports", reports(*[portal(activity_a) for portal, _, _ in CASES]), key=key_a
    )
    expected = outcomes(own)
    assert [o[0] for o in expected] == ["created", "created", "error", "error", "error"]
    assert [o[1] for o in expected[:2]] == ["accepted", "rejected"]
    expected_records = stored_values()
    forget_every_record()

    document = accme_document(*[shape(draft(), n) for n, (_, draft, _) in enumerate(CASES)])
    theirs = api.post_json("learner-reports", document, key=key_a)
    assert outcomes(theirs) == expected
    assert stored_values() == expected_records
    if shape is v05_everything:
        credit_ids = sorted(Completion.objects.values_list("credit_id", flat=True))
        assert credit_ids == ["ccid:lms:0-0", "ccid:lms:1-0"]
        assert set(Completion.objects.values_list("cme_credits", flat=True)) == {1.5}
    else:
        assert all(c.startswith("ccid:pars:") for c in Completion.objects.values_list(
            "credit_id", flat=True))  # fmt: skip


def test_accme_json_without_personal_info_is_a_record_error_on_the_birth_date(
    api, key_a, activity_a, roster
):
    reply = api.post_json("learner-reports", accme_document(accme(birth=False)), key=key_a)
    assert reply.json["results"][0]["errors"] == {
        "BirthDate": "Birth month and day are required for ABIM MOC "
        "(Member/PersonalInfo/BirthDate)."
    }
    assert not Completion.objects.exists()


# --- POST /learner-activities (saveLearnerActivity) ---------------------------------------------


def test_save_answers_201_with_the_document_and_a_retry_is_already_reported(
    api, key_a, activity_a, roster
):
    document = accme_document(v05_everything(accme(), 1), accme(OMAR))
    first = api.post_json("learner-activities", document, key=key_a)
    assert first.status == 201, first.text[:1000]
    assert list(VALIDATOR.iter_errors(first.json)) == []
    written = first.json["ACCMELearnerReports"]["ActivityReports"]["ActivityReport"]
    assert [r["XtensibleInfo"]["Outcome"] for r in written] == ["created", "created"]
    assert [r["XtensibleInfo"]["RecordStatus"] for r in written] == ["accepted", "accepted"]
    jane = written[0]
    assert jane["Activity"]["Module"]["CreditCertificate"][0]["CreditID"] == "ccid:lms:1-0"
    assert jane["Activity"]["Module"]["CreditCertificate"][0]["UniqueID"] == {
        "value": "123456", "domain": "ABIM"}  # fmt: skip
    assert jane["XtensibleInfo"]["CMECredits"] == 1.5
    ids = [r["XtensibleInfo"]["RecordID"] for r in written]
    assert sorted(ids) == sorted(Completion.objects.values_list("pk", flat=True))

    again = api.post_json("learner-activities", document, key=key_a)
    assert again.status == 201
    written = again.json["ACCMELearnerReports"]["ActivityReports"]["ActivityReport"]
    assert [r["XtensibleInfo"]["Outcome"] for r in written] == ["already_reported"] * 2
    assert [r["XtensibleInfo"]["RecordID"] for r in written] == ids
    assert Completion.objects.count() == 2


def test_save_stores_nothing_when_one_report_has_an_error(api, key_a, activity_a, roster):
    document = accme_document(accme(), accme(OMAR, credits=[("PA", 1)]), accme(birth=False))
    reply = api.post_json("learner-activities", document, key=key_a)
    assert reply.status == 400
    assert reply.json["detail"] == "The learner report cannot be used; nothing of it was stored."
    paths = {(e["report"], e["path"]) for e in reply.json["errors"]}
    assert paths == {
        (1, f"{REPORTS}[1]/Activity/Module/CreditCertificate[0]/CreditReceived/"
            "activityCertification"),
        (2, f"{REPORTS}[2]/Member/PersonalInfo/BirthDate"),
    }  # fmt: skip
    assert not Completion.objects.exists()


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


BAD_DOCUMENTS = {
    "wrong-types": (
        lambda: accme_document(
            accme(),
            {**accme(), "Member": {"Name": {"GivenName": 5, "FamilyName": ["Smith"]}}},
        ),
        {(1, f"{REPORTS}[1]/Member/Name/GivenName"), (1, f"{REPORTS}[1]/Member/Name/FamilyName")},
    ),
    "missing-members": (
        lambda: accme_document(
            {k: v for k, v in accme().items() if k != "XtensibleInfo"},
        ),
        {(0, f"{REPORTS}[0]/XtensibleInfo")},
    ),
    "unknown-member": (
        lambda: accme_document({**accme(), "Activty": {}}),
        {(0, f"{REPORTS}[0]/Activty")},
    ),
    "only-other-ids": (
        lambda: accme_document(accme(), {**accme(OMAR)} | {"Activity": {
            **accme(OMAR)["Activity"], "Module": {**accme(OMAR)["Activity"]["Module"],
            "CreditCertificate": [{"UniqueID": [{"value": "1", "domain": "NPI"}],
             "CreditReceived": {"activityCertification": "MK", "creditUnit": "Point",
                                "numberOfCredits": 1}}]}}}),
        {(1, f"{REPORTS}[1]/Activity/Module/CreditCertificate[0]/UniqueID/domain")},
    ),
    "not-a-document": (lambda: {"reports": []}, {(None, "")}),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_DOCUMENTS)
def test_a_bad_document_is_400_naming_the_report_and_member(api, key_a, activity_a, roster, case):
    build, expected = BAD_DOCUMENTS[case]
    reply = api.post_json("learner-activities", build(), key=key_a)
    assert reply.status == 400, reply.text[:1000]
    assert {(e["report"], e["path"]) for e in reply.json["errors"]} == expected
    assert not Completion.objects.exists()


@pytest.mark.slow  # 10,001 reports
def test_10001_reports_are_400_with_the_limit(api, key_a, activity_a, roster):
    document = accme_document(*[accme() for _ in range(10_001)])
    reply = api.post_json("learner-activities", document, key=key_a)
    assert reply.status == 400
    assert "at most 10000 records" in reply.json["detail"]
    assert not Completion.objects.exists()


@pytest.mark.parametrize("where", ["top", "inside-a-rems-block"])
def test_deeply_nested_junk_is_400(api, key_a, activity_a, roster, where):
    if where == "top":
        body = ('{"ACCMELearnerReports": ' + deep(5000) + "}").encode()
    else:
        text = json.dumps(accme_document({**accme(), "Participants": "JUNK"}))
        body = text.replace('"JUNK"', deep(5000)).encode()
    for path in ("learner-activities", "learner-reports"):
        reply = api.post_json(path, body, key=key_a)
        assert reply.status == 400, reply.text[:300]
        assert reply.json["detail"] == "JSON parse error - the document is nested too deeply."
    assert not Completion.objects.exists()


# --- The four operations, for each kind of key -------------------------------------------------


@pytest.fixture
def on_file(api, key_a, sandbox_key_a, key_b, activity_a, activity_b, roster):
    """Jane's MK and PS records (production) and an Omar record made with the sandbox key."""
    document = accme_document(accme(credits=[("MK", 10), ("PS", 5)]))
    assert api.post_json("learner-activities", document, key=key_a).status == 201
    assert api.post_json("learner-activities", accme_document(accme(OMAR)),
                         key=sandbox_key_a).status == 201  # fmt: skip
    return {r.credit_type.code: r for r in Completion.objects.filter(is_sandbox=False)}


def status_query(record) -> dict:
    return {
        "moduleID": record.activity.pars_id,
        "BirthDate": "07-14",
        "CompletionDate": record.completion_date.isoformat(),
        "UniqueID": record.learner_id,
    }


def test_get_answers_the_learners_current_records(api, key_a, on_file):
    reply = api.get("learner-activities/123456", key=key_a)
    assert reply.status == 200
    assert list(VALIDATOR.iter_errors(reply.json)) == []
    written = reply.json["ACCMELearnerReports"]["ActivityReports"]["ActivityReport"]
    assert sorted(r["XtensibleInfo"]["RecordID"] for r in written) == sorted(
        r.pk for r in on_file.values()
    )
    assert api.get("learner-activities/000000", key=key_a).status == 404


def test_status_by_either_approach(api, key_a, on_file):
    by_credit = api.get("learner-activities/status", key=key_a,
                        params={"CreditId": on_file["MK"].credit_id})  # fmt: skip
    assert by_credit.status == 200
    assert by_credit.json == [{
        "moduleID": on_file["MK"].activity.pars_id, "BirthDate": "1904-07-14",
        "CompletedDateTime": "2015-12-18T00:00:00", "CreditID": on_file["MK"].credit_id,
        "UniqueID": [{"value": "123456", "domain": "ABIM"}], "Status": "Completed",
        "RecordID": on_file["MK"].pk, "RecordStatus": "accepted",
        "StatusReason": on_file["MK"].status_reason,
        "StatusChangedAt": by_credit.json[0]["StatusChangedAt"],
    }]  # fmt: skip
    by_learner = api.get("learner-activities/status", key=key_a,
                         params=status_query(on_file["MK"]))  # fmt: skip
    assert [r["RecordID"] for r in by_learner.json] == [on_file["MK"].pk, on_file["PS"].pk]
    partial = api.get("learner-activities/status", key=key_a, params={"moduleID": "100000001"})
    assert partial.status == 400
    assert {e["path"] for e in partial.json["errors"]} == {"BirthDate", "CompletionDate",
                                                           "UniqueID"}  # fmt: skip
    nothing = api.get("learner-activities/status", key=key_a, params={"CreditId": "ccid:x:y"})
    assert nothing.status == 404


def test_delete_withdraws_with_the_reason_and_answers_204_then_404(api, key_a, on_file):
    reply = api.request(
        "DELETE", "learner-activities/123456?CreditId=" + on_file["PS"].credit_id
        + "&reason=Did%20not%20attend", key=key_a,
    )  # fmt: skip
    assert reply.status == 204, reply.text
    on_file["PS"].refresh_from_db()
    assert (on_file["PS"].status, on_file["PS"].status_reason) == ("deleted", "Did not attend")
    on_file["MK"].refresh_from_db()
    assert on_file["MK"].status == "accepted"  # narrowed by CreditId
    assert api.request("DELETE", "learner-activities/123456", key=key_a).status == 204
    assert api.request("DELETE", "learner-activities/123456", key=key_a).status == 404
    assert not Completion.objects.filter(is_sandbox=False).exclude(status="deleted").exists()


def operations(records) -> dict:
    mk = records["MK"]
    return {
        "save": ("POST", "learner-activities", accme_document(accme())),
        "get": ("GET", "learner-activities/123456", None),
        "status": ("GET", "learner-activities/status?CreditId=" + mk.credit_id, None),
        "delete": ("DELETE", "learner-activities/123456", None),
    }


def call(api, method, path, body, key):
    data = json.dumps(body).encode() if body is not None else None
    return api.request(method, path, key=key, body=data,
                       content_type="application/json" if data else None)  # fmt: skip


@pytest.mark.parametrize("operation", ["save", "get", "status", "delete"])
def test_another_providers_key_never_reaches_these_records(api, key_b, on_file, operation):
    method, path, body = operations(on_file)[operation]
    reply = call(api, method, path, body, key_b)
    # Saving provider A's document with B's key is refused whole; reading or deleting A's
    # learner with B's key finds nothing.
    assert reply.status == (400 if operation == "save" else 404), reply.text[:500]
    assert Completion.objects.filter(is_sandbox=False, status="accepted").count() == 2


@pytest.mark.parametrize("operation", ["get", "status", "delete"])
def test_a_sandbox_key_sees_only_sandbox_records(api, sandbox_key_a, on_file, operation):
    method, path, _ = operations(on_file)[operation]
    assert call(api, method, path, None, sandbox_key_a).status == 404
    omar = api.get("learner-activities/234567", key=sandbox_key_a)
    assert omar.status == 200
    assert Completion.objects.filter(is_sandbox=False, status="accepted").count() == 2


@pytest.mark.parametrize("operation", ["save", "get", "status", "delete"])
@pytest.mark.parametrize("kind", ["none", "invalid", "revoked", "creator-now-viewer"])
def test_keys_that_are_not_valid_get_401(
    api, key_a, editor_a, provider_a, on_file, operation, kind
):
    key = {"none": None, "invalid": key_a[:-4] + "XXXX"}.get(kind, key_a)
    if kind == "revoked":
        api_key_revoke(key=key_record(key_a), user=editor_a)
    if kind == "creator-now-viewer":
        editor_a.memberships.filter(provider=provider_a).update(role="viewer")
    method, path, body = operations(on_file)[operation]
    reply = call(api, method, path, body, key)
    assert reply.status == 401
    assert reply.headers["www-authenticate"] == 'Bearer realm="PARS API"'
    assert set(reply.json) == {"detail", "errors"}
    assert Completion.objects.filter(is_sandbox=False, status="accepted").count() == 2


def test_a_second_key_of_the_same_provider_sees_the_same_records(
    api, provider_a, editor_a, on_file
):
    other = make_key(provider_a, editor_a, name="Second LMS")
    assert api.get("learner-activities/123456", key=other).status == 200
