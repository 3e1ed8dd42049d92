"""A database whose schema this claudechat may not upgrade (`auto_migrate = false`) is a
configuration the store refuses, not an outage: every command ends with exit 2, and a pipe
chat keeps its turn in the journal, as it does for a wrong password."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from claudechat.storage import migrate
from fakes.anthropic_api import Reply


@pytest.fixture(params=["no schema", "old schema"])
def schema_to_upgrade(
    request: pytest.FixtureRequest, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    url = f"sqlite:///{isolated_home / 'old.db'}"
    if request.param == "old schema":
        migrate.upgrade(create_engine(url), "0001")
    monkeypatch.setenv("CLAUDECHAT_DATABASE_URL", url)
    monkeypatch.setenv("CLAUDECHAT_AUTO_MIGRATE", "false")
    return url


def test_a_pipe_chat_keeps_the_turn_and_exits_2(cli, fake_api, schema_to_upgrade) -> None:  # type: ignore[no-untyped-def]
    """It exited 0, as after an outage that passes, while `list` exited 5."""
    fake_api.queue(Reply("the answer"))
    result = cli("chat", input="hello")
    assert (result.returncode, result.stdout) == (2, "the answer\n"), result.stderr
    assert "run `claudechat db upgrade`" in result.stderr
    assert "saved locally and will be pushed once that is done" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command", [("list",), ("search", "hello"), ("usage",), ("doctor",), ("sync",)]
)
def test_the_history_commands_exit_2(cli, schema_to_upgrade, command) -> None:  # type: ignore[no-untyped-def]
    """They exited 5, the code of a store that failed, which waiting does not fix here."""
    result = cli(*command)
    assert result.returncode == 2, result.stderr
    assert "run `claudechat db upgrade`" in result.stderr
    assert "Traceback" not in result.stderr
