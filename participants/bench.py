"""Helpers shared by the benchmark commands (bench_import, bench_api, bench_load).

Each benchmark works on a scratch database, never the configured one: the parent process
creates it, runs Django in child processes pointed at it (`--stage …`, guarded by
PARS_BENCH_SCRATCH=1), serves it with gunicorn on loopback when HTTP is measured, prints
`name: value` lines and throws the database away.
"""

import argparse
import contextlib
import datetime as dt
import http.client
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from django.core.management.base import CommandError

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
    from activities import services as activity_services
    from activities.models import Activity, Attestation, Board

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
def scratch_database(prefix: str, *, follow_database_url: bool = False):
    """Yield (workdir, database URL, vendor) for a database made for this run, then drop it.

    SQLite file in a temporary folder by default; with follow_database_url and a PostgreSQL
    DATABASE_URL, a fresh database (random name) on that server, dropped afterwards.
    """
    configured = os.environ.get("DATABASE_URL", "")
    with tempfile.TemporaryDirectory(prefix=prefix) as workdir:
        if follow_database_url and urlsplit(configured).scheme in POSTGRES_SCHEMES:
            with _postgres_scratch(configured) as url:
                yield Path(workdir), url, "postgresql"
        else:
            yield Path(workdir), f"sqlite:///{workdir}/bench.sqlite3", "sqlite"


@contextlib.contextmanager
def _postgres_scratch(configured: str):
    import psycopg
    from psycopg import sql

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
def gunicorn(env, *, workers: int, ready_path=None, log_path=None, cwd=None):
    """Serve pars_portal.wsgi on a free loopback port; yield the port; stop it cleanly."""
    port = free_port()
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    server = subprocess.Popen(  # noqa: S603 - our own app on loopback
        [sys.executable, "-m", "gunicorn", "-c", "python:pars_portal.gunicorn_conf",
         "pars_portal.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(workers), "--log-level",
         "warning", "--graceful-timeout", "10"],
        env=env, stdout=subprocess.DEVNULL, stderr=log, cwd=cwd,
    )  # fmt: skip
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
