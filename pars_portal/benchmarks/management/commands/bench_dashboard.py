"""Benchmark of the dashboards and lists as a user waits for them:
`manage.py bench_dashboard --records N [--database URL]`.

Fills a scratch database (a SQLite file; with `--database`, a fresh database on that
PostgreSQL server, dropped afterwards) with N synthetic participant records across
providers and activities — a skewed mix like the real one (the largest provider holds about
a quarter of all records), five reporting years, statuses, channels, reasons, late records,
transmission batches, board answers, queue follow-ups, uploads and API keys — written by
one COPY on PostgreSQL (5 million in minutes), then vacuumed there as autovacuum would soon
after (index-only scans need the visibility map).

Then it serves that database with gunicorn on loopback (one worker) under the production
settings profile, as deployed, and requests both dashboards and the main lists over HTTP
as a browser would: the editor of the largest provider (the worst case) and a reviewer log
in through the login form, then each page is asked for twice to warm up and `--requests`
times timed, from sending the request to reading the whole body. Every answer must be 200
and name the user who asked (a redirect to the login page stops the benchmark). It prints
`name: value` lines: `measured_over: http`, `web_workers`, p50/p95 ms per page, the
baseline from the same run — a page that reads no records (the upload help page) — with
each page's p95 as a ratio of it, the CPU seconds the web server used meanwhile
(`web_cpu_s`) and the load average.

What HTTP does not show is taken in-process afterwards, with Django's test client under the
same settings on the same database: each page's SQL query count (`*_queries`; with
`--slow-ms MS`, its queries slower than that, `slow_query_*` lines), and the figure check:
up to three figure links of each kind on both dashboards are opened and the benchmark stops
if a list does not hold the number its figure shows (`figures_checked`).

`--keep PATH_OR_URL` keeps the generated database (a SQLite file, or a PostgreSQL database
URL) and reuses it on the next run (the bench users get a fresh password each run);
`--pages REGEX` measures some pages only.
"""

import contextlib
import datetime as dt
import functools
import itertools
import json
import os
import random
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.test import Client
from django.test.utils import CaptureQueriesContext, setup_test_environment
from django.utils import timezone

from activities.models import Activity, Board, MocRegistration, Provider, ProviderMembership
from pars_portal.benchmarks.harness import (
    POSTGRES_SCHEMES,
    LoopbackClient,
    argparse_hidden,
    bulk_load,
    cpu_seconds,
    figure_links,
    gunicorn,
    kept_database,
    percentile,
    print_figures,
    production_environment,
    require_scratch,
    run_stage,
    scratch_database,
)
from pars_portal.lib.db import copy_rows
from participants.models import (
    ApiKey,
    Completion,
    FollowUp,
    TransmissionBatch,
    Upload,
    name_key,
)

SETTINGS_MODULE = "pars_bench_dashboard_settings"
EDITOR, REVIEWER = "bench-editor", "bench-reviewer"
WEB_WORKERS = 1  # the pages are requested one at a time (see Command._orchestrate)
LAST_NAMES = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
              "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
              "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson",
              "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
              "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
              "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
              "Carter", "Roberts", "Haddad", "Liu", "Okafor", "Kowalski", "Novak",
              "Rossi"]  # fmt: skip
FIRST_NAMES = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
               "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph",
               "Jessica", "Thomas", "Sarah", "Omar", "Grace", "Wei", "Priya", "Chidi",
               "Ana"]  # fmt: skip
REASONS = [
    "Learner not found at ABIM (ABIM ID unknown)",
    "Birth date does not match ABIM's record",
    "Learner is not enrolled in ABIM MOC",
    "Completion date outside the activity's dates",
    "Credit type not offered by this activity",
    "Name does not match ABIM's record",
]
TOPICS = ["Cardiology", "Nephrology", "Oncology", "Geriatrics", "Infectious disease"]
CHANNELS = ["upload"] * 60 + ["api"] * 30 + ["form"] * 9 + ["admin"]
YEARS = 5


