"""`callbot setup`: make the Voximplant application, scenario and rule match this checkout, idempotently.

Each step reads what exists first and changes only what differs, so a second run changes nothing and says so;
`dry_run` reads and reports the plan without writing anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.voximplant import Application, Rule, Scenario, VoximplantClient

# In a checkout the scenario sits next to the package; in the Docker image it is copied to /app/scenarios (the
# working directory), because an installed package lives in site-packages without the rest of the repository.
_IN_CHECKOUT = Path(__file__).resolve().parents[1] / "scenarios" / "outbound_call.js"
SCENARIO_FILE = _IN_CHECKOUT if _IN_CHECKOUT.is_file() else Path("scenarios") / "outbound_call.js"
APPLICATION_NAME = "callbot"
SCENARIO_NAME = "outbound_call"
RULE_NAME = "callbot-outbound"
RULE_PATTERN = ".*"  # the rule is only ever started by StartScenarios, never by an incoming call's number


@dataclass
class SetupReport:
    """What setup found, did (or would do), and the rule ID to configure."""

    dry_run: bool
    steps: list[str] = field(default_factory=list)
    changed: bool = False
    rule_id: int | None = None

    def did(self, text: str) -> None:
        self.changed = True
        self.steps.append(("would " if self.dry_run else "") + text)

    def kept(self, text: str) -> None:
        self.steps.append(text)

    def lines(self) -> list[str]:
        out = [f"- {step}" for step in self.steps]
        if not self.changed:
            out.append("Nothing to change: Voximplant already matches this checkout.")
        elif self.dry_run:
            out.append("Dry run: nothing was changed. Run without --dry-run to apply this plan.")
        if self.rule_id is not None:
            out.append(f"VOXIMPLANT_RULE_ID={self.rule_id}")
        else:
            out.append("VOXIMPLANT_RULE_ID is known once the rule exists (run without --dry-run).")
        return out


async def run_setup(
    client: VoximplantClient, *, dry_run: bool = False, script: str | None = None,
    application_name: str = APPLICATION_NAME,
) -> SetupReport:  # fmt: skip
    """Create or update the application, the scenario and the rule; VoximplantError propagates as is."""
    report = SetupReport(dry_run=dry_run)
    script = script if script is not None else SCENARIO_FILE.read_text()

    app = await _application(client, application_name, report)
    scenario = await _scenario(client, app, script, report) if app is not None else None
    if app is not None and scenario is not None:
        rule = await _rule(client, app, scenario, report)
        report.rule_id = rule.rule_id if rule is not None else None
    else:
        report.did(f"create the rule {RULE_NAME} ({RULE_PATTERN}) running {SCENARIO_NAME}")
    return report


async def _application(client: VoximplantClient, name: str, report: SetupReport) -> Application | None:
    found = [
        a for a in await client.get_applications(application_name=name) if a.application_name.split(".")[0] == name
    ]
    if found:
        report.kept(f"application {found[0].application_name} exists (id {found[0].application_id})")
        return found[0]
    if report.dry_run:
        report.did(f"create the application {name}")
        report.did(f"upload {SCENARIO_FILE.name} as the scenario {SCENARIO_NAME}")
        return None
    app = await client.add_application(application_name=name)
    report.did(f"created the application {app.application_name} (id {app.application_id})")
    return app


async def _scenario(client: VoximplantClient, app: Application, script: str, report: SetupReport) -> Scenario | None:
    listed = await client.get_scenarios(application_id=app.application_id, scenario_name=SCENARIO_NAME)
    match = next((s for s in listed if s.scenario_name == SCENARIO_NAME), None)
    if match is None:
        if report.dry_run:
            report.did(f"upload {SCENARIO_FILE.name} as the scenario {SCENARIO_NAME}")
            return None
        scenario_id = await client.add_scenario(
            application_id=app.application_id, scenario_name=SCENARIO_NAME, scenario_script=script
        )
        report.did(f"uploaded {SCENARIO_FILE.name} as the scenario {SCENARIO_NAME} (id {scenario_id})")
        return Scenario(scenario_id=scenario_id, scenario_name=SCENARIO_NAME)
    full = await client.get_scenarios(
        application_id=app.application_id, scenario_id=match.scenario_id, with_script=True
    )
    current = full[0].scenario_script if full else None
    if current == script:
        report.kept(f"scenario {SCENARIO_NAME} is up to date (id {match.scenario_id})")
    elif report.dry_run:
        report.did(f"update the scenario {SCENARIO_NAME} (id {match.scenario_id}) from {SCENARIO_FILE.name}")
    else:
        await client.set_scenario_info(scenario_id=match.scenario_id, scenario_script=script)
        report.did(f"updated the scenario {SCENARIO_NAME} (id {match.scenario_id}) from {SCENARIO_FILE.name}")
    return match


async def _rule(client: VoximplantClient, app: Application, scenario: Scenario, report: SetupReport) -> Rule | None:
    listed = await client.get_rules(application_id=app.application_id, rule_name=RULE_NAME)
    rule = next((r for r in listed if r.rule_name == RULE_NAME), None)
    if rule is None:
        if report.dry_run:
            report.did(f"create the rule {RULE_NAME} ({RULE_PATTERN}) running {SCENARIO_NAME}")
            return None
        rule_id = await client.add_rule(
            application_id=app.application_id, rule_name=RULE_NAME, rule_pattern=RULE_PATTERN,
            scenario_id=scenario.scenario_id,
        )  # fmt: skip
        report.did(f"created the rule {RULE_NAME} (id {rule_id}) running {SCENARIO_NAME}")
        return Rule(rule_id=rule_id, rule_name=RULE_NAME, rule_pattern=RULE_PATTERN)
    if any(s.scenario_id == scenario.scenario_id for s in rule.scenarios):
        report.kept(f"rule {RULE_NAME} runs {SCENARIO_NAME} (id {rule.rule_id})")
    elif report.dry_run:
        report.did(f"bind the scenario {SCENARIO_NAME} to the rule {RULE_NAME} (id {rule.rule_id})")
    else:
        await client.bind_scenario(
            application_id=app.application_id, rule_id=rule.rule_id, scenario_id=scenario.scenario_id
        )
        report.did(f"bound the scenario {SCENARIO_NAME} to the rule {RULE_NAME} (id {rule.rule_id})")
    await _unbind_others(client, app, rule, scenario, report)
    return rule


async def _unbind_others(
    client: VoximplantClient, app: Application, rule: Rule, scenario: Scenario, report: SetupReport
) -> None:
    """Leave `scenario` the rule's only one: a rule runs all its bound scenarios in one session, so another one
    bound there would run beside ours in every call (and could dial a second time)."""
    for other in rule.scenarios:
        if other.scenario_id == scenario.scenario_id:
            continue
        what = f"the scenario {other.scenario_name} (id {other.scenario_id}) from the rule {RULE_NAME}"
        if report.dry_run:
            report.did(f"unbind {what}: a rule runs all its scenarios in each call")
            continue
        await client.bind_scenario(
            application_id=app.application_id, rule_id=rule.rule_id, scenario_id=other.scenario_id, bind=False
        )
        report.did(f"unbound {what}: a rule runs all its scenarios in each call, so it would have run in every call")
