"""Property-based tests of the web services against their own OpenAPI schema (schemathesis).

The schema is the one the portal serves at /api/v1/schema, loaded through the WSGI
application, so every generated request goes through the whole Django stack (middleware,
authentication, throttling, the intake pipeline). For every operation, valid and invalid
requests must never get a 5xx, and every documented response must match the schema.
Bounded: a fixed seed, 25 generated examples per operation (60 for the pipeline test), a
5-second deadline per example; the whole module runs in about ten seconds.
"""

import datetime as dt

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from pars_portal.wsgi import application
from participants.apikeys import LearnerMatchThrottle

from .conftest import make_completion, make_key

# Property-based: hundreds of generated requests through the whole application.
pytestmark = pytest.mark.slow

# The first activity of a fresh test database gets the first PARS ID (the fixture checks).
ACTIVITY_ID = "100000001"
CONFIG = """
seed = 20151215

[generation]
mode = "{mode}"
max-examples = 25
database = "none"

[phases]
stateful.enabled = false

# Domain values next to the generated ones, so that requests get past "unknown activity" and
# "not a date" and reach the pipeline's deeper rules (and their boundaries).
[dictionaries]
activity_ids = {{ values = ["{activity}", "{activity}", "{activity}", "1", "ABC123", "999999999"] }}
boards = {{ values = ["ABIM", "abim", "ABFM"] }}
board_ids = {{ values = ["123456", "234567", "999999", "12345", "1234567"] }}
months = {{ values = ["7", "7", "2", "12", "13"] }}
days = {{ values = ["14", "14", "29", "31", "0"] }}
month_numbers = {{ values = [7, 2, 12] }}
day_numbers = {{ values = [14, 29, 31] }}
births = {{ values = ["07-14", "7-14", "--07-14", "1961-07-14", "02-29", "13-01"] }}
dates = {{ values = ["2015-12-18", "12/18/2015", "2015-10-31", "2015-10-01", "2999-01-01",
                     "2015-02-30", "2015-09-30"] }}
timestamps = {{ values = ["2015-01-01T00:00:00Z", "2015-12-18", "2999-01-01T00:00:00+00:00"] }}
credit_types = {{ values = ["MK", "PS", "PA", "Medical Knowledge", "mk"] }}
points = {{ values = ["10", "0.25", "2.5", "10.25", "0", "-1", "0.1", "NaN", "1e30",
                      "99999999999999999999999999999"] }}
cme_credits = {{ values = ["1.5", "0", "10.00"] }}
credit_ids = {{ values = ["ccid:lms:1", "ccid:lms:2", "ccid:lms:3"] }}
names = {{ values = ["Jane", "Smith", "Omar", "Haddad"] }}
actions = {{ values = ["add", "delete", "ADD"] }}

[parameters]
"path.activity_id" = {{ dictionary = "activity_ids", probability = 0.5 }}
"query.activityId" = {{ dictionary = "activity_ids", probability = 0.8 }}
"query.boardId" = {{ dictionary = "board_ids", probability = 0.8 }}
"query.birth" = {{ dictionary = "births", probability = 0.8 }}
"query.completionDate" = {{ dictionary = "dates", probability = 0.8 }}
"query.updatedSince" = {{ dictionary = "timestamps", probability = 0.8 }}
"query.creditId" = {{ dictionary = "credit_ids", probability = 0.5 }}
"body.board" = {{ dictionary = "boards", probability = 0.8 }}
"body.boardId" = {{ dictionary = "board_ids", probability = 0.8 }}
"body.firstName" = {{ dictionary = "names", probability = 0.5 }}
"body.lastName" = {{ dictionary = "names", probability = 0.5 }}
"body.birthMonth" = {{ dictionary = "month_numbers", probability = 0.8 }}
"body.birthDay" = {{ dictionary = "day_numbers", probability = 0.8 }}
"body.reports[*].action" = {{ dictionary = "actions", probability = 0.9 }}
"body.reports[*].activityId" = {{ dictionary = "activity_ids", probability = 0.9 }}
"body.reports[*].completionDate" = {{ dictionary = "dates", probability = 0.9 }}
"body.reports[*].learner.board" = {{ dictionary = "boards", probability = 0.9 }}
"body.reports[*].learner.boardId" = {{ dictionary = "board_ids", probability = 0.9 }}
"body.reports[*].learner.firstName" = {{ dictionary = "names", probability = 0.5 }}
"body.reports[*].learner.lastName" = {{ dictionary = "names", probability = 0.5 }}
"body.reports[*].learner.birthMonth" = {{ dictionary = "months", probability = 0.9 }}
"body.reports[*].learner.birthDay" = {{ dictionary = "days", probability = 0.9 }}
"body.reports[*].learner.birthDate" = {{ dictionary = "births", probability = 0.9 }}
"body.reports[*].credits[*].creditType" = {{ dictionary = "credit_types", probability = 0.9 }}
"body.reports[*].credits[*].points" = {{ dictionary = "points", probability = 0.9 }}
"body.reports[*].credits[*].cmeCredits" = {{ dictionary = "cme_credits", probability = 0.9 }}
"body.reports[*].credits[*].creditId" = {{ dictionary = "credit_ids", probability = 0.9 }}
"""


