"""The Management API client callbot places calls with (async httpx): StartScenarios, the call history, and the
running session's access URL (hang up, and pull mode's brief and events). The methods that read the account and set
callbot up in it are in `account.py`; sending, retries and errors in `api.py`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import ValidationError

from bot.calls import launch
from bot.errors import VoximplantError, VoximplantUnreachable
from bot.text import shorten
from bot.voximplant.account import AccountMethods
from bot.voximplant.api import MAX_IN_FLIGHT, Observer
from bot.voximplant.auth import Auth
from bot.voximplant.models import CallSessionInfo, History, StartScenariosResult

# script_custom_data holds at most 200 bytes (see bot/calls/launch.py for the documents that say so).
MAX_CUSTOM_DATA_BYTES = launch.MAX_CUSTOM_DATA_BYTES
MAX_SESSION_ERROR = 300  # characters of a scenario's refusal shown in a thread
# GetCallHistory reads from_date and to_date "in the selected timezone" (GetCallHistoryRequest, `timezone`; the
# official client's example sends 'Etc/GMT': voximplant/apiclient-nodejs examples/History/getCallHistory_1.js).
HISTORY_TIMEZONE = "Etc/GMT"


class VoximplantClient(AccountMethods):
    """The Management API methods callbot uses."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        auth: Auth,
        attempts: int = 3,
        backoff_s: float = 0.5,
        observe: Observer | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
        on_fallback: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(
            http,
            base_url=base_url,
            auth=auth,
            attempts=attempts,
            backoff_s=backoff_s,
            observe=observe,
            max_in_flight=max_in_flight,
        )
        self._on_fallback = on_fallback  # called when a hang-up goes to the plain access URL

    async def start_scenarios(self, *, rule_id: int, custom_data: str) -> StartScenariosResult:
        """Start the rule's scenario with `custom_data`; one new call session per success."""
        if launch.size(custom_data) > MAX_CUSTOM_DATA_BYTES:
            raise VoximplantError(
                f"the call's custom data is {launch.size(custom_data)} bytes; Voximplant takes at most "
                f"{MAX_CUSTOM_DATA_BYTES}",
                code=None,
            )
        body = await self._call("StartScenarios", {"rule_id": str(rule_id), "script_custom_data": custom_data})
        try:
            return StartScenariosResult.model_validate(body)
        except ValidationError:
            raise VoximplantError("StartScenarios answered without the session's URLs", may_have_started=True) from None

    async def find_session(self, custom_data: str, *, started_at: datetime) -> CallSessionInfo | None:
        """The session StartScenarios began with exactly this `script_custom_data`, or None when history has none.

        For a call whose StartScenarios answer never arrived (no session id): GetCallHistory filters "by the
        custom_data passed to the call sessions" (`call_session_history_custom_data`); whether Voximplant matches it
        whole or in part is not documented, so the answer is checked for the exact string here. The most recent
        match wins.
        """
        params = {**_history_window(started_at), "call_session_history_custom_data": custom_data,
                  "desc_order": "true", "count": "10"}  # fmt: skip
        history = await self._history(params)
        return next((s for s in history.result if s.custom_data == custom_data), None)

    async def _history(self, params: Mapping[str, str]) -> History:
        body = await self._call("GetCallHistory", {**params, "with_calls": "true", "timezone": HISTORY_TIMEZONE})
        try:
            return History.model_validate(body)
        except ValidationError:
            raise VoximplantError("GetCallHistory answered without a result list") from None

    async def get_call_history(self, history_id: int, *, started_at: datetime) -> CallSessionInfo | None:
        """The session `history_id` with its calls, or None when the history does not list it (yet).

        GetCallHistory needs a time window (`from_date`, `to_date`, `YYYY-MM-DD HH:mm:ss` "in the selected
        timezone"); the session began after `started_at`, so the window runs from a little before that to a little
        after now, in UTC, and says so with `timezone=Etc/GMT`.
        """
        params = {**_history_window(started_at), "call_session_history_id": str(history_id), "count": "1"}
        history = await self._history(params)
        return next((s for s in history.result if s.call_session_history_id == history_id), None)

    async def hang_up(self, access_url: str, *, secret: str, plain_url: str | None = None) -> None:
        """Ask the running session to hang up (POST {"action":"hangup","secret":…} to its access URL); repeats are
        harmless. The scenario acts only on its call's control secret, which it had from the brief.

        Voximplant's secure access URL is HTTPS to a bare IP address; where its certificate does not verify for that
        address, the request goes to the plain `media_session_access_url` instead, still carrying the secret, and
        `on_fallback` counts it. Certificate checks stay on: a host name whose certificate fails is not retried.

        An answer `{"ok": false, "error": ...}` from the scenario raises VoximplantError with the scenario's error.
        The access URLs open the session to anyone holding them: they never appear in an error or a log line.
        """
        await self.session_request(access_url, {"action": "hangup", "secret": secret}, plain_url=plain_url)

    async def join(
        self, access_url: str, *, secret: str, to: dict[str, str], by: str, name: str, plain_url: str | None = None
    ) -> None:
        """Ask the running session to dial the requester onto the call (POST {"action":"join","to":{"channel":
        "pstn"|"app_user","destination":…},"by":…,"name":…,"secret":…}); sent and answered as `hang_up` is. The
        scenario answers at once and reports how it went in a `join` status event. A repeat while it dials is
        refused ("already joining"), so a retried request never dials twice.
        """
        body: dict[str, object] = {"action": "join", "to": to, "by": by, "name": name, "secret": secret}
        await self.session_request(access_url, body, plain_url=plain_url)

    async def say(self, access_url: str, *, text: str, secret: str, plain_url: str | None = None) -> None:
        """Have the call's agent say `text` (POST {"action":"say","text":…,"secret":…} to its access URL), in push
        and pull mode alike. The scenario answers `{"ok": false, "error": …}` when its agent cannot take it (not
        connected yet, a voicemail box, the call ending): raised as VoximplantError with the scenario's words, as
        for `hang_up`. Repeats would be said twice, so a caller sends it once; transport errors are retried only
        where the request surely did not arrive (see `session_request`)."""
        body: dict[str, object] = {"action": "say", "text": text, "secret": secret}
        await self.session_request(access_url, body, plain_url=plain_url, repeatable=False)

    async def session_request(
        self, access_url: str, body: dict[str, object], *, plain_url: str | None = None, repeatable: bool = True
    ) -> dict[str, object]:
        """POST `body` to a running session (its scenario's AppEvents.HttpRequest) and return the scenario's answer.

        HTTPS first; the plain URL only where the secure one is an IP address whose certificate does not verify
        (see `hang_up`). Transport errors and 5xx are retried when the request is safe to repeat (`repeatable`);
        otherwise only a connection that never opened is tried again.
        """
        try:
            return await self._control(access_url, body, repeatable=repeatable)
        except _CertificateRefused:
            if plain_url is None:
                raise VoximplantError("the call's session certificate did not verify; no other URL to try") from None
            if self._on_fallback is not None:
                self._on_fallback()
            return await self._control(plain_url, body, repeatable=repeatable)

    async def _control(self, url: str, body: dict[str, object], *, repeatable: bool) -> dict[str, object]:
        for attempt in range(1, self._attempts + 1):
            try:
                response = await self._http.post(url, json=body)
            except httpx.TransportError as error:
                if _certificate_refused_for_ip(url, error):
                    raise _CertificateRefused from None
                unsent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
                if attempt < self._attempts and (repeatable or unsent):
                    await asyncio.sleep(self._backoff_s * attempt)
                    continue
                raise VoximplantUnreachable(f"could not reach the call's session ({type(error).__name__})") from None
            if response.status_code >= 500 and attempt < self._attempts and repeatable:
                await asyncio.sleep(self._backoff_s * attempt)
                continue
            if response.status_code != 200:
                raise VoximplantError(f"the call's session answered HTTP {response.status_code}")
            refusal = _session_refusal(response)
            if refusal is not None:
                raise VoximplantError(f"the call's session said: {refusal}")
            return _session_answer(response)
        raise VoximplantUnreachable("the call's session kept failing")  # pragma: no cover - the loop returns


