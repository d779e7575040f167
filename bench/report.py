"""The results table: our figure, the baseline's, the ratio, and the target it answers to."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Row:
    section: str
    measure: str
    ours: float
    baseline: float | None = None
    unit: str = "ms"
    target: str = ""
    met: bool | None = None  # None: no target, or nothing to judge
    note: str = ""
    detail: str = ""  # printed under the table, e.g. a query plan

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline or math.isnan(self.baseline) or math.isnan(self.ours):
            return None
        return self.ours / self.baseline

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def table(rows: list[Row]) -> str:
    """A Markdown table, readable in a terminal and pasteable into docs/benchmarks.md."""
    header = ["measure", "ours", "baseline", "ratio", "target", ""]
    lines = [header]
    for row in rows:
        ratio = row.ratio
        verdict = {True: "ok", False: "MISSED", None: ""}[row.met]
        lines.append(
            [
                f"{row.section}: {row.measure}" + (f" ({row.note})" if row.note else ""),
                number(row.ours, row.unit),
                number(row.baseline, row.unit),
                "—" if ratio is None else f"{ratio:.2f}×",
                row.target,
                verdict,
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for index, line in enumerate(lines):
        cells = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("| " + " | ".join(cells) + " |")
        if index == 0:
            out.append(
                "|" + "|".join(("-" * (w + 1) + ":") if i else ("-" * (w + 2)) for i, w in enumerate(widths)) + "|"
            )
    details = [f"[{i}] {row.section}: {row.measure}: {row.detail}" for i, row in enumerate(rows, 1) if row.detail]
    return "\n".join(out + (["", *details] if details else []))
