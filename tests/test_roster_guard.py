"""Nobody can copy the board's roster through the portal: sandbox keys check a published
sandbox roster, answers never show roster data the provider did not send, and failed roster
checks are limited per provider over a window, across every channel (pars-spec §5 step 2;
hardening issue, item 1)."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from activities.models import Channel
from participants.intake import intake_submit
from participants.models import Completion, RosterEntry, RosterProbeFailure
from participants.parsers import TEMPLATE_HEADERS
from participants.reverification import completions_verify_pending
from participants.rows import ParticipantRow
from participants.verification import ROSTER_CHECK_HELD, SANDBOX_ROSTER

from .builders import report
from .builders import reports as json_reports
from .conftest import api_request, make_key

NOW = dt.datetime(2015, 12, 20, 12, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def keys(provider_a, editor_a):
    return {
        "production": make_key(provider_a, editor_a, name="LMS"),
        "sandbox": make_key(provider_a, editor_a, mode="sandbox", name="Test"),
    }


def post(client, path, body, key):
    return api_request(client, "post", path, key, body)


def learner(board_id, first, last, month, day):
    return {"boardId": board_id, "firstName": first, "lastName": last, "birthMonth": month,
            "birthDay": day}  # fmt: skip


def reports(activity, *learners):
    return json_reports(*(report(activity, who, credits=[("MK", 10)]) for who in learners))


def row(activity, number, board_id, month=7, day=14, first="Jane", last="Smith"):
    return ParticipantRow(
        row_number=number, activity_ref=activity.pars_id, learner_id=board_id,
        first_name=first, last_name=last, birth_month=month, birth_day=day,
        completion_date=dt.date(2015, 12, 18), credit_type="MK", moc_points=Decimal("10"),
        learner_permission=True,
    )  # fmt: skip


# --- The sandbox roster -------------------------------------------------------------------------


def test_sandbox_keys_check_the_sandbox_roster_never_the_real_one(client, keys, activity_a, abim):
    RosterEntry.objects.create(board=abim, learner_id="345678", first_name="Real",
                               last_name="Physician", birth_month=3, birth_day=3)  # fmt: skip
    real = learner("345678", "Real", "Physician", 3, 3)
    test_learner = learner(*SANDBOX_ROSTER[2][1:])  # 900001 Ana Alvarez, in no real roster
    body = post(client, "learner-reports", reports(activity_a, real, test_learner),
                keys["sandbox"]).json()  # fmt: skip
    assert [(r["status"], r["reason"]) for r in body["results"]] == [
        ("rejected", "ABIM ID not found"), ("accepted",
         "Provisional verification: matches the ABIM roster")]  # fmt: skip
    match = post(client, "learner-match", real, keys["sandbox"]).json()
    assert match == {"result": "not_found"}
    # The production key checks the real roster.
    assert post(client, "learner-match", real, keys["production"]).json() == {"result": "match"}
    assert not RosterProbeFailure.objects.exists()  # the sandbox roster tells nothing real


def test_the_api_page_publishes_the_sandbox_roster(client_of, editor_a):
    page = client_of(editor_a).get(reverse("api_help")).content.decode()
    for _, board_id, first, last, month, day in SANDBOX_ROSTER:
        assert board_id in page and f"{first} {last}" in page
        assert f"{month:02d}/{day:02d}" in page


# --- Nothing of the roster in any answer ---------------------------------------------------------


def test_a_name_that_differs_is_said_to_differ_without_the_rosters_spelling(
    client, client_of, keys, activity_a, roster, editor_a
):
    reply = post(client, "learner-reports",
                 reports(activity_a, learner("123456", "Janet", "Smyth", 7, 14)),
                 keys["production"])  # fmt: skip
    result = reply.json()["results"][0]
    assert (result["status"], result["warning"]) == (
        "accepted",
        "Name differs from the ABIM roster",
    )
    record = Completion.objects.get(pk=result["id"])
    page = client_of(editor_a).get(reverse("completion_detail", args=[record.pk]))
    for shown in (reply.content.decode(), page.content.decode()):
        assert "Jane " not in shown and "Smith" not in shown


# --- The limit of failed roster checks ------------------------------------------------------------


@pytest.fixture
def limit_3(settings):
    settings.ROSTER_FAILURE_LIMIT = 3
    settings.ROSTER_FAILURE_WINDOW_HOURS = 24


def test_past_the_limit_records_are_held_unchecked_and_the_next_request_is_429(
    client, keys, activity_a, roster, limit_3
):
    probes = [learner(f"90000{n}", "X", "Y", 1, 1) for n in range(5)]
    body = post(client, "learner-reports", reports(activity_a, *probes), keys["production"]).json()
    told = [(r["status"], r["reason"]) for r in body["results"]]
    assert told == [("rejected", "ABIM ID not found")] * 3 + [("submitted", ROSTER_CHECK_HELD)] * 2
    assert Completion.objects.count() == 5  # held records are kept, not lost
    # Another request is refused whole, with when to come back.
    again = post(client, "learner-reports", reports(activity_a, learner("123456", "Jane",
                 "Smith", 7, 14)), keys["production"])  # fmt: skip
    assert again.status_code == 429
    assert 23 * 3600 < int(again["Retry-After"]) <= 24 * 3600
    assert "limit of 3 failed roster checks" in again.json()["detail"]
    assert Completion.objects.count() == 5
    assert post(client, "learner-match", learner("123456", "Jane", "Smith", 7, 14),
                keys["production"]).status_code == 429  # fmt: skip
    # Sandbox keys are not limited: their roster is not the board's.
    assert post(client, "learner-reports", reports(activity_a, *probes),
                keys["sandbox"]).status_code == 200  # fmt: skip


def test_a_match_after_the_limit_tells_nothing_either(activity_a, editor_a, roster, limit_3):
    rows = [row(activity_a, n, f"90000{n}") for n in range(3)] + [row(activity_a, 4, "123456")]
    outcomes = intake_submit(provider=activity_a.provider, rows=rows, actor=editor_a,
                             channel=Channel.FORM).outcomes  # fmt: skip
    assert [o.status for o in outcomes] == ["rejected"] * 3 + ["submitted"]
    assert outcomes[3].reason == ROSTER_CHECK_HELD


def test_the_same_failing_record_counts_once_preview_and_save_included(
    client_of, editor_a, activity_a, roster, limit_3, media_root
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    header = "\t".join(TEMPLATE_HEADERS) + "\n"
    lines = [f"add\t{activity_a.pars_id}\tABIM\t12345{n}\tX\tY\t1\t1\t12/18/2015\tMK\t10\t\tY\t\n"
             for n in (7, 8)]  # fmt: skip
    client = client_of(editor_a)
    for attempt in range(3):
        content = (header + "".join(lines)).encode()
        client.post(reverse("upload_create"),
                    {"file": SimpleUploadedFile(f"f{attempt}.txt", content)})  # fmt: skip
    assert RosterProbeFailure.objects.count() == 2  # two distinct probes, however often sent
    upload = activity_a.provider.uploads.order_by("-id").first()
    client.post(reverse("upload_confirm", args=[upload.pk]))
    assert RosterProbeFailure.objects.count() == 2
    assert set(Completion.objects.values_list("status", flat=True)) == {"rejected"}


def test_every_channel_counts_towards_one_limit(client, client_of, keys, editor_a, activity_a,
                                                roster, limit_3):  # fmt: skip
    post(client, "learner-match", learner("900001", "X", "Y", 1, 1), keys["production"])
    post(client, "learner-reports", reports(activity_a, learner("900002", "X", "Y", 1, 1)),
         keys["production"])  # fmt: skip
    form = client_of(editor_a).post(
        reverse("participant_add", args=[activity_a.pars_id]),
        {"learner_id": "900003", "first_name": "X", "last_name": "Y", "birth_month": 1,
         "birth_day": 1, "completion_date": "12/18/2015", "credit_type": "MK", "moc_points": "10",
         "learner_permission": "on"},
    )  # fmt: skip
    assert form.status_code in (200, 302)
    assert RosterProbeFailure.objects.filter(provider=activity_a.provider).count() == 3
    assert post(client, "learner-match", learner("123456", "Jane", "Smith", 7, 14),
                keys["production"]).status_code == 429  # fmt: skip


def test_held_records_are_checked_once_the_window_frees_up(
    activity_a, editor_a, roster, limit_3, frozen
):
    rows = [row(activity_a, n, f"90000{n}") for n in range(3)] + [row(activity_a, 4, "123456")]
    intake_submit(provider=activity_a.provider, rows=rows, actor=editor_a, channel=Channel.FORM)
    held = Completion.objects.get(learner_id="123456")
    assert held.status_reason == ROSTER_CHECK_HELD
    assert completions_verify_pending()["still_pending"] == 1  # the limit still holds
    frozen.shift(dt.timedelta(hours=25))
    completions_verify_pending()
    held.refresh_from_db()
    assert held.status == "accepted"
    assert held.events.order_by("at").last().reason.startswith("Provisional verification")


@pytest.mark.slow  # 10,000 probes
def test_a_harvest_of_10000_probes_learns_at_most_the_limit(
    client, keys, activity_a, roster, settings
):
    settings.ROSTER_FAILURE_LIMIT = 100
    probes = [learner(f"{100000 + n:06d}", "X", "Y", 1 + n % 12, 1 + n % 28) for n in range(10_000)]
    body = post(client, "learner-reports", reports(activity_a, *probes), keys["production"]).json()
    told = [r for r in body["results"] if r["status"] in ("accepted", "rejected")]
    assert len(told) <= 101  # 100 failures, and the real learner if it came first
    assert post(client, "learner-reports", reports(activity_a, probes[0]),
                keys["production"]).status_code == 429  # fmt: skip


def test_reviewers_see_providers_near_or_over_the_limit(
    client_of, reviewer, activity_a, editor_a, roster, limit_3
):
    rows = [row(activity_a, n, f"90000{n}") for n in range(3)]
    intake_submit(provider=activity_a.provider, rows=rows, actor=editor_a, channel=Channel.FORM)
    page = client_of(reviewer).get(reverse("home")).content.decode()
    card = page[page.index('id="roster-limit"') :]
    assert activity_a.provider.name in card[: card.index("</table>")]
    assert "3 of 3" in card and "Limit reached" in card
