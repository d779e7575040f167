"""`callbot serve | sandbox | setup | doctor | callerids add|list|remove|sync | audit | migrate`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot.calls.allowlist import Allowlist, channels_named
from bot.calls.allowlist_sync import Skipped, Unusable
from bot.calls.models import CallerId
from bot.calls.numbers import format_international, parse_phone_number
from bot.errors import ConfigError, Refusal, StoreUnavailable
from bot.settings import Settings, load_settings
from bot.store import Store

CLI = "cli"  # who the audit log says made a change from the command line


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    except StoreUnavailable as error:  # e.g. a DATABASE_PATH in a directory that does not exist: one line, the path
        print(error, file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callbot", description="Place phone calls from Slack through Voximplant.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the bot (Slack and Voximplant settings from the environment)")
    serve.add_argument(
        "--role", choices=["all", "web", "worker"],
        help="all (the default, or ROLE): everything; with DATABASE_URL, web answers Slack and Voximplant and "
        "records, worker launches calls and writes to Slack",
    )  # fmt: skip
    serve.set_defaults(run=_serve)

    sandbox = commands.add_parser("sandbox", help="run the whole loop locally with fake Slack and Voximplant")
    sandbox.add_argument("--port", type=int, default=3000, help="port of the sandbox page (default 3000)")
    sandbox.add_argument("--terminal", action="store_true", help="type /call in the terminal instead of a web page")
    sandbox.add_argument("--database", default="sandbox.db", help="SQLite file for the sandbox (default sandbox.db)")
    sandbox.add_argument("--time-scale", type=float, default=1.0, help=argparse.SUPPRESS)  # tests: 0.1 = 10x faster
    sandbox.set_defaults(run=_sandbox)

    setup = commands.add_parser(
        "setup", help="create or update the Voximplant application, scenario and rule; prints VOXIMPLANT_RULE_ID"
    )
    setup.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    setup.add_argument("--application", default="callbot", help="Voximplant application name (default callbot)")
    setup.set_defaults(run=_setup)

    doctor = commands.add_parser(
        "doctor", help="check this deployment's Slack and Voximplant settings against the real accounts"
    )
    doctor.add_argument("--application", default="callbot", help="Voximplant application name (default callbot)")
    doctor.add_argument(
        "--call", metavar="NUMBER",
        help="then place one short real call to NUMBER (one you own) and report each step; callbot serve must not be "
        "running on PORT meanwhile",
    )  # fmt: skip
    doctor.set_defaults(run=_doctor)

    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    migrate.add_argument(
        "--from", dest="source", metavar="sqlite:///PATH",
        help="then copy every row of that SQLite database into the (new, empty) database DATABASE_URL names",
    )  # fmt: skip
    migrate.set_defaults(run=_migrate)

    callerids = commands.add_parser("callerids", help="manage the caller-ID allowlist")
    actions = callerids.add_subparsers(required=True, metavar="ACTION")
    add = actions.add_parser("add", help="allow a caller ID")
    add.add_argument("number", help="the number, e.g. +14155550123")
    add.add_argument("label", nargs="?", default="", help='a name people recognise, e.g. "Support line"')
    add.add_argument("--channels", default="pstn", help="comma-separated: pstn, sip, user, whatsapp (default: pstn)")
    add.set_defaults(run=_callerids_add)
    remove = actions.add_parser("remove", help="stop allowing a caller ID")
    remove.add_argument("number")
    remove.set_defaults(run=_callerids_remove)
    listing = actions.add_parser("list", help="show the allowlist")
    listing.set_defaults(run=_callerids_list)
    sync = actions.add_parser("sync", help="add the verified caller IDs and bought numbers Voximplant has")
    sync.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    sync.set_defaults(run=_callerids_sync)

    audit = commands.add_parser("audit", help="show the audit log: who changed which list, and refused attempts")
    audit.add_argument("--limit", type=int, default=100, help="how many of the latest entries (default 100)")
    audit.set_defaults(run=_audit)
    return parser


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.app import create_app
    from bot.build import shutdown_budget
    from bot.logs import setup_logging

    settings = load_settings(**({"role": args.role} if args.role else {}))
    asyncio.run(_can_open(settings))  # a database that cannot be opened stops the start here, in one line
    setup_logging(settings.log_level)
    # On SIGTERM/SIGINT uvicorn stops accepting and lets requests under way finish (its share of SHUTDOWN_GRACE_S),
    # then runs the lifespan's shutdown: call launches and hang-ups under way, then Slack writes, in the rest.
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False,
        timeout_graceful_shutdown=shutdown_budget(settings.shutdown_grace_s).requests_s,
    )  # fmt: skip
    return 0


async def _can_open(settings: Settings) -> None:
    """Open the database (creating it and bringing its schema up to date) and close it; StoreUnavailable if not."""
    store = await Store.open(settings.database)
    await store.close()


def _sandbox(args: argparse.Namespace) -> int:
    from bot.sandbox.run import run_sandbox

    try:
        return asyncio.run(
            run_sandbox(port=args.port, database=args.database, time_scale=args.time_scale, terminal=args.terminal)
        )
    except KeyboardInterrupt:
        return 0


def _setup(args: argparse.Namespace) -> int:
    import httpx

    from bot.build import voximplant_auth
    from bot.errors import VoximplantError
    from bot.setup import run_setup
    from bot.voximplant import VoximplantClient

    settings = load_settings(need_slack=False)
    try:
        auth = voximplant_auth(settings)
    except VoximplantError as error:
        print(error, file=sys.stderr)
        return 2
    if auth is None:
        print(
            "callbot setup needs Voximplant credentials: set VOXIMPLANT_CREDENTIALS (a service-account key file) "
            "or VOXIMPLANT_ACCOUNT_ID and VOXIMPLANT_API_KEY",
            file=sys.stderr,
        )
        return 2

    async def run() -> int:
        async with httpx.AsyncClient(timeout=settings.voximplant_timeout_s) as http:
            client = VoximplantClient(http, base_url=settings.voximplant_api_url, auth=auth)
            try:
                report = await run_setup(client, dry_run=args.dry_run, application_name=args.application)
            except VoximplantError as error:
                print(f"Voximplant refused the setup: {error}", file=sys.stderr)
                return 1
        print("\n".join(report.lines()))
        return 0

    return asyncio.run(run())


def _doctor(args: argparse.Namespace) -> int:
    """One line per check, ✔ or ✘ with what to do; exit status 0 when every check passes, 1 otherwise."""
    import httpx
    from pydantic import ValidationError

    from bot.build import voximplant_auth
    from bot.doctor import Deployment, read_scenario, run_doctor
    from bot.errors import VoximplantError
    from bot.settings import describe_errors
    from bot.voximplant import VoximplantClient

    try:
        settings = Settings()  # not load_settings: the doctor reports missing settings itself, one check each
    except ValidationError as error:
        raise ConfigError(describe_errors(error)) from None
    try:
        auth = voximplant_auth(settings)
    except VoximplantError as error:
        print(f"✘ {error}: fix VOXIMPLANT_CREDENTIALS", file=sys.stderr)
        return 1

    async def diagnose() -> int:
        caller_ids: list[CallerId] = []
        if settings.database_url is not None or settings.database_path.exists():  # the doctor never creates a file
            store = await Store.open(settings.database)
            try:
                caller_ids = await store.caller_ids()
            finally:
                await store.close()
        async with httpx.AsyncClient(timeout=settings.voximplant_timeout_s) as http:
            voximplant = (
                VoximplantClient(http, base_url=settings.voximplant_api_url, auth=auth) if auth is not None else None
            )
            deployment = Deployment(
                settings=settings, http=http, voximplant=voximplant, caller_ids=caller_ids,
                scenario_script=read_scenario(), application_name=args.application,
            )  # fmt: skip
            results = await run_doctor(deployment)
        if args.call:
            from bot.doctor_call import place_test_call

            results += await place_test_call(settings, args.call)
        for result in results:
            print(result.line())
        failures = sum(not result.ok for result in results)
        print(f"{failures} of {len(results)} checks failed" if failures else f"all {len(results)} checks passed")
        return 1 if failures else 0

    return asyncio.run(diagnose())


def _migrate(args: argparse.Namespace) -> int:
    settings = load_settings(need_slack=False)
    source = _sqlite_path(args.source) if args.source else None
    if source is not None and not source.exists():
        print(f"{source} does not exist: nothing to copy", file=sys.stderr)
        return 2
    if source is not None and settings.database_url is None and source.resolve() == settings.database_path.resolve():
        print("the source and the target are the same database: set DATABASE_URL to the new one", file=sys.stderr)
        return 2

    async def migrate(store: Store) -> int:
        print(f"{settings.database_name}: schema version {await store.migrate()}")
        if source is None:
            return 0
        old = await Store.open(source)
        try:
            copied = await store.copy_from(old)
        finally:
            await old.close()
        print(f"copied {source} into {settings.database_name}:")
        for table, rows in copied.items():
            print(f"  {table}: {rows:,} rows")
        return 0

    return _with_store(settings, migrate)


def _sqlite_path(url: str) -> Path:
    """sqlite:///callbot.db (relative) or sqlite:////var/lib/callbot/callbot.db (absolute), or a plain path."""
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else Path(url)


