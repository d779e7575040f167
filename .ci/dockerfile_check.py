"""Exercise the Dockerfile without a Docker engine: lint it, then run its own build steps on this machine.

Reads the Dockerfile, replays the build stage (its COPY instructions into a scratch context, its RUN lines with
/opt/callbot pointed at a scratch virtualenv), checks every runtime COPY source exists in the checkout and is
not excluded by .dockerignore's allowlist, runs the installed `callbot --help` and `callbot setup --help`, and
fetches the sandbox page from the installed package (package data, not the checkout).
Usage: python .ci/dockerfile_check.py [path/to/hadolint]
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_IN_IMAGE = "/opt/callbot"
# GET / of the sandbox page app, in process (no port), from the installed package.
SANDBOX_PAGE_CHECK = """
import asyncio, httpx, bot.sandbox.web as web
assert "site-packages" in web.__file__, web.__file__
page = web.SandboxPage(None, None, channel="C0", caller_id="+14155550123", help_text="")
async def get():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(page.app), base_url="http://sandbox") as http:
        return await http.get("/")
response = asyncio.run(get())
assert response.status_code == 200 and "<html" in response.text.lower(), response.status_code
"""


def instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def stages(steps: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for step in steps:
        if step[0] == "FROM":
            out.append([])
        if out:
            out[-1].append(step)
    return out


def allowed_by_dockerignore(path: str) -> bool:
    rules = [r.strip() for r in (ROOT / ".dockerignore").read_text().splitlines() if r.strip() and r[0] != "#"]
    assert rules[0] == "*", ".dockerignore is an allowlist: it starts with * and names what the image needs"
    return any(path.rstrip("/") == r[1:].rstrip("/") or path.startswith(r[1:]) for r in rules if r.startswith("!"))


def main() -> int:
    hadolint = sys.argv[1] if len(sys.argv) > 1 else shutil.which("hadolint") or "hadolint"
    subprocess.run([hadolint, str(ROOT / "Dockerfile")], check=True)
    print("hadolint: Dockerfile is clean")

    build, runtime = stages(instructions((ROOT / "Dockerfile").read_text()))
    assert "slim" in build[0][1] and "slim" in runtime[0][1], "both stages use a slim base"
    assert ("USER", "10001:10001") in runtime, "the image runs as a non-root user"
    assert any(k == "HEALTHCHECK" and "/healthz" in v and "curl" not in v for k, v in runtime)
    assert runtime[-1] == ("CMD", '["callbot", "serve"]')
    assert any(k == "ENV" and "HOST=0.0.0.0" in v for k, v in runtime), "serve listens on every interface"
    assert any(k == "VOLUME" and "/data" in v for k, v in runtime)

    with tempfile.TemporaryDirectory(prefix="callbot-image-") as scratch:
        context, venv = Path(scratch) / "src", Path(scratch) / "venv"
        context.mkdir()
        for keyword, rest in build:
            if keyword == "COPY":
                *sources, _ = rest.split()
                for source in sources:
                    assert allowed_by_dockerignore(source), f"{source} is excluded by .dockerignore"
                    target = context / Path(source).name if source.endswith("/") or "/" not in source else context
                    if (ROOT / source).is_dir():
                        shutil.copytree(ROOT / source, context / Path(source).name)
                    else:
                        shutil.copy(ROOT / source, target)
            elif keyword == "RUN":
                command = rest.replace(VENV_IN_IMAGE, str(venv)).replace("python -m venv", f"{sys.executable} -m venv")
                print(f"RUN {command}", flush=True)
                subprocess.run(["sh", "-ec", command], cwd=context, check=True)
        for keyword, rest in runtime:
            if keyword == "COPY" and not rest.startswith("--from"):
                source = rest.split()[0]
                assert (ROOT / source).exists() and allowed_by_dockerignore(source), f"runtime COPY {source} missing"
        callbot = str(venv / "bin" / "callbot")
        subprocess.run([callbot, "--help"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([callbot, "setup", "--help"], check=True, stdout=subprocess.DEVNULL)
        # The installed package runs without the checkout around it (as in the image).
        (Path(scratch) / "scenarios").mkdir()
        shutil.copy(ROOT / "scenarios" / "outbound_call.js", Path(scratch) / "scenarios")
        check = "import bot.app, bot.setup; assert bot.setup.SCENARIO_FILE.read_text().strip()"
        subprocess.run([str(venv / "bin" / "python"), "-c", check], cwd=scratch, check=True)
        # Package data: the sandbox page is served from the installed package, not from the checkout.
        subprocess.run([str(venv / "bin" / "python"), "-c", SANDBOX_PAGE_CHECK], cwd=scratch, check=True)
    print("Dockerfile build steps: the package installs and `callbot` runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
