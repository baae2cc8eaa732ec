"""What a provider waits for when uploading a file:
`manage.py bench_upload --rows N --format {tsv,csv,xml,xlsx} [--database URL]`.

Builds a scratch database (a temporary SQLite file; with `--database`, a fresh database on
that PostgreSQL server, dropped afterwards), serves it with gunicorn under the production
settings profile and runs the task workers as `make run` does (`manage.py run_workers`).
Once the workers have started (idle, polling their queues, as they are long before anyone
uploads), as an editor in a browser would, over HTTP on loopback: log in, upload a synthetic
file of N rows (every row a roster match), reload the upload's page as it asks until the
preview shows, confirm, reload until the result shows.

Prints `name: value` lines: rows, upload_to_preview_s (from the upload's POST to the page
showing the preview), confirm_to_result_s, total_s, rows_per_s (rows / total_s), the peak
memory of the task workers and of the web server (the largest process of each), the CPU
seconds each used meanwhile (worker_cpu_s, web_cpu_s: the work's cost whatever else the
machine was doing; wall times are only comparable on a quiet machine), and the floor:
baseline_rows_per_s, the same rows written into the completions table in the same run by
the pipeline's own writer (multi-row INSERTs on SQLite, COPY on PostgreSQL — faster than
a plain INSERT, so the ratio there is the stricter one; no parsing, checks, verification or
history), with ratio = rows_per_s / baseline_rows_per_s. Then (unless --no-again) the same
file is uploaded again and the same rows in another file (last row first):
again_same_file_s and again_same_rows_s, from the POST to the preview, which must say there
is nothing to save (and, for the same file, that it was uploaded before). `bench_import`
measures the pipeline alone.
"""

import argparse
import datetime as dt
import io
import json
import os
import secrets
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from openpyxl import Workbook

from activities.models import Activity, Board, CreditType, Provider, ProviderMembership
from pars_portal.benchmarks.harness import (
    LoopbackClient,
    argparse_hidden,
    cpu_seconds,
    gunicorn,
    load_synthetic_roster,
    peak_rss_mb,
    print_figures,
    production_environment,
    registered_activity,
    require_scratch,
    run_stage,
    scratch_database,
    wait_until_idle,
    xml_body,
)
from pars_portal.lib.db import insert_returning_ids
from participants.models import Completion, mint_credit_id, name_key
from participants.parsers import TEMPLATE_HEADERS

