"""The README's web-service examples are what an LMS developer copies first: every `curl` in
its "Web services" section is checked against the published OpenAPI schema (operation,
query parameters, JSON body) and then run, in order, against a live server over HTTP."""

import io
import json
import re
import shlex
import urllib.parse
from pathlib import Path

import pytest
from openapi_schema_validator import OAS30Validator

from participants.exports import report_data, report_element, write_learner_report

# live_server makes these tests transactional: the reference data back, fresh throttles.
pytestmark = pytest.mark.usefixtures("seed_data", "fresh_throttles")

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_commands() -> list[list[str]]:
    """Each `curl` of the section, as its words (a body may span lines)."""
    text = README.read_text()
    section = text[text.index("## Web services (API)") : text.index("### Benchmarks")]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for word in shlex.split(block.replace("\\\n", " "), comments=True):
            if word == "curl":
                commands.append(["curl"])
            elif commands:
                commands[-1].append(word)
    return commands


def parse_curl(words: list[str]) -> dict:
    call = {"method": "GET", "headers": {}, "body": None, "file": None}
    position = 1
    while position < len(words):
        word = words[position]
        if word == "-X":
            call["method"] = words[position + 1]
            position += 1
        elif word == "-H":
            name, value = words[position + 1].split(":", 1)
            call["headers"][name.strip()] = value.strip()
            position += 1
        elif word == "-d":
            call["body"] = words[position + 1]
            position += 1
        elif word == "--data-binary":
            call["file"] = words[position + 1].removeprefix("@")
            position += 1
        elif word.startswith("$PARS/"):
            call["url"] = word.removeprefix("$PARS")
        elif word != "-s":
            raise AssertionError(f"the README's curl has an option the test does not know: {word}")
        position += 1
    return call


def test_the_readme_has_examples_of_both_contracts():
    paths = [parse_curl(c)["url"].split("?")[0] for c in readme_commands()]
    assert "/api/v1/learner-activities" in paths
    assert "/api/v1/learner-reports" in paths
    assert {p for p in paths if p.startswith("/api/v1/learner-activities/")} >= {
        "/api/v1/learner-activities/status", "/api/v1/learner-activities/234567"
    }  # fmt: skip


def operation_of(schema: dict, method: str, path: str) -> dict:
    # Literal paths before templated ones (/learner-activities/status, not /{learnerId}).
    for template, operations in sorted(schema["paths"].items(), key=lambda p: "{" in p[0]):
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return operations[method.lower()]
    raise AssertionError(f"{method} {path} is not in the published schema")


def check_against_schema(schema: dict, call: dict):
    """The example is a documented operation, with documented query parameters and a body
    that validates against the documented request schema."""
    parts = urllib.parse.urlsplit(call["url"])
    operation = operation_of(schema, call["method"], parts.path)
    documented = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    used = {name for name, _ in urllib.parse.parse_qsl(parts.query)}
    assert used <= documented, (call["url"], used - documented)
    content_type = call["headers"].get("Content-Type")
    if call["body"] is not None or call["file"] is not None:
        assert content_type in operation["requestBody"]["content"], call["url"]
    if call["body"] is not None:
        body_schema = operation["requestBody"]["content"][content_type]["schema"]
        # The body's schema with the components it refers to, as one document.
        document = {**body_schema, "components": schema["components"]}
        errors = list(OAS30Validator(document).iter_errors(json.loads(call["body"])))
        assert errors == [], (call["url"], [e.message for e in errors])


def learner_report_file(activity) -> bytes:
    """The file the README's XML example sends (as an activity's XML export would be)."""
    import datetime as dt
    from decimal import Decimal

    buffer = io.BytesIO()
    data = report_data(
        provider_name=activity.provider.name, provider_id=activity.provider.accme_id,
        first_name="Jane", last_name="Smith", birth_month=7, birth_day=14,
        pars_id=activity.pars_id, title=activity.title,
        completion_date=dt.date(2015, 12, 18), board="ABIM", learner_id="123456",
        credit_type="PS", moc_points=Decimal("5"), credit_id="ccid:mylms:xml-1",
    )  # fmt: skip
    write_learner_report(buffer, [report_element(data)])
    return buffer.getvalue()


@pytest.fixture
def readme_world(provider_a, activity_a, roster):
    """The README's demo names: provider 0001234 and activity 100000001 (MK), Jane Smith
    123456 07/14 and Omar Haddad 234567 02/29 on the roster."""
    assert (provider_a.accme_id, activity_a.pars_id) == ("0001234", "100000001")
    return activity_a


def test_every_readme_example_matches_the_schema_and_works(api, key_a, readme_world):
    schema = api.get("schema", params={"format": "json"}).json
    commands = readme_commands()
    assert len(commands) >= 10
    for command in commands:
        call = parse_curl(command)
        check_against_schema(schema, call)
        headers = {k: v.replace("$PARS_API_KEY", key_a) for k, v in call["headers"].items()}
        body = call["body"].encode() if call["body"] is not None else None
        if call["file"]:
            body = learner_report_file(readme_world)
        reply = api.request(call["method"], call["url"], body=body,
                            content_type=headers.pop("Content-Type", None),
                            headers=headers)  # fmt: skip
        what = " ".join(command)[:150]
        assert reply.status in (200, 201, 204), (what, reply.status, reply.text[:500])
        if reply.status == 200 and call["url"].startswith("/api/v1/learner-reports"):
            results = reply.json["results"]
            assert all(r["result"] == "created" for r in results), (what, results)