class Command(BaseCommand):
    help = (
        "Benchmark the dashboards and lists as a user waits for them: over HTTP through "
        "gunicorn, on N synthetic records (scratch database)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--records", type=int, default=100_000)
        parser.add_argument("--providers", type=int, default=25)
        parser.add_argument("--requests", type=int, default=30, help="measured per page")
        parser.add_argument(
            "--database", metavar="URL",
            help="a PostgreSQL server (postgres://user@host:port/any): the benchmark makes "
            "a fresh database there and drops it afterwards; default: a SQLite file",
        )  # fmt: skip
        parser.add_argument(
            "--keep", metavar="PATH_OR_URL",
            help="keep the database at this path (SQLite) or URL (a PostgreSQL database, "
            "made if missing) and reuse it on the next run",
        )  # fmt: skip
        parser.add_argument("--pages", metavar="REGEX", help="measure only the pages named so")
        parser.add_argument(
            "--slow-ms", type=float, metavar="MS",
            help="also print each page's queries that took longer (slow_query: lines)",
        )  # fmt: skip
        parser.add_argument("--stage", choices=["setup", "inspect"], help=argparse_hidden())
        parser.add_argument("--workdir", help=argparse_hidden())

    def handle(self, *args, stage, workdir, **options):
        if stage is None:
            return self._orchestrate(options)
        require_scratch()
        if stage == "setup":
            return setup(Path(workdir), options["records"], options["providers"])
        return inspect(Path(workdir), options["pages"], options["slow_ms"])

    # --- the parent: database, web server, the user's wait ------------------------------------

    def _orchestrate(self, options):
        base_dir = Path(settings.BASE_DIR)
        with contextlib.ExitStack() as stack:
            if options["keep"]:
                database_url = kept_database(options["keep"])
                workdir = Path(stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="pars-bench-dashboard-")
                ))  # fmt: skip
                vendor = (
                    "postgresql" if urlsplit(database_url).scheme in POSTGRES_SCHEMES else "sqlite"
                )
            else:
                workdir, database_url, vendor = stack.enter_context(
                    scratch_database("pars-bench-dashboard-", server_url=options["database"])
                )
            self.stdout.write(f"database: {vendor}\n")
            # The production settings profile, as deployed (DEBUG off, cached templates,
            # manifest static files, its middleware), for the server and the steps alike.
            env = production_environment(workdir, database_url, base_dir, SETTINGS_MODULE)
            manage = [sys.executable, str(base_dir / "manage.py"), "bench_dashboard",
                      "--workdir", str(workdir)]  # fmt: skip
            run_stage([*manage, "--stage", "setup", "--records", str(options["records"]),
                       "--providers", str(options["providers"])], env)  # fmt: skip
            config = json.loads((workdir / "config.json").read_text())
            figures = {key: config[key] for key in ("generate_s", "records") if key in config}
            servers = []
            # One worker: the pages are requested one at a time, so a second worker would
            # only sit idle; and as sync workers take connections in turn, a second one
            # would get some of the warm-ups and meet some timed requests cold. One process
            # serves every warm-up and every timed request.
            with gunicorn(env, workers=WEB_WORKERS, ready_path="/accounts/login/",
                          log_path=workdir / "gunicorn.log", cwd=base_dir,
                          started=servers) as port:  # fmt: skip
                timings = measure(port, config, options["requests"], options["pages"],
                                  server_pid=servers[0].pid)  # fmt: skip
            inspect_command = [*manage, "--stage", "inspect"]
            for option in ("pages", "slow_ms"):
                if options[option] is not None:
                    inspect_command += [f"--{option.replace('_', '-')}", str(options[option])]
            run_stage(inspect_command, env)
            inspected = json.loads((workdir / "inspect.json").read_text())
        figures.update(report(timings, inspected))
        figures["load_average_1min"] = f"{os.getloadavg()[0]:.2f}"
        print_figures(self.stdout, figures)


# --- in the scratch database (child processes, production settings) ---------------------------


def setup(workdir: Path, records: int, providers: int) -> None:
    """The schema, the static files, the records (unless a kept database has them already)
    and a fresh password for each bench user, to log in with over HTTP; config.json says
    what the parent needs."""
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    config = {}
    if not Completion.objects.exists():
        started = time.perf_counter()
        generate(records, providers)
        if connection.vendor == "postgresql":
            # What autovacuum does on a server soon after a load: the visibility map
            # set, so that index-only scans need not visit the table for each row.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM (ANALYZE)")
        config["generate_s"] = f"{time.perf_counter() - started:.1f}"
    config["records"] = Completion.objects.count()
    config["passwords"] = {}
    for username in (EDITOR, REVIEWER):
        user = User.objects.get(username=username)
        config["passwords"][username] = secrets.token_urlsafe(16)
        user.set_password(config["passwords"][username])
        user.save(update_fields=["password"])
    config["provider"] = Provider.objects.get(memberships__user__username=EDITOR).accme_id
    config["year"] = timezone.localdate().year
    (workdir / "config.json").write_text(json.dumps(config))


