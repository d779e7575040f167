"""Load generation: a lean keep-alive HTTP/1.1 client, closed-loop and timed runs, percentiles."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by the nearest-rank method; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Run:
    """What one load run saw: per-request latencies (s) of the accepted requests, failures, and the wall time."""

    latencies: list[float]
    failures: int
    elapsed_s: float

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.elapsed_s if self.elapsed_s else math.nan

    def ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000


class RawClient:
    """One keep-alive HTTP/1.1 connection, so the client's own cost stays far below the servers' (httpx costs more)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path or "/"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self._writer is not None:  # the server may have closed it while idle (uvicorn: after 5 s)
            try:
                status, payload = await self._post(body, headers)
            except (ConnectionError, asyncio.IncompleteReadError):
                status, payload = 0, b""
            if status:
                return status, payload
            await self.close()  # nothing was answered on the stale connection: send it on a fresh one
        return await self._post(body, headers)

    async def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        head = [f"POST {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        self._writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self._reader.readline()
        length, close = 0, False
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
            elif name.lower() == "transfer-encoding":
                raise RuntimeError("RawClient reads only Content-Length bodies")
        payload = await self._reader.readexactly(length) if length else b""
        if close or not status_line:
            await self.close()
        return (int(status_line.split()[1]) if status_line else 0), payload

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


@dataclass
class RawResponse:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode()


class RawPool:
    """Quacks like httpx.AsyncClient.post for SlackSender: kept-alive RawClients, one per request in flight."""

    def __init__(self) -> None:
        self._idle: dict[str, list[RawClient]] = {}

    async def post(self, url: str, *, content: bytes, headers: dict[str, str]) -> RawResponse:
        idle = self._idle.setdefault(url, [])
        client = idle.pop() if idle else RawClient(url)
        status, body = await client.post(content, headers)
        idle.append(client)
        return RawResponse(status, body)

    async def aclose(self) -> None:
        for clients in self._idle.values():
            for client in clients:
                await client.close()
        self._idle.clear()


async def closed_loop(concurrency: int, count: int, one: Callable[[int, int], Awaitable[bool]]) -> Run:
    """`count` requests from `concurrency` workers, each sending its next one when the last is answered.

    `one(worker, n)` sends request n and returns whether it was accepted; its latency is timed around it.
    """
    latencies: list[float] = []
    failures = 0
    counter = iter(range(count))

    async def worker(index: int) -> None:
        nonlocal failures
        for n in counter:
            started = time.perf_counter()
            ok = await one(index, n)
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return Run(latencies, failures, time.perf_counter() - started)


async def timed_loop(concurrency: int, duration_s: float, one: Callable[[int, int], Awaitable[bool]]) -> Run:
    """Like closed_loop, but every worker keeps sending until `duration_s` has passed."""
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + duration_s

    async def worker(index: int) -> None:
        nonlocal failures
        n = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            ok = await one(index, n)
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                failures += 1
            n += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return Run(latencies, failures, time.perf_counter() - started)
