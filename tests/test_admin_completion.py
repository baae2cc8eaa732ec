"""Reviewers adding a record in the admin go through the same intake pipeline."""

from django.urls import reverse

from participants.models import Completion


def admin_entry(activity, abim, **overrides):
    data = {
        "activity": activity.pk,
        "board": abim.pk,
        "learner_id": "123456",
        "first_name": "Jane",
        "last_name": "Smith",
        "birth_month": "7",
        "birth_day": "14",
        "completion_date": "2015-12-18",
        "credit_type": abim.credit_types.get(code="MK").pk,
        "moc_points": "10",
        "learner_permission": "on",
    }
    data.update(overrides)
    return data


def test_points_above_maximum_are_shown_next_to_the_field(
    client_of, reviewer, activity_a, abim, roster
):
    client = client_of(reviewer)
    url = reverse("admin:participants_completion_add")
    response = client.post(url, admin_entry(activity_a, abim, moc_points="12"))
    assert response.status_code == 200
    assert "This activity is registered for 10 MOC points; 12 is more than that." in (
        response.content.decode()
    )
    response = client.post(url, admin_entry(activity_a, abim, learner_id="12a456"))
    assert "ABIM ID must be 6 digits." in response.content.decode()
    assert not Completion.objects.exists()


def test_reviewer_adds_a_record_verified_with_admin_channel(
    client_of, reviewer, activity_a, abim, roster
):
    client = client_of(reviewer)
    response = client.post(
        reverse("admin:participants_completion_add"), admin_entry(activity_a, abim)
    )
    assert response.status_code == 302
    record = Completion.objects.get()
    assert (record.status, record.channel, record.created_by) == ("accepted", "admin", reviewer)
    event = record.events.get()
    assert (event.channel, event.actor) == ("admin", reviewer)


def test_duplicate_in_admin_is_already_reported(client_of, reviewer, activity_a, abim, roster):
    client = client_of(reviewer)
    url = reverse("admin:participants_completion_add")
    client.post(url, admin_entry(activity_a, abim))
    response = client.post(url, admin_entry(activity_a, abim))
    assert response.status_code == 200
    assert "Already reported: record" in response.content.decode()
    assert Completion.objects.count() == 1


def _admin_import(client, csv_text):
    """The django-import-export admin flow: upload → preview → confirm."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    preview = client.post(
        reverse("admin:participants_completion_import"),
        {"format": "0", "import_file": SimpleUploadedFile("records.csv", csv_text.encode())},
    )
    assert preview.status_code == 200
    confirm_form = preview.context.get("confirm_form")
    return preview, confirm_form


HEADER = (
    "Action,PARS Activity ID,Board,Board ID,First Name,Last Name,Birth Month,Birth Day,"
    "Completion Date (MM/DD/YYYY),Credit Type,MOC Points,CME Credits,Learner Permission (Y/N)\n"
)


def test_admin_import_goes_through_the_pipeline(client_of, reviewer, activity_a, roster):
    client = client_of(reviewer)
    text = HEADER + f"add,{activity_a.pars_id},ABIM,123456,Jane,Smith,7,14,12/18/2015,MK,10,,Y\n"
    preview, confirm_form = _admin_import(client, text)
    assert confirm_form is not None, preview.content.decode()[:2000]
    assert not Completion.objects.exists()  # the preview writes nothing
    response = client.post(
        reverse("admin:participants_completion_process_import"), confirm_form.initial
    )
    assert response.status_code == 302
    record = Completion.objects.get()
    assert (record.status, record.channel, record.created_by) == ("accepted", "admin", reviewer)
    # The same file again creates nothing.
    preview, confirm_form = _admin_import(client, text)
    client.post(reverse("admin:participants_completion_process_import"), confirm_form.initial)
    assert Completion.objects.count() == 1


def test_admin_import_shows_pipeline_errors_and_saves_nothing(
    client_of, reviewer, activity_a, roster
):
    client = client_of(reviewer)
    text = HEADER + f"add,{activity_a.pars_id},ABIM,123456,Jane,Smith,7,14,12/18/2015,MK,12,,Y\n"
    preview, confirm_form = _admin_import(client, text)
    page = preview.content.decode()
    assert "This activity is registered for 10 MOC points; 12 is more than that." in page
    assert confirm_form is None
    assert not Completion.objects.exists()


def test_admin_export_neutralises_formulas(client_of, reviewer, activity_a):
    from tests.conftest import make_completion

    make_completion(activity_a, first_name="=HYPERLINK(1)")
    client = client_of(reviewer)
    response = client.post(
        reverse("admin:participants_completion_export"),
        {"format": "0", "resource": "0", "completionresource_id": "on"},
    )
    assert response.status_code == 200
    content = response.content.decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in content


def test_admin_activity_import_creates_activities_through_the_service(
    client_of, reviewer, provider_a
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from activities.models import ActivityEvent

    client = client_of(reviewer)
    text = (
        "Provider ID,Provider Activity ID,Title,Activity Type,Start Date,End Date,"
        "Reporting Year,CME Credits\n"
        "1234,X-1,Sepsis Bootcamp,Course,01/10/2016,01/12/2016,2016,12\n"
        "1234,X-2,Backwards,Course,01/12/2016,01/10/2016,2016,12\n"
    )
    preview = client.post(
        reverse("admin:activities_activity_import"),
        {"format": "0", "import_file": SimpleUploadedFile("a.csv", text.encode())},
    )
    assert "The end date is before the start date." in preview.content.decode()
    assert not provider_a.activities.exists()
    text = text.rsplit("1234,X-2", 1)[0]
    preview = client.post(
        reverse("admin:activities_activity_import"),
        {"format": "0", "import_file": SimpleUploadedFile("a.csv", text.encode())},
    )
    client.post(
        reverse("admin:activities_activity_process_import"), preview.context["confirm_form"].initial
    )
    activity = provider_a.activities.get()
    assert activity.pars_id.isdigit() and len(activity.pars_id) == 9
    event = ActivityEvent.objects.get(activity=activity)
    assert (event.actor, event.channel, event.action) == (reviewer, "admin", "created")
