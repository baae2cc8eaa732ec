"""One record must never stop transmission for everyone, nor make an export fail: text that
XML or XLSX cannot hold is refused at every entry point with a field error; data from before
is found by a command, set aside by transmission (the rest of the batch goes) and shown as
U+FFFD by exports (hardening issue, item 2)."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from participants import transmission
from participants.models import Completion, FollowUp, Upload
from participants.parsers import TEMPLATE_HEADERS

from .conftest import api_request, make_completion, make_key

# U+FFFF, U+FFFE, a control character, a right-to-left override. (Whitespace such as a
# vertical tab in a name is spacing, normalised to one space like every other.)
POISON = ["\uffff", "\ufffe", "\x01", "\u202e"]


# Uploaded and generated files go to each test's own folder.
pytestmark = pytest.mark.usefixtures("media_root")


def entry(**overrides):
    data = {"learner_id": "123456", "first_name": "Jane", "last_name": "Smith",
            "birth_month": "7", "birth_day": "14", "completion_date": "2015-12-18",
            "credit_type": "MK", "moc_points": "10", "learner_permission": "on",
            "save": "1"}  # fmt: skip
    return {**data, **overrides}


@pytest.mark.parametrize("character", POISON, ids=["uffff", "ufffe", "soh", "rlo"])
def test_the_web_form_refuses_the_character_next_to_the_field(
    client_of, editor_a, activity_a, roster, character
):
    response = client_of(editor_a).post(
        reverse("participant_add", args=[activity_a.pars_id]),
        entry(first_name=f"Ja{character}ne"),
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert f"U+{ord(character):04X}" in page
    assert not Completion.objects.exists()


def test_an_upload_names_the_row_and_the_field(client_of, editor_a, activity_a, roster):
    header = ",".join(TEMPLATE_HEADERS)
    line = f"add,{activity_a.pars_id},ABIM,123456,Ja\uffffne,Smith,7,14,12/18/2015,MK,10,,Y,"
    content = f"{header}\r\n{line}\r\n".encode()
    client_of(editor_a).post(reverse("upload_create"),
                             {"file": SimpleUploadedFile("p.csv", content)})  # fmt: skip
    issue = Upload.objects.get().issues.get()
    assert (issue.row_number, issue.field) == (2, "first_name")
    assert "U+FFFF" in issue.message


def test_the_api_names_the_field_as_the_request_does(client, provider_a, editor_a, activity_a,
                                                     roster):  # fmt: skip
    key = make_key(provider_a, editor_a, name="LMS")
    body = {"reports": [{"activityId": activity_a.pars_id, "completionDate": "2015-12-18",
                         "learner": {"boardId": "123456", "firstName": "Jane",
                                     "lastName": "Sm\u0001ith", "birthMonth": 7, "birthDay": 14},
                         "credits": [{"creditType": "MK", "points": 10,
                                      "creditId": "ccid:lms:\uffff"}]}]}  # fmt: skip
    reply = api_request(client, "post", "learner-reports", key, body)
    errors = reply.json()["results"][0]["errors"]
    assert set(errors) == {"lastName", "creditId"}
    assert "U+0001" in errors["lastName"] and "U+FFFF" in errors["creditId"]
    assert not Completion.objects.exists()


def test_the_admin_refuses_it_next_to_the_field(client_of, reviewer, activity_a, abim, roster):
    from .test_admin_completion import admin_entry

    response = client_of(reviewer).post(
        reverse("admin:participants_completion_add"),
        admin_entry(activity_a, abim, last_name="Smith\uffff"),
    )
    assert response.status_code == 200
    assert "U+FFFF" in response.content.decode()
    assert not Completion.objects.exists()


def test_activity_titles_refuse_it_in_the_form_and_the_admin(
    client_of, editor_a, reviewer, provider_a, activity_a
):
    response = client_of(editor_a).post(
        reverse("activity_create"),
        {"title": "Sepsis\x0bBootcamp", "activity_type": "C", "start_date": "2016-01-10",
         "end_date": "2016-01-12", "reporting_year": "2016", "cme_credits": "12"},
    )  # fmt: skip
    assert response.status_code == 200 and "U+000B" in response.content.decode()
    assert provider_a.activities.count() == 1
    change = reverse("admin:activities_activity_change", args=[activity_a.pk])
    page = client_of(reviewer).get(change)
    assert page.status_code == 200
    activity_a.refresh_from_db()
    assert "\x0b" not in activity_a.title


def test_a_delete_reason_refuses_it(client_of, editor_a, activity_a, roster):
    record = make_completion(activity_a, status="accepted")
    response = client_of(editor_a).post(
        reverse("completion_delete", args=[record.pk]), {"reason": "Typo\uffff"}
    )
    assert response.status_code == 200 and "U+FFFF" in response.content.decode()
    record.refresh_from_db()
    assert record.status == "accepted"


# --- Data saved before: transmission and exports go on ---------------------------------------


@pytest.fixture
def poisoned(activity_a, activity_b, roster):
    """Records written straight to the database, as data from before the checks existed."""
    bad_name = make_completion(activity_a, status="accepted", first_name="Ja\uffffne")
    activity_a.title = "Hypertension\x0bUpdate"
    activity_a.save(update_fields=["title"])
    bad_title = make_completion(activity_a, status="accepted", learner_id="234567",
                                first_name="Omar", last_name="Haddad", birth_month=2,
                                birth_day=29, credit="PS")  # fmt: skip
    good = make_completion(activity_b, status="accepted")
    return {"name": bad_name, "title": bad_title, "good": good}


def test_transmission_sets_the_record_aside_and_sends_the_rest(poisoned):
    batches = transmission.transmit()
    assert [b.additions for b in batches] == [1]
    sent = Completion.objects.filter(transmitted_in__isnull=False)
    assert list(sent) == [poisoned["good"]]
    queued = {f.completion_id: f.reason for f in FollowUp.objects.all()}
    assert queued == {
        poisoned["name"].pk: "Not sent to ABIM: First name contains the character U+FFFF, "
        "which cannot be written to a learner report or a spreadsheet; retype it.",
        poisoned["title"].pk: "Not sent to ABIM: Activity title contains the character U+000B, "
        "which cannot be written to a learner report or a spreadsheet; retype it.",
    }
    assert transmission.transmit() == []  # runs again without failing, sends nothing twice
    assert FollowUp.objects.count() == 2


@pytest.mark.parametrize("file_format", ["csv", "tsv", "xlsx", "xml"])
def test_exports_never_fail_and_show_the_character_as_a_replacement(
    client_of, editor_a, poisoned, file_format
):
    response = client_of(editor_a).get(reverse("participant_export", args=[file_format]))
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    if file_format == "xml":
        assert content.count(b"<ActivityReport>") == 2
        assert "Ja\ufffdne".encode() in content
    if file_format == "xlsx":
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(content)).active
        names = {row[4] for row in sheet.iter_rows(min_row=2, values_only=True)}
        assert "Ja\ufffdne" in names


def test_the_check_command_finds_what_cannot_be_written(poisoned):
    out = io.StringIO()
    with pytest.raises(CommandError, match="2 value"):
        call_command("find_unwritable_text", stdout=out)
    listing = out.getvalue()
    assert f"participant completion {poisoned['name'].pk}: First name contains" in listing
    assert "U+000B" in listing


def test_the_check_command_is_quiet_on_clean_data(activity_a):
    out = io.StringIO()
    call_command("find_unwritable_text", stdout=out)
    assert "No stored text" in out.getvalue()
