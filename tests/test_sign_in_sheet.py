"""Typing a stack of sign-in sheets: the entry form keeps what a sheet shares, and tells the
roster's answer as soon as an ABIM ID and birth date are typed — a roster probe like the
API's learner-match service, limited the same way."""

import pytest
from django.urls import reverse

from participants.models import Completion, RosterProbeFailure


def check(client, activity, **values):
    data = {"learner_id": "123456", "birth_month": "7", "birth_day": "14"} | values
    return client.post(reverse("learner_check", args=[activity.pars_id]), data)


@pytest.mark.parametrize(
    ("values", "result", "says"),
    [
        ({}, "match", "ABIM knows ABIM ID 123456 and the birth date matches."),
        ({"birth_day": "15"}, "birth_date_mismatch", "the birth date does not match"),
        ({"learner_id": "999999"}, "not_found", "roster has no learner with ABIM ID 999999"),
        ({"first_name": "Janet", "last_name": "Smithe"}, "name_differs", "the name differs"),
        # A name not typed yet is no warning.
        ({"first_name": "", "last_name": ""}, "match", "the birth date matches"),
    ],
)
def test_the_roster_answer_before_saving(
    client_of, editor_a, activity_a, roster, values, result, says
):
    response = check(client_of(editor_a), activity_a, **values)
    assert response.status_code == 200
    answer = response.json()
    assert answer["result"] == result
    assert says in answer["message"]
    # Never the roster's spelling of the name.
    assert "Jane" not in answer["message"] and "Smith" not in answer["message"]
    assert not Completion.objects.exists()  # a check saves nothing


def test_a_failed_check_counts_towards_the_providers_roster_limit(
    client_of, editor_a, activity_a, roster, settings
):
    settings.ROSTER_FAILURE_LIMIT = 2
    client = client_of(editor_a)
    assert check(client, activity_a, learner_id="999991").json()["result"] == "not_found"
    assert check(client, activity_a, learner_id="999992").json()["result"] == "not_found"
    assert RosterProbeFailure.objects.count() == 2
    # The limit is reached: nothing more is told, not even a match.
    refused = check(client, activity_a)
    assert refused.status_code == 429
    assert refused.json()["result"] == "limit"


def test_an_incomplete_check_is_a_clear_400(client_of, editor_a, activity_a, roster):
    response = check(client_of(editor_a), activity_a, birth_day="")
    assert response.status_code == 400
    assert response.json()["message"] == "Type the ABIM ID and the birth date."


def test_only_the_activitys_editors_can_check(client_of, viewer_a, editor_b, activity_a, roster):
    assert check(client_of(viewer_a), activity_a).status_code == 403
    assert check(client_of(editor_b), activity_a).status_code == 404


def test_save_and_add_another_keeps_the_sheets_date_credit_and_permission(
    client_of, editor_a, activity_a, roster
):
    client = client_of(editor_a)
    post = {
        "learner_id": "123456", "first_name": "Jane", "last_name": "Smith",
        "birth_month": "7", "birth_day": "14", "credit_type": "MK", "moc_points": "10",
        "completion_date": "12/18/2015", "learner_permission": "on", "save_another": "1",
    }  # fmt: skip
    response = client.post(reverse("participant_add", args=[activity_a.pars_id]), post)
    assert response.status_code == 302
    page = client.get(response["Location"])
    form = page.context["form"]
    assert form["completion_date"].value().isoformat() == "2015-12-18"
    assert form["learner_permission"].value() is True
    html = page.content.decode()
    assert 'value="12/18/2015"' in html  # typed as on the sheet
    assert "autofocus" in html.split('id="id_learner_id"')[0].rsplit("<input", 1)[1]
    # Each record still carries its own permission.
    assert Completion.objects.get().learner_permission is True
