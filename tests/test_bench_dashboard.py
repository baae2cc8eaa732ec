"""`manage.py bench_dashboard` in its smallest setting, so the benchmark the performance
figures come from keeps working: it builds its own scratch database, serves it with
gunicorn and requests every page it measures over HTTP as its logged-in user (a page that
fails stops it), checks a sample of the dashboards' figures against the lists they open,
and prints its figures. In CI's PostgreSQL pass (DATABASE_URL names a server), or with
PARS_TEST_POSTGRES set to a server's URL, on a scratch database there (records written by
COPY)."""

import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from pars_portal.benchmarks.harness import LoopbackClient
from pars_portal.benchmarks.management.commands.bench_dashboard import timed_get

from .conftest import postgres_pass

ROOT = Path(__file__).resolve().parents[1]


SERVERS = [postgres_pass()]  # None: a SQLite file
if os.environ.get("PARS_TEST_POSTGRES") and SERVERS == [None]:
    SERVERS.append(os.environ["PARS_TEST_POSTGRES"])


# Builds a scratch database of 3,000 records and serves it with gunicorn, in a subprocess.
@pytest.mark.slow
@pytest.mark.parametrize("server", SERVERS, ids=lambda s: "postgresql" if s else "sqlite")
def test_bench_dashboard_runs_and_prints_its_figures(server):
    database = ["--database", server] if server else []
    result = subprocess.run(
        [sys.executable, "manage.py", "bench_dashboard", "--records", "3000", "--requests", "2",
         *database],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    figures = dict(re.findall(r"^(\w+): (\S+)$", result.stdout, re.MULTILINE))
    assert 2900 <= int(figures["records"]) <= 3100
    for page in ("provider_dashboard", "reviewer_dashboard", "participant_list",
                 "participant_search_name", "admin_rejected_list"):  # fmt: skip
        assert float(figures[f"{page}_p95_ms"]) > 0
        assert float(figures[f"{page}_p95_ratio_vs_baseline"]) > 0
    assert int(figures["provider_dashboard_queries"]) <= 12
    # Figure links of every kind were opened and each list held the number shown.
    assert int(figures["figures_checked"]) >= 30
    # The times are HTTP ones: the pages were rendered by the gunicorn it started, whose
    # CPU time is a good part of the time they took (2 warm-ups + 2 timed requests each);
    # pages rendered in the benchmark's own process would leave the server idle.
    assert figures["measured_over"] == "http" and figures["web_workers"] == "1"
    waited_s = sum(float(v) for k, v in figures.items() if k.endswith("_p50_ms")) * 4 / 1000
    assert float(figures["web_cpu_s"]) >= 0.25 * waited_s > 0


class _LoggedOut(BaseHTTPRequestHandler):
    """A portal whose session has gone: pages redirect to the login page, which names
    nobody."""

    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path.startswith("/accounts/login/"):
            body = b'<form><input name="username"><input name="password"></form>'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(302)
        self.send_header("Location", f"/accounts/login/?next={self.path}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def logged_out_portal():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LoggedOut)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_page_that_redirects_to_the_login_page_stops_the_benchmark(logged_out_portal):
    browser = LoopbackClient(logged_out_portal, timeout=10)
    with pytest.raises(CommandError, match=r"answered 302 to /accounts/login/\?next=/"):
        timed_get(browser, "bench-editor", "provider_dashboard", "/")


def test_a_page_that_is_not_the_users_stops_the_benchmark(logged_out_portal):
    browser = LoopbackClient(logged_out_portal, timeout=10)
    with pytest.raises(CommandError, match="is not bench-editor's page"):
        timed_get(browser, "bench-editor", "login", "/accounts/login/")
