"""`manage.py bench_dashboard` in its smallest setting, so the benchmark the performance
figures come from keeps working: it builds its own scratch database, requests every page
it measures successfully (a page that fails stops it), and prints its figures."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

# Builds a scratch database of 3,000 records in a subprocess.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_bench_dashboard_runs_and_prints_its_figures():
    result = subprocess.run(
        [sys.executable, "manage.py", "bench_dashboard", "--records", "3000", "--requests", "2"],
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
