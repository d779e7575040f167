"""Hang up over the session's access URL: HTTPS first; the plain URL only when an IP address's certificate fails.

Voximplant's `media_session_access_secure_url` is HTTPS to a bare IP address and port (StartScenarios' examples);
whether its certificate names that address is not documented. The client keeps certificate checks on, and falls
back to `media_session_access_url`, still carrying the control secret, only for that case.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.errors import VoximplantError
from bot.sandbox.fake_voximplant import ACCOUNT_ID, API_KEY
from bot.sandbox.servers import LocalServer, serving
from bot.voximplant import ApiKeyAuth, VoximplantClient

SECRET = "control-secret-of-this-call"


class Session:
    """A scenario's access URL: records each control request and obeys only the call's secret."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/request/{rest:path}", self._control, methods=["POST"])])

    async def _control(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.received.append(body)
        if body.get("secret") != SECRET:
            return JSONResponse({"ok": False, "error": "missing or wrong secret"})
        return JSONResponse({"ok": True})


def self_signed(tmp_path: Path) -> tuple[str, str]:
    """A certificate for `localhost` only, signed by itself: it verifies for no IP address (and for no CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[tuple[Session, str, str]]:
    """One session served twice, as Voximplant does: HTTPS (the secure URL) and plain HTTP."""
    session = Session()
    secure, plain = LocalServer(session.app, tls=self_signed(tmp_path)), LocalServer(session.app)
    async with serving(secure, plain):
        yield session, f"{secure.url}/request/abc", f"{plain.url}/request/abc"


async def test_an_ip_address_whose_certificate_fails_falls_back_to_the_plain_url(
    servers: tuple[Session, str, str],
) -> None:
    session, secure_url, plain_url = servers
    assert ipaddress.ip_address(httpx.URL(secure_url).host)
    fallbacks: list[None] = []
    async with httpx.AsyncClient(timeout=5.0) as http:
        client = VoximplantClient(
            http, base_url="http://127.0.0.1:9/", auth=ApiKeyAuth(ACCOUNT_ID, API_KEY),
            on_fallback=lambda: fallbacks.append(None),
        )  # fmt: skip
        await client.hang_up(secure_url, secret=SECRET, plain_url=plain_url)
        # The scenario refuses a wrong secret, whichever URL it came by.
        with pytest.raises(VoximplantError, match="missing or wrong secret"):
            await client.hang_up(secure_url, secret="guessed", plain_url=plain_url)
    assert session.received == [{"action": "hangup", "secret": SECRET}, {"action": "hangup", "secret": "guessed"}]
    assert len(fallbacks) == 2  # counted each time, for /metrics


async def test_a_host_name_whose_certificate_fails_is_not_downgraded(servers: tuple[Session, str, str]) -> None:
    session, secure_url, plain_url = servers
    named = secure_url.replace("127.0.0.1", "localhost")  # a name: a failed check may be an attack, not Voximplant
    async with httpx.AsyncClient(timeout=5.0) as http:
        client = VoximplantClient(http, base_url="http://127.0.0.1:9/", auth=ApiKeyAuth(ACCOUNT_ID, API_KEY),
                                  backoff_s=0.01)  # fmt: skip
        with pytest.raises(VoximplantError) as refused:
            await client.hang_up(named, secret=SECRET, plain_url=plain_url)
    assert session.received == []
    assert SECRET not in str(refused.value) and "localhost" not in str(refused.value)


async def test_without_a_plain_url_a_failed_certificate_is_an_error(servers: tuple[Session, str, str]) -> None:
    session, secure_url, _ = servers
    async with httpx.AsyncClient(timeout=5.0) as http:
        client = VoximplantClient(http, base_url="http://127.0.0.1:9/", auth=ApiKeyAuth(ACCOUNT_ID, API_KEY))
        with pytest.raises(VoximplantError, match="certificate did not verify"):
            await client.hang_up(secure_url, secret=SECRET)
    assert session.received == []