class _CertificateRefused(Exception):
    """The secure access URL is an IP address whose certificate did not verify."""


def _certificate_refused_for_ip(url: str, error: Exception) -> bool:
    """True when `error` is a failed certificate check and `url`'s host is an IP address (Voximplant's case)."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, ssl.SSLCertVerificationError):
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return False
    try:
        ipaddress.ip_address(httpx.URL(url).host)
    except ValueError:
        return False
    return True


def _session_answer(response: httpx.Response) -> dict[str, object]:
    """The scenario's JSON answer; `{}` for any other body (VoxEngine may not pass the handler's answer through)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _session_refusal(response: httpx.Response) -> str | None:
    """The scenario's error when it answered `{"ok": false, "error": ...}`; None for any other answer.

    A body that is not the scenario's JSON counts as done: VoxEngine may not pass the handler's answer through, and
    the scenario's `disconnected` event tells the rest.
    """
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("ok") is not False:
        return None
    error = body.get("error")
    return shorten(error, MAX_SESSION_ERROR) if isinstance(error, str) and error.strip() else "no reason given"


def _history_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _history_window(started_at: datetime) -> dict[str, str]:
    """A GetCallHistory window around a session that began after `started_at`: from 5 minutes before that to
    5 minutes after now, in UTC (sent with `timezone=Etc/GMT`)."""
    now = datetime.now(started_at.tzinfo)
    return {
        "from_date": _history_time(started_at - timedelta(minutes=5)),
        "to_date": _history_time(now + timedelta(minutes=5)),
    }
