"""Load test on loopback: `manage.py bench_load [--seconds 90] [--users 8] [--workers 2]`.

Builds a scratch database (a temporary SQLite file; a fresh PostgreSQL database when
DATABASE_URL points at PostgreSQL — never the configured database itself) with two
providers, their editors, a reviewer, registered activities, a roster and API keys; serves
it with gunicorn (N workers) under the production settings profile (DEBUG off, static files
collected and served by WhiteNoise, HTTPS as seen behind a TLS proxy); then `--users`
concurrent clients drive a mixed workload for `--seconds`:

- API: single-record JSON submissions (and retries of them, possibly while the first is
  still in flight), bulk JSON and XML learner reports with some invalid records, record
  lists and status queries;
- the portal, logged in through the real login form (CSRF): home, activity list,
  participant search, activity page, upload list; a static file;
- deliberate bad requests (malformed bodies, unknown fields, DOCTYPE, wrong content type,
  missing or invalid key, another provider's objects, a form without CSRF token), which
  must get the expected 4xx with a clear error;
- the baseline: the login page, fetched in the same mix.

It prints `name: value` lines: requests, throughput (requests/s, records/s), latency per
kind (p50/p95/max and p95 against the baseline's), errors split into expected 4xx,
unexpected 4xx, 5xx and connection errors, and the integrity check (records in the database
= records the API said it created; no record created twice, none lost, each with its
history). Exits non-zero on any 5xx, connection error, unexpected answer or integrity
mismatch.
"""

import datetime as dt
import http.client
import itertools
import json
import random
import re
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict, deque
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.models import User as Account
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count
from django_tasks_db.models import DBTaskResult

from activities.models import Channel, Provider, ProviderMembership
from pars_portal.benchmarks.harness import (
    LoopbackClient,
    argparse_hidden,
    gunicorn,
    load_synthetic_roster,
    percentile,
    print_figures,
    production_environment,
    registered_activity,
    require_scratch,
    run_stage,
    scratch_database,
    wait_until_idle,
    xml_report,
)
from pars_portal.lib.access import REVIEWERS_GROUP
from participants.apikeys import api_key_create
from participants.intake import intake_submit
from participants.models import Completion, Upload
from participants.parsers import TEMPLATE_HEADERS, row_from_values

PROVIDERS = {"0001234": "Northwind load provider", "0005678": "Lakeside load provider"}
PERSONAS = [("editor-a", "0001234"), ("editor-b", "0005678"), ("reviewer", "0001234")]
ACTIVITIES_PER_PROVIDER = 3
BULK_JSON_RECORDS = 50
BULK_XML_RECORDS = 200
INVALID_EVERY = 25  # one record in 25 of a bulk names an unknown activity: a record error
MISMATCH_EVERY = 20  # one record in 20 has a wrong birth day: created, rejected by the roster
UNKNOWN_ACTIVITY = "999999999"
FIRST_DAY = dt.date(2015, 1, 1)

# What one client does next, by weight.
WORKLOAD = {
    "api_submit_json": 28,
    "api_retry_json": 5,
    "api_bulk_json": 4,
    "api_bulk_xml": 4,
    "api_list": 9,
    "api_status": 8,
    "page_home": 5,
    "page_activities": 5,
    "page_search": 5,
    "page_activity": 5,
    "page_uploads": 4,
    "static_file": 3,
    "bad_request": 8,
    "baseline_login_page": 7,
}
BASELINE = "baseline_login_page"
SETTINGS_MODULE = "pars_bench_load_settings"
STATIC_LINK = re.compile(rb'href="(/static/[^"]+\.css)"')


