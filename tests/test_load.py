"""The load test in its smallest setting: `manage.py bench_load --seconds 10 --users 3`.

It runs gunicorn on loopback against a scratch database (SQLite, or a fresh PostgreSQL
database when DATABASE_URL points at PostgreSQL) under the production settings profile,
drives mixed API submissions and page views, and checks what the database holds afterwards.
The full setting is `make bench-load` (90 s, 8 clients)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

# gunicorn and task workers under load for 10 s on a scratch database.
pytestmark = pytest.mark.slow

# With uploads: provider A's file is checked and saved by real task workers while provider
# B's small uploads are checked (how long they wait is measured; at most 5 s).
SMALLEST = ["--seconds", "10", "--users", "3", "--roster", "5000", "--upload-rows", "3000"]


def test_load_smallest_setting_has_no_server_errors_and_loses_no_record():
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the command sets its own for its processes
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "manage.py", "bench_load", *SMALLEST],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    took = time.monotonic() - started
    report = f"exit {result.returncode} after {took:.0f} s\n{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, report
    figures = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)

    engine = settings.DATABASES["default"]["ENGINE"]
    expected_vendor = "postgresql" if "postgresql" in engine else "sqlite"
    assert figures["database"] == expected_vendor, report
    assert figures["errors_5xx"] == "0", report
    assert figures["errors_connection"] == "0", report
    assert figures["errors_4xx_unexpected"] == "0", report
    assert figures["unexpected_answers"] == "0", report
    assert float(figures["throughput_req_per_s"]) > 0, report
    assert int(figures["records_created"]) > 0, report
    assert float(figures["records_per_s"]) > 0, report
    # The deliberate bad requests were made and refused with their 4xx.
    assert int(figures["errors_4xx_expected"]) > 0, report
    # Integrity: every record the API said it created is in the database, exactly once.
    assert figures["integrity"] == "OK", report
    assert figures["completions_in_database"] == figures["completions_expected"], report
    assert figures["natural_key_duplicates"] == "0", report
    assert figures["single_records_created_twice"] == "0", report
    assert figures["single_records_never_created"] == "0", report
    # Every kind of traffic was measured, with a baseline to compare against.
    for kind in ("api_submit_json", "api_bulk_json", "api_bulk_xml", "api_list", "page_home",
                 "page_search", "page_activity", "baseline_login_page"):  # fmt: skip
        assert f"kind_{kind}" in figures, report
    assert float(figures["baseline_p95_ms"]) > 0, report
    # Another provider's uploads were checked while the large one ran, within seconds.
    assert figures["large_upload_status"] == "done", report
    assert int(figures["small_uploads_checked"]) >= 2, report
    assert float(figures["small_upload_wait_max_s"]) <= 5.0, report
