"""Concurrency (issue #8): two staff submitting the same participant at the same moment, and
the same file uploaded twice at once, produce exactly one record.

Every race runs real threads, each with its own database connection, started together by a
barrier. To make each race bite every time instead of now and then, the pipeline's first
write in every thread waits at a rendezvous until all threads have read the database and
decided "this record is new": then they all write at once and all but one collide at the
database's unique constraint (or on the record they both want to supersede). The losers must
re-check and answer "already reported" — never a 500, never an exception, never a second
record. The tests count those collisions, so a race that did not happen cannot pass
unnoticed.
"""

import csv
import datetime as dt
import html
import io
import threading
import time
import traceback
from functools import partial

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connections
from django.test import Client
from django.urls import reverse

from activities.models import Channel, ProviderMembership
from participants import intake
from participants.intake import intake_submit
from participants.models import Completion, CompletionEvent, RosterEntry, Upload
from participants.parsers import TEMPLATE_COLUMNS, TEMPLATE_HEADERS
from participants.rows import ParticipantRow, Result
from participants.services import uploads
from participants.statuses import StatusConflict

from .builders import report
from .conftest import (
    SQLITE_FILE_ONLY,
    api_request,
    make_completion,
    make_key,
    make_user,
    postgres_pass,
    sqlite_in_memory,
)
from .test_crash_recovery import Portal

# Threads and processes racing on the same records (PostgreSQL; a SQLite file in processes).
# Threads need committed data (transactional tests, whose flush removes the reference data:
# seed_data puts it back); uploaded files go to each test's own folder.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("seed_data", "media_root")]

ITERATIONS = 10  # races per scenario
UPLOAD_ITERATIONS = 6
UPLOAD_ROWS = 30  # per file; with INTAKE_BATCH_SIZE=7: five batches, the last one short
BATCH = 7
THREAD_TIMEOUT = 120


threads = pytest.mark.skipif(
    sqlite_in_memory(),
    reason=(
        "SQLite's in-memory test database is shared between threads in shared-cache mode, "
        "whose table locks fail at once instead of waiting: threads cannot race on it. The "
        "portal's SQLite file (WAL, BEGIN IMMEDIATE) serialises writers; these races run on "
        "PostgreSQL in CI, and tests/test_crash_recovery.py drives a real SQLite file."
    ),
)


@pytest.fixture
def editor_a2(provider_a):
    """A second editor of provider A: the colleague at the next desk."""
    user = make_user("editor-a2")
    ProviderMembership.objects.create(user=user, provider=provider_a, role="editor")
    return user


# --- Racing ------------------------------------------------------------------------------------


class Collisions:
    """Makes every thread's first pipeline write wait until all threads have read and
    checked their rows, and counts the writes the database refused."""

    def __init__(self, monkeypatch):
        self.barrier = None
        self.local = threading.local()
        self.lock = threading.Lock()
        self.refused = 0
        # The batch write both paths share: the pipeline's (`_Batch.write`) and an upload
        # save's as the check planned it (`intake_write_plan`).
        real_write = intake._write
        collisions = self

        def write(**batch):
            collisions.rendezvous()
            try:
                return real_write(**batch)
            except (IntegrityError, StatusConflict):
                with collisions.lock:
                    collisions.refused += 1
                raise

        monkeypatch.setattr(intake, "_write", write)

    def arm(self, parties):
        """The next race has `parties` threads; each waits once, before its first write."""
        self.barrier = threading.Barrier(parties, timeout=30)

    def disarm(self):
        self.barrier = None

    def rendezvous(self):
        if self.barrier is None:
            return
        if getattr(self.local, "barrier", None) is self.barrier:
            return  # this thread already met the others (a retry, or a later batch)
        self.local.barrier = self.barrier
        self.barrier.wait()


@pytest.fixture
def collisions(monkeypatch):
    return Collisions(monkeypatch)


