"""The benchmarks run end to end (`python -m bench --quick`), so they do not rot. No timing is asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # a subprocess running every benchmark section


def test_quick_bench_runs_every_section_and_reports_every_figure(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(report.read_text())["rows"]
    sections = {row["section"].split()[0] for row in rows}
    assert sections == {"1", "2", "3", "4", "5"}
    assert len([row for row in rows if row["measure"].startswith("pull mode: ")]) == 2  # beside push mode
    counts = {"pending deliveries", "Slack's 429s for going too fast"}  # may rightly be zero
    measured = [row for row in rows if row["measure"] not in counts]
    assert all(row["ours"] == row["ours"] and row["ours"] > 0 for row in measured), measured  # no NaN, no zero
    assert not any("FAILED" in row["note"] or "LOST" in row["note"] for row in rows), rows
    assert "| measure" in done.stdout and "ratio" in done.stdout
    # Four progress events a call; "requested", "starting" and "dialing" read alike, so at most ringing and connected.
    [per_call] = [row["ours"] for row in rows if row["measure"] == "parent updates (chat.update) per call"]
    assert 0 < per_call <= 2