def _callerids_add(args: argparse.Namespace) -> int:
    settings = load_settings(need_slack=False)
    try:
        number = parse_phone_number(args.number, settings.default_region, field="caller_id")
    except Refusal as refusal:
        from bot.slack.texts import refusal as words

        print(words(refusal), file=sys.stderr)
        return 1
    try:
        channels = channels_named(args.channels)
    except Refusal:
        print(f"unknown channel in {args.channels!r}; use pstn, sip, user or whatsapp", file=sys.stderr)
        return 1

    async def add(store: Store) -> int:
        new = await Allowlist(store).add_caller_id(number, label=args.label, channels=channels, by=CLI)
        print(f"{'added' if new else 'updated'} {format_international(number)} ({', '.join(sorted(channels))})")
        return 0

    return _with_store(settings, add)


def _callerids_remove(args: argparse.Namespace) -> int:
    settings = load_settings(need_slack=False)
    try:
        number = parse_phone_number(args.number, settings.default_region, field="caller_id")
    except Refusal:
        number = args.number

    async def remove(store: Store) -> int:
        if not await Allowlist(store).remove_caller_id(number, by=CLI):
            print(f"{args.number} is not on the allowlist", file=sys.stderr)
            return 1
        print(f"removed {format_international(number)}")
        return 0

    return _with_store(settings, remove)


