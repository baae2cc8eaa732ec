"""`manage.py bench_upload` in its smallest setting, so the benchmark the upload figures come
from keeps working: a real web server and real task workers on a scratch database, a file
uploaded, previewed, confirmed and saved over HTTP, every row created (it stops otherwise),
and its figures printed. How fast is the benchmark's business, not this test's. In CI's
PostgreSQL pass (DATABASE_URL names a server), on a scratch database on that server."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import postgres_pass

# gunicorn and task workers on a scratch database, in a subprocess.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("file_format", ["tsv", "xml"])
def test_bench_upload_runs_end_to_end_and_prints_its_figures(file_format):
    database = ["--database", server] if (server := postgres_pass()) else []
    result = subprocess.run(
        [sys.executable, "manage.py", "bench_upload", "--rows", "50", "--format", file_format,
         *database],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    figures = dict(re.findall(r"^(\w+): (\S+)$", result.stdout, re.MULTILINE))
    assert figures["rows"] == "50" and figures["format"] == file_format
    assert figures["database"] == ("postgresql" if database else "sqlite")
    total = float(figures["total_s"])
    assert total >= float(figures["upload_to_preview_s"]) > 0
    # rows / total_s, total_s rounded to hundredths (a 50-row upload takes well under a second)
    assert float(figures["rows_per_s"]) == pytest.approx(50 / total, rel=0.006 / total + 0.001)
    assert float(figures["baseline_rows_per_s"]) > 0 and float(figures["ratio"]) > 0
    assert float(figures["worker_peak_rss_mb"]) > 0 and float(figures["web_peak_rss_mb"]) > 0
    assert float(figures["worker_cpu_s"]) > 0  # the check and the save ran in the workers
    # The same file again and the same rows in another file: each ended at a preview with
    # nothing to save (the benchmark fails otherwise), and it says how long each took.
    assert float(figures["again_same_file_s"]) > 0 and float(figures["again_same_rows_s"]) > 0
