"""Exports and keys, as provider staff meet them: one time in one zone everywhere, XLSX
cells typed like the values, a key created once however often the page is reloaded,
actions' addresses that explain themselves, and sandbox records the provider can see."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from participants.apikeys import api_key_create
from participants.models import ApiKey, Completion, Upload

from .conftest import api_request, make_completion, make_key

# 15:30 UTC on 15 January is 09:30 in Chicago (CST, UTC-06:00); in July it is CDT (-05:00).
WINTER = dt.datetime(2026, 1, 15, 15, 30, 5, 123456, tzinfo=dt.UTC)
SUMMER = dt.datetime(2026, 7, 15, 15, 30, 5, tzinfo=dt.UTC)


# Uploaded and generated files go to each test's own folder.
pytestmark = pytest.mark.usefixtures("media_root")


def download(client, url) -> bytes:
    response = client.get(url)
    assert response.status_code == 200
    return b"".join(response.streaming_content) if response.streaming else response.content


def entered_at(activity, when, **fields) -> Completion:
    record = make_completion(activity, **fields)
    Completion.objects.filter(pk=record.pk).update(created_at=when)
    return Completion.objects.get(pk=record.pk)


# --- Times ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "shown", "iso"),
    [
        (WINTER, "01/15/2026 09:30 CST", "2026-01-15T09:30:05-06:00"),
        (SUMMER, "07/15/2026 10:30 CDT", "2026-07-15T10:30:05-05:00"),
    ],
    ids=["winter", "summer"],
)
def test_a_records_entry_time_agrees_on_the_page_csv_xlsx_and_api(
    client_of, editor_a, activity_a, when, shown, iso
):
    record = entered_at(activity_a, when)
    client = client_of(editor_a)

    page = client.get(reverse("completion_detail", args=[record.pk])).content.decode()
    assert f'<time datetime="{iso}">{shown}</time>' in page

    content = download(client, reverse("participant_export", args=["csv"]))
    header, row = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert row[header.index("Entered (America/Chicago)")] == iso

    sheet = load_workbook(
        io.BytesIO(download(client, reverse("participant_export", args=["xlsx"])))
    )
    sheet = sheet.worksheets[0]
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("Entered (America/Chicago)") + 1)
    assert cell.is_date
    local = dt.datetime.fromisoformat(iso)
    assert cell.value == local.replace(tzinfo=None)

    secret = make_key(activity_a.provider, editor_a, name="LMS")
    answer = api_request(Client(), "get", reverse("api_completion", args=[record.pk]), secret)
    assert answer.status_code == 200
    created = answer.json()["createdAt"]
    # The API says the same instant, in the portal's zone, with its offset.
    assert created.startswith(iso[:19]) and created.endswith(iso[-6:])
    assert dt.datetime.fromisoformat(created) == when


# --- XLSX cells -------------------------------------------------------------------------------


def test_xlsx_export_has_number_and_date_cells_sized_columns_and_a_frozen_header(
    client_of, editor_a, activity_a
):
    make_completion(activity_a, learner_id="012345", birth_month=7, birth_day=4,
                    completion_date=dt.date(2015, 12, 18), moc_points=Decimal("12.5"),
                    last_name="Featherstonehaugh-Cholmondeley")  # fmt: skip
    content = download(client_of(editor_a), reverse("participant_export", args=["xlsx"]))
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    header = [c.value for c in sheet[1]]
    cells = {name: sheet.cell(row=2, column=i + 1) for i, name in enumerate(header)}

    assert sheet.freeze_panes == "A2"
    assert all(c.font.bold for c in sheet[1])
    assert cells["Birth Month"].data_type == "n" and cells["Birth Month"].value == 7
    assert cells["MOC Points"].data_type == "n" and cells["MOC Points"].value == 12.5
    assert cells["Record ID"].data_type == "n"
    date_cell = cells["Completion Date (MM/DD/YYYY)"]
    assert date_cell.is_date and date_cell.value == dt.datetime(2015, 12, 18)
    assert date_cell.number_format == "mm/dd/yyyy"
    # An ID keeps its leading zero: it is text, not a number.
    assert cells["Board ID"].data_type == "s" and cells["Board ID"].value == "012345"
    # Columns fit their contents: the long name is not cut at Excel's default width.
    width = sheet.column_dimensions[cells["Last Name"].column_letter].width
    assert width >= len("Featherstonehaugh-Cholmondeley")


def test_a_typed_xlsx_export_uploaded_again_changes_nothing(client_of, editor_a, activity_a):
    make_completion(activity_a, learner_id="012345", completion_date=dt.date(2015, 12, 18))
    client = client_of(editor_a)
    content = download(client, reverse("activity_export", args=[activity_a.pars_id, "xlsx"]))
    before = Completion.objects.count()
    response = client.post(
        reverse("upload_create"),
        {"file": SimpleUploadedFile("export.xlsx", content), "provider": activity_a.provider_id},
    )
    assert response.status_code == 302
    upload = Upload.objects.latest("pk")
    # Every row is recognised as already reported: no row error, nothing to save.
    assert upload.status == Upload.Status.NOTHING, (upload.status, upload.summary)
    assert Completion.objects.count() == before


# --- API keys ---------------------------------------------------------------------------------


def test_creating_a_key_redirects_and_a_reload_shows_no_second_key_and_no_secret(
    client_of, editor_a
):
    client = client_of(editor_a)
    response = client.post(reverse("api_key_create"), {"name": "Moodle", "mode": "sandbox"})
    assert response.status_code == 302
    key = ApiKey.objects.get()
    assert response["Location"] == reverse("api_key_created", args=[key.pk])

    first = client.get(response["Location"]).content.decode()
    secret = re.search(r'<code id="api-key-secret">([^<]+)</code>', first).group(1)
    assert secret.startswith(key.prefix)
    assert 'id="copy-key"' in first

    again = client.get(response["Location"]).content.decode()
    assert secret not in again
    assert 'id="secret-gone"' in again
    assert ApiKey.objects.count() == 1


def test_another_providers_key_created_page_is_not_found(client_of, editor_a, editor_b):
    client_of(editor_a).post(reverse("api_key_create"), {"name": "Moodle", "mode": "sandbox"})
    key = ApiKey.objects.get()
    assert client_of(editor_b).get(reverse("api_key_created", args=[key.pk])).status_code == 404


def test_irreversible_actions_ask_for_confirmation(client_of, editor_a, activity_a):
    api_key_create(provider=activity_a.provider, user=editor_a, name="LMS", mode="production")
    client = client_of(editor_a)
    keys = client.get(reverse("api_help")).content.decode()
    assert re.search(r'action="/api/keys/\d+/revoke/" data-confirm="Revoke the key', keys)
    detail = client.get(reverse("activity_detail", args=[activity_a.pars_id])).content.decode()
    assert 'data-confirm="Withdraw this activity' in detail


def test_sending_to_abim_now_asks_for_confirmation(client_of, reviewer):
    queue = client_of(reviewer).get(reverse("review_queue")).content.decode()
    assert re.search(r'action="/review/transmit/" data-confirm="Send every verified record', queue)


def test_opening_an_actions_address_in_the_browser_explains_what_to_do(client_of, editor_a):
    response = client_of(editor_a).get(reverse("api_key_create"))
    assert response.status_code == 405
    page = response.content.decode()
    assert "This address is an action" in page
    assert 'class="navbar' in page  # the portal's layout, not a blank page


# --- Sandbox records --------------------------------------------------------------------------


def test_sandbox_records_are_listed_on_the_api_page_marked_sandbox_for_their_provider_only(
    client_of, editor_a, editor_b, activity_a, activity_b
):
    mine = make_completion(activity_a, is_sandbox=True, last_name="Sandy")
    make_completion(activity_b, is_sandbox=True, last_name="Otherprovider")
    make_completion(activity_a, last_name="Realrecord")

    page = client_of(editor_a).get(reverse("api_help")).content.decode()
    table = page[page.index('id="sandbox-records-table"') :]
    table = table[: table.index("</table>")]
    assert f'href="{reverse("completion_detail", args=[mine.pk])}"' in table
    assert "Sandy" in table and "Sandbox" in table
    assert "Otherprovider" not in table and "Realrecord" not in table

    # Still never in the participant search.
    search = client_of(editor_a).get(reverse("participant_search")).content.decode()
    assert "Sandy" not in search and "Realrecord" in search
