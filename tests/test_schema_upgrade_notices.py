"""A database whose schema must be upgraded (`auto_migrate = false`) is no outage: the store is
not coming back by itself, so what waits in the journal is said to be pushed "once the
database is upgraded", never "when the store is back": on /new in the REPL, and in the line
of a signal that comes as the process leaves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
from sqlalchemy import create_engine

from claudechat.storage import migrate
from fakes.anthropic_api import Reply
from test_repl import CTRL_D, say, spawn
from test_signal_handling import LEAVING

WAITING = "pushed once the database is upgraded"


@pytest.fixture
def schema_to_upgrade(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database at the first schema, which this claudechat may not upgrade itself."""
    url = f"sqlite:///{isolated_home / 'old.db'}"
    migrate.upgrade(create_engine(url), "0001")
    monkeypatch.setenv("CLAUDECHAT_DATABASE_URL", url)
    monkeypatch.setenv("CLAUDECHAT_AUTO_MIGRATE", "false")
    return url


@pytest.mark.pty
def test_new_in_the_repl_says_the_conversation_waits_for_the_upgrade(  # type: ignore[no-untyped-def]
    schema_to_upgrade, fake_api
) -> None:
    child = spawn()
    try:
        say(child, "hello")
        child.expect_exact("echo: hello")
        child.expect_exact("run `claudechat db upgrade`")  # the save's own notice
        say(child, "/new")
        child.expect(r"new conversation \(([0-9a-f]{8}) is saved on this machine, ([^)]*)\)")
        assert child.match.group(2) == WAITING
        child.send(CTRL_D)
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def test_sigterm_as_a_pipe_turn_leaves_says_the_turn_waits_for_the_upgrade(  # type: ignore[no-untyped-def]
    schema_to_upgrade, fake_api
) -> None:
    fake_api.queue(Reply("the answer"))
    done = subprocess.run(
        [sys.executable, "-c", LEAVING], input="hi", capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (143, "the answer\n"), done.stderr
    assert done.stderr.endswith(
        f"claudechat: terminated (SIGTERM); the conversation is saved on this machine, {WAITING}\n"
    ), done.stderr