FORMATS = {  # file name, content type
    "tsv": ("participants.txt", "text/plain"),
    "csv": ("participants.csv", "text/csv"),
    "xml": ("learner-report.xml", "application/xml"),
    "xlsx": (
        "participants.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
}
BYTES_PER_ROW = {"tsv": 80, "csv": 80, "xlsx": 80, "xml": 800}  # at most, about
SETTINGS_MODULE = "pars_bench_upload_settings"
PROVIDER = "0001234"
USERNAME = "bench-editor"
MAX_ROSTER = 200_000  # learners; beyond, a learner completes again on another day
FIRST_DAY = dt.date(2015, 1, 1)
BASELINE_CHUNK = 10_000


def row_values(n: int, roster: int) -> tuple:
    """Row n of the synthetic file: learner n % roster of the roster, on a day that keeps
    every (learner, day) distinct."""
    i = n % roster
    day = FIRST_DAY + dt.timedelta(days=(n // roster) % 365)
    return i, f"{i:06d}", f"First{i}", f"Last{i}", 1 + i % 12, 1 + i % 28, day


def synthetic_file(file_format: str, rows: int, roster: int, pars_id: str, *,
                   backwards: bool = False) -> bytes:  # fmt: skip
    """The file of `rows` rows; `backwards`: the same rows, last first (another file)."""
    numbers = range(rows - 1, -1, -1) if backwards else range(rows)
    if file_format == "xml":
        # Learner n's report; the XML writer takes one completion date, so days vary by
        # learner number only within the roster.
        if rows > roster:
            raise CommandError("XML files here hold at most one record per roster learner.")
        return xml_body(pars_id, numbers, provider=PROVIDER)
    records = []
    for n in numbers:
        _, learner, first, last, month, day, completed = row_values(n, roster)
        records.append(["add", pars_id, "ABIM", learner, first, last, str(month), str(day),
                        completed.strftime("%m/%d/%Y"), "MK", "10", "", "Y", ""])  # fmt: skip
    if file_format == "xlsx":
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("Participants")
        sheet.append(TEMPLATE_HEADERS)
        for record in records:
            sheet.append(record)
        out = io.BytesIO()
        workbook.save(out)
        return out.getvalue()
    delimiter = "\t" if file_format == "tsv" else ","
    lines = [delimiter.join(TEMPLATE_HEADERS)] + [delimiter.join(r) for r in records]
    return ("\r\n".join(lines) + "\r\n").encode()


class Command(BaseCommand):
    help = (
        "Upload benchmark as a user waits for it: HTTP upload, preview, confirm and result "
        "through gunicorn and the task workers on a scratch database; prints the figures."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=100_000)
        parser.add_argument("--format", choices=sorted(FORMATS), default="tsv")
        parser.add_argument(
            "--database", metavar="URL",
            help="a PostgreSQL server (postgres://user@host:port/any): the benchmark makes "
            "a fresh database there and drops it afterwards; default: a SQLite file",
        )  # fmt: skip
        parser.add_argument(
            "--again", action=argparse.BooleanOptionalAction, default=True,
            help="then upload the same file again, and the same rows in another file "
            "(last first): seconds to each preview, which must create nothing",
        )  # fmt: skip
        parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers")
        parser.add_argument("--upload-workers", type=int, default=2, help="upload workers")
        parser.add_argument("--stage", choices=["setup", "baseline"], help=argparse_hidden())
        parser.add_argument("--workdir", help=argparse_hidden())

    def handle(self, *args, stage, workdir, **options):
        if options["rows"] < 1:
            raise CommandError("--rows must be positive.")
        if stage is None:
            return self._orchestrate(options)
        require_scratch()
        if stage == "setup":
            return self._setup(Path(workdir), options)
        return self._baseline(Path(workdir), options)

    # -- parent: scratch database, server, workers, the user's wait --

    def _orchestrate(self, options):
        base_dir = Path(settings.BASE_DIR)
        rows, file_format = options["rows"], options["format"]
        with scratch_database("pars-bench-upload-", server_url=options["database"]) as scratch:
            workdir, database_url, vendor = scratch
            # A million rows is a bigger file than the portal takes by default: the limit
            # is raised for the run, as an operator would for such files.
            limit = max(settings.UPLOAD_MAX_MB, rows * BYTES_PER_ROW[file_format] // 2**20 + 1)
            env = production_environment(workdir, database_url, base_dir, SETTINGS_MODULE,
                                         extra={"UPLOAD_MAX_MB": str(limit)})  # fmt: skip
            manage = [sys.executable, str(base_dir / "manage.py"), "bench_upload",
                      "--rows", str(rows), "--format", file_format,
                      "--workdir", str(workdir)]  # fmt: skip
            run_stage([*manage, "--stage", "setup"], env)
            config = json.loads((workdir / "config.json").read_text())
            content = synthetic_file(file_format, rows, config["roster"], config["pars_id"])
            name, content_type = FORMATS[file_format]
            servers = []
            with gunicorn(env, workers=options["web_workers"], ready_path="/accounts/login/",
                          log_path=workdir / "gunicorn.log", cwd=base_dir,
                          started=servers) as port:  # fmt: skip
                workers = subprocess.Popen(  # noqa: S603 - this interpreter and manage.py
                    [sys.executable, str(base_dir / "manage.py"), "run_workers",
                     "--upload-workers", str(options["upload_workers"])],
                    env=env, cwd=base_dir, stdout=subprocess.DEVNULL,
                    stderr=open(workdir / "workers.log", "wb"),  # noqa: SIM115
                )  # fmt: skip
                try:
                    browser = LoopbackClient(port, timeout=3600)
                    browser.login(USERNAME, config["password"])
                    # A user uploads to a portal that is up: the clock starts once the
                    # web server's and the task workers' processes have started (a second
                    # or more of CPU each on a busy machine, which the first upload would
                    # otherwise wait for).
                    wait_until_idle(
                        [workers.pid, servers[0].pid],
                        processes=2 + options["upload_workers"] + 1 + options["web_workers"],
                    )
                    worker_cpu_before = cpu_seconds(workers.pid)
                    web_cpu_before = cpu_seconds(servers[0].pid)
                    started = time.perf_counter()
                    upload_id = browser.upload(name, content, content_type)
                    browser.wait_for_upload(upload_id, "preview", 3600, poll=None)
                    previewed = time.perf_counter()
                    browser.confirm_upload(upload_id)
                    browser.wait_for_upload(upload_id, "done", 3600, poll=None)
                    done = time.perf_counter()
                    worker_cpu = cpu_seconds(workers.pid) - worker_cpu_before
                    web_cpu = cpu_seconds(servers[0].pid) - web_cpu_before
                    again = {}
                    if options["again"]:
                        again = self._again(browser, rows, file_format, config, content)
                    worker_rss = peak_rss_mb(workers.pid)
                    web_rss = peak_rss_mb(servers[0].pid)
                finally:
                    workers.terminate()
                    try:
                        workers.wait(60)
                    except subprocess.TimeoutExpired:
                        workers.kill()
            baseline = json.loads(run_stage([*manage, "--stage", "baseline"], env))

        total = done - started
        rows_per_s = rows / total
        if baseline["created"] != rows:
            raise CommandError(
                f"The upload created {baseline['created']} records of {rows}: not a clean run."
            )
        print_figures(self.stdout, {
            "database": vendor,
            "format": file_format,
            "rows": rows,
            "file_mb": f"{len(content) / 1024 / 1024:.1f}",
            "upload_to_preview_s": f"{previewed - started:.2f}",
            "confirm_to_result_s": f"{done - previewed:.2f}",
            "total_s": f"{total:.2f}",
            "rows_per_s": f"{rows_per_s:.1f}",
            "worker_peak_rss_mb": f"{worker_rss:.0f}",
            "web_peak_rss_mb": f"{web_rss:.0f}",
            "worker_cpu_s": f"{worker_cpu:.2f}",
            "web_cpu_s": f"{web_cpu:.2f}",
            **again,
            "baseline_rows_per_s": f"{baseline['rows_per_s']:.0f}",
            "ratio": f"{rows_per_s / baseline['rows_per_s']:.3g}",
            "load_average_1min": f"{os.getloadavg()[0]:.2f}",
        })  # fmt: skip

    def _again(self, browser, rows, file_format, config, content) -> dict:
        """The same file uploaded again, then the same rows in another file: each must end
        at its preview with nothing to save (the baseline stage then finds no record more
        than the first upload made); the seconds from the POST to that preview."""
        name, content_type = FORMATS[file_format]
        other = synthetic_file(file_format, rows, config["roster"], config["pars_id"],
                               backwards=True)  # fmt: skip
        figures = {}
        for label, body in (("again_same_file_s", content), ("again_same_rows_s", other)):
            started = time.perf_counter()
            upload_id = browser.upload(name, body, content_type)
            browser.wait_for_upload(upload_id, "nothing", 3600, poll=None)
            figures[label] = f"{time.perf_counter() - started:.2f}"
            page = browser.request("GET", f"/uploads/{upload_id}/")[2]
            told = b'id="same-file"' in page
            if told != (body is content):
                raise CommandError(f"upload {upload_id}: the page says the file was "
                                   f"{'' if told else 'not '}uploaded before.")  # fmt: skip
        return figures

    # -- child 1: the provider, its editor, a registered activity, the roster --

    def _setup(self, workdir, options):

        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        provider = Provider.objects.create(accme_id=PROVIDER, name="Bench provider")
        password = secrets.token_urlsafe(16)
        editor = User.objects.create_user(USERNAME, f"{USERNAME}@example.org", password)
        ProviderMembership.objects.create(user=editor, provider=provider, role="editor")
        activity = registered_activity(provider=provider, user=editor, title="Bench upload")
        registered_activity(provider=provider, user=editor, title="Bench baseline")
        roster = min(options["rows"], MAX_ROSTER)
        load_synthetic_roster(roster)
        (workdir / "config.json").write_text(
            json.dumps({"password": password, "pars_id": activity.pars_id, "roster": roster})
        )

    # -- child 2: what the upload saved, and the floor --

    def _baseline(self, workdir, options):
        """The same rows written into the completions table by the pipeline's own writer
        (`pars_portal.lib.db.insert_returning_ids`: INSERTs on SQLite, COPY on PostgreSQL),
        without parsing, checks, verification or history: the floor the upload is compared
        with."""

        config = json.loads((workdir / "config.json").read_text())
        created = Completion.objects.filter(upload__isnull=False).count()
        activity = Activity.objects.get(title="Bench baseline")
        board = Board.objects.get(code="ABIM")
        credit_type = CreditType.objects.get(board=board, code="MK")
        editor_id = activity.events.values_list("actor", flat=True).first()
        now = timezone.now()
        seconds = 0.0
        for start in range(0, options["rows"], BASELINE_CHUNK):
            values = []
            for n in range(start, min(start + BASELINE_CHUNK, options["rows"])):
                _, learner, first, last, month, day, completed = row_values(n, config["roster"])
                values.append({
                    "provider_id": activity.provider_id, "activity_id": activity.pk,
                    "board_id": board.pk, "learner_id": learner, "first_name": first,
                    "last_name": last, "first_name_key": name_key(first),
                    "last_name_key": name_key(last), "birth_month": month, "birth_day": day,
                    "completion_date": completed, "credit_type_id": credit_type.pk,
                    "moc_points": Decimal("10"), "cme_credits": None, "learner_permission": True,
                    "credit_id": mint_credit_id(), "channel": "upload",
                    "created_by_id": editor_id, "status": "accepted", "status_reason": "",
                    "status_changed_at": now, "created_at": now, "warning": "",
                    "is_sandbox": False,
                })  # fmt: skip
            began = time.perf_counter()
            with transaction.atomic():
                insert_returning_ids(Completion, values, returning=False)
            seconds += time.perf_counter() - began
        self.stdout.write(json.dumps(
            {"created": created, "rows_per_s": options["rows"] / max(seconds, 1e-9)}
        ))  # fmt: skip