def race(*actions, collisions=None):
    """Run the actions in threads started together; return their results in order. Any
    exception in a thread fails the test with its traceback."""
    if collisions is not None:
        collisions.arm(len(actions))
    start = threading.Barrier(len(actions), timeout=30)
    results = [None] * len(actions)
    failures = []

    def run(index, action):
        try:
            start.wait()
            results[index] = action()
        except BaseException:  # noqa: BLE001 - reported below, with the traceback
            failures.append(traceback.format_exc())
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(i, action), daemon=True)
        for i, action in enumerate(actions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_TIMEOUT)
    if collisions is not None:
        collisions.disarm()
    assert not any(t.is_alive() for t in threads), "a racing thread hung"
    assert not failures, "\n".join(failures)
    return results


def day(i) -> dt.date:
    """A different completion date per iteration, inside the activity's dates."""
    return dt.date(2015, 10, 2) + dt.timedelta(days=i)


def records_of(activity, completion_date, learner_id="123456") -> list[Completion]:
    return list(
        Completion.objects.filter(
            activity=activity, learner_id=learner_id, completion_date=completion_date
        ).exclude(status="deleted")
    )


def assert_no_duplicates():
    """No natural key and no credit ID twice among current records (belt and braces: the
    database's partial unique constraints say the same)."""
    current = Completion.objects.exclude(status="deleted")
    keys = list(
        current.values_list(
            "activity_id", "board_id", "learner_id", "credit_type_id", "completion_date",
            "is_sandbox",
        )
    )  # fmt: skip
    assert len(keys) == len(set(keys))
    credit_ids = [c for c in current.values_list("provider_id", "credit_id") if c[1]]
    assert len(credit_ids) == len(set(credit_ids))


# --- Two staff, one participant ----------------------------------------------------------------


def jane_row(activity, completion_date, **fields) -> ParticipantRow:
    values = {
        "row_number": 0, "activity_ref": activity.pars_id, "learner_id": "123456",
        "first_name": "Jane", "last_name": "Smith", "birth_month": 7, "birth_day": 14,
        "completion_date": completion_date, "credit_type": "MK", "moc_points": 10,
        "learner_permission": True, **fields,
    }  # fmt: skip
    return ParticipantRow(**values)


@threads
def test_two_editors_submitting_the_same_participant_through_the_pipeline_make_one_record(
    collisions, provider_a, editor_a, editor_a2, activity_a, roster
):
    for i in range(ITERATIONS):
        date = day(i)

        def submit(actor, date=date):
            return intake_submit(
                provider=provider_a,
                rows=[jane_row(activity_a, date)],
                actor=actor,
                channel=Channel.FORM,
            ).outcomes[0]

        first, second = race(
            lambda: submit(editor_a), lambda: submit(editor_a2), collisions=collisions
        )
        outcomes = sorted([first, second], key=lambda o: o.result != Result.CREATED)
        winner, loser = outcomes
        assert (winner.result, loser.result) == (Result.CREATED, Result.ALREADY_REPORTED), i
        (record,) = records_of(activity_a, date)
        assert winner.completion_id == record.pk and winner.status == "accepted"
        assert loser.completion_id == record.pk
        assert loser.message.startswith(f"Already reported: record {record.pk}, entered ")
        assert record.events.count() == 1
    assert collisions.refused == ITERATIONS  # every race collided at the database
    assert Completion.objects.count() == ITERATIONS
    assert_no_duplicates()


def entry(completion_date, **overrides):
    data = {
        "learner_id": "123456", "first_name": "Jane", "last_name": "Smith", "birth_month": "7",
        "birth_day": "14", "completion_date": completion_date.isoformat(), "credit_type": "MK",
        "moc_points": "10", "learner_permission": "on", "save": "1", **overrides,
    }  # fmt: skip
    return data


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@threads
def test_two_editors_saving_the_same_participant_in_the_web_form_make_one_record(
    collisions, editor_a, editor_a2, activity_a, roster
):
    url = reverse("participant_add", args=[activity_a.pars_id])
    clients = [logged_in(editor_a), logged_in(editor_a2)]
    for i in range(ITERATIONS):
        date = day(i)
        replies = race(
            *[lambda c=c, d=date: c.post(url, entry(d)) for c in clients],
            collisions=collisions,
        )
        (record,) = records_of(activity_a, date)
        statuses = sorted(r.status_code for r in replies)
        assert statuses == [200, 302], i  # one saved (redirect), one form shown again
        saved = next(r for r in replies if r.status_code == 302)
        assert saved["Location"].endswith(f"?saved={record.pk}")
        refused = html.unescape(next(r for r in replies if r.status_code == 200).content.decode())
        assert f"Already reported: record {record.pk}, entered " in refused
        assert record.events.count() == 1
    assert collisions.refused == ITERATIONS
    assert Completion.objects.count() == ITERATIONS
    assert_no_duplicates()


