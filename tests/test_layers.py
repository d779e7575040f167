"""Which layer may import what.

Each rule is checked twice: at run time, importing every module of a package in a fresh interpreter and reading
`sys.modules` afterwards (what the module really loads, however indirectly), and statically, reading each file's
import statements with `ast` (imports inside functions included, which the first check cannot see). A failure names
the module that imported the one it should not have, and the chain of imports that led there.

To add a rule: say what the package may (or may not) load, and add its two tests next to the others.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run by a fresh interpreter: import the module named in argv[1], then print the modules loaded, and for every module
# asked for since the probe began (loaded or not: an import may fail and be caught), the module whose code asked.
_PROBE = """
import json, sys
importers = {}

class Spy:
    def find_spec(self, name, path=None, target=None):
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
            frame = frame.f_back
        importers.setdefault(name, frame.f_globals.get("__name__", "?") if frame is not None else "?")
        return None  # only watching: the usual finders do the work

sys.meta_path.insert(0, Spy())
__import__(sys.argv[1])
print(json.dumps({"loaded": sorted(sys.modules), "importers": importers}))
"""


@dataclass(frozen=True)
class Loaded:
    """What a fresh interpreter held after importing one module, and who imported what."""

    modules: frozenset[str]
    importers: dict[str, str]

    def chain(self, name: str) -> list[str]:
        """The imports that led to `name`: [the module the probe imported, ..., name]."""
        chain = [name]
        while (importer := self.importers.get(chain[0], "__main__")) != "__main__" and importer not in chain:
            chain.insert(0, importer)
        return chain


def modules_of(package: str) -> list[str]:
    """The modules of `package` (a folder under the repository's root), by name, the package itself included."""
    folder = ROOT.joinpath(*package.split("."))
    return sorted(package if path.stem == "__init__" else f"{package}.{path.stem}" for path in folder.glob("*.py"))


@cache
def loaded_by(module: str) -> Loaded:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, module], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"importing {module} failed:\n{done.stderr}"
    found = json.loads(done.stdout)
    return Loaded(frozenset(found["loaded"]), found["importers"])


def runtime_violations(package: str, allowed: Callable[[str], bool]) -> list[str]:
    """Each module that a module of `package` loads and `allowed` refuses: who imported it, and how it came to."""
    modules = modules_of(package)
    with ThreadPoolExecutor(max_workers=4) as pool:
        probes = dict(zip(modules, pool.map(loaded_by, modules), strict=True))
    seen_from: dict[str, list[str]] = {}  # one problem, and the modules of `package` whose import shows it
    for module, loaded in probes.items():
        refused = {name for name in loaded.modules if not allowed(name)}
        for name in refused:
            chain = loaded.chain(name)
            if any(step in refused for step in chain[:-1]):
                continue  # named with the first refused module on its way
            more = {other.partition(".")[0] for other in refused if name in loaded.chain(other)[:-1]}
            more = sorted(more - {name.partition(".")[0]})
            who = chain[-2] if len(chain) > 1 else loaded.importers.get(name, "the interpreter, at start,")
            problem = f"{who} imported {name} ({' -> '.join(chain)})" + (
                f", and with it modules of {', '.join(more)}" if more else ""
            )
            seen_from.setdefault(problem, []).append(module)
    return [
        f"{problem}; seen importing {'any module of ' + package if len(seen) == len(modules) else ', '.join(seen)}"
        for problem, seen in sorted(seen_from.items())
    ]


def is_stdlib(name: str) -> bool:
    return name.partition(".")[0] in sys.stdlib_module_names


def within(name: str, *packages: str) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def imports_in(path: Path, package: str) -> Iterator[tuple[int, list[str]]]:
    """Each import statement of `path` (a module of `package`): its line and the modules it may mean.

    `from a import b` may mean the module a, or its submodule a.b: both are given, and the import is allowed when
    either is.
    """
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, [alias.name]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:  # relative: from the package this module is in, up level - 1
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:
                yield node.lineno, [module, f"{module}.{alias.name}"]


def static_violations(package: str, allowed: Callable[[str], bool]) -> list[str]:
    folder = ROOT.joinpath(*package.split("."))
    problems = []
    for path in sorted(folder.glob("*.py")):
        for line, meanings in imports_in(path, package):
            if not any(allowed(name) for name in meanings):
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {meanings[-1]}")
    return problems


def report(rule: str, problems: list[str]) -> str:
    return f"{rule}:\n  " + "\n  ".join(problems)


# -- bot/store: only the standard library and the domain's values ---------------------------------------------------
# The store persists the domain's values and knows nothing else of the app, so a second backend can replace it.
# The root of callbot's error tree, CallbotError, lives in bot.calls.models, so StoreUnavailable is one too.

