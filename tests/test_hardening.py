"""Problems a review found, each pinned by the behaviour a user would notice."""

import datetime as dt
import io
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from activities.models import ProviderMembership
from participants.intake import intake_submit
from participants.models import Completion, Upload
from participants.parsers import parse_tsv
from participants.rows import ParticipantRow, Result

from .builders import report, reports
from .conftest import api_request, make_completion, make_key

ROW = "add\t{pars}\tABIM\t{id}\t{first}\tSmith\t7\t14\t12/18/2015\tMK\t10\t\tY\n"


def test_a_stray_quote_in_a_tab_delimited_file_swallows_no_rows(db):
    text = "".join(
        ROW.format(pars="100000001", id=f"{100000 + i}", first='"Jimmy' if i == 1 else "Jo")
        for i in range(22)
    )
    rows = list(parse_tsv(io.BytesIO(text.encode()), id_lengths={"ABIM": 6}, meta={}))
    assert len(rows) == 22
    assert rows[1].first_name == '"Jimmy'


def _row(activity, **values):
    base = dict(row_number=1, activity_ref=activity.pars_id, learner_id="123456",
                first_name="Jane", last_name="Smith", birth_month=7, birth_day=14,
                completion_date=dt.date(2015, 12, 18), credit_type="MK",
                moc_points=Decimal("10"), learner_permission=True)  # fmt: skip
    base.update(values)
    return ParticipantRow(**base)


def test_values_too_long_or_too_large_for_the_database_are_row_errors(activity_a, editor_a, roster):
    rows = [
        _row(activity_a, row_number=1, first_name="J" * 150),
        _row(activity_a, row_number=2, cme_credits=Decimal("1e30"), credit_type="PS"),
        _row(activity_a, row_number=3, moc_points=Decimal("1e30"), learner_id="234567"),
        _row(activity_a, row_number=4, learner_id="1" * 25),
    ]
    result = intake_submit(provider=activity_a.provider, rows=rows, actor=editor_a,
                           channel="api")  # fmt: skip
    errors = [o.errors for o in result.outcomes]
    assert [o.result for o in result.outcomes] == [Result.ERROR] * 4
    assert errors[0]["first_name"] == "First name is 150 characters long; at most 100 are allowed."
    assert errors[1]["cme_credits"] == "CME credits must be at most 9999.99."
    assert "moc_points" in errors[2]
    assert "learner_id" in errors[3]
    assert not Completion.objects.exists()


def test_xml_export_of_a_deleted_record_does_not_bring_it_back(
    client_of, editor_a, activity_a, roster, media_root
):
    make_completion(activity_a, status="deleted")
    client = client_of(editor_a)
    response = client.get(reverse("activity_export", args=[activity_a.pars_id, "xml"]))
    xml = b"".join(response.streaming_content)
    client.post(reverse("upload_create"), {"file": SimpleUploadedFile("export.xml", xml)})
    upload = Upload.objects.get()
    assert upload.preview_totals["created"] == 0
    # Written as a delete naming its credit ID: "already deleted", not an add, not an error.
    assert upload.preview_totals["already_reported"] == 1


def test_odd_digits_in_the_year_filter_are_not_a_server_error(client_of, editor_a, activity_a):
    assert client_of(editor_a).get("/activities/", {"year": "²"}).status_code == 200


def test_an_api_key_stops_working_when_its_creator_leaves_the_provider(
    client, editor_a, activity_a
):
    secret = make_key(activity_a.provider, editor_a, name="LMS")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.get("/api/v1/activities", **auth).status_code == 200
    ProviderMembership.objects.filter(user=editor_a).delete()
    response = client.get("/api/v1/activities", **auth)
    assert response.status_code == 401
    assert "no longer edits" in response.json()["detail"]


def test_sandbox_records_stay_out_of_the_portal_lists_and_exports(
    client, client_of, editor_a, activity_a, roster
):
    secret = make_key(activity_a.provider, editor_a, mode="sandbox", name="LMS")
    jane = {"boardId": "123456", "firstName": "Jane", "lastName": "Smith", "birthMonth": 7,
            "birthDay": 14}  # fmt: skip
    body = reports(report(activity_a, jane, credits=[("MK", 10)]))
    api_request(client, "post", "learner-reports", secret, body)
    record = Completion.objects.get()
    assert record.is_sandbox
    portal = client_of(editor_a)
    page = portal.get(reverse("activity_detail", args=[activity_a.pars_id]))
    assert page.context["totals"]["records"] == 0 and list(page.context["page"]) == []
    assert list(portal.get(reverse("participant_search")).context["page"]) == []
    export = portal.get(reverse("activity_export", args=[activity_a.pars_id, "csv"]))
    assert "123456" not in b"".join(export.streaming_content).decode("utf-8-sig")
    detail = portal.get(reverse("completion_detail", args=[record.pk])).content.decode()
    assert "Sandbox: never sent to ABIM" in detail and "Correct</a>" not in detail
    assert portal.post(reverse("completion_delete", args=[record.pk]),
                       {"reason": "x"}).status_code == 403  # fmt: skip