def api_post(client, secret, body):
    return api_request(client, "post", "learner-reports", secret, body)


def api_report(activity, completion_date, *, learner_id="123456", credit_id=None):
    credit = {"creditType": "MK", "points": "10"}
    if credit_id:
        credit["creditId"] = credit_id
    who = ("Jane", "Smith", 7, 14) if learner_id == "123456" else ("Pat", f"Lee{learner_id}", 3, 9)
    learner = {"boardId": learner_id, "firstName": who[0], "lastName": who[1],
               "birthMonth": who[2], "birthDay": who[3]}  # fmt: skip
    return report(activity, learner, credits=[credit], completed=completion_date.isoformat())


@pytest.fixture
def two_keys(provider_a, editor_a, editor_a2):
    """Two LMS integrations of provider A, set up by two editors."""
    return [
        make_key(provider_a, user, name=name)
        for user, name in ((editor_a, "Moodle"), (editor_a2, "Canvas"))
    ]


@threads
def test_two_api_clients_sending_the_same_report_at_once_make_one_record(
    collisions, two_keys, activity_a, roster
):
    """The same record from two LMS integrations at once, and an LMS retrying while its
    first request is still running (same credit ID): one record, the other `already_reported`
    with the record's id."""
    clients = [Client(), Client()]
    for i in range(ITERATIONS):
        date = day(i)
        credit_id = f"ccid:lms:race-{i}" if i % 2 else None  # half the races by credit ID too
        body = {"reports": [api_report(activity_a, date, credit_id=credit_id)]}
        replies = race(
            *[partial(api_post, c, k, body) for c, k in zip(clients, two_keys, strict=True)],
            collisions=collisions,
        )
        assert [r.status_code for r in replies] == [200, 200], i
        results = sorted((r.json()["results"][0] for r in replies), key=lambda r: r["result"])
        (record,) = records_of(activity_a, date)
        assert [r["result"] for r in results] == ["already_reported", "created"]
        assert [r["id"] for r in results] == [record.pk, record.pk]
        # Sent without one, the record has the credit ID the portal minted (pars-spec §9).
        assert record.credit_id == credit_id or (credit_id is None and record.credit_id.startswith(
            "ccid:pars:"))  # fmt: skip
    assert collisions.refused == ITERATIONS
    assert Completion.objects.count() == ITERATIONS
    assert_no_duplicates()


@threads
def test_web_form_and_api_submitting_the_same_participant_at_once_make_one_record(
    collisions, editor_a, two_keys, activity_a, roster
):
    url = reverse("participant_add", args=[activity_a.pars_id])
    form_client, api_client = logged_in(editor_a), Client()
    for i in range(ITERATIONS):
        date = day(i)
        body = {"reports": [api_report(activity_a, date)]}
        form_reply, api_reply = race(
            lambda d=date: form_client.post(url, entry(d)),
            lambda b=body: api_post(api_client, two_keys[1], b),
            collisions=collisions,
        )
        (record,) = records_of(activity_a, date)
        api_result = api_reply.json()["results"][0]
        assert api_reply.status_code == 200
        assert api_result["id"] == record.pk
        if form_reply.status_code == 302:
            assert api_result["result"] == "already_reported"
            assert record.channel == Channel.FORM
        else:
            assert form_reply.status_code == 200
            assert api_result["result"] == "created"
            assert record.channel == Channel.API
            text = html.unescape(form_reply.content.decode())
            assert f"Already reported: record {record.pk}, entered " in text
    assert collisions.refused == ITERATIONS
    assert Completion.objects.count() == ITERATIONS
    assert_no_duplicates()