def inspect(workdir: Path, only: str | None, slow_ms: float | None) -> None:
    """In-process, with Django's test client, what HTTP does not show: each page's SQL
    queries (and the slow ones), and the dashboards' figures checked against their lists.
    Written to inspect.json."""
    config = json.loads((workdir / "config.json").read_text())
    clients = {}
    for username in (EDITOR, REVIEWER):
        clients[username] = portal_client()
        clients[username].force_login(User.objects.get(username=username))
    queries_per_page, slow = {}, {}
    for name, (username, url) in pages(config, only).items():
        with CaptureQueriesContext(connection) as queries:
            response = clients[username].get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{name}: {url} answered {response.status_code}")
        queries_per_page[name] = len(queries)
        slow[name] = [
            (float(query["time"]) * 1000, " ".join(query["sql"].split()))
            for query in (queries.captured_queries if slow_ms is not None else [])
            if float(query["time"]) * 1000 >= slow_ms
        ]
    result = {"queries": queries_per_page, "slow": slow, "figures_checked": check_figures()}
    (workdir / "inspect.json").write_text(json.dumps(result))


def portal_client() -> Client:
    """Django's test client, addressed as the server is (its host, and HTTPS as the TLS
    proxy in front of production says)."""
    return Client(HTTP_HOST="127.0.0.1", HTTP_X_FORWARDED_PROTO="https")


