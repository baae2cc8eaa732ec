"""When other submissions win the race for the same records on every attempt, the pipeline
gives up without saving anything, and people and LMSs are told to send again (503 with
Retry-After) instead of getting a server error."""

import pytest
from django.db import IntegrityError
from django.test import Client

from participants import intake
from participants.models import Completion
from participants.rows import ParticipantRow

from .builders import report, reports
from .conftest import api_request, make_key
from .test_participant_views import add_url, entry


@pytest.fixture
def always_beaten(monkeypatch):
    """Every write of a batch finds a concurrent writer got there first."""
    attempts = []

    def beaten(self):
        attempts.append(1)
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(intake._Batch, "write", beaten)
    monkeypatch.setattr(intake.time, "sleep", lambda seconds: None)
    return attempts


def test_pipeline_gives_up_after_its_attempts_and_saves_nothing(
    always_beaten, editor_a, activity_a, roster
):
    row = ParticipantRow(
        row_number=1, activity_ref=activity_a.pars_id, learner_id="123456", first_name="Jane",
        last_name="Smith", birth_month=7, birth_day=14, completion_date=activity_a.start_date,
        credit_type="MK", moc_points=10, learner_permission=True,
    )  # fmt: skip
    with pytest.raises(intake.IntakeContention):
        intake.intake_submit(provider=activity_a.provider, rows=[row], actor=editor_a,
                             channel="form")  # fmt: skip
    assert len(always_beaten) == intake.WRITE_ATTEMPTS
    assert not Completion.objects.exists()


def test_web_form_says_send_again(always_beaten, client_of, editor_a, activity_a, roster):
    response = client_of(editor_a).post(add_url(activity_a), entry())
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert "could not be saved" in response.content.decode()
    assert not Completion.objects.exists()


def test_api_says_send_again_in_json(always_beaten, provider_a, editor_a, activity_a, roster):
    secret = make_key(provider_a, editor_a, name="LMS")
    response = api_request(Client(), "post", "learner-reports", secret, reports(report(activity_a)))
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert "send again" in response.json()["detail"]
    assert not Completion.objects.exists()