@threads
@pytest.mark.parametrize("parties", [2, 4])
def test_overlapping_api_requests_at_once_store_each_record_once(
    collisions, parties, provider_a, editor_a, activity_a, roster
):
    """Requests of 40 records, each sharing 20 with the next (LMS jobs resending a page
    while others send the next): each record is stored once; every record is answered
    created or already_reported, never an error."""
    keys = [make_key(provider_a, editor_a, name=f"LMS {n}") for n in range(parties)]
    clients = [Client() for _ in range(parties)]
    for i in range(3):
        date = day(i)
        ids = [f"{400000 + n:06d}" for n in range(20 * (parties + 1))]
        bodies = [
            {"reports": [api_report(activity_a, date, learner_id=lid) for lid in ids[n : n + 40]]}
            for n in range(0, 20 * parties, 20)
        ]
        replies = race(
            *[partial(api_post, c, k, b) for c, k, b in zip(clients, keys, bodies, strict=True)],
            collisions=collisions,
        )
        assert [r.status_code for r in replies] == [200] * parties
        totals = [r.json()["totals"] for r in replies]
        assert sum(t["created"] for t in totals) == len(ids)
        assert sum(t["already_reported"] for t in totals) == 20 * (parties - 1)
        assert sum(t["error"] for t in totals) == 0
        stored = Completion.objects.filter(activity=activity_a, completion_date=date)
        assert sorted(stored.values_list("learner_id", flat=True)) == ids
    assert collisions.refused >= 3
    assert_no_duplicates()


@threads
def test_two_editors_resubmitting_a_rejected_record_at_once_make_one_correction(
    collisions, provider_a, editor_a, editor_a2, activity_a, roster
):
    """A rejected record re-sent with corrected values supersedes it; when two editors do
    it at once, one correction is made and the other sees it already reported."""
    for i in range(ITERATIONS):
        date = day(i)
        rejected = make_completion(
            activity_a, completion_date=date, first_name="Janet", status="rejected"
        )

        def resubmit(actor, date=date):
            return intake_submit(
                provider=provider_a,
                rows=[jane_row(activity_a, date)],
                actor=actor,
                channel=Channel.FORM,
            ).outcomes[0]

        outcomes = race(
            lambda: resubmit(editor_a), lambda: resubmit(editor_a2), collisions=collisions
        )
        assert sorted(o.result for o in outcomes) == [Result.ALREADY_REPORTED, Result.CREATED]
        (current,) = records_of(activity_a, date)
        assert current.first_name == "Jane" and current.corrects_id == rejected.pk
        rejected.refresh_from_db()
        assert rejected.status == "deleted"
        assert rejected.status_reason == f"Superseded by record {current.pk}"
        # One history entry for the old record's end, one for the new record.
        assert rejected.events.count() == 1 and current.events.count() == 1
        assert Completion.objects.filter(activity=activity_a, completion_date=date).count() == 2
    assert collisions.refused == ITERATIONS
    assert_no_duplicates()


# --- The same file, twice at once --------------------------------------------------------------


@pytest.fixture
def many_diplomates(abim):
    RosterEntry.objects.bulk_create(
        RosterEntry(board=abim, learner_id=f"{500000 + n:06d}", first_name="Pat",
                    last_name=f"Lee{n}", birth_month=3, birth_day=9)
        for n in range(UPLOAD_ROWS)
    )  # fmt: skip


