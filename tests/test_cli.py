"""The command line: the caller-ID allowlist kept in SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.__main__ import main


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_PATH", str(path))
    return path


def test_callerids_add_list_remove(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["callerids", "add", "+1 (415) 555-0123", "Support line", "--channels", "pstn,whatsapp"]) == 0
    assert "added +1 415-555-0123 (pstn, whatsapp)" in capsys.readouterr().out
    assert main(["callerids", "add", "+14155550123", "Support"]) == 0
    assert "updated +1 415-555-0123 (pstn)" in capsys.readouterr().out
    assert main(["callerids", "list"]) == 0
    assert capsys.readouterr().out == "+14155550123\t+1 415-555-0123\tpstn\tSupport\n"
    assert main(["callerids", "remove", "+14155550123"]) == 0
    assert main(["callerids", "remove", "+14155550123"]) == 1
    assert "not on the allowlist" in capsys.readouterr().err
    assert main(["callerids", "list"]) == 0
    assert "the allowlist is empty" in capsys.readouterr().out


def test_callerids_add_refuses_bad_input(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["callerids", "add", "911"]) == 1
    assert "emergency number" in capsys.readouterr().err
    assert main(["callerids", "add", "+14155550123", "--channels", "fax"]) == 1
    assert "unknown channel" in capsys.readouterr().err
    assert main(["callerids", "list"]) == 0
    assert "the allowlist is empty" in capsys.readouterr().out  # neither refused number was added
