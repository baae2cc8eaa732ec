"""Helpers shared by the benchmark commands (bench_import, bench_api, bench_dashboard,
bench_load, bench_upload).

Each benchmark works on a scratch database, never the configured one: the parent process
creates it, runs Django in child processes pointed at it (`--stage …`, guarded by
PARS_BENCH_SCRATCH=1), serves it with gunicorn on loopback when HTTP is measured, prints
`name: value` lines and throws the database away.
"""

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import lxml.html
import psycopg
from django.core.management.base import CommandError
from django.db import connection
from psycopg import sql

from activities import services as activity_services
from activities.models import Activity, Attestation, Board
from participants.parsers import RosterRow
from participants.services.roster import roster_load

SCRATCH_FLAG = "PARS_BENCH_SCRATCH"
POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql", "postgis")

XML_REPORT = (
    "<ActivityReport><ReportingOrganization>Bench provider</ReportingOrganization>"
    "<Member><Name><GivenName>First{i}</GivenName><FamilyName>Last{i}</FamilyName></Name>"
    "<PersonalInfo><BirthDate>--{month:02d}-{day:02d}</BirthDate></PersonalInfo></Member>"
    "<Activity><ProviderOrganization>{provider}</ProviderOrganization><Module>"
    '<ModuleName moduleID="{pars_id}">Bench</ModuleName><Status>Completed</Status>'
    "<CompletedDateTime>{completed}</CompletedDateTime><CreditCertificate>"
    '<UniqueID domain="ABIM">{id}</UniqueID>'
    '<CreditReceived activityCertification="MK" creditUnit="Point" numberOfCredits="10"/>'
    "</CreditCertificate></Module></Activity>"
    "<XtensibleInfo><LearnerRecordAction>add</LearnerRecordAction></XtensibleInfo>"
    "</ActivityReport>\n"
)


def argparse_hidden():
    """`help=` for the internal options (stages), which `--help` does not show."""
    return argparse.SUPPRESS


def require_scratch():
    """Internal stages write freely: refuse unless the parent pointed them at a scratch DB."""
    if os.environ.get(SCRATCH_FLAG) != "1":
        raise CommandError("Internal stages run only on the scratch database.")


def xml_report(i: int, *, pars_id: str, provider="0001234", completed="2015-12-18") -> str:
    """One <ActivityReport> for learner number i of the synthetic roster (ABIM ID i, First{i}
    Last{i}, born on month 1 + i % 12, day 1 + i % 28)."""
    return XML_REPORT.format(
        i=i, id=f"{i:06d}", month=1 + i % 12, day=1 + i % 28, pars_id=pars_id,
        provider=provider, completed=completed,
    )  # fmt: skip


def xml_body(pars_id, numbers, *, provider="0001234", completed="2015-12-18") -> bytes:
    """An XML learner report (request body) with one record per learner number."""
    reports = "".join(
        xml_report(i, pars_id=pars_id, provider=provider, completed=completed) for i in numbers
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><ACCMELearnerReports><ActivityReports>'
        f"{reports}</ActivityReports></ACCMELearnerReports>"
    ).encode()


def print_figures(stdout, figures: dict) -> None:
    for name, value in figures.items():
        stdout.write(f"{name}: {value}")


