"""Serve an ASGI app on a real loopback port (port 0: the OS picks) inside the running event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Generator
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp


class _Server(uvicorn.Server):
    """uvicorn's server, stopping at once: uvicorn notices `should_exit` on a 0.1 s tick, then pauses 0.1 s and polls
    every 0.1 s for the connections to close; here `exit()` wakes the loop, and the connections are polled often."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit = asyncio.Event()

    def exit(self) -> None:
        self.should_exit = True
        self._exit.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # Several servers share one process here; signals belong to whoever runs the loop.
        yield

    async def main_loop(self) -> None:
        # As uvicorn's: on_tick every 0.1 s (it refreshes the Date header each second and reads should_exit).
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864_000
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.1):
                    await self._exit.wait()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # As uvicorn's: stop accepting, close idle connections, let requests under way finish (within
        # timeout_graceful_shutdown, if set), then the lifespan shutdown; without its fixed 0.1 s waits.
        # Stop accepting first, and let the connections accepted already get their transports (on the next turns of
        # the loop) while the server is open: Python 3.11's asyncio asserts that it is when it attaches one, and a
        # connection accepted just before `close()` would be left with its socket open (a ResourceWarning later).
        loop = asyncio.get_running_loop()
        for server in self.servers:
            for listening in server.sockets:
                loop.remove_reader(listening.fileno())
        for _ in range(3):
            await asyncio.sleep(0)
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        try:
            async with asyncio.timeout(self.config.timeout_graceful_shutdown):
                while self.server_state.connections or self.server_state.tasks:
                    await asyncio.sleep(0.002)
                for server in self.servers:
                    await server.wait_closed()
        except TimeoutError:
            for task in self.server_state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        await self.lifespan.shutdown()


class LocalServer:
    """`async with LocalServer(app) as server:` serves `app` at `server.url` until the block ends."""

    def __init__(
        self, app: ASGIApp | None = None, *, host: str = "127.0.0.1", port: int = 0,
        tls: tuple[str, str] | None = None,
    ) -> None:  # fmt: skip
        """`tls`: (certificate file, key file), to serve HTTPS."""
        self.app = app  # may be set after binding, when the app needs to know its own URL
        self._tls = tls
        # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and without it
        # Nagle holds back a response body written after its headers (about 40 ms per request on loopback).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError:
            self._socket.close()
            raise
        self.host, self.port = self._socket.getsockname()[:2]
        self.url = f"{'https' if tls else 'http'}://{self.host}:{self.port}"
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> LocalServer:
        if self.app is None:
            raise RuntimeError("LocalServer.start() needs an app")
        certificate, key = self._tls or (None, None)
        self._server = _Server(
            uvicorn.Config(
                self.app, lifespan="on", log_level="warning", access_log=False, ssl_certfile=certificate,
                ssl_keyfile=key,
            )
        )  # fmt: skip
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                await self._task
                raise RuntimeError(f"the server at {self.url} did not start (see the log above)")
            await asyncio.sleep(0.005)
        return self

    async def stop(self) -> None:
        if self._task is None or self._server is None:
            return
        self._server.exit()
        await self._task
        self._task = None
        self._socket.close()

    async def __aenter__(self) -> LocalServer:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


@contextlib.asynccontextmanager
async def serving(*servers: LocalServer) -> AsyncIterator[tuple[LocalServer, ...]]:
    """`async with serving(a, b) as (a, b):` starts the servers in order, and at the end stops them all at once (each
    stop waits for its own requests under way), where nested `async with` blocks would stop them one by one."""
    started: list[LocalServer] = []
    try:
        for server in servers:
            started.append(await server.start())
        yield servers
    finally:
        stopped = await asyncio.gather(*(server.stop() for server in started), return_exceptions=True)
        if errors := [error for error in stopped if isinstance(error, BaseException)]:
            raise errors[0]