def generate(total: int, provider_count: int, seed: int = 2015):
    """Synthetic data written with multi-row INSERTs (the ORM's bulk_create per table)."""

    rng = random.Random(seed)
    now = timezone.now()
    today = timezone.localdate()
    years = list(range(today.year - YEARS + 1, today.year + 1))
    abim = Board.objects.get(code="ABIM")
    credit_types = list(abim.credit_types.order_by("code"))
    with transaction.atomic():
        editor = User.objects.create_user(EDITOR, password=None)  # set by setup()
        reviewer = User.objects.create_user(REVIEWER, password=None, is_staff=True)
        reviewer.groups.add(Group.objects.get(name="reviewers"))
        # Zipf-like sizes: provider i holds a share proportional to 1/(i+1).
        weights = [1 / (i + 1) for i in range(provider_count)]
        providers = Provider.objects.bulk_create(
            Provider(accme_id=f"{1000000 + i:07d}", name=f"Bench provider {i + 1:02d}")
            for i in range(provider_count)
        )
        ProviderMembership.objects.create(user=editor, provider=providers[0], role="editor")
        activities, k = [], 0
        for provider, weight in zip(providers, weights, strict=True):
            for year in years:
                for n in range(max(2, round(60 * weight))):
                    k += 1
                    activities.append(Activity(
                        provider=provider, pars_id=f"{200000000 + k:09d}",
                        title=f"{rng.choice(TOPICS)} update {year} #{n + 1}",
                        activity_type=Activity.Type.COURSE, start_date=dt.date(year, 1, 1),
                        end_date=dt.date(year, 12, 31), reporting_year=year,
                    ))  # fmt: skip
        activities = Activity.objects.bulk_create(activities, batch_size=2000)
        registered = [a for a in activities if rng.random() < 0.9]
        registrations = MocRegistration.objects.bulk_create(
            (MocRegistration(activity=a, board=abim, moc_points=10, registered_by=editor)
             for a in registered), batch_size=2000,
        )  # fmt: skip
        through = MocRegistration.credit_types.through
        through.objects.bulk_create(
            (through(mocregistration=r, credittype=ct)
             for r in registrations for ct in credit_types),
            batch_size=5000,
        )  # fmt: skip
        # Monthly transmission batches (the last ones still being answered).
        batches = {}
        for year in years:
            for month in range(1, 13):
                sent = timezone.make_aware(dt.datetime(year, month, 1, 6)) + dt.timedelta(days=31)
                if sent < now:
                    batches[(year, month)] = TransmissionBatch(
                        board=abim, file=f"transmissions/bench-{year}-{month}.xml",
                        status=TransmissionBatch.Status.SENT,
                    )  # fmt: skip
        TransmissionBatch.objects.bulk_create(batches.values())
        for (year, month), batch in batches.items():
            sent = timezone.make_aware(dt.datetime(year, month, 1, 6)) + dt.timedelta(days=31)
            TransmissionBatch.objects.filter(pk=batch.pk).update(created_at=sent)
            batch.created_at = sent
        for provider in providers[:5]:
            ApiKey.objects.bulk_create(
                ApiKey(provider=provider, name=f"LMS {m}", mode=m, key_hash=f"{provider.pk}-{m}",
                       prefix=f"bench{provider.pk}{m[:1]}", created_by=editor, last_used_at=now)
                for m in ("production", "sandbox")
            )  # fmt: skip
        Upload.objects.bulk_create(
            Upload(provider=providers[0], uploaded_by=editor, file=f"uploads/bench-{i}.txt",
                   file_name=f"roster-{i}.txt", file_format="tsv", sha256=f"{i:064d}",
                   status="done", total_rows=500, processed_rows=500, committed_rows=500)
            for i in range(200)
        )  # fmt: skip

    by_provider = {}
    for activity in activities:
        by_provider.setdefault(activity.provider_id, []).append(activity)
    weight_sum = sum(weights)
    columns = [
        "provider_id", "activity_id", "board_id", "learner_id", "first_name", "last_name",
        "first_name_key", "last_name_key", "birth_month", "birth_day", "completion_date",
        "credit_type_id", "moc_points",
        "learner_permission", "channel", "status", "status_reason", "status_changed_at",
        "warning", "created_by_id", "created_at", "transmitted_in_id", "transmitted_at",
        "board_confirmed_at", "is_sandbox", "credit_id",
    ]  # fmt: skip
    queued = [0]  # board rejections that go to the reviewers' queue
    serial = itertools.count(1)  # credit IDs
    keys = {name: name_key(name) for name in FIRST_NAMES + LAST_NAMES}
    arrival = functools.lru_cache(maxsize=None)(
        lambda day: timezone.make_aware(dt.datetime.combine(day, dt.time(9)))
    )

    def rows():
        for provider, weight in zip(providers, weights, strict=True):
            count = round(total * weight / weight_sum)
            acts = by_provider[provider.pk]
            per_activity = {a.pk: 0 for a in acts}
            for _ in range(count):
                activity = acts[rng.randrange(len(acts))]
                year = activity.reporting_year
                last_day = today if year == today.year else dt.date(year, 12, 31)
                completed = dt.date(year, 1, 1) + dt.timedelta(
                    days=rng.randrange((last_day - dt.date(year, 1, 1)).days + 1)
                )
                n = per_activity[activity.pk]
                per_activity[activity.pk] = n + 1
                learner = f"{100000 + (n * 7 + activity.pk) % 900000:06d}"
                delay = dt.timedelta(days=rng.randrange(45), seconds=rng.randrange(86_400))
                if rng.random() < 0.03:  # late: sent weeks after the year's deadline
                    delay += dt.timedelta(days=400)
                created = arrival(completed) + delay
                if created > now:  # not yet: sent at some moment since it was completed
                    created = arrival(completed) + (now - arrival(completed)) * rng.random()
                current = year == today.year
                roll = rng.random()
                if roll < (0.30 if current else 0.08):
                    status = "submitted"
                elif roll < (0.38 if current else 0.14):
                    status = "rejected"
                elif roll < (0.42 if current else 0.18):
                    status = "deleted"
                else:
                    status = "accepted"
                reason = rng.choice(REASONS) if status == "rejected" else ""
                sandbox = rng.random() < 0.01  # never sent to the board
                batch = batches.get((created.year, created.month))
                sent = (
                    batch is not None
                    and not sandbox
                    and (status != "submitted" or rng.random() < 0.2)
                )
                sent_at = batch.created_at if sent else None
                changed = (sent_at or created) + dt.timedelta(hours=rng.randrange(1, 72))
                if changed > now:  # times spread as real ones are, not all equal to now
                    changed = now - (now - (sent_at or created)) * rng.random()
                confirmed = changed if status == "accepted" and sent else None
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                yield (
                    provider.pk, activity.pk, abim.pk, learner, first, last, keys[first],
                    keys[last], 1 + n % 12, 1 + n % 28, completed,
                    credit_types[n % len(credit_types)].pk, 10, True, rng.choice(CHANNELS),
                    status, reason, changed, "", editor.pk, created,
                    batch.pk if sent else None, sent_at, confirmed, sandbox,
                    f"ccid:bench:{next(serial)}",
                )  # fmt: skip
                if status == "rejected" and sent and rng.random() < 0.5:
                    queued[0] += 1

    # One COPY on PostgreSQL (its indexes and foreign keys set aside meanwhile and built
    # again after: minutes, not hours, for millions); chunks of INSERTs on SQLite.
    with transaction.atomic(), bulk_load(Completion):
        copy_rows(Completion, columns, rows())
    # What each batch carried, as the transmission counts it.
    sent = (
        Completion.objects.filter(transmitted_in=OuterRef("pk"))
        .values("transmitted_in")
        .annotate(n=Count("id"))
        .values("n")
    )
    TransmissionBatch.objects.update(additions=Coalesce(Subquery(sent), 0))
    # Board rejections in the reviewers' queue, of every age; 40% resolved.
    queue = list(
        Completion.objects.filter(status="rejected", is_sandbox=False, transmitted_in__isnull=False)
        .order_by("-status_changed_at")
        .values_list("pk", "status_reason")[: queued[0]]
    )
    FollowUp.objects.bulk_create(
        (FollowUp(completion_id=pk, reason=reason, resolution="withdrawn" if i % 5 < 2 else "",
                  resolved_at=now if i % 5 < 2 else None) for i, (pk, reason) in enumerate(queue)),
        batch_size=5000,
    )  # fmt: skip
    # Queued when the board rejected them.
    FollowUp.objects.update(
        created_at=Subquery(
            Completion.objects.filter(pk=OuterRef("completion_id")).values("status_changed_at")
        )
    )