class Command(BaseCommand):
    help = (
        "Load test: mixed API submissions and page views against gunicorn on loopback "
        "(scratch database); prints throughput, latency per kind, errors and an integrity check."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=90, help="load duration")
        parser.add_argument("--users", type=int, default=8, help="concurrent clients")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
        parser.add_argument("--roster", type=int, default=20_000, help="roster entries")
        parser.add_argument("--seed", type=int, default=2015, help="random seed of the mix")
        parser.add_argument(
            "--upload-rows", type=int, default=0,
            help="while the load runs, provider A uploads and saves a file of this many rows "
            "and provider B uploads small files: task workers (run_workers) run them, and the "
            "time B's uploads wait to be checked is measured (at most 5 s)",
        )  # fmt: skip
        parser.add_argument("--upload-workers", type=int, default=2, help="upload workers")
        parser.add_argument("--stage", choices=["setup", "verify"], help=argparse_hidden())
        parser.add_argument("--workdir", help=argparse_hidden())

    def handle(self, *args, stage, workdir, **options):
        if stage is None:
            return self._orchestrate(options)
        require_scratch()
        if stage == "setup":
            self._setup(Path(workdir), options)
        else:
            self._verify()

    # -- parent: scratch database, gunicorn, the clients, the verdict --

    def _orchestrate(self, options):
        if options["seconds"] <= 0 or options["users"] < 1 or options["workers"] < 1:
            raise CommandError("--seconds, --users and --workers must be positive.")
        if options["roster"] < 100:
            raise CommandError("--roster must be at least 100.")
        base_dir = Path(settings.BASE_DIR)
        with scratch_database("pars-bench-load-", follow_database_url=True) as scratch:
            workdir, database_url, vendor = scratch
            env = production_environment(workdir, database_url, base_dir, SETTINGS_MODULE, {
                "API_RATE": "1000000/min",
                # A load, not a probe of the roster: its rejections must not hit the limit.
                "ROSTER_FAILURE_LIMIT": "100000000",
            })  # fmt: skip
            manage = [sys.executable, str(base_dir / "manage.py"), "bench_load"]
            common = ["--workdir", str(workdir), "--roster", str(options["roster"])]
            started = time.perf_counter()
            run_stage([*manage, "--stage", "setup", *common], env)
            setup_seconds = time.perf_counter() - started
            config = json.loads((workdir / "config.json").read_text())
            log_path = workdir / "gunicorn.log"
            with (
                gunicorn(
                    env, workers=options["workers"], ready_path="/accounts/login/",
                    log_path=log_path, cwd=base_dir,
                ) as port,
                task_workers(env, options, workdir, base_dir),
            ):  # fmt: skip
                load = Load(port, config, options)
                load.run()
            server_log = log_path.read_text(errors="replace")
            verified = json.loads(run_stage([*manage, "--stage", "verify", *common], env))

        figures = {
            "database": vendor,
            "workers": options["workers"],
            "users": options["users"],
            "setup_seconds": f"{setup_seconds:.1f}",
        }
        figures.update(load.figures())
        figures.update(verified["uploads"])
        expected_rows = config["seed_records"] + load.created + verified["uploaded_records"]
        never, twice = load.single_anomalies()
        integrity_ok = (
            verified["completions"] == expected_rows
            and verified["duplicates"] == 0
            and verified["without_history"] == 0
            and not never
            and not twice
        )
        figures.update({
            "completions_in_database": verified["completions"],
            "completions_expected": expected_rows,
            "natural_key_duplicates": verified["duplicates"],
            "records_without_history": verified["without_history"],
            "single_records_created_twice": len(twice),
            "single_records_never_created": len(never),
            "integrity": "OK" if integrity_ok else "MISMATCH",
        })  # fmt: skip
        print_figures(self.stdout, figures)

        problems = []
        for name in ("errors_5xx", "errors_connection", "errors_4xx_unexpected",
                     "unexpected_answers"):  # fmt: skip
            if figures[name]:
                problems.append(f"{figures[name]} {name.replace('_', ' ')}")
        if not integrity_ok:
            problems.append("integrity mismatch")
        if load.requests == 0 or not load.created:
            problems.append("no traffic")
        uploads = verified["uploads"]
        if options["upload_rows"]:
            if not uploads["small_uploads_checked"]:
                problems.append("no small upload was checked")
            elif float(uploads["small_upload_wait_max_s"]) > MAX_UPLOAD_WAIT_S:
                problems.append(
                    f"another provider's upload waited {uploads['small_upload_wait_max_s']} s "
                    f"to be checked (at most {MAX_UPLOAD_WAIT_S} s)"
                )
            if uploads["large_upload_status"] != "done":
                problems.append(f"the large upload ended {uploads['large_upload_status']}")
        if problems:
            for sample in load.failures[:10]:
                self.stderr.write(f"  {sample}")
            if server_log.strip():
                self.stderr.write("gunicorn log (last lines):\n" + server_log[-4000:])
            raise CommandError("Load test failed: " + ", ".join(problems) + ".")

    # -- child 1: data --

    def _setup(self, workdir, options):

        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        users, editors, keys, activities, seeds = {}, {}, {}, {}, {}
        for accme_id, name in PROVIDERS.items():
            provider = Provider.objects.create(accme_id=accme_id, name=name)
            username = "editor-a" if accme_id == "0001234" else "editor-b"
            password = secrets.token_urlsafe(16)
            editor = Account.objects.create_user(username, f"{username}@example.org", password)
            ProviderMembership.objects.create(user=editor, provider=provider, role="editor")
            users[username], editors[accme_id] = password, (provider, editor)
            activities[accme_id] = [
                registered_activity(provider=provider, user=editor, title=f"Load {n}").pars_id
                for n in range(ACTIVITIES_PER_PROVIDER)
            ]
            _, keys[accme_id] = api_key_create(
                provider=provider, user=editor, name="load", mode="production"
            )
        password = secrets.token_urlsafe(16)
        reviewer = Account.objects.create_user("reviewer", "reviewer@example.org", password)
        reviewer.is_staff = True
        reviewer.save()
        reviewer.groups.add(Group.objects.get(name=REVIEWERS_GROUP))
        users["reviewer"] = password
        roster = options["roster"]
        load_synthetic_roster(roster)
        # One record per provider before the load: the other provider's clients ask for it
        # by id and must get 404. Their learner number lies outside the ones the load uses.
        for accme_id, (provider, editor) in editors.items():
            i = roster - 1
            row = row_from_values(1, {
                "action": "add", "activity_ref": activities[accme_id][0], "board_code": "ABIM",
                "learner_id": f"{i:06d}", "first_name": f"First{i}", "last_name": f"Last{i}",
                "birth_month": str(1 + i % 12), "birth_day": str(1 + i % 28),
                "completion_date": "12/31/2015", "credit_type": "MK", "moc_points": "10",
                "cme_credits": "", "learner_permission": "Y", "credit_id": "",
            }, None, {"ABIM": 6})  # fmt: skip
            result = intake_submit(provider=provider, rows=[row], actor=editor, channel=Channel.API)
            seeds[accme_id] = result.outcomes[0].completion_id
            if seeds[accme_id] is None:
                raise CommandError(f"seed record not created: {result.outcomes[0]}")
        (workdir / "config.json").write_text(json.dumps({
            "users": users, "keys": keys, "activities": activities, "seeds": seeds,
            "seed_records": len(seeds), "roster": roster - 1,
        }))  # fmt: skip

    # -- child 2: what the database holds afterwards --

    def _verify(self):

        live = Completion.objects.exclude(status=Completion.Status.DELETED)
        key = ["activity", "board", "learner_id", "credit_type", "completion_date", "is_sandbox"]
        duplicates = live.values(*key).annotate(n=Count("id")).filter(n__gt=1).count()
        duplicates += (
            live.exclude(credit_id=None)
            .values("provider", "credit_id", "is_sandbox")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .count()
        )
        self.stdout.write(json.dumps({
            "completions": Completion.objects.count(),
            "duplicates": duplicates,
            "without_history": Completion.objects.filter(events__isnull=True).count(),
            "uploaded_records": Completion.objects.filter(channel="upload").count(),
            "uploads": _upload_figures(),
        }))  # fmt: skip


