"""An LMS developer's client, generated from the live schema with openapi-python-client and
used unmodified against a live server over HTTP: every call an LMS makes, and typed errors.
The generator runs with its own defaults except two settings an LMS developer would choose:
no post-generation formatting hooks, and XML bodies sent as bytes (the generator has no XML
body type of its own; README, "Generating a client")."""

import importlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from participants.models import Completion

from .builders import accme, accme_document, activity_report, learner_report, v05_everything

# Runs the client generator in a subprocess, then the client against a live server.
# live_server makes them transactional: the reference data back, fresh throttles.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("seed_data", "fresh_throttles")]

GENERATOR_CONFIG = """\
project_name_override: pars_client
package_name_override: pars_client
post_hooks: []
content_type_overrides:
  application/xml: application/octet-stream
"""


def generate(schema_text: str, where: Path, package: str):
    (where / "schema.json").write_text(schema_text)
    (where / "config.yaml").write_text(GENERATOR_CONFIG.replace("pars_client", package))
    generator = Path(sys.executable).with_name("openapi-python-client")
    done = subprocess.run(
        [generator, "generate", "--path", where / "schema.json", "--config",
         where / "config.yaml", "--meta", "none", "--output-path", where / package],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # Every operation made it into the client (nothing skipped with a warning).
    assert "Warning" not in done.stdout, done.stdout
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module(package)
    finally:
        sys.path.remove(str(where))


@pytest.fixture
def schema_text(api):
    reply = api.get("schema", params={"format": "json"})
    assert reply.status == 200
    return reply.text


def test_the_schema_is_valid_openapi(schema_text):
    import json

    validate(json.loads(schema_text))


def test_the_boards_own_schema_is_valid_and_apart(api):
    board = api.get("board/schema", params={"format": "json"}).json
    validate(board)
    assert set(board["paths"]) == {"/api/v1/board/answers"}
    assert "BoardToken" in board["components"]["securitySchemes"]
    providers = api.get("schema", params={"format": "json"}).json
    assert not [p for p in providers["paths"] if "/board/" in p]


def test_a_generated_client_does_everything_an_lms_does(
    api, schema_text, tmp_path, live_server, key_a, activity_a, roster
):
    client_package = generate(schema_text, tmp_path, "pars_client_lms")

    def module(name):
        return importlib.import_module(f"pars_client_lms.{name}")

    models = module("models")
    types = module("types")
    client = client_package.AuthenticatedClient(base_url=live_server.url, token=key_a)
    submit = module("api.learner_reports.submit_learner_reports")

    # Submit (the portal's JSON), then the same again: already reported.
    body = models.LearnerReportsRequest.from_dict({"reports": [{
        "activityId": activity_a.pars_id, "completionDate": "2015-12-18",
        "learner": {"boardId": "123456", "firstName": "Jane", "lastName": "Smith",
                    "birthMonth": 7, "birthDay": 14},
        "credits": [{"creditType": "MK", "points": 10, "creditId": "ccid:mylms:42"}],
    }]})  # fmt: skip
    created = submit.sync(client=client, body=body)
    assert isinstance(created, models.SubmitResponse)
    assert [(r.result, r.status) for r in created.results] == [("created", "accepted")]
    record_id = created.results[0].id
    retry = submit.sync(client=client, body=body)
    assert [(r.result, r.id) for r in retry.results] == [("already_reported", record_id)]

    # The XML learner report.
    xml = learner_report(
        activity_report(activity_a.pars_id, credits=[("PS", "5")], completed="2015-12-18T14:30:00")
    )
    submit_xml = module("api.learner_reports.submit_learner_reports_xml")
    sent = submit_xml.sync(client=client, body=types.File(payload=io.BytesIO(xml)))
    assert [r.result for r in sent.results] == ["created"]

    # Status by credit ID; learner-match; activities.
    status = module("api.completions.completions_status_list").sync(
        client=client, credit_id="ccid:mylms:42"
    )
    assert [(s.id, s.status) for s in status] == [(record_id, "accepted")]
    match = module("api.learner_match.learner_match_create").sync(
        client=client,
        body=models.LearnerMatchRequest(board_id="123456", first_name="Jane",
                                        last_name="Smith", birth_month=7, birth_day=14),
    )  # fmt: skip
    assert str(match.result) == "match"
    activities = module("api.activities.activities_list").sync(client=client)
    assert [a.activity_id for a in activities.results] == [activity_a.pars_id]
    assert activities.results[0].registration.points == 10

    # Delete with a reason.
    deleted = module("api.completions.completions_destroy").sync(
        client=client, id=record_id, reason="Learner did not finish"
    )
    assert (deleted.status, deleted.status_reason) == ("deleted", "Learner did not finish")
    assert Completion.objects.get(pk=record_id).status_reason == "Learner did not finish"

    # ACCME's draft: save a document, then ask for its status.
    save = module("api.learner_activity_api_accme_draft.save_learner_activity")
    learner_status = module("api.learner_activity_api_accme_draft.get_learner_status")
    saved = save.sync_detailed(
        client=client,
        body=models.AccmeInLearnerReports.from_dict(accme_document(v05_everything(accme(), 7))),
    )
    assert saved.status_code == 201, saved.content[:500]
    report = saved.parsed.accme_learner_reports.activity_reports.activity_report[0]
    credit_id = report.activity.module.credit_certificate[0].credit_id
    found = learner_status.sync(client=client, credit_id=credit_id)
    assert [(s.unique_id[0].value, str(s.record_status)) for s in found] == [("123456", "accepted")]

    # Typed errors: 400, 401, 404 all parse into the one error model.
    bad = module("api.completions.completions_status_list").sync_detailed(client=client)
    assert bad.status_code == 400 and isinstance(bad.parsed, models.Error)
    assert "creditId" in bad.parsed.detail
    stranger = client_package.AuthenticatedClient(base_url=live_server.url, token="pars_live_x")
    unauthorized = module("api.activities.activities_list").sync_detailed(client=stranger)
    assert unauthorized.status_code == 401 and isinstance(unauthorized.parsed, models.Error)
    assert unauthorized.parsed.detail == "Invalid or revoked API key."
    missing = module("api.completions.completions_retrieve").sync_detailed(client=client, id=999999)
    assert missing.status_code == 404 and isinstance(missing.parsed, models.Error)
    invalid = save.sync_detailed(
        client=client,
        body=models.AccmeInLearnerReports.from_dict(
            accme_document(v05_everything(accme(credits=[("PA", 1)]), 8))
        ),
    )
    assert invalid.status_code == 400
    assert [(e.report, e.path) for e in invalid.parsed.errors] == [
        (
            0,
            (
                "ACCMELearnerReports/ActivityReports/ActivityReport[0]/Activity/Module/"
                "CreditCertificate[0]/CreditReceived/activityCertification"
            ),
        )
    ]
