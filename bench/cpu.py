"""CPU time of the processes under load, read from /proc/<pid>/stat (user + system, every thread; no psutil).

A `Meter` reads named groups of processes at once; the difference of two readings is the CPU seconds each group
used in between, and `wall` the seconds that passed. CPU per request does not depend on how many cores the machine
has; CPU per second of wall time (cores busy) shows which process sets the pace: one near 1.0 is an event loop
that is saturated, all of them near the machine's core count is a machine that is.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from bench.postgres import Server

TICK = os.sysconf("SC_CLK_TCK")
Reading = dict[str, float]


def cpu_s(pid: int, *, reaped: bool = True) -> float:
    """User + system CPU seconds of `pid`, and with `reaped` of its children it has waited for (exited ones)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # fields[0] is stat's 3rd field (state); utime, stime, cutime, cstime are its 14th to 17th
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped else 0)
    return ticks / TICK


def server_cpu_s(server: Server) -> float:
    """Every process of a PostgreSQL server: the postmaster with the backends that exited, and those running now."""
    postmaster, children = server.pids()
    total = cpu_s(postmaster)
    for child in children:
        with contextlib.suppress(OSError):  # gone meanwhile: counted in the postmaster's next reading
            total += cpu_s(child, reaped=False)
    return total


class Meter:
    """Reads the CPU seconds of named groups of processes, all at one moment."""

    def __init__(self, groups: dict[str, Callable[[], float]]) -> None:
        self.groups = groups

    def read(self) -> Reading:
        reading = {name: read() for name, read in self.groups.items()}
        reading["wall"] = time.perf_counter()
        return reading


def used(before: Reading, after: Reading) -> Reading:
    """What each group used between two readings (and `wall`, the seconds between them)."""
    return {name: after[name] - before[name] for name in before}


def cores(spent: Reading) -> dict[str, float]:
    """Each group's CPU seconds per second of wall time: how many cores it kept busy."""
    wall = spent["wall"]
    return {name: value / wall for name, value in spent.items() if name != "wall"}