def upload_file(activity, completion_date, *, bad_rows=0) -> bytes:
    """UPLOAD_ROWS valid rows, then `bad_rows` rows with unreadable points."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TEMPLATE_HEADERS)
    for n in range(UPLOAD_ROWS + bad_rows):
        row = {
            "action": "add", "activity_ref": activity.pars_id, "board_code": "ABIM",
            "learner_id": f"{500000 + n:06d}", "first_name": "Pat", "last_name": f"Lee{n}",
            "birth_month": "3", "birth_day": "9",
            "completion_date": completion_date.strftime("%m/%d/%Y"), "credit_type": "MK",
            "moc_points": "10", "cme_credits": "", "learner_permission": "Y", "credit_id": "",
        }  # fmt: skip
        if n >= UPLOAD_ROWS:
            row["moc_points"] = "ten"
        writer.writerow([row[name] for name, _, _ in TEMPLATE_COLUMNS])
    return out.getvalue().encode()


def post_upload(client, name, content) -> int:
    response = client.post(reverse("upload_create"), {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 302, response.content.decode()[:2000]
    return int(response["Location"].rstrip("/").split("/")[-1])


def post_action(client, name, upload_id):
    response = client.post(reverse(name, args=[upload_id]), follow=True)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def upload_page(client, upload_id) -> str:
    response = client.get(reverse("upload_detail", args=[upload_id]))
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def rows_of(activity, completion_date):
    return Completion.objects.filter(activity=activity, completion_date=completion_date)


@threads
def test_the_same_file_uploaded_and_confirmed_twice_at_once_saves_each_row_once(
    collisions, settings, editor_a, editor_a2, activity_a, many_diplomates
):
    """Two editors upload the same file at the same moment, see both previews ("30 will be
    created": nothing is saved yet), and confirm at the same moment. Each row is saved once;
    between them the two uploads report 30 created and 30 already reported, and the later
    upload says the exact file was already uploaded."""
    settings.INTAKE_BATCH_SIZE = BATCH
    clients = [logged_in(editor_a), logged_in(editor_a2)]
    for i in range(UPLOAD_ITERATIONS):
        date = day(i)
        content = upload_file(activity_a, date)
        names = [f"week-{i}.csv", f"week-{i} (copy).csv"]
        ids = race(
            *[partial(post_upload, c, n, content) for c, n in zip(clients, names, strict=True)]
        )
        uploads = [Upload.objects.get(pk=pk) for pk in ids]
        assert [u.status for u in uploads] == ["preview", "preview"]
        assert [u.preview_totals["created"] for u in uploads] == [UPLOAD_ROWS, UPLOAD_ROWS]
        earlier, later = sorted(uploads, key=lambda u: u.pk)
        assert earlier.same_file_as_id is None
        assert later.same_file_as_id == earlier.pk
        assert "This exact file was already uploaded on" in upload_page(clients[0], later.pk)

        race(
            *[
                partial(post_action, c, "upload_confirm", u)
                for c, u in zip(clients, ids, strict=True)
            ],
            collisions=collisions,
        )
        done = [Upload.objects.get(pk=pk) for pk in ids]
        assert [u.status for u in done] == ["done", "done"], [u.message for u in done]
        assert [u.committed_rows for u in done] == [UPLOAD_ROWS, UPLOAD_ROWS]
        created = sum(u.result_totals["created"] for u in done)
        already = sum(u.result_totals["already_reported"] for u in done)
        assert (created, already) == (UPLOAD_ROWS, UPLOAD_ROWS), [u.result_totals for u in done]
        assert all(u.result_totals["error"] == 0 for u in done)
        saved = rows_of(activity_a, date)
        assert saved.count() == UPLOAD_ROWS
        assert sorted(saved.values_list("learner_id", flat=True)) == [
            f"{500000 + n:06d}" for n in range(UPLOAD_ROWS)
        ]
        assert CompletionEvent.objects.filter(completion__in=saved).count() == UPLOAD_ROWS
    assert collisions.refused >= UPLOAD_ITERATIONS  # the first batches collided every time
    assert_no_duplicates()


@threads
def test_confirm_clicked_twice_at_once_saves_the_upload_once(
    settings, editor_a, editor_a2, activity_a, many_diplomates
):
    settings.INTAKE_BATCH_SIZE = BATCH
    clients = [logged_in(editor_a), logged_in(editor_a2)]
    for i in range(UPLOAD_ITERATIONS):
        date = day(i)
        upload_id = post_upload(clients[0], f"week-{i}.csv", upload_file(activity_a, date))
        pages = race(*[partial(post_action, c, "upload_confirm", upload_id) for c in clients])
        refusals = [p for p in pages if "This upload cannot be confirmed now" in p]
        assert len(refusals) == 1, i
        upload = Upload.objects.get(pk=upload_id)
        assert upload.status == "done"
        assert upload.committed_rows == UPLOAD_ROWS
        assert upload.result_totals["created"] == UPLOAD_ROWS
        assert upload.result_totals["already_reported"] == 0
        assert rows_of(activity_a, date).count() == UPLOAD_ROWS
    assert_no_duplicates()


@threads
def test_resume_saving_clicked_twice_at_once_finishes_the_upload_once(
    settings, monkeypatch, editor_a, editor_a2, activity_a, many_diplomates
):
    """An interrupted save, resumed by two editors at the same moment: one resume runs, the
    other is told there is nothing to resume; the totals count each row once."""
    settings.INTAKE_BATCH_SIZE = BATCH
    clients = [logged_in(editor_a), logged_in(editor_a2)]
    for i in range(UPLOAD_ITERATIONS):
        date = day(i)
        upload_id = post_upload(clients[0], f"week-{i}.csv", upload_file(activity_a, date))
        with monkeypatch.context() as patch:
            real_write, calls = intake._write, []

            def crash_on_third_batch(real_write=real_write, calls=calls, **batch):
                calls.append(1)
                if len(calls) == 3:
                    raise OSError("disk full")
                return real_write(**batch)

            patch.setattr(intake, "_write", crash_on_third_batch)
            post_action(clients[0], "upload_confirm", upload_id)
        failed = Upload.objects.get(pk=upload_id)
        assert failed.status == "failed" and failed.can_retry
        assert failed.committed_rows == 2 * BATCH

        pages = race(*[partial(post_action, c, "upload_retry", upload_id) for c in clients])
        assert sum("Only an interrupted upload can be retried." in p for p in pages) == 1, i
        upload = Upload.objects.get(pk=upload_id)
        assert upload.status == "done", upload.message
        assert upload.committed_rows == UPLOAD_ROWS
        assert upload.result_totals == {
            "created": UPLOAD_ROWS, "already_reported": 0, "deleted": 0, "error": 0,
        }  # fmt: skip
        assert rows_of(activity_a, date).count() == UPLOAD_ROWS
    assert_no_duplicates()


@threads
def test_a_second_save_of_the_same_upload_stops_without_touching_the_first(
    collisions, settings, editor_a, editor_a2, activity_a, many_diplomates
):
    """A save resumed as stale while its first worker is in fact still running (a slow
    machine, not a dead one): two workers save the same upload at once. Each batch is
    saved by one of them; the other stops quietly; the upload finishes with every row
    counted once."""
    settings.INTAKE_BATCH_SIZE = BATCH
    client = logged_in(editor_a)
    for i in range(UPLOAD_ITERATIONS):
        date = day(i)
        content = upload_file(activity_a, date, bad_rows=2)
        upload_id = post_upload(client, f"week-{i}.csv", content)
        Upload.objects.filter(pk=upload_id).update(
            status="committing", processed_rows=0, confirmed_by=editor_a2
        )
        race(
            *[partial(uploads.upload_commit, upload_id=upload_id) for _ in range(2)],
            collisions=collisions,
        )
        upload = Upload.objects.get(pk=upload_id)
        assert upload.status == "done", upload.message
        assert upload.committed_rows == UPLOAD_ROWS + 2
        assert upload.result_totals == {
            "created": UPLOAD_ROWS, "already_reported": 0, "deleted": 0, "error": 2,
        }  # fmt: skip
        assert rows_of(activity_a, date).count() == UPLOAD_ROWS
        # The two refused rows are listed once each, not once per save.
        assert sorted(upload.issues.filter(phase="commit").values_list("row_number", "field")) == [
            (UPLOAD_ROWS + 2, "moc_points"),
            (UPLOAD_ROWS + 3, "moc_points"),
        ]
    assert collisions.refused >= UPLOAD_ITERATIONS  # both saves wrote the first batch at once
    assert_no_duplicates()


# --- Processes on the portal's SQLite file -----------------------------------------------------

LEARNERS = 25
ROUNDS = 12


@pytest.mark.skipif(postgres_pass() is not None, reason=SQLITE_FILE_ONLY)
def test_two_processes_on_a_sqlite_file_submitting_the_same_participants_store_each_once(
    tmp_path,
):
    """The embedded deployment: web server and worker are separate processes sharing one
    SQLite file (WAL, BEGIN IMMEDIATE). Two processes submit the same 25 participants for
    the same dates at the same moment, round after round: every record is stored once,
    nothing fails with "database is locked", and each row is created or already reported."""
    portal = Portal(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path)
    portal.manage("migrate", "--noinput")
    editors = portal.run("setup_race", LEARNERS)["editors"]
    start_at = time.time() + 4  # both processes started and ready by then
    processes = [portal.spawn("submit", user, start_at, ROUNDS, LEARNERS) for user in editors]
    results = [Portal.result(process) for process in processes]
    expected = ROUNDS * LEARNERS
    totals = {key: sum(r["totals"][key] for r in results) for key in results[0]["totals"]}
    assert totals == {"created": expected, "already_reported": expected, "deleted": 0, "error": 0}
    counts = portal.run("count")
    assert counts["records"] == counts["events"] == expected
    assert counts["duplicate_keys"] == 0
    refused = sum(r["refused"] for r in results)
    print(f"SQLite file, two processes: {expected} records once each; {refused} writes "
          f"refused by the database and re-checked as already reported")  # fmt: skip


# --- Board answers and deletes at the same moment (hardening issue, item 4) ---------------------


@threads
def test_board_answers_never_undo_deletes_made_meanwhile(
    provider_a, editor_a, activity_a, roster, monkeypatch
):
    """The board answers 60 records while the provider deletes 40 of them: every delete
    stays a delete (the answer is recorded, not applied), the others are rejected, and every
    record's history is one unbroken chain of statuses."""
    from participants.services.records import completion_delete
    from participants.transmission import ingest_answers, transmit

    records = [
        make_completion(activity_a, status="accepted", learner_id=f"{300000 + n}")
        for n in range(60)
    ]
    transmit()
    answers = [{"recordId": r.pk, "result": "rejected", "reasonCode": "ID",
                "reason": "Unknown ABIM ID"} for r in records]  # fmt: skip
    loaded = threading.Event()
    original = Completion.objects.bulk_update

    def slow_update(*args, **kwargs):
        if threading.current_thread().name == "answers":  # not the deletes' own updates
            loaded.set()  # the answers have read the records and decided
            time.sleep(1.0)  # deletes arrive now
        return original(*args, **kwargs)

    monkeypatch.setattr(Completion.objects, "bulk_update", slow_update)
    errors = []

    def answer():
        try:
            ingest_answers(answers)
        except Exception:  # noqa: BLE001 - reported by the assertion below
            errors.append(traceback.format_exc())
        finally:
            connections.close_all()

    def delete():
        try:
            assert loaded.wait(THREAD_TIMEOUT)
            for record in records[:40]:
                completion_delete(completion=record, actor=editor_a, reason="Withdrawn",
                                  channel=Channel.FORM)  # fmt: skip
        except Exception:  # noqa: BLE001
            errors.append(traceback.format_exc())
        finally:
            connections.close_all()

    workers = [threading.Thread(target=answer, name="answers"), threading.Thread(target=delete)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(THREAD_TIMEOUT)
    assert errors == []
    statuses = dict(Completion.objects.values_list("pk", "status"))
    assert [statuses[r.pk] for r in records[:40]] == ["deleted"] * 40
    assert [statuses[r.pk] for r in records[40:]] == ["rejected"] * 20
    for record in records:
        chain = list(record.events.order_by("at", "pk").values_list("from_status", "to_status"))
        for (_, before), (after, _) in zip(chain, chain[1:], strict=False):
            assert before == after, (record.pk, chain)
