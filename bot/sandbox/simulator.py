"""Runs scenarios/outbound_call.js in the Node VoxEngine simulator, one process per started session."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from pathlib import Path

from bot.sandbox.fake_voximplant import Session

log = logging.getLogger(__name__)
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
RUN_JS = SCENARIOS / "simulator" / "run.js"
SCENARIO = SCENARIOS / "outbound_call.js"


class ScenarioSimulator:
    """A FakeVoximplant runner: StartScenarios launches the real scenario file under the simulator."""

    def __init__(self, *, time_scale: float = 1.0, scenario: Path = SCENARIO, node: str | None = None) -> None:
        self.time_scale = time_scale
        self.scenario = scenario
        self.node = node or shutil.which("node") or "node"
        self.secrets = {"OPENAI_API_KEY": "sk-sandbox-not-a-real-key"}
        self._processes: set[asyncio.subprocess.Process] = set()
        self._watchers: set[asyncio.Task[None]] = set()

    async def __call__(self, session: Session) -> str:
        process = await asyncio.create_subprocess_exec(
            self.node, str(RUN_JS), "--scenario", str(self.scenario),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stdin is not None and process.stdout is not None
        payload = {"custom_data": session.raw_custom_data, "secrets": self.secrets, "time_scale": self.time_scale}
        process.stdin.write(json.dumps(payload).encode())
        await process.stdin.drain()
        process.stdin.close()
        ready = json.loads(await asyncio.wait_for(process.stdout.readline(), timeout=10))
        if not ready.get("ready"):
            raise RuntimeError(f"the simulator did not start: {ready}")
        self._processes.add(process)
        watcher = asyncio.create_task(self._follow(session, process))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        return str(ready["media_session_access_secure_url"])

    async def wait_all(self, timeout: float = 30.0) -> None:
        """Wait until every simulated session has ended."""
        if self._watchers:
            await asyncio.wait_for(asyncio.gather(*self._watchers), timeout)

    async def aclose(self) -> None:
        for process in list(self._processes):
            if process.returncode is None:
                process.kill()
        await asyncio.gather(*self._watchers, return_exceptions=True)

    async def _follow(self, session: Session, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None and process.stderr is not None
        errors = asyncio.create_task(process.stderr.read())
        async for line in process.stdout:
            try:
                session.api_log.append(json.loads(line))
            except ValueError:
                log.debug("simulator said: %s", line.decode(errors="replace").rstrip())
        session.exit_code = await process.wait()
        stderr = (await errors).decode(errors="replace")
        self._processes.discard(process)
        if session.exit_code != 0:
            log.warning("simulated session %s exited %s: %s", session.history_id, session.exit_code, stderr[-2000:])