def pages(config: dict, only: str | None = None) -> dict[str, tuple[str, str]]:
    """The pages measured: name -> (the user who asks, URL). The provider pages as the
    editor of the largest provider (the worst case)."""
    year = config["year"]
    last_name = "Smith"
    learner = "123456"
    found = {
        "baseline_help_page": (EDITOR, "/uploads/help/"),
        "provider_dashboard": (EDITOR, "/"),
        "provider_dashboard_last_year": (EDITOR, f"/?year={year - 1}"),
        "reviewer_dashboard": (REVIEWER, "/"),
        "reviewer_dashboard_last_year": (REVIEWER, f"/?year={year - 1}"),
        "reviewer_dashboard_first_year": (REVIEWER, f"/?year={year - YEARS + 1}"),
        "reviewer_provider_dashboard": (REVIEWER, f"/?provider={config['provider']}"),
        "participant_list": (EDITOR, "/participants/"),
        "participant_search_name": (EDITOR, f"/participants/?last_name={last_name}"),
        # The beginning of a name, any case: a range of the name keys.
        "participant_search_name_prefix": (EDITOR, "/participants/?last_name=sm"),
        "participant_search_full_name_prefix": (
            EDITOR,
            "/participants/?last_name=mart&first_name=j",
        ),
        "participant_search_first_name": (EDITOR, "/participants/?first_name=omar"),
        "participant_search_abim_id": (EDITOR, f"/participants/?learner_id={learner}"),
        "participant_search_abim_id_prefix": (EDITOR, f"/participants/?learner_id={learner[:3]}"),
        "participant_search_activity_title": (EDITOR, "/participants/?activity=cardiology"),
        "participant_list_with_deleted": (EDITOR, "/participants/?status=all"),
        "participant_search_rejected_year": (
            EDITOR,
            f"/participants/?status=rejected&date_from={year}-01-01&date_to={year}-12-31",
        ),
        "participant_search_late_year": (
            EDITOR,
            f"/participants/?late=late&date_from={year - 1}-01-01&date_to={year - 1}-12-31",
        ),
        "participant_list_reviewer": (REVIEWER, "/participants/"),
        "participant_list_waiting_for_board": (REVIEWER, "/participants/?board=waiting"),
        "participant_list_confirmed_by_board": (REVIEWER, "/participants/?board=confirmed"),
        # The reviewer dashboard's link: deleted ones included.
        "participant_list_confirmed_by_board_all": (
            REVIEWER,
            "/participants/?board=confirmed&status=all",
        ),
        "activity_list": (EDITOR, "/activities/"),
        "review_queue": (REVIEWER, "/review/"),
        "admin_rejected_list": (REVIEWER, "/admin/participants/completion/?status__exact=rejected"),
    }
    if only:
        found = {n: p for n, p in found.items() if n == "baseline_help_page" or re.search(only, n)}
    return found


