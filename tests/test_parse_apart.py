"""A large upload's file is read in a forked process while the worker checks the rows
(`participants.parsers.background`): what the check sees must be exactly what reading the
file in the worker gives — every row, value, row error and source, the header, and the same
refusal at the same place — and the reading process must end with the check, however it
ends. (The upload scenarios of test_uploads.py and test_upload_plans.py run through both
readers as well: the `either_reader` fixture.)"""

import datetime as dt
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from pars_portal.lib.files import FileRefused
from participants.models import Completion, Upload
from participants.parsers import background
from participants.parsers.background import ParseFailed, parse_file_apart
from participants.parsers.detect import parse_file

from .builders import JANE, OMAR, activity_report, cells, delimited, learner_report, tsv, xlsx

ID_LENGTHS = {"ABIM": 6}
PROVIDER = "0001234"


class Activity:
    pars_id = "100000001"
    title = "Hypertension Update"


def varied_rows() -> list[list]:
    """Rows that exercise every field: decimals, CME credits, a credit ID, a delete, row
    errors of several kinds, a name with accents, and a padded board ID."""
    a = Activity()
    return [
        cells(a),
        cells(a, OMAR, moc_points="7.25", cme_credits="1.5", credit_id="ccid:lms:77"),
        cells(a, action="delete", credit_id="ccid:lms:12"),
        cells(a, completion_date="31/31/2015"),  # a row error
        cells(a, {**JANE, "first_name": "Zoë", "learner_id": "23456"}),  # padded to 023456
        cells(a, moc_points="ten", learner_permission="maybe"),  # two errors
        cells(a, credit_type="Medical Knowledge", completion_date="2016-01-02"),
    ] * 3  # more rows than a (small) chunk


FILES = {
    "tsv": lambda: tsv(varied_rows(), bom=True),
    "csv": lambda: delimited(varied_rows()),
    "xlsx": lambda: xlsx(varied_rows()),
    "xml": lambda: learner_report(
        *[
            activity_report(Activity(), credits=(("MK", "10"), ("PS", "2.5"))),
            activity_report(Activity(), OMAR, completed="not a date"),
            activity_report(Activity(), birth="07-14"),
        ]
        * 3
    ),
}


def read_both(path, file_format):
    in_process, apart = {}, {}
    rows = list(parse_file(path, file_format, provider_id=PROVIDER, id_lengths=ID_LENGTHS,
                           meta=in_process))  # fmt: skip
    other = list(parse_file_apart(path, file_format, provider_id=PROVIDER,
                                  id_lengths=ID_LENGTHS, meta=apart))  # fmt: skip
    return rows, other, in_process, apart


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(background, "CHUNK_ROWS", 4)


@pytest.mark.parametrize("file_format", list(FILES))
def test_rows_read_apart_are_the_rows_read_in_process(tmp_path, small_chunks, file_format):
    path = tmp_path / f"participants.{file_format}"
    path.write_bytes(FILES[file_format]())
    rows, other, meta, other_meta = read_both(path, file_format)
    assert len(rows) > background.CHUNK_ROWS * 2
    assert other == rows  # every field: values, errors, source, row numbers, in order
    assert other_meta == meta
    assert any(r.errors for r in rows) and any(not r.errors for r in rows)
    # The values keep their types (the check compares dates, decimals and text).
    for mine, theirs in zip(rows, other, strict=True):
        assert [type(getattr(theirs, f)) for f in background._FIELDS] == [
            type(getattr(mine, f)) if f != "action" else str for f in background._FIELDS
        ]
    assert {type(r.completion_date) for r in other} <= {dt.date, type(None)}