def percentile(values, q: float) -> float:
    """The q-th percentile (0–100) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


def run_stage(command, env) -> str:
    """Run a child process (our own manage.py); its stdout, or CommandError with its output."""
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode:
        raise CommandError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def registered_activity(*, provider, user, title, credit_types=("MK",)):
    """An activity of 2015 registered for ABIM MOC (10 points), as a provider would make it."""

    activity = activity_services.activity_create(
        provider=provider, actor=user, title=title, activity_type=Activity.Type.COURSE,
        start_date=dt.date(2015, 1, 1), end_date=dt.date(2015, 12, 31), reporting_year=2015,
        cme_credits=Decimal("10"),
    )  # fmt: skip
    activity_services.registration_create(
        activity=activity, actor=user, moc_points=Decimal("10"),
        credit_types=Board.objects.get(code="ABIM").credit_types.filter(code__in=credit_types),
        attested=Attestation.Statement.values,
    )  # fmt: skip
    return activity


# --- Scratch database -------------------------------------------------------------------------


@contextlib.contextmanager
def scratch_database(prefix: str, *, follow_database_url: bool = False, server_url=None):
    """Yield (workdir, database URL, vendor) for a database made for this run, then drop it.

    SQLite file in a temporary folder by default; with follow_database_url and a PostgreSQL
    DATABASE_URL (or a PostgreSQL `server_url`), a fresh database (random name) on that
    server, dropped afterwards.
    """
    configured = os.environ.get("DATABASE_URL", "")
    if server_url:
        if urlsplit(server_url).scheme not in POSTGRES_SCHEMES:
            raise CommandError("--database takes a PostgreSQL URL (postgres://…).")
        configured, follow_database_url = server_url, True
    with tempfile.TemporaryDirectory(prefix=prefix) as workdir:
        if follow_database_url and urlsplit(configured).scheme in POSTGRES_SCHEMES:
            with _postgres_scratch(configured) as url:
                yield Path(workdir), url, "postgresql"
        else:
            yield Path(workdir), f"sqlite:///{workdir}/bench.sqlite3", "sqlite"


@contextlib.contextmanager
def _postgres_scratch(configured: str):

    name = f"pars_bench_{secrets.token_hex(6)}"
    parts = urlsplit(configured)
    admin = parts._replace(scheme="postgresql", path="/postgres").geturl()
    try:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as error:
        raise CommandError(
            f"Cannot create a scratch database next to DATABASE_URL: {error}"
        ) from None
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextlib.contextmanager
def bulk_load(model):
    """Around writing millions of rows into `model`'s table: on PostgreSQL its indexes and
    foreign keys are set aside and made again afterwards (one sort per index and one join
    per key, instead of maintaining and checking each one row by row), then the table is
    analysed. Nothing on other databases."""
    if connection.vendor != "postgresql":
        yield
        return
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            [table, table],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        keys = cursor.fetchall()
        quoted = connection.ops.quote_name
        for name, _ in keys:
            cursor.execute(f"ALTER TABLE {quoted(table)} DROP CONSTRAINT {quoted(name)}")
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {quoted(name)}")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        for name, definition in keys:
            cursor.execute(
                f"ALTER TABLE {quoted(table)} ADD CONSTRAINT {quoted(name)} {definition}"
            )
        cursor.execute(f"ANALYZE {quoted(table)}")


def kept_database(keep: str) -> str:
    """The database URL of `--keep`: a SQLite file at that path, or that PostgreSQL
    database (postgres://…/name), made if it is not there yet. Never dropped."""
    parts = urlsplit(keep)
    if parts.scheme not in POSTGRES_SCHEMES:
        return f"sqlite:///{Path(keep).resolve()}"
    name = parts.path.strip("/")
    admin = parts._replace(scheme="postgresql", path="/postgres").geturl()
    try:
        with psycopg.connect(admin, autocommit=True) as connection:
            found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if not found.fetchone():
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as error:
        raise CommandError(f"Cannot reach or make the database {name!r}: {error}") from None
    return keep


def figure_links(html) -> list[tuple[str, int, str]]:
    """(figure name, number shown, href) for every figure link of a dashboard page (its
    links marked data-figure, the number in data-count or the link's text)."""
    found = []
    for a in lxml.html.fromstring(html).xpath("//a[@data-figure]"):
        shown = a.get("data-count") or re.match(r"\s*(\d+)", a.text_content()).group(1)
        found.append((a.get("data-figure"), int(shown), a.get("href")))
    return found


# --- gunicorn on loopback ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, timeout=30, server=None, path=None):
    """Wait until something listens on the port (and answers `path` below 500, if given)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            raise CommandError(f"gunicorn exited with {server.returncode} before answering")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            if path is None:
                return
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", path)
            status = connection.getresponse().status
            connection.close()
            if status < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise CommandError("gunicorn did not start")


@contextlib.contextmanager
def gunicorn(env, *, workers: int, ready_path=None, log_path=None, cwd=None, started=None):
    """Serve pars_portal.wsgi on a free loopback port; yield the port; stop it cleanly.
    `started`, a list, receives the server's process (to read its memory, say)."""
    port = free_port()
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    server = subprocess.Popen(  # noqa: S603 - our own app on loopback
        [sys.executable, "-m", "gunicorn", "-c", "python:pars_portal.gunicorn_conf",
         "pars_portal.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(workers), "--log-level",
         "warning", "--graceful-timeout", "10"],
        env=env, stdout=subprocess.DEVNULL, stderr=log, cwd=cwd,
    )  # fmt: skip
    if started is not None:
        started.append(server)
    try:
        wait_for(port, server=server, path=ready_path)
        yield port
    finally:
        server.terminate()  # SIGTERM: gunicorn finishes the requests in flight and exits
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if log_path:
            log.close()


# --- A browser (or an LMS) on loopback ---------------------------------------------------------

CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
UPLOAD_STATUS = re.compile(rb'id="upload-status" data-status="(\w+)"')
UPLOAD_WATCH = re.compile(rb'data-upload-watch="([^"]+)" data-status="\w+" data-interval="(\d+)"')


class LoopbackClient:
    """One HTTP client as a browser or an LMS would be: its own connection and cookies. It
    says X-Forwarded-Proto: https, as the TLS proxy in front of production does. The portal
    methods (log in, upload, wait for an upload, confirm it) post the forms as a browser
    does, CSRF token, Origin and Referer included."""

    def __init__(self, port, *, timeout=60):
        self.port = port
        self.origin = f"https://127.0.0.1:{port}"
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        sent = {"X-Forwarded-Proto": "https", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if isinstance(body, str):
            body = body.encode()
        try:
            self.connection.request(method, path, body=body, headers=sent)
            response = self.connection.getresponse()
            payload = response.read()
        except Exception:
            self.connection.close()
            raise
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response.status, response.headers, payload

    def _token(self, path) -> str:
        status, _, page = self.request("GET", path)
        match = CSRF_INPUT.search(page)
        if status != 200 or not match:
            raise CommandError(f"GET {path}: {status}, no form")
        return match.group(1).decode()

    def post_form(self, path, fields: dict, *, form_page=None):
        """POST a form with the CSRF token of the page it is on (`form_page`, else `path`)."""
        form_page = form_page or path
        body = urlencode({**fields, "csrfmiddlewaretoken": self._token(form_page)})
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": self.origin,
                   "Referer": f"{self.origin}{form_page}"}  # fmt: skip
        return self.request("POST", path, body, headers)

    def login(self, username, password) -> bytes:
        """Log in through the login form; the home page it leads to."""
        status, headers, _ = self.post_form(
            "/accounts/login/", {"username": username, "password": password, "next": "/"}
        )
        if status != 302 or headers["Location"] != "/" or "sessionid" not in self.cookies:
            raise CommandError(f"{username}: login failed ({status})")
        return self.request("GET", "/")[2]

    def upload(self, name, content: bytes, content_type="text/csv") -> int:
        """Upload a file through the upload form; the new upload's id."""
        token = self._token("/uploads/new/")
        boundary = f"----pars{secrets.token_hex(8)}"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"'
                f"\r\n\r\n{token}\r\n--{boundary}\r\nContent-Disposition: form-data; "
                f'name="file"; filename="{name}"\r\nContent-Type: {content_type}\r\n\r\n'
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}",
                   "Origin": self.origin, "Referer": f"{self.origin}/uploads/new/"}  # fmt: skip
        status, response_headers, payload = self.request("POST", "/uploads/new/", body, headers)
        if status != 302:
            raise CommandError(f"upload refused: {status} {payload[:300]!r}")
        return int(response_headers["Location"].strip("/").rsplit("/", 1)[-1])

    def wait_for_upload(self, upload_id, wanted, timeout, *, poll: float | None = 1.0) -> int:
        """Reload the upload's page until it shows `wanted` (a status); how many times it
        was loaded. poll=None behaves as a browser showing the page does: its script
        watches the upload's state at the page's interval and reloads the page when the
        state changes."""
        deadline = time.monotonic() + timeout
        loads = 0
        while time.monotonic() < deadline:
            _, _, page = self.request("GET", f"/uploads/{upload_id}/")
            loads += 1
            shown = UPLOAD_STATUS.search(page)
            shown = shown.group(1).decode() if shown else ""
            if shown == wanted:
                return loads
            if shown in ("refused", "failed", "nothing", "discarded"):
                raise CommandError(f"upload {upload_id} ended {shown}")
            watch = UPLOAD_WATCH.search(page)
            if poll is not None:
                time.sleep(poll)
            elif watch:
                self._watch(watch.group(1).decode(), shown, int(watch.group(2)) / 1000, deadline)
            else:  # nothing to watch: a person would reload it after a while
                time.sleep(2)
        raise CommandError(f"upload {upload_id} not {wanted} within {timeout} s")

    def _watch(self, url, status, interval, deadline):
        """What the upload page's script (static/js/portal.js) does: ask for the state
        until it changes, at first every `interval` seconds, 5% less often at each answer,
        at most once a second."""
        while time.monotonic() < deadline:
            time.sleep(interval)
            code, _, answer = self.request("GET", url, headers={"Accept": "application/json"})
            if code != 200 or json.loads(answer)["status"] != status:
                return
            interval = min(1.0, interval * 1.05)

    def confirm_upload(self, upload_id):
        status, _, _ = self.post_form(
            f"/uploads/{upload_id}/confirm/", {}, form_page=f"/uploads/{upload_id}/"
        )
        if status != 302:
            raise CommandError(f"upload {upload_id} could not be confirmed: {status}")


