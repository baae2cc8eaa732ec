"""Benchmark of the upload path: `manage.py bench_import --rows N --format tsv|csv|xml`.

Builds, in a scratch SQLite database (never the configured one), a provider, a registered
activity and a roster of N diplomates, writes a synthetic file of N rows, then in a fresh
process runs the real pipeline end to end (parse → validate → verify → write → events),
re-imports the same file, and times a plain bulk_create of the same rows as the baseline.
Prints one `name: value` per line.
"""

import os
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from activities.models import Activity, Channel, Provider
from pars_portal.benchmarks.harness import (
    SCRATCH_FLAG,
    argparse_hidden,
    load_synthetic_roster,
    print_figures,
    registered_activity,
    require_scratch,
    xml_report,
)
from participants.intake import intake_batches
from participants.models import Completion
from participants.parsers import TEMPLATE_HEADERS, parse_file
from participants.rows import Result

STAGES = ("setup", "measure")


class Command(BaseCommand):
    help = "Benchmark the batch upload pipeline on a scratch SQLite database."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=100_000)
        parser.add_argument("--format", choices=["tsv", "csv", "xml"], default="tsv")
        parser.add_argument("--stage", choices=STAGES, help=argparse_hidden())
        parser.add_argument("--workdir", help=argparse_hidden())

    def handle(self, *args, rows, format, stage, workdir, **options):
        if stage is None:
            return self._orchestrate(rows, format)
        require_scratch()
        if stage == "setup":
            self._setup(rows, format, Path(workdir))
        else:
            self._measure(rows, format, Path(workdir))

    # -- parent: a scratch database and two child processes --

    def _orchestrate(self, rows, file_format):
        with tempfile.TemporaryDirectory(prefix="pars-bench-") as workdir:
            env = dict(os.environ)
            env["DATABASE_URL"] = f"sqlite:///{workdir}/bench.sqlite3"
            env[SCRATCH_FLAG] = "1"
            env["DJANGO_SETTINGS_MODULE"] = "pars_portal.settings"
            env.setdefault("LOG_LEVEL", "WARNING")
            base = [sys.executable, "manage.py", "bench_import", "--rows", str(rows),
                    "--format", file_format, "--workdir", workdir]  # fmt: skip
            for stage in STAGES:
                result = subprocess.run(  # noqa: S603 - our own manage.py
                    [*base, "--stage", stage], env=env, capture_output=True, text=True,
                    check=False,
                )  # fmt: skip
                if result.returncode:
                    raise CommandError(f"{stage} failed:\n{result.stdout}\n{result.stderr}")
                if stage == "measure":
                    self.stdout.write(result.stdout.strip())

    # -- child 1: data and file --

    def _setup(self, rows, file_format, workdir):

        call_command("migrate", verbosity=0)
        user = User.objects.create_user("bench", password=None)
        provider = Provider.objects.create(accme_id="0001234", name="Bench provider")
        for title in ("Bench activity", "Baseline activity"):
            registered_activity(provider=provider, user=user, title=title)
        load_synthetic_roster(rows)
        write_file(workdir / f"bench.{file_format}", file_format, rows, "100000001")

    # -- child 2: the measurement, in a fresh process --

    def _measure(self, rows, file_format, workdir):

        provider = Provider.objects.get()
        user = User.objects.get(username="bench")
        path = workdir / f"bench.{file_format}"

        def run(commit=True):
            totals = dict.fromkeys(Result, 0)
            rows_in = parse_file(path, file_format, provider_id=provider.accme_id,
                                 id_lengths={"ABIM": 6}, meta={})  # fmt: skip
            for outcomes in intake_batches(provider=provider, rows=rows_in, actor=user,
                                           channel=Channel.UPLOAD, commit=commit):  # fmt: skip
                for outcome in outcomes:
                    totals[outcome.result] += 1
            return totals

        started = time.perf_counter()
        check = run(commit=False)
        check_seconds = time.perf_counter() - started

        started = time.perf_counter()
        first = run()
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        started = time.perf_counter()
        again = run()
        reimport_seconds = time.perf_counter() - started

        # Baseline: the same rows written with a plain bulk_create (no parsing, checks,
        # verification or events) into the second activity.
        activity = Activity.objects.get(title="Baseline activity")
        template = Completion.objects.filter(activity__title="Bench activity").first()
        started = time.perf_counter()
        batch = []
        for i in range(rows):
            batch.append(Completion(
                provider=provider, activity=activity, board_id=template.board_id,
                learner_id=f"{i:06d}", first_name=f"First{i}", last_name=f"Last{i}",
                birth_month=1 + i % 12, birth_day=1 + i % 28,
                completion_date=template.completion_date, credit_type_id=template.credit_type_id,
                moc_points=Decimal("10"), learner_permission=True, channel=Channel.UPLOAD,
                status=Completion.Status.ACCEPTED,
            ))  # fmt: skip
            if len(batch) == 10_000:
                Completion.objects.bulk_create(batch)
                batch = []
        Completion.objects.bulk_create(batch)
        baseline_seconds = time.perf_counter() - started

        if first[Result.CREATED] != rows or check[Result.CREATED] != rows:
            raise CommandError(f"expected {rows} created, got check={check} commit={first}")
        rate = rows / seconds
        baseline = rows / baseline_seconds
        figures = {
            "format": file_format,
            "rows": rows,
            "seconds": f"{seconds:.2f}",
            "rows_per_s": f"{rate:.0f}",
            "check_seconds": f"{check_seconds:.2f}",
            "peak_rss_mb": f"{peak_mb:.0f}",
            "reimport_seconds": f"{reimport_seconds:.2f}",
            "reimport_created": again[Result.CREATED],
            "reimport_already_reported": again[Result.ALREADY_REPORTED],
            "baseline_rows_per_s": f"{baseline:.0f}",
            "ratio": f"{rate / baseline:.2f}",
        }
        print_figures(self.stdout, figures)


def write_file(path: Path, file_format: str, rows: int, pars_id: str) -> None:
    """A synthetic upload of `rows` roster-matching records, written as it streams."""

    with open(path, "w", encoding="utf-8", newline="") as out:
        if file_format == "xml":
            ns = "http://ns.medbiq.org/activityreport/v1/"
            out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<ACCMELearnerReports xmlns="{ns}">')
            out.write("<ActivityReports><DateTimeCreated>2015-12-20</DateTimeCreated>\n")
            for i in range(rows):
                out.write(xml_report(i, pars_id=pars_id))
            out.write("</ActivityReports></ACCMELearnerReports>\n")
            return
        sep = "\t" if file_format == "tsv" else ","
        out.write(sep.join(TEMPLATE_HEADERS[:13]) + "\r\n")
        for i in range(rows):
            out.write(sep.join(["add", pars_id, "ABIM", f"{i:06d}", f"First{i}", f"Last{i}",
                                str(1 + i % 12), str(1 + i % 28), "12/18/2015", "MK", "10", "",
                                "Y"]) + "\r\n")  # fmt: skip