STORE_RULE = "bot/store may import only the standard library, bot.store.*, bot.calls.models and psycopg"
# psycopg's compiled speedups (psycopg_binary) bring Cython's runtime modules with them.
POSTGRES_DRIVER = ("psycopg", "psycopg_pool", "psycopg_binary", "cython_runtime")


def store_may_use(name: str) -> bool:
    driver = within(name, *POSTGRES_DRIVER) or name.startswith("_cython_")
    return is_stdlib(name) or within(name, "bot.store", "bot.calls.models") or driver


@cache
def what_calls_models_needs() -> frozenset[str]:
    """Every module a fresh interpreter holds once it imported bot.calls.models alone (pydantic and the like)."""
    return loaded_by("bot.calls.models").modules


def test_the_store_imports_only_the_standard_library_and_the_domain_values() -> None:
    problems = static_violations("bot.store", store_may_use)
    assert not problems, report(STORE_RULE, problems)


def test_the_store_loads_nothing_but_the_standard_library_and_the_domain_values() -> None:
    needed = what_calls_models_needs()
    problems = runtime_violations("bot.store", lambda name: store_may_use(name) or name in needed)
    assert not problems, report(STORE_RULE + ", and what bot.calls.models needs itself", problems)


def test_a_sqlite_store_loads_no_postgresql_driver() -> None:
    """psycopg is loaded only when a postgresql:// URL is opened: a bot on SQLite never pays for it."""
    loaded = loaded_by("bot.store").modules
    assert not {name for name in loaded if within(name, *POSTGRES_DRIVER)}


# -- bot/calls: the domain knows nothing of Slack, HTTP or the web server -------------------------------------------

CALLS_RULE = "bot/calls may not import slack_bolt, slack_sdk, starlette, httpx, aiohttp or uvicorn"
SLACK_AND_HTTP = frozenset({"slack_bolt", "slack_sdk", "starlette", "httpx", "aiohttp", "uvicorn"})


def calls_may_use(name: str) -> bool:
    return name.partition(".")[0] not in SLACK_AND_HTTP


def test_the_calls_import_nothing_of_slack_or_http() -> None:
    problems = static_violations("bot.calls", calls_may_use)
    assert not problems, report(CALLS_RULE, problems)


def test_the_calls_load_nothing_of_slack_or_http() -> None:
    problems = runtime_violations("bot.calls", calls_may_use)
    assert not problems, report(CALLS_RULE, problems)


# -- size: a module a person can hold in their head -----------------------------------------------------------------

MAX_MODULE_LINES = 400


def test_no_module_in_bot_is_over_400_lines() -> None:
    """Past this, a module holds more than one behaviour: split it along its seams (docs/architecture.md)."""
    sizes = {path.relative_to(ROOT): len(path.read_text().splitlines()) for path in (ROOT / "bot").rglob("*.py")}
    too_long = {str(path): lines for path, lines in sorted(sizes.items()) if lines > MAX_MODULE_LINES}
    assert len(sizes) > 50  # the walk found the package
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"


# -- bot/summaries: the written summary knows nothing of Slack, the web server or the store ------------------------
# It takes transcript turns and gives lines (or a code saying why none); the Slack layer words and shows them.

SUMMARIES_RULE = "bot/summaries may import only the standard library, bot.summaries.*, bot.calls.models and openai"


def summaries_may_use(name: str) -> bool:
    return is_stdlib(name) or within(name, "bot.summaries", "bot.calls.models", "openai")


def test_the_summaries_import_only_the_standard_library_the_domain_values_and_openai() -> None:
    problems = static_violations("bot.summaries", summaries_may_use)
    assert not problems, report(SUMMARIES_RULE, problems)


def test_the_summaries_load_nothing_of_slack_the_web_server_or_the_store() -> None:
    refused = SLACK_AND_HTTP - {"httpx", "aiohttp"}  # the vendor's client brings HTTP libraries of its own
    problems = runtime_violations(
        "bot.summaries",
        lambda name: name.partition(".")[0] not in refused and not within(name, "bot.store", "bot.slack"),
    )
    assert not problems, report("bot/summaries may not load Slack, Starlette, uvicorn or the store", problems)


def test_the_slack_layer_loads_no_openai_client() -> None:
    """The vendor's client loads only when OPENAI_API_KEY is set (bot/build.py); the words and the outbox need
    only the summaries' codes."""
    for package in ("bot.slack.delivery", "bot.slack.texts"):
        problems = runtime_violations(package, lambda name: not within(name, "openai"))
        assert not problems, report(f"{package} may not load openai", problems)
