"""A stand-in for Slack's Socket Mode WebSocket, on loopback, for tests and the sandbox.

What Slack does (api.slack.com/apis/socket-mode): the app calls `apps.connections.open` with its app-level token
(`xapp-…`) and gets a single-use `wss://` URL; on connecting, Slack sends `{"type": "hello", …}`; then each event
arrives as an envelope `{"envelope_id", "type": "slash_commands" | "interactive" | "events_api", "payload",
"accepts_response_payload", "retry_attempt", "retry_reason"}`, which the app acknowledges by sending
`{"envelope_id", "payload"?}` back on the socket; the ack's payload is the command's response. Slack may ask the
app to reconnect with `{"type": "disconnect", "reason": "refresh_requested"}`.

Served with aiohttp's web server (aiohttp is already a dependency: slack-sdk's Socket Mode client uses it).
`FakeSlack` hands out this server's URL from `apps.connections.open`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from aiohttp import WSMsgType, web


class FakeSocketMode:
    def __init__(self, *, app_id: str = "A0CALLBOT") -> None:
        self.app_id = app_id
        self.url = ""
        self.tickets: set[str] = set()
        self.connections = 0
        self.acks: dict[str, dict[str, Any]] = {}
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._sockets: list[web.WebSocketResponse] = []
        self._connected = asyncio.Event()
        self._serial = itertools.count(1)
        self._runner: web.AppRunner | None = None

    async def start(self) -> FakeSocketMode:
        app = web.Application()
        app.router.add_get("/link/", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # aiohttp names no public way to the port the OS picked
        assert isinstance(server, asyncio.Server)
        host, port = server.sockets[0].getsockname()[:2]
        self.url = f"ws://{host}:{port}"
        return self

    async def stop(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def open_url(self) -> str:
        """What apps.connections.open answers: a fresh single-use URL."""
        ticket = f"ticket-{next(self._serial)}"
        self.tickets.add(ticket)
        return f"{self.url}/link/?ticket={ticket}&app_id={self.app_id}"

    async def wait_connected(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def send(self, kind: str, payload: dict[str, Any], *, timeout: float = 5.0) -> dict[str, Any]:
        """Deliver one envelope to the connected app and return its ack (`{"envelope_id", "payload"?}`)."""
        await self.wait_connected(timeout)
        envelope_id = f"57d6a792-4d35-4d0b-b6aa-{next(self._serial):012d}"
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                    "accepts_response_payload": kind != "events_api", "retry_attempt": 0,
                    "retry_reason": ""}  # fmt: skip
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[envelope_id] = future
        await self._sockets[-1].send_str(json.dumps(envelope))
        return await asyncio.wait_for(future, timeout)

    async def ask_to_reconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's `disconnect` message: the app should open a new connection (apps.connections.open again)."""
        await self.wait_connected()
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-sandbox"}}
        await self._sockets[-1].send_str(json.dumps(message))

    async def slash_command(self, command: dict[str, str], *, timeout: float = 5.0) -> dict[str, Any]:
        """A slash command as Socket Mode carries it: the same fields as the HTTP form, as a JSON object."""
        return await self.send("slash_commands", command, timeout=timeout)

    async def interaction(self, payload: dict[str, Any], *, timeout: float = 5.0) -> dict[str, Any]:
        return await self.send("interactive", payload, timeout=timeout)

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self.tickets:
            return web.Response(status=401, text="invalid or used ticket")
        self.tickets.discard(ticket)  # single use, as Slack's
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self.connections += 1
        self._sockets.append(socket)
        hello = {"type": "hello", "num_connections": len(self._sockets),
                 "debug_info": {"host": "applink-sandbox", "approximate_connection_time": 18060},
                 "connection_info": {"app_id": self.app_id}}  # fmt: skip
        await socket.send_str(json.dumps(hello))
        self._connected.set()
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                ack = json.loads(message.data)
                envelope_id = ack.get("envelope_id")
                if envelope_id in self._waiting:
                    self.acks[envelope_id] = ack
                    self._waiting.pop(envelope_id).set_result(ack)
        finally:
            self._sockets.remove(socket)
            if not self._sockets:
                self._connected.clear()
        return socket