MAX_UPLOAD_WAIT_S = 5.0
SMALL_UPLOAD_ROWS = 5
SMALL_UPLOAD_EVERY_S = 3.0
LARGE_UPLOAD_DATE = "12/30/2015"  # dates the API load never uses
SMALL_UPLOAD_DATE = "12/29/2015"


def _upload_figures() -> dict:
    """From the scratch database: how long each upload's check waited in the queue (enqueued
    → a worker started it: the first run, a provider's own second file waiting for its
    first excepted), and how the large upload ended."""

    first_run = {}
    for task in DBTaskResult.objects.filter(task_path__endswith="check_upload").order_by(
        "enqueued_at"
    ):
        upload_id = task.args_kwargs["args"][0]
        if upload_id not in first_run and task.started_at:
            first_run[upload_id] = (task.started_at - task.enqueued_at).total_seconds()
    uploads = list(Upload.objects.select_related("provider").order_by("pk"))
    large = next((u for u in uploads if u.provider.accme_id == "0001234"), None)
    small = [first_run[u.pk] for u in uploads if u.provider.accme_id == "0005678"
             and u.pk in first_run]  # fmt: skip
    return {
        "large_upload_rows": large.total_rows if large else 0,
        "large_upload_status": large.status if large else "none",
        "large_upload_seconds": (
            f"{(large.finished_at - large.uploaded_at).total_seconds():.1f}"
            if large and large.finished_at else "n/a"
        ),
        "small_uploads_checked": len(small),
        "small_upload_wait_p50_s": f"{percentile(small, 50):.2f}",
        "small_upload_wait_max_s": f"{max(small, default=0):.2f}",
    }  # fmt: skip