def _process_tree(root_pid: int) -> list[int]:
    """A process and its descendants (Linux /proc; empty where /proc is not there)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [root_pid]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def peak_rss_mb(root_pid: int) -> float:
    """The largest peak resident memory (VmHWM) among a process and its descendants, in MB."""
    peak = 0
    for pid in _process_tree(root_pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
    return peak / 1024


def cpu_seconds(root_pid: int) -> float:
    """CPU time (user + system) a process and its living descendants have used so far: what
    the work cost, whatever else the machine was doing meanwhile."""
    ticks = 0
    for pid in _process_tree(root_pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_until_idle(roots: int | list[int], processes: int, *, timeout: float = 120.0) -> float:
    """Wait until process trees (`roots`: their first processes) have `processes`
    processes in all and have been idle for a second: a web server and task workers that
    have started (the workers polling their queues), as they are long before a user
    uploads anything. Starting is CPU-bound: while any of them is still starting (a
    gunicorn worker importing Django, say), the trees use a whole core or more; polling
    every 0.1 s costs each task worker under 1% of one (about 5% before the workers polled
    with a plain read), so under 60% of a core in each of two half-seconds is idle.
    Returns the seconds waited; an error if they are still busy after `timeout`."""
    roots = [roots] if isinstance(roots, int) else roots

    def cpu():
        return sum(cpu_seconds(root) for root in roots)

    began = time.monotonic()
    last, quiet = cpu(), 0
    while time.monotonic() - began < timeout:
        time.sleep(0.5)
        now = cpu()
        quiet = quiet + 1 if now - last < 0.3 else 0
        last = now
        if quiet >= 2 and sum(len(_process_tree(root)) for root in roots) >= processes:
            return time.monotonic() - began
    raise CommandError(f"the portal's processes were still starting after {timeout:.0f} s")


def load_synthetic_roster(count: int) -> None:
    """The board roster the synthetic files' learners are on: IDs 000000 upwards, names
    FirstN LastN, birth month and day from N."""
    roster_load(rows=(
        RosterRow(learner_id=f"{i:06d}", first_name=f"First{i}", last_name=f"Last{i}",
                  birth_month=1 + i % 12, birth_day=1 + i % 28)
        for i in range(count)
    ))  # fmt: skip


def production_environment(workdir, database_url, base_dir, settings_module, extra=None):
    """The environment of a benchmark's server, workers and steps: the production profile
    (written as `settings_module` in `workdir`, static files collected there, plus this app
    for the --stage steps) on the scratch database, with `extra` settings."""
    (workdir / f"{settings_module}.py").write_text(
        "# Written by a benchmark: the production profile, static files collected here.\n"
        "from pars_portal.settings_production import *  # noqa: F403\n\n"
        "# Its --stage steps need its app, which production leaves out.\n"
        'INSTALLED_APPS = [*INSTALLED_APPS, "pars_portal.benchmarks"]  # noqa: F405\n'
        f"STATIC_ROOT = {str(workdir / 'static')!r}\n"
    )
    paths = (str(workdir), str(base_dir), os.environ.get("PYTHONPATH"))
    return {
        **os.environ,
        SCRATCH_FLAG: "1",
        "DJANGO_SETTINGS_MODULE": settings_module,
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "MEDIA_ROOT": str(workdir / "media"),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        **(extra or {}),
    }
