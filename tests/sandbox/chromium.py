"""Drive headless Chromium over the DevTools protocol (its WebSocket, with aiohttp): enough to test the sandbox page."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class Browser:
    """`async with Browser(url, profile_dir) as page:` opens `url` in headless Chromium; `evaluate` runs JS in it."""

    def __init__(self, url: str, profile: Path) -> None:
        self._url = url
        self._profile = profile
        self._ids = itertools.count(1)
        self._process: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None
        self._socket: aiohttp.ClientWebSocketResponse | None = None

    async def __aenter__(self) -> Browser:
        assert CHROMIUM is not None
        self._process = await asyncio.create_subprocess_exec(
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={self._profile}",
            "--remote-debugging-port=0", "--remote-allow-origins=*", self._url,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        port_file = self._profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            assert time.monotonic() < deadline, "Chromium did not open its DevTools port"
            await asyncio.sleep(0.05)
        port = port_file.read_text().split()[0]
        self._session = aiohttp.ClientSession()
        while True:
            async with self._session.get(f"http://127.0.0.1:{port}/json/list") as response:
                pages = [t for t in await response.json() if t.get("type") == "page"]
            if pages:
                break
            assert time.monotonic() < deadline, "Chromium opened no page"
            await asyncio.sleep(0.05)
        self._socket = await self._session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._session is not None:
            await self._session.close()
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()

    async def evaluate(self, expression: str) -> Any:
        """Evaluate JS in the page (awaiting a promise) and return its JSON value; JS exceptions raise."""
        assert self._socket is not None
        request_id = next(self._ids)
        await self._socket.send_str(json.dumps({
            "id": request_id, "method": "Runtime.evaluate",
            "params": {"expression": expression, "awaitPromise": True, "returnByValue": True},
        }))  # fmt: skip
        while True:
            message = json.loads((await self._socket.receive()).data)
            if message.get("id") == request_id:
                break
        result = message["result"]
        if "exceptionDetails" in result:
            raise AssertionError(f"JS failed: {result['exceptionDetails']}")
        return result["result"].get("value")