class task_workers:  # noqa: N801 - used as a context manager, like gunicorn()
    """`manage.py run_workers` on the scratch database, while the load runs (uploads only)."""

    def __init__(self, env, options, workdir, base_dir):
        self.command = None
        if options["upload_rows"]:
            self.command = [sys.executable, str(base_dir / "manage.py"), "run_workers",
                            "--upload-workers", str(options["upload_workers"])]  # fmt: skip
        self.env, self.workdir, self.base_dir = env, workdir, base_dir
        self.upload_workers = options["upload_workers"]

    def __enter__(self):
        if self.command:
            self.log = open(self.workdir / "workers.log", "wb")  # noqa: SIM115 - closed below
            self.process = subprocess.Popen(  # noqa: S603 - this interpreter and manage.py
                self.command, env=self.env, cwd=self.base_dir, stdout=self.log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
            # Up before the load starts, as in production: the uploads' queue waits are
            # then waits for a worker, not for the workers' start-up.
            wait_until_idle(self.process.pid, processes=2 + self.upload_workers)
        return self

    def __exit__(self, *exc):
        if self.command:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.log.close()


# --- The load: clients on threads ---------------------------------------------------------------


class Load:
    def __init__(self, port, config, options):
        self.port = port
        self.config = config
        self.users = options["users"]
        self.seconds = options["seconds"]
        self.seed = options["seed"]
        self.lock = threading.Lock()
        self.numbers = itertools.count()
        self.samples = defaultdict(list)  # kind -> [ms]
        self.outcomes = Counter()
        self.bad_kinds = Counter()
        self.failures = []
        self.requests = 0
        self.created = 0
        self.records_sent = 0
        self.single_created = Counter()  # credit ID -> times the API said "created"
        self.single_answered = set()
        self.in_flight = set()  # credit IDs of single submissions not answered yet
        self.retries_during_original = 0  # retries sent while the original was in flight
        self.retries_created_first = 0  # ... and those that overtook it
        self.recent = {accme_id: deque(maxlen=30) for accme_id in config["keys"]}
        self.created_ids = {accme_id: deque(maxlen=500) for accme_id in config["keys"]}
        self.static_path = None
        self.started_at = dt.datetime.now(dt.UTC)
        self.elapsed = 0.0
        self.idle_baseline = []
        self.upload_rows = options["upload_rows"]

    # -- running --

    def run(self):
        probe = LoopbackClient(self.port)
        for _ in range(20):  # warm-up: both workers compile their templates and URLs
            probe.request("GET", "/accounts/login/")
        for _ in range(30):  # the baseline before the load, one client alone
            started = time.perf_counter()
            status, _, _ = probe.request("GET", "/accounts/login/")
            if status == 200:
                self.idle_baseline.append((time.perf_counter() - started) * 1000)
        threads = [
            threading.Thread(target=self._user, args=(n,), name=f"load-{n}", daemon=True)
            for n in range(self.users)
        ]
        uploaders = []
        if self.upload_rows:
            uploaders = [
                threading.Thread(target=self._large_upload, name="large-upload", daemon=True),
                threading.Thread(target=self._small_uploads, name="small-uploads", daemon=True),
            ]
        started = time.perf_counter()
        self.deadline = time.monotonic() + self.seconds
        for thread in threads + uploaders:
            thread.start()
        for thread in threads:
            thread.join()
        self.elapsed = time.perf_counter() - started
        for thread in uploaders:  # the large upload's save may outlast the load
            thread.join()

    def _user(self, n):
        rng = random.Random(self.seed * 1000 + n)
        username, accme_id = PERSONAS[n % len(PERSONAS)]
        other = next(a for a in self.config["keys"] if a != accme_id)
        user = User(self, rng, username, accme_id, other)
        try:
            user.login()
            kinds, weights = zip(*WORKLOAD.items(), strict=True)
            tour = rng.sample(kinds, len(kinds))  # each kind once first, so all are measured
            while time.monotonic() < self.deadline:
                kind = tour.pop() if tour else rng.choices(kinds, weights)[0]
                getattr(user, kind)()
        except Exception as error:  # a bug in the client must not pass for a quiet run
            with self.lock:
                self.outcomes["unexpected"] += 1
                self.failures.append(f"client {n} stopped: {type(error).__name__}: {error}")

    def _large_upload(self):
        """Editor A uploads a large file, confirms it at the preview and waits until it is
        saved (the load's deadline does not stop it: its save is part of the test)."""
        user = User(self, random.Random(self.seed), "editor-a", "0001234", "0005678")
        try:
            user.login()
            upload_id = user.upload("large.csv", user.upload_file(
                self.upload_rows, 0, LARGE_UPLOAD_DATE))  # fmt: skip
            user.wait_for_upload(upload_id, "preview", 600)
            user.confirm_upload(upload_id)
            user.wait_for_upload(upload_id, "done", 1200)
        except Exception as error:  # noqa: BLE001 - reported as a failure
            with self.lock:
                self.outcomes["unexpected"] += 1
                self.failures.append(f"large upload: {type(error).__name__}: {error}")

    def _small_uploads(self):
        """Editor B uploads a small file every few seconds while A's large one runs."""
        user = User(self, random.Random(self.seed + 1), "editor-b", "0005678", "0001234")
        try:
            user.login()
            number = 0
            while time.monotonic() < self.deadline:
                content = user.upload_file(SMALL_UPLOAD_ROWS, number * SMALL_UPLOAD_ROWS,
                                           SMALL_UPLOAD_DATE)  # fmt: skip
                user.upload(f"small-{number}.csv", content)
                number += 1
                time.sleep(SMALL_UPLOAD_EVERY_S)
        except Exception as error:  # noqa: BLE001 - reported as a failure
            with self.lock:
                self.outcomes["unexpected"] += 1
                self.failures.append(f"small uploads: {type(error).__name__}: {error}")

    # -- bookkeeping --

    def next_number(self):
        with self.lock:
            return next(self.numbers)

    def record(self, kind, ms, outcome, detail=""):
        with self.lock:
            self.requests += 1
            self.samples[kind].append(ms)
            self.outcomes[outcome] += 1
            if outcome not in ("ok", "4xx_expected") and len(self.failures) < 50:
                self.failures.append(f"{kind} {outcome}: {detail}")

    def count_records(self, sent, created):
        with self.lock:
            self.records_sent += sent
            self.created += created

    def single_anomalies(self):
        """Single records answered but never created, and created more than once."""
        never = [c for c in self.single_answered if self.single_created[c] == 0]
        twice = [c for c, times in self.single_created.items() if times > 1]
        return never, twice

    def figures(self):
        seconds = self.elapsed or 1e-9
        all_ms = [ms for kind, values in self.samples.items() for ms in values]
        baseline_p95 = percentile(self.samples.get(BASELINE, []), 95)
        figures = {
            "seconds": f"{self.elapsed:.1f}",
            "requests": self.requests,
            "throughput_req_per_s": f"{self.requests / seconds:.1f}",
            "records_sent": self.records_sent,
            "records_created": self.created,
            "records_per_s": f"{self.created / seconds:.1f}",
            "p50_ms": f"{percentile(all_ms, 50):.1f}",
            "p95_ms": f"{percentile(all_ms, 95):.1f}",
            "max_ms": f"{max(all_ms, default=0):.1f}",
            "baseline_idle_p95_ms": f"{percentile(self.idle_baseline, 95):.1f}",
            "baseline_p95_ms": f"{baseline_p95:.1f}",
            "p95_ratio_vs_baseline": _ratio(percentile(all_ms, 95), baseline_p95),
        }
        for kind in sorted(self.samples):
            values = self.samples[kind]
            p95 = percentile(values, 95)
            figures[f"kind_{kind}"] = (
                f"requests={len(values)} p50_ms={percentile(values, 50):.1f} "
                f"p95_ms={p95:.1f} max_ms={max(values):.1f} "
                f"p95_vs_baseline={_ratio(p95, baseline_p95)}"
            )
        figures.update({
            "errors_4xx_expected": self.outcomes["4xx_expected"],
            "errors_4xx_unexpected": self.outcomes["4xx_unexpected"],
            "errors_5xx": self.outcomes["5xx"],
            "errors_connection": self.outcomes["connection"],
            "unexpected_answers": self.outcomes["unexpected"],
            "retries_during_original": self.retries_during_original,
            "retries_created_first": self.retries_created_first,
            "bad_requests_refused": ", ".join(
                f"{name}={count}" for name, count in sorted(self.bad_kinds.items())
            ) or "none",
        })  # fmt: skip
        return figures


def _ratio(value, baseline):
    return f"{value / baseline:.2f}" if baseline else "n/a"


class User:
    """One simulated user: an LMS with its provider's API key and a person logged in to the
    portal (editor A, editor B or a reviewer), taking turns at random."""

    def __init__(self, load, rng, username, accme_id, other):
        self.load = load
        self.rng = rng
        self.username = username
        self.accme_id = accme_id
        self.other = other
        self.key = load.config["keys"][accme_id]
        self.activities = load.config["activities"][accme_id]
        self.browser = LoopbackClient(load.port)
        self.lms = LoopbackClient(load.port)

    # -- the call, timed and judged --

    def call(self, kind, method, path, *, client=None, body=None, headers=None, expect=200,
             check=None):  # fmt: skip
        """Send, time, classify; returns (status, payload), or None after a connection error.

        Outcomes: ok (expected 2xx/3xx that passes `check`), 4xx_expected (the expected 4xx
        with a clear error), 4xx_unexpected, 5xx, connection, unexpected (anything else)."""
        client = client or self.lms
        started = time.perf_counter()
        try:
            status, response_headers, payload = client.request(method, path, body, headers)
        except (OSError, http.client.HTTPException) as error:
            ms = (time.perf_counter() - started) * 1000
            self.load.record(kind, ms, "connection", f"{method} {path}: {error!r}")
            return None
        ms = (time.perf_counter() - started) * 1000
        passed = True
        if check is not None and status == expect:
            try:
                passed = bool(check(status, response_headers, payload))
            except (ValueError, KeyError, IndexError, TypeError):
                passed = False
        if status >= 500:
            outcome = "5xx"
        elif status == expect and status >= 400:
            outcome = "4xx_expected" if passed else "4xx_unexpected"
        elif status == expect:
            outcome = "ok" if passed else "unexpected"
        elif status >= 400:
            outcome = "4xx_unexpected"
        else:
            outcome = "unexpected"
        self.load.record(kind, ms, outcome, f"{method} {path} → {status}: {payload[:300]!r}")
        return status, payload

    def api(self, kind, method, path, body=None, content_type="application/json", **kwargs):
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        headers.update(kwargs.pop("headers", {}))
        return self.call(kind, method, path, body=body, headers=headers, **kwargs)

    # -- records --

    def record_values(self, *, valid=True):
        """A fresh record: learner number, completion date and activity not sent before."""
        n = self.load.next_number()
        roster = self.load.config["roster"]
        i = n % roster
        day = 1 + i % 28
        if n % MISMATCH_EVERY == MISMATCH_EVERY - 1:
            day = 1 + (i + 1) % 28  # the roster says otherwise: created, rejected
        return {
            "n": n,
            "i": i,
            "date": (FIRST_DAY + dt.timedelta(days=(n // roster) % 365)).isoformat(),
            "activity": self.rng.choice(self.activities) if valid else UNKNOWN_ACTIVITY,
            "month": 1 + i % 12,
            "day": day,
        }

    def json_report(self, values, credit_id=None):
        credit = {"creditType": "MK", "points": 10}
        if credit_id:
            credit["creditId"] = credit_id
        i = values["i"]
        return {
            "activityId": values["activity"],
            "completionDate": values["date"],
            "learner": {
                "boardId": f"{i:06d}", "firstName": f"First{i}", "lastName": f"Last{i}",
                "birthMonth": values["month"], "birthDay": values["day"],
            },
            "credits": [credit],
        }  # fmt: skip

    def submit(self, kind, body, *, content_type="application/json", sent, expect_created,
               expect_errors=0):  # fmt: skip
        def check(status, headers, payload):
            totals = json.loads(payload)["totals"]
            return totals["created"] == expect_created and totals["error"] == expect_errors

        answer = self.api(kind, "POST", "/api/v1/learner-reports", body, content_type,
                          check=check)  # fmt: skip
        if answer and answer[0] == 200:
            self.load.count_records(sent, json.loads(answer[1])["totals"]["created"])
        return answer

    # -- the workload (names are the WORKLOAD kinds) --

    def api_submit_json(self):
        values = self.record_values()
        credit_id = f"ccid:lms:load-{values['n']}"
        body = json.dumps({"reports": [self.json_report(values, credit_id)]})
        with self.load.lock:  # a retry may now race this very request
            self.load.recent[self.accme_id].append((credit_id, body))
            self.load.in_flight.add(credit_id)
        try:
            answer = self.api("api_submit_json", "POST", "/api/v1/learner-reports", body,
                              check=_single_result)  # fmt: skip
        finally:
            with self.load.lock:
                self.load.in_flight.discard(credit_id)
        self._single_answered(credit_id, answer)

    def api_retry_json(self):
        """An LMS sending a record again: half the time the newest one, most likely still
        in flight (two requests for the same record at the same moment), else a recent one."""
        with self.load.lock:
            recent = list(self.load.recent[self.accme_id])
        if not recent:
            return self.api_submit_json()
        newest = self.rng.random() < 0.5
        credit_id, body = recent[-1] if newest else self.rng.choice(recent)
        with self.load.lock:
            self.load.retries_during_original += credit_id in self.load.in_flight
        answer = self.api("api_retry_json", "POST", "/api/v1/learner-reports", body,
                          check=_single_result)  # fmt: skip
        self._single_answered(credit_id, answer, retry=True)

    def _single_answered(self, credit_id, answer, retry=False):
        if not answer or answer[0] != 200:
            return
        result = json.loads(answer[1])["results"][0]
        created = result["result"] == "created"
        with self.load.lock:
            self.load.single_answered.add(credit_id)
            self.load.records_sent += 1
            if created:
                self.load.created += 1
                self.load.single_created[credit_id] += 1
                self.load.created_ids[self.accme_id].append(credit_id)
                self.load.retries_created_first += retry

    def api_bulk_json(self):
        reports, invalid = [], 0
        for k in range(BULK_JSON_RECORDS):
            valid = k % INVALID_EVERY != INVALID_EVERY - 1
            invalid += not valid
            values = self.record_values(valid=valid)
            reports.append(self.json_report(values, f"ccid:lms:bulk-{values['n']}"))
        self.submit("api_bulk_json", json.dumps({"reports": reports}), sent=len(reports),
                    expect_created=len(reports) - invalid, expect_errors=invalid)  # fmt: skip

    def api_bulk_xml(self):
        reports, invalid = [], 0
        for k in range(BULK_XML_RECORDS):
            valid = k % INVALID_EVERY != INVALID_EVERY - 1
            invalid += not valid
            values = self.record_values(valid=valid)
            report = xml_report(values["i"], pars_id=values["activity"], provider=self.accme_id,
                                completed=values["date"])  # fmt: skip
            if values["day"] != 1 + values["i"] % 28:
                report = report.replace(
                    f"<BirthDate>--{values['month']:02d}-{1 + values['i'] % 28:02d}",
                    f"<BirthDate>--{values['month']:02d}-{values['day']:02d}",
                )
            reports.append(report)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><ACCMELearnerReports><ActivityReports>'
            + "".join(reports)
            + "</ActivityReports></ACCMELearnerReports>"
        )
        self.submit("api_bulk_xml", body, content_type="application/xml", sent=len(reports),
                    expect_created=len(reports) - invalid, expect_errors=invalid)  # fmt: skip

    def api_list(self):
        since = self.load.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        query = self.rng.choice([
            {"page_size": 50},
            {"updatedSince": since, "page_size": 100},
            {"status": "rejected", "page_size": 20},
            {"activityId": self.rng.choice(self.activities)},
            {"boardId": f"{self.rng.randrange(self.load.config['roster']):06d}"},
        ])  # fmt: skip
        self.api("api_list", "GET", f"/api/v1/completions?{urlencode(query)}",
                 check=lambda s, h, p: "results" in json.loads(p))  # fmt: skip

    def api_status(self):
        with self.load.lock:
            created = list(self.load.created_ids[self.accme_id])
        if not created:
            return self.api_list()
        credit_id = self.rng.choice(created)
        self.api("api_status", "GET", "/api/v1/completions/status?" + urlencode({
            "creditId": credit_id}), check=lambda s, h, p: len(json.loads(p)) == 1)  # fmt: skip

    def page(self, kind, path):
        # A page must be the page itself, not the login form after a lost session.
        self.call(kind, "GET", path, client=self.browser,
                  check=lambda s, h, p: b'name="password"' not in p)  # fmt: skip

    def page_home(self):
        self.page("page_home", "/")

    def page_activities(self):
        self.page("page_activities", "/activities/")

    def page_search(self):
        i = self.rng.randrange(self.load.config["roster"])
        query = self.rng.choice([
            {"learner_id": f"{i:06d}"},
            {"last_name": f"Last{i}"},
            {"status": "rejected"},
            {"activity": self.rng.choice(self.activities), "status": "accepted"},
            {},
        ])  # fmt: skip
        self.page("page_search", "/participants/?" + urlencode(query))

    def page_activity(self):
        self.page("page_activity", f"/activities/{self.rng.choice(self.activities)}/")

    def page_uploads(self):
        self.page("page_uploads", "/uploads/")

    def static_file(self):
        if self.load.static_path is None:
            return self.page_home()
        self.call("static_file", "GET", self.load.static_path, client=self.browser,
                  check=_cached_for_long)  # fmt: skip

    def baseline_login_page(self):
        self.call("baseline_login_page", "GET", "/accounts/login/",
                  client=LoopbackClient(self.load.port),
                  check=lambda s, h, p: b'name="password"' in p)  # fmt: skip

    def login(self):
        started = time.perf_counter()
        try:
            home = self.browser.login(self.username, self.load.config["users"][self.username])
        except (OSError, http.client.HTTPException, CommandError) as error:
            self.load.record("login", (time.perf_counter() - started) * 1000, "unexpected",
                             f"{self.username}: {error}")  # fmt: skip
            raise CommandError(f"{self.username}: login failed") from error
        self.load.record("login", (time.perf_counter() - started) * 1000, "ok")
        match = STATIC_LINK.search(home)
        if match and self.load.static_path is None:
            self.load.static_path = match.group(1).decode()

    # -- uploads (the wizard, as a browser posts it) --

    def upload_file(self, rows, first, date) -> bytes:
        roster = self.load.config["roster"]
        lines = [",".join(TEMPLATE_HEADERS)]
        for n in range(first, first + rows):
            i = n % roster
            lines.append(
                f"add,{self.activities[0]},ABIM,{i:06d},First{i},Last{i},{1 + i % 12},"
                f"{1 + i % 28},{date},MK,10,,Y,"
            )
        return ("\r\n".join(lines) + "\r\n").encode()

    def upload(self, name, content) -> int:
        return self.browser.upload(name, content)

    def wait_for_upload(self, upload_id, wanted, timeout):
        self.browser.wait_for_upload(upload_id, wanted, timeout)

    def confirm_upload(self, upload_id):
        self.browser.confirm_upload(upload_id)

    # -- deliberate bad requests: each must get its 4xx and say why --

    def bad_request(self):
        name = self.rng.choice(BAD_REQUESTS)
        if name == "portal_other_providers_activity" and self.username == "reviewer":
            name = "form_without_csrf"  # reviewers may look at every provider's activity
        getattr(self, f"bad_{name}")()
        with self.load.lock:
            self.load.bad_kinds[name] += 1

    def _bad_api(self, body, *, expect, content_type="application/json", key=..., path=None):
        headers = {}
        if key is None:
            headers["Authorization"] = ""
        elif key is not ...:
            headers["Authorization"] = f"Bearer {key}"
        self.api("bad_request", "POST" if body is not None else "GET",
                 path or "/api/v1/learner-reports", body, content_type, expect=expect,
                 check=_clear_api_error, headers=headers)  # fmt: skip

    def bad_malformed_json(self):
        self._bad_api('{"reports": [{"activityId": ', expect=400)

    def bad_unknown_field(self):
        report = self.json_report(self.record_values())
        report["learner"]["colour"] = "blue"
        self._bad_api(json.dumps({"reports": [report]}), expect=400)

    def bad_no_records(self):
        self._bad_api(json.dumps({"reports": []}), expect=400)

    def bad_xml_doctype(self):
        body = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]>'
                "<ACCMELearnerReports>&a;</ACCMELearnerReports>")  # fmt: skip
        self._bad_api(body, expect=400, content_type="application/xml")

    def bad_wrong_content_type(self):
        self._bad_api("activityId=100000001", expect=415, content_type="text/plain")

    def bad_no_key(self):
        self._bad_api(json.dumps({"reports": []}), expect=401, key=None)

    def bad_invalid_key(self):
        self._bad_api(json.dumps({"reports": []}), expect=401, key="pars_live_" + "x" * 43)

    def bad_other_providers_record(self):
        seed = self.load.config["seeds"][self.other]
        self._bad_api(None, expect=404, path=f"/api/v1/completions/{seed}")

    def bad_status_without_parameters(self):
        path = "/api/v1/completions/status?" + urlencode({"activityId": self.activities[0]})
        self._bad_api(None, expect=400, path=path)

    def bad_portal_other_providers_activity(self):
        pars_id = self.load.config["activities"][self.other][0]
        self.call("bad_request", "GET", f"/activities/{pars_id}/", client=self.browser,
                  expect=404)  # fmt: skip

    def bad_form_without_csrf(self):
        body = urlencode({"learner_id": "000001", "first_name": "First1"})
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "Origin": self.browser.origin}  # fmt: skip
        self.call("bad_request", "POST", f"/activities/{self.activities[0]}/participants/add/",
                  client=self.browser, body=body, headers=headers, expect=403,
                  check=lambda s, h, p: b"CSRF" in p)  # fmt: skip


BAD_REQUESTS = [
    name.removeprefix("bad_")
    for name in vars(User)
    if name.startswith("bad_") and name not in ("bad_request",)
]


def _cached_for_long(status, headers, payload):
    """WhiteNoise serves collected, hashed files with a far-future max-age."""
    return headers.get("Cache-Control", "").startswith("max-age") and len(payload) > 0


def _single_result(status, headers, payload):
    return json.loads(payload)["results"][0]["result"] in ("created", "already_reported")


def _clear_api_error(status, headers, payload):
    """A 4xx says why: a `detail` or field errors, in words."""
    data = json.loads(payload)
    if isinstance(data, dict) and isinstance(data.get("detail"), str):
        return bool(data["detail"].strip())
    return bool(data) and all(data.values()) if isinstance(data, dict) else False