def _callerids_list(_: argparse.Namespace) -> int:
    async def show(store: Store) -> int:
        entries = await store.caller_ids()
        if not entries:
            print('the allowlist is empty; add a number with: callbot callerids add +14155550123 "Support line"')
        for entry in entries:
            channels = ",".join(sorted(entry.channels))
            print(f"{entry.number}\t{format_international(entry.number)}\t{channels}\t{entry.label}")
        return 0

    return _with_store(load_settings(need_slack=False), show)


def _callerids_sync(args: argparse.Namespace) -> int:
    import httpx

    from bot.build import voximplant_auth
    from bot.calls.allowlist_sync import GONE, sync_caller_ids
    from bot.errors import VoximplantError
    from bot.voximplant import VoximplantClient

    settings = load_settings(need_slack=False)
    auth = voximplant_auth(settings)
    if auth is None:
        print(
            "set VOXIMPLANT_ACCOUNT_ID and VOXIMPLANT_API_KEY (or VOXIMPLANT_CREDENTIALS) to read caller IDs from "
            "Voximplant",
            file=sys.stderr,
        )
        return 2

    async def sync(store: Store) -> int:
        try:
            async with httpx.AsyncClient(timeout=settings.voximplant_timeout_s) as http:
                client = VoximplantClient(http, base_url=settings.voximplant_api_url, auth=auth)
                today = datetime.now(UTC).date()
                report = await sync_caller_ids(Allowlist(store), client, today=today, dry_run=args.dry_run)
        except VoximplantError as error:
            print(f"could not read from Voximplant: {error}", file=sys.stderr)
            return 1
        would = "would " if args.dry_run else ""
        for number, label in report.added:
            print(f"{would}add\t{format_international(number)}\t{label}")
        for number in report.removed:
            skipped = report.skipped.get(number)
            why = _unusable(skipped) if skipped else GONE
            print(f"{would}remove\t{format_international(number)}\t{why}")
        for number, skipped in sorted(report.skipped.items()):
            if number not in report.removed and number not in report.kept_unusable:
                print(f"skip\t{format_international(number)}\t{_unusable(skipped)}; not added")
        for number in report.kept_unusable:
            print(f"keep\t{format_international(number)}\tadded by hand, but {_unusable(report.skipped[number])}; "
                  f"to stop calling from it: callbot callerids remove {number}")  # fmt: skip
        for number in report.unknown_to_voximplant:
            print(f"keep\t{format_international(number)}\tadded by hand; Voximplant does not list it")
        not_usable = f", {len(report.skipped)} not usable as caller IDs" if report.skipped else ""
        if args.dry_run:
            print(f"dry run, nothing changed: would add {len(report.added)}, would remove {len(report.removed)}, "
                  f"{len(report.unchanged)} already allowed{not_usable}")  # fmt: skip
        else:
            print(f"added {len(report.added)}, removed {len(report.removed)}, {len(report.unchanged)} already allowed"
                  f"{not_usable}")  # fmt: skip
        return 0

    return _with_store(settings, sync)


def _unusable(skipped: Skipped) -> str:
    """Why a number Voximplant has cannot be a caller ID, as `callbot callerids sync` says it."""
    if skipped.why is Unusable.TEST_NUMBER:
        return "a Voximplant test number: it cannot place real calls"
    status = f" (verification: {skipped.verification})" if skipped.verification else ""
    return f"Voximplant says it cannot be used until the account is verified{status}"


def _audit(args: argparse.Namespace) -> int:
    async def show(store: Store) -> int:
        entries = await store.audit_entries(limit=args.limit)
        if not entries:
            print("the audit log is empty")
        for entry in entries:
            outcome = "done" if entry.allowed else "REFUSED"
            when = f"{entry.at:%Y-%m-%d %H:%M:%S}Z"
            print("\t".join((when, entry.actor, outcome, entry.action, entry.target, entry.detail)))
        return 0

    return _with_store(load_settings(need_slack=False), show)


def _with_store(settings: Settings, work: Callable[[Store], Awaitable[int]]) -> int:
    """Open the database, run one command's `work` on it, and close it whatever happens."""

    async def run() -> int:
        store = await Store.open(settings.database)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
