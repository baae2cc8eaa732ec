"""Check once, save once: the save writes what the preview decided, and only that, unless
something it rests on changed between preview and confirm; then the saved result is what a
fresh check would decide. (Runs on SQLite and, in CI, on PostgreSQL.)"""

import datetime as dt
import os

from django.urls import reverse

from participants.models import Completion, RosterEntry, Upload, UploadPlan

from .builders import JANE, OMAR, cells, tsv
from .conftest import make_completion
from .test_uploads import confirm, totals, upload


def hand_entry(client, activity, who=JANE):
    """The web form's "add a participant", as an editor types it."""
    data = {
        "learner_id": who["learner_id"], "first_name": who["first_name"],
        "last_name": who["last_name"], "birth_month": who["birth_month"],
        "birth_day": who["birth_day"], "completion_date": "2015-12-18", "credit_type": "MK",
        "moc_points": "10", "learner_permission": "on", "save": "1",
    }  # fmt: skip
    response = client.post(reverse("participant_add", args=[activity.pars_id]), data)
    assert response.status_code == 302, response.content.decode()[:2000]


def current(activity, who) -> list[Completion]:
    return list(
        Completion.objects.filter(activity=activity, learner_id=who["learner_id"]).exclude(
            status=Completion.Status.DELETED
        )
    )


def test_a_participant_typed_in_between_preview_and_confirm_is_already_reported(
    client_of, editor_a, activity_a, roster
):
    client = client_of(editor_a)
    an_upload = upload(client, "two.tsv", tsv([cells(activity_a), cells(activity_a, who=OMAR)]))
    assert an_upload.preview_totals == totals(created=2)
    hand_entry(client, activity_a, JANE)  # someone else types Jane in meanwhile
    an_upload = confirm(client, an_upload)
    assert an_upload.status == Upload.Status.DONE
    assert an_upload.result_totals == totals(created=1, already_reported=1)
    (jane,) = current(activity_a, JANE)
    assert jane.upload_id is None  # the typed-in record, not a second one
    (omar,) = current(activity_a, OMAR)
    assert omar.upload_id == an_upload.pk


def test_a_record_withdrawn_between_preview_and_confirm_is_reported_again(
    client_of, editor_a, activity_a, roster
):
    earlier = make_completion(activity_a, status="accepted", completion_date=dt.date(2015, 12, 18))
    client = client_of(editor_a)
    an_upload = upload(client, "two.tsv", tsv([cells(activity_a), cells(activity_a, who=OMAR)]))
    assert an_upload.preview_totals == totals(created=1, already_reported=1)
    response = client.post(
        reverse("completion_delete", args=[earlier.pk]), {"reason": "Entered by mistake"}
    )
    assert response.status_code == 302
    an_upload = confirm(client, an_upload)
    assert an_upload.result_totals == totals(created=2)
    (jane,) = current(activity_a, JANE)
    assert jane.upload_id == an_upload.pk
    earlier.refresh_from_db()
    assert earlier.status == Completion.Status.DELETED


def test_the_save_writes_the_checked_rows_without_reading_the_file_again(
    client_of, editor_a, activity_a, roster
):
    client = client_of(editor_a)
    rows = [cells(activity_a), cells(activity_a, who=OMAR), cells(activity_a, birth_month="13")]
    an_upload = upload(client, "three.tsv", tsv(rows))
    assert an_upload.preview_totals == totals(created=2, error=1)
    assert UploadPlan.objects.filter(upload=an_upload).exists()
    os.remove(an_upload.file.path)  # had the save parsed the file again, it would fail
    an_upload = confirm(client, an_upload)
    assert an_upload.status == Upload.Status.DONE, an_upload.message
    assert an_upload.result_totals == an_upload.preview_totals
    assert len(current(activity_a, JANE)) == len(current(activity_a, OMAR)) == 1
    assert an_upload.issues.filter(phase="commit").count() == 1  # the bad row, as checked
    assert not UploadPlan.objects.filter(upload=an_upload).exists()  # not kept once saved


def test_a_roster_change_between_preview_and_confirm_is_decided_afresh(
    client_of, editor_a, activity_a, roster
):
    client = client_of(editor_a)
    an_upload = upload(client, "one.tsv", tsv([cells(activity_a)]))
    assert an_upload.preview_kinds == {"accepted": 1}
    RosterEntry.objects.filter(learner_id=JANE["learner_id"]).delete()  # a roster reload
    an_upload = confirm(client, an_upload)
    (jane,) = current(activity_a, JANE)
    assert jane.status == Completion.Status.REJECTED  # as a fresh check would decide
    assert an_upload.result_kinds == {"rejected": 1}


def test_a_discarded_upload_keeps_no_plan(client_of, editor_a, activity_a, roster):
    client = client_of(editor_a)
    an_upload = upload(client, "one.tsv", tsv([cells(activity_a)]))
    assert UploadPlan.objects.filter(upload=an_upload).exists()
    client.post(reverse("upload_discard", args=[an_upload.pk]))
    assert not UploadPlan.objects.filter(upload=an_upload).exists()
    assert not current(activity_a, JANE)


def test_learners_recurring_in_later_batches_are_saved_as_checked(
    client_of, editor_a, activity_a, roster, settings
):
    """A later batch's learners already have records from earlier batches of the same file
    (other days): those records are the ones the check foresaw, so the save still writes
    what the check decided, without going through the file again."""
    settings.INTAKE_BATCH_SIZE = 2
    days = ("12/18/2015", "12/19/2015", "12/20/2015")
    rows = [cells(activity_a, who=who, completion_date=day) for day in days for who in (JANE, OMAR)]
    client = client_of(editor_a)
    an_upload = upload(client, "recurring.tsv", tsv(rows))
    assert an_upload.preview_totals == totals(created=6)
    os.remove(an_upload.file.path)  # had the save parsed the file again, it would fail
    an_upload = confirm(client, an_upload)
    assert an_upload.status == Upload.Status.DONE, an_upload.message
    assert an_upload.result_totals == totals(created=6)
    assert len(current(activity_a, JANE)) == len(current(activity_a, OMAR)) == 3


def test_a_later_batch_repeating_or_deleting_an_earlier_row_is_saved_as_checked(
    client_of, editor_a, activity_a, roster, settings
):
    settings.INTAKE_BATCH_SIZE = 2
    rows = [cells(activity_a), cells(activity_a, who=OMAR),
            cells(activity_a), cells(activity_a, who=OMAR, action="delete")]  # fmt: skip
    client = client_of(editor_a)
    an_upload = upload(client, "again.tsv", tsv(rows))
    assert an_upload.preview_totals == totals(created=2, already_reported=1, deleted=1)
    an_upload = confirm(client, an_upload)
    assert an_upload.result_totals == an_upload.preview_totals
    assert len(current(activity_a, JANE)) == 1
    assert not current(activity_a, OMAR)  # added by the first batch, deleted by the second