def measure(port: int, config: dict, requests: int, only: str | None, *, server_pid: int) -> dict:
    """Each page over HTTP on loopback as its user's browser asks for it: both users log in
    through the login form, then per page 2 warm-ups (templates, caches of the database)
    and `requests` timed requests, each from sending the request to reading the whole
    body. Every answer must be 200 and the page of the user who asked (a redirect to the
    login page, say, stops the benchmark). Milliseconds per page, and the CPU seconds the
    web server used meanwhile."""
    browsers = {}
    for username in (EDITOR, REVIEWER):
        browsers[username] = LoopbackClient(port)
        browsers[username].login(username, config["passwords"][username])
    cpu_before = cpu_seconds(server_pid)
    times = {}
    for name, (username, url) in pages(config, only).items():
        browser = browsers[username]
        for _ in range(2):
            timed_get(browser, username, name, url)
        times[name] = [timed_get(browser, username, name, url) for _ in range(requests)]
    return {"times": times, "web_cpu_s": cpu_seconds(server_pid) - cpu_before}


def timed_get(browser: LoopbackClient, username: str, name: str, url: str) -> float:
    """Milliseconds from sending GET `url` to having read the whole answer; the answer must
    be 200 and name the user who asked (the login page names nobody)."""
    started = time.perf_counter()
    status, headers, body = browser.request("GET", url)
    elapsed = (time.perf_counter() - started) * 1000
    if status != 200:
        where = f" to {headers['Location']}" if headers.get("Location") else ""
        raise CommandError(f"{name}: GET {url} as {username} answered {status}{where}")
    if username.encode() not in body:
        raise CommandError(f"{name}: GET {url} is not {username}'s page")
    return elapsed


def report(timings: dict, inspected: dict) -> dict:
    """The figures, in their order: per page p50, p95 and queries (and slow queries), then
    each page's p95 as a ratio of the baseline page's, then the rest."""
    figures = {"measured_over": "http", "web_workers": WEB_WORKERS}
    for name, times in timings["times"].items():
        figures[f"{name}_p50_ms"] = f"{percentile(times, 50):.1f}"
        figures[f"{name}_p95_ms"] = f"{percentile(times, 95):.1f}"
        figures[f"{name}_queries"] = inspected["queries"][name]
        for number, (ms, sql) in enumerate(inspected["slow"][name], start=1):
            # Numbered: two queries of the same rounded time must not hide one another.
            figures[f"slow_query_{name}_{number}_{ms:.0f}ms"] = sql
    baseline = float(figures["baseline_help_page_p95_ms"])
    for name in timings["times"]:
        if name != "baseline_help_page":
            ratio = float(figures[f"{name}_p95_ms"]) / baseline
            figures[f"{name}_p95_ratio_vs_baseline"] = f"{ratio:.1f}"
    figures["web_cpu_s"] = f"{timings['web_cpu_s']:.2f}"
    figures["figures_checked"] = inspected["figures_checked"]
    return figures


FIGURES_PER_KIND = 3  # figure links checked of each kind on each dashboard


def check_figures() -> int:
    """After the timings: on both dashboards, up to FIGURES_PER_KIND figure links of each
    kind (status card, month, channel, ranking, reason, batch…) are opened, and each list
    must hold exactly the number the figure shows; how many were checked (a mismatch
    stops the benchmark)."""
    setup_test_environment()  # the pages' context (the lists' paginators) is recorded
    checked = 0
    for username in (EDITOR, REVIEWER):
        client = portal_client()
        client.force_login(User.objects.get(username=username))
        per_kind: dict[str, int] = {}
        for kind, shown, href in figure_links(client.get("/").content.decode()):
            if per_kind.get(kind, 0) >= FIGURES_PER_KIND:
                continue
            per_kind[kind] = per_kind.get(kind, 0) + 1
            response = client.get(href)
            listed = response.context["page"].paginator.count if response.context else None
            if response.status_code != 200 or listed != shown:
                raise RuntimeError(
                    f"{username}: figure {kind} shows {shown}, {href} lists {listed}"
                )
            checked += 1
    return checked
