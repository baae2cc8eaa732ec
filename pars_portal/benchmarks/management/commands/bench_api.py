"""Benchmark of the web services: `manage.py bench_api`.

Sets up a scratch SQLite database (never the configured one) with a provider, an API key, a
registered activity and a roster; starts the app under gunicorn on loopback; then, with a
real HTTP client, measures single-record submissions (p50/p95 over 500 requests) and
records/s for 1,000-record XML learner reports. Baselines from the same run: an
authenticated GET (the cost of HTTP + auth alone) and the same XML reports through the
pipeline in-process (the cost without HTTP). Prints `name: value` lines.
"""

import http.client
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from activities.models import Activity, Channel, Provider, ProviderMembership
from pars_portal.benchmarks.harness import (
    SCRATCH_FLAG,
    argparse_hidden,
    gunicorn,
    load_synthetic_roster,
    print_figures,
    registered_activity,
    require_scratch,
    run_stage,
    xml_body,
)
from participants.apikeys import ApiKey, api_key_create
from participants.intake import intake_submit
from participants.parsers import parse_xml


class Command(BaseCommand):
    help = "Benchmark the REST API under gunicorn on loopback (scratch SQLite database)."

    def add_arguments(self, parser):
        parser.add_argument("--requests", type=int, default=500)
        parser.add_argument("--bulk-posts", type=int, default=10)
        parser.add_argument("--bulk-size", type=int, default=1000)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--stage", help=argparse_hidden())
        parser.add_argument("--workdir", help=argparse_hidden())

    def handle(self, *args, stage, workdir, **options):
        if stage == "setup":
            require_scratch()
            return self._setup(Path(workdir), options)
        if stage == "inprocess":
            require_scratch()
            return self._inprocess(Path(workdir), options)
        return self._orchestrate(options)

    def _orchestrate(self, options):
        with tempfile.TemporaryDirectory(prefix="pars-bench-api-") as workdir:
            env = dict(os.environ)
            env.update(
                DATABASE_URL=f"sqlite:///{workdir}/bench.sqlite3",
                **{SCRATCH_FLAG: "1"},
                DJANGO_SETTINGS_MODULE="pars_portal.settings",
                LOG_LEVEL="WARNING",
                API_RATE="100000/min",
            )
            common = ["--workdir", workdir, "--bulk-posts", str(options["bulk_posts"]),
                      "--bulk-size", str(options["bulk_size"])]  # fmt: skip
            run_stage([sys.executable, "manage.py", "bench_api", "--stage", "setup", *common], env)
            secret = (Path(workdir) / "key.txt").read_text().strip()
            pars_id = (Path(workdir) / "activity.txt").read_text().strip()
            with gunicorn(env, workers=options["workers"]) as port:
                figures = self._measure(port, secret, pars_id, options)
            out = run_stage(
                [sys.executable, "manage.py", "bench_api", "--stage", "inprocess", *common], env
            )
            figures.update(json.loads(out))
            ratio = float(figures["bulk_records_per_s"]) / float(figures["inprocess_records_per_s"])
            figures["bulk_ratio_vs_inprocess"] = f"{ratio:.2f}"
            print_figures(self.stdout, figures)

    def _setup(self, workdir, options):

        call_command("migrate", verbosity=0)
        user = User.objects.create_user("bench", password=None)
        provider = Provider.objects.create(accme_id="0001234", name="Bench provider")
        ProviderMembership.objects.create(user=user, provider=provider, role="editor")
        activity = registered_activity(provider=provider, user=user, title="Bench activity")
        total = 2 * options["bulk_posts"] * options["bulk_size"] + 2 * 1000
        load_synthetic_roster(total)
        _, secret = api_key_create(provider=provider, user=user, name="bench", mode="production")
        (workdir / "key.txt").write_text(secret)
        (workdir / "activity.txt").write_text(activity.pars_id)

    def _measure(self, port, secret, pars_id, options):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}

        def request(method, path, body=None, content_type=None):
            h = dict(headers)
            if content_type:
                h["Content-Type"] = content_type
            started = time.perf_counter()
            connection.request(method, path, body=body, headers=h)
            response = connection.getresponse()
            payload = response.read()
            elapsed = (time.perf_counter() - started) * 1000
            if response.status >= 400:
                raise CommandError(f"{method} {path}: {response.status} {payload[:300]!r}")
            return elapsed, payload

        for _ in range(20):  # warm-up: both workers, caches
            request("GET", "/api/v1/activities")
        baseline = sorted(request("GET", "/api/v1/activities")[0] for _ in range(200))

        singles, statuses = [], set()
        for i in range(options["requests"]):
            body = json.dumps({"reports": [{
                "activityId": pars_id, "completionDate": "2015-12-18",
                "learner": {"boardId": f"{i:06d}", "firstName": f"First{i}",
                            "lastName": f"Last{i}", "birthMonth": 1 + i % 12,
                            "birthDay": 1 + i % 28},
                "credits": [{"creditType": "MK", "points": 10}],
            }]})  # fmt: skip
            elapsed, payload = request("POST", "/api/v1/learner-reports", body)
            singles.append(elapsed)
            statuses.add(json.loads(payload)["results"][0]["result"])
        if statuses != {"created"}:
            raise CommandError(f"single submissions were not all created: {statuses}")

        size, posts = options["bulk_size"], options["bulk_posts"]
        bodies = [
            xml_body(pars_id, range(100_000 + n * size, 100_000 + (n + 1) * size))
            for n in range(posts)
        ]
        started = time.perf_counter()
        created = 0
        for body in bodies:
            _, payload = request("POST", "/api/v1/learner-reports", body, "application/xml")
            created += json.loads(payload)["totals"]["created"]
        bulk_seconds = time.perf_counter() - started
        if created != size * posts:
            raise CommandError(f"bulk: {created} created of {size * posts}")
        connection.close()
        p = statistics.quantiles
        single_p50, get_p50 = statistics.median(singles), statistics.median(baseline)
        return {
            "single_requests": len(singles),
            "single_p50_ms": f"{single_p50:.1f}",
            "single_p95_ms": f"{p(singles, n=20)[18]:.1f}",
            "baseline_get_p50_ms": f"{get_p50:.1f}",
            "single_ratio_vs_get": f"{single_p50 / get_p50:.2f}",
            "bulk_posts": posts,
            "bulk_records": created,
            "bulk_seconds": f"{bulk_seconds:.2f}",
            "bulk_records_per_s": f"{created / bulk_seconds:.0f}",
        }

    def _inprocess(self, workdir, options):
        """The same kind of XML reports through parser + pipeline, without HTTP."""

        key = ApiKey.objects.select_related("provider", "created_by").get()
        pars_id = Activity.objects.get().pars_id
        size, posts = options["bulk_size"], options["bulk_posts"]
        start = 100_000 + size * posts
        bodies = [
            xml_body(pars_id, range(start + n * size, start + (n + 1) * size)) for n in range(posts)
        ]
        started = time.perf_counter()
        created = 0
        for body in bodies:
            rows = list(parse_xml(io.BytesIO(body), provider_id="0001234", id_lengths={"ABIM": 6}))
            result = intake_submit(provider=key.provider, rows=rows, actor=key.created_by,
                                   channel=Channel.API)  # fmt: skip
            created += result.totals["created"]
        seconds = time.perf_counter() - started
        self.stdout.write(json.dumps({"inprocess_records_per_s": f"{created / seconds:.0f}"}))
