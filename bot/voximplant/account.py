"""The account's records and callbot's setup in it: caller IDs, phone numbers and secrets (the allowlist sync,
`callbot doctor`), and the application, scenario and rule that `callbot setup` reads and writes.
"""

from __future__ import annotations

from typing import Any

from bot.errors import VoximplantError
from bot.voximplant.api import ManagementApi
from bot.voximplant.models import Application, CallerIdInfo, PhoneNumberInfo, Rule, Scenario, SecretInfo


class AccountMethods(ManagementApi):
    """The Management API methods that read the account and set callbot up in it."""

    async def get_caller_ids(self) -> list[CallerIdInfo]:
        """Every caller ID on the account (verified or not: see `active` and `verified_until`)."""
        return [CallerIdInfo.model_validate(item) for item in await self._all("GetCallerIDs")]

    async def get_phone_numbers(self) -> list[PhoneNumberInfo]:
        """Every phone number on the account, test numbers marked (see `deactivated`, `canceled`, `can_be_used`).

        GetPhoneNumbers' `sandbox` parameter lists "only the numbers of the sandbox, real numbers, or all numbers"
        ('true', 'false', 'all'; GetPhoneNumbersRequest in voximplant/apiclient-nodejs, and
        voximplant.com/docs/references/voxengine/voximplantapi/getphonenumbersrequest); a row does not say which it
        is, so the real numbers and the test numbers are asked for apart.
        """
        real = await self._all("GetPhoneNumbers", {"sandbox": "false"})
        test = await self._all("GetPhoneNumbers", {"sandbox": "true"})
        return [PhoneNumberInfo.model_validate(item) for item in real] + [
            PhoneNumberInfo.model_validate({**item, "test_number": True}) for item in test
        ]

    async def get_secrets(self, *, application_id: int, secret_name_part: str | None = None) -> list[SecretInfo]:
        """The names of the application's secrets (GetSecrets lists names and ids, never values).

        voximplant.com/docs/guides/voxengine/secrets ("Use the AddSecret, DelSecret, GetSecrets, GetSecretValue, and
        SetSecretInfo methods"); parameters: voximplant.com/docs/references/voxengine/voximplantapi/getsecretsrequest.
        """
        params = {"application_id": str(application_id)}
        if secret_name_part is not None:
            params["secret_name_part"] = secret_name_part
        return [SecretInfo.model_validate(item) for item in await self._all("GetSecrets", params)]

    # -- setup: applications, scenarios, rules (each method's parameters as Voximplant documents them) ----------

    async def get_applications(self, *, application_name: str) -> list[Application]:
        """Applications whose name contains `application_name` (Voximplant filters by part of the name)."""
        body = await self._call("GetApplications", {"application_name": application_name})
        return [Application.model_validate(item) for item in _result_list(body)]

    async def add_application(self, *, application_name: str) -> Application:
        body = await self._call("AddApplication", {"application_name": application_name})
        return Application.model_validate(body)

    async def get_scenarios(
        self, *, application_id: int, scenario_name: str | None = None, scenario_id: int | None = None,
        with_script: bool = False,
    ) -> list[Scenario]:  # fmt: skip
        params = {"application_id": str(application_id)}
        if scenario_name is not None:
            params["scenario_name"] = scenario_name
        if scenario_id is not None:
            params["scenario_id"] = str(scenario_id)
        if with_script:
            params["with_script"] = "true"
        body = await self._call("GetScenarios", params)
        return [Scenario.model_validate(item) for item in _result_list(body)]

    async def add_scenario(self, *, application_id: int, scenario_name: str, scenario_script: str) -> int:
        params = {"application_id": str(application_id), "scenario_name": scenario_name,
                  "scenario_script": scenario_script}  # fmt: skip
        return _int_field(await self._call("AddScenario", params), "scenario_id")

    async def set_scenario_info(self, *, scenario_id: int, scenario_script: str) -> None:
        await self._call("SetScenarioInfo", {"scenario_id": str(scenario_id), "scenario_script": scenario_script})

    async def get_rules(self, *, application_id: int, rule_name: str) -> list[Rule]:
        params = {"application_id": str(application_id), "rule_name": rule_name, "with_scenarios": "true"}
        body = await self._call("GetRules", params)
        return [Rule.model_validate(item) for item in _result_list(body)]

    async def add_rule(self, *, application_id: int, rule_name: str, rule_pattern: str, scenario_id: int) -> int:
        params = {"application_id": str(application_id), "rule_name": rule_name, "rule_pattern": rule_pattern,
                  "scenario_id": str(scenario_id)}  # fmt: skip
        return _int_field(await self._call("AddRule", params), "rule_id")

    async def bind_scenario(self, *, application_id: int, rule_id: int, scenario_id: int, bind: bool = True) -> None:
        """Bind the scenario to the rule, or with `bind=False` unbind it ("Whether to bind or unbind (set true or
        false respectively)": BindScenario, voximplant.com/docs/references/httpapi/scenarios#bindscenario)."""
        params = {"application_id": str(application_id), "rule_id": str(rule_id), "scenario_id": str(scenario_id),
                  "bind": "true" if bind else "false"}  # fmt: skip
        await self._call("BindScenario", params)

    async def get_rule(self, *, application_id: int, rule_id: int) -> Rule | None:
        """The rule `rule_id` of the application with its scenarios, or None when the application has no such rule."""
        params = {"application_id": str(application_id), "rule_id": str(rule_id), "with_scenarios": "true"}
        body = await self._call("GetRules", params)
        rules = [Rule.model_validate(item) for item in _result_list(body)]
        return next((rule for rule in rules if rule.rule_id == rule_id), None)


def _result_list(body: dict[str, object]) -> list[Any]:
    result = body.get("result")
    if not isinstance(result, list):
        raise VoximplantError("Voximplant answered without the list it was asked for")
    return result


def _int_field(body: dict[str, object], name: str) -> int:
    value = body.get(name)
    if not isinstance(value, int):
        raise VoximplantError(f"Voximplant answered without {name}")
    return value