def test_a_file_refused_halfway_gives_the_same_rows_then_the_same_refusal(tmp_path, small_chunks):
    reports = [activity_report(Activity(), JANE if i % 2 else OMAR) for i in range(12)]
    whole = learner_report(*reports)
    path = tmp_path / "report.xml"
    path.write_bytes(whole[: len(whole) * 3 // 4])  # cut off: not well-formed
    outcomes = []
    for read in (parse_file, parse_file_apart):
        rows = []
        with pytest.raises(FileRefused) as refused:
            for row in read(path, "xml", provider_id=PROVIDER, id_lengths=ID_LENGTHS, meta={}):
                rows.append(row)
        outcomes.append((rows, str(refused.value)))
    assert outcomes[1] == outcomes[0]
    assert len(outcomes[0][0]) > background.CHUNK_ROWS  # refused after rows were read
    assert "not well-formed" in outcomes[0][1]


def test_a_file_refused_at_once_is_refused_the_same(tmp_path):
    path = tmp_path / "participants.txt"
    path.write_bytes(delimited([cells(Activity())]))  # commas in a tab-delimited file
    messages = []
    for read in (parse_file, parse_file_apart):
        with pytest.raises(FileRefused) as refused:
            list(read(path, "tsv", provider_id=PROVIDER, id_lengths=ID_LENGTHS, meta={}))
        messages.append(str(refused.value))
    assert messages[1] == messages[0] and "not tab-delimited" in messages[0]


def test_the_reading_process_ends_when_the_check_stops_early(tmp_path, small_chunks):
    path = tmp_path / "participants.txt"
    path.write_bytes(tsv(varied_rows() * 50))
    rows = parse_file_apart(path, "tsv", provider_id=PROVIDER, id_lengths=ID_LENGTHS, meta={})
    next(rows)
    (reader,) = multiprocessing.active_children()
    rows.close()  # the check stopped (an error, or all-or-nothing refused the batch)
    assert not reader.is_alive()
    assert multiprocessing.active_children() == []


def test_a_reading_process_that_dies_is_an_error_not_a_short_file(tmp_path, small_chunks):
    path = tmp_path / "participants.txt"
    path.write_bytes(tsv(varied_rows() * 50))
    rows = parse_file_apart(path, "tsv", provider_id=PROVIDER, id_lengths=ID_LENGTHS, meta={})
    next(rows)
    (reader,) = multiprocessing.active_children()
    os.kill(reader.pid, signal.SIGKILL)  # the out-of-memory killer, say
    with pytest.raises(ParseFailed) as failed:
        list(rows)
    assert failed.value.kind == "ParseStopped"


@pytest.mark.django_db
def test_an_upload_whose_reader_dies_is_refused_with_a_reason_and_saves_nothing(
    client_of, editor_a, activity_a, roster, media_root, monkeypatch
):
    def dies(*args):
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(background, "APART_MIN_BYTES", 0)
    monkeypatch.setattr(background, "_produce", dies)
    client = client_of(editor_a)
    response = client.post(
        reverse("upload_create"),
        {"file": SimpleUploadedFile("p.txt", tsv([cells(activity_a), cells(activity_a, OMAR)]))},
    )
    assert response.status_code == 302
    upload = Upload.objects.get()
    assert upload.status == Upload.Status.REFUSED
    assert "could not be checked (ParseStopped)" in upload.message
    assert not Completion.objects.exists() and not upload.plans.exists()
    page = client.get(reverse("upload_detail", args=[upload.pk]))
    assert page.status_code == 200 and b"ParseStopped" in page.content


WORKER_KILLED = """
import multiprocessing, os, signal, sys
import django
django.setup()
from participants.parsers.background import parse_file_apart
rows = parse_file_apart(sys.argv[1], "tsv", provider_id="0001234", id_lengths={"ABIM": 6},
                        meta={})
next(rows)
(reader,) = multiprocessing.active_children()
print(reader.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _ended(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # ended, not yet reaped by whoever adopted it


def test_the_reading_process_ends_when_its_worker_is_killed(tmp_path, small_chunks):
    path = tmp_path / "participants.txt"
    path.write_bytes(tsv(varied_rows() * 2000))  # far more than the pipe holds
    worker = subprocess.Popen(  # noqa: S603 - this interpreter, our own script
        [sys.executable, "-c", WORKER_KILLED, str(path)], stdout=subprocess.PIPE,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "pars_portal.settings_test"},
    )  # fmt: skip
    reader = int(worker.stdout.readline())
    worker.stdout.close()  # (the reader holds a copy of it: do not wait for its end)
    assert worker.wait(60) == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while not _ended(reader) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not _ended(reader):
        os.kill(reader, signal.SIGKILL)
        pytest.fail("the file's reader outlived its worker")
