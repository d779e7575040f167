"""The benchmarks run end to end (`python -m bench --quick`), so they do not rot. No timing is asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import postgres

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # a subprocess running every benchmark section
# Issue 14's figures on PostgreSQL, by section: reported when this machine has PostgreSQL, else skipped in one line.
ON_POSTGRES = {
    "1": ["--role web, p50 @1", "--role web, p99 @50", "--role web, p99 @50, StartScenarios 0.2 s"],
    "2": [
        "accepted/s, PostgreSQL, 1 replica", "accepted/s, PostgreSQL, 2 replicas",
        "CPU per accepted event, PostgreSQL, 1 replica", "CPU per accepted event, PostgreSQL, 2 replicas",
        "cores busy while accepting, PostgreSQL, 2 replicas",
    ],
    "5": ["PostgreSQL: p99 @1, one channel", "PostgreSQL: p99 @10, a channel each",
          "PostgreSQL, web + worker: p99 @10, one channel"],
}  # fmt: skip


def test_quick_bench_runs_every_section_and_reports_every_figure(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    run = json.loads(report.read_text())
    rows = run["rows"]
    sections = {row["section"].split()[0] for row in rows}
    assert sections == {"1", "2", "3", "4", "5"}
    measures = {(row["section"].split()[0], row["measure"]) for row in rows}
    for section in ("1", "2", "5"):  # issue 14: beside them, PostgreSQL's figures or one line saying why not
        postgres_rows = {(section, measure) for measure in ON_POSTGRES[section]}
        if postgres.missing() is None:
            assert postgres_rows <= measures, postgres_rows - measures
        else:
            assert not postgres_rows & measures
            [line] = [line for line in run["skipped"] if line.startswith(section + " ")]
            assert line in done.stdout and postgres.missing() in line
    assert {("2", "CPU per accepted event"), ("2", "cores busy while accepting")} <= measures  # SQLite's, always
    assert len([row for row in rows if row["measure"].startswith("pull mode: ")]) == 2  # beside push mode
    counts = {"pending deliveries", "Slack's 429s for going too fast"}  # may rightly be zero
    # A drain is rightly zero when the writes kept up with the burst (two PostgreSQL replicas in CI once did).
    measured = [row for row in rows if row["measure"] not in counts and "still queued" not in row["measure"]]
    nothing = [row for row in measured if not row["ours"] > 0]  # NaN or zero
    assert not nothing, nothing
    assert not any("FAILED" in row["note"] or "LOST" in row["note"] for row in rows), rows
    assert "| measure" in done.stdout and "ratio" in done.stdout
    # Four progress events a call; "requested", "starting" and "dialing" read alike, so at most ringing and connected.
    [per_call] = [row["ours"] for row in rows if row["measure"] == "parent updates (chat.update) per call"]
    assert 0 < per_call <= 2