def load(mode):
    config = schemathesis.Config.from_str(CONFIG.format(mode=mode, activity=ACTIVITY_ID))
    return schemathesis.openapi.from_wsgi("/api/v1/schema?format=json", application, config=config)


schema = load("all")
# Valid JSON learner reports only, made of domain values: the intake pipeline's own rules.
pipeline = load("positive").include(operation_id="submit_learner_reports")

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture(autouse=True)
def keep_the_test_database_connection():
    """Schemathesis calls the WSGI app directly, so Django's request signals would close the
    test's database connection after each call (PostgreSQL then fails the next query).
    Django's own test client disconnects them the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_key(provider_a, editor_a, activity_a, roster, monkeypatch):
    """Provider A with a production key, a registered activity (MK, PS), the roster and a few
    records (one with a credit ID), so generated calls can also succeed."""
    monkeypatch.setattr(
        LearnerMatchThrottle,
        "THROTTLE_RATES",
        {"learner_match": "100000/min", "api_key": "100000/min"},
    )
    cache.clear()
    assert activity_a.pars_id == ACTIVITY_ID
    make_completion(activity_a, status="accepted", credit_id="ccid:lms:1")
    make_completion(activity_a, credit="PS", status="rejected",
                    completion_date=dt.date(2015, 12, 18))  # fmt: skip
    yield make_key(provider_a, editor_a, name="LMS")
    cache.clear()


COMPONENTS = schema.raw_schema["components"]["schemas"]


def known_fields_only(value, subschema):
    """Drop the properties a request object does not declare, recursively. The API refuses
    unknown fields (StrictSerializer), which the schema does not say (see
    test_schema_says_request_objects_refuse_unknown_fields): without this, nearly every
    generated "valid" body stops at "Unknown field." and never reaches the pipeline."""
    if "$ref" in subschema:
        subschema = COMPONENTS[subschema["$ref"].rsplit("/", 1)[-1]]
    if isinstance(value, dict) and "properties" in subschema:
        for name in [n for n in value if n not in subschema["properties"]]:
            del value[name]
        for name, item in value.items():
            known_fields_only(item, subschema["properties"][name])
    elif isinstance(value, list) and "items" in subschema:
        for item in value:
            known_fields_only(item, subschema["items"])


def bounded(max_examples):
    return hypothesis.settings(
        max_examples=max_examples,
        deadline=dt.timedelta(seconds=5),
        suppress_health_check=[
            hypothesis.HealthCheck.function_scoped_fixture,
            hypothesis.HealthCheck.too_slow,
            hypothesis.HealthCheck.filter_too_much,
        ],
    )


def call_and_validate(case, key):
    positive = case.meta is None or not case.meta.generation.mode.is_negative
    if positive and isinstance(case.body, dict) and case.media_type == "application/json":
        body = case.operation.definition.raw["requestBody"]["content"]["application/json"]
        known_fields_only(case.body, body["schema"])
    case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)


@schema.parametrize()
@bounded(25)
def test_api_conforms_to_its_schema(case, api_key, db):
    """Valid and invalid requests to every operation: no 5xx, documented responses match."""
    call_and_validate(case, api_key)


def with_an_activity_and_a_birthday(body):
    """The schema cannot say "activityId or moduleCode" nor "birthMonth and birthDay, or
    birthDate", so generated reports often have neither and stop at "required": give those
    reports our activity and a birthday, keeping every generated value."""
    for report in body["reports"]:
        if "activityId" not in report and "moduleCode" not in report:
            report["activityId"] = ACTIVITY_ID
        learner = report["learner"]
        if "birthDate" not in learner:
            learner.setdefault("birthMonth", "7")
            learner.setdefault("birthDay", "14")


@pipeline.parametrize()
@bounded(60)
def test_generated_learner_reports_never_crash_the_pipeline(case, api_key, db):
    """Schema-valid JSON learner reports built from domain values (the dictionaries above):
    the intake pipeline answers every record, never with a 5xx."""
    hypothesis.assume(case.media_type == "application/json" and isinstance(case.body, dict))
    with_an_activity_and_a_birthday(case.body)
    call_and_validate(case, api_key)


# --- What the schema says about requests -------------------------------------------------------

STRICT_REQUESTS = ["LearnerReportsRequest", "ReportRequest", "LearnerRequest", "CreditRequest",
                   "LearnerMatchRequest"]  # fmt: skip


def test_schema_says_request_objects_refuse_unknown_fields():
    """The API answers an unknown field with 400 "Unknown field." (StrictSerializer); the
    schema must say so (additionalProperties: false), or clients and validators built from it
    send what the API refuses."""
    silent = [c for c in STRICT_REQUESTS if COMPONENTS[c].get("additionalProperties") is not False]
    assert silent == []


def test_schema_says_reports_and_credits_may_not_be_empty():
    """An empty `reports` list is refused ("The request contains no records.") and so is an
    empty `credits` list ("This list may not be empty."): the schema must say minItems: 1."""
    lists = {"LearnerReportsRequest": "reports", "ReportRequest": "credits"}
    silent = [f"{c}.{f}" for c, f in lists.items()
              if COMPONENTS[c]["properties"][f].get("minItems") != 1]  # fmt: skip
    assert silent == []
