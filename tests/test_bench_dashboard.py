"""`manage.py bench_dashboard` in its smallest setting, so the benchmark the performance
figures come from keeps working: it builds its own scratch database, requests every page
it measures successfully (a page that fails stops it), checks a sample of the dashboards'
figures against the lists they open, and prints its figures. With PARS_TEST_POSTGRES set to
a PostgreSQL server's URL, the same on a scratch database there (records written by COPY)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Builds a scratch database of 3,000 records in a subprocess.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


SERVERS = [None]
if os.environ.get("PARS_TEST_POSTGRES"):
    SERVERS.append(os.environ["PARS_TEST_POSTGRES"])


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
