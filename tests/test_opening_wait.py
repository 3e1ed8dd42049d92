"""A command that waits to open the database says so: a database to migrate while another
process held its write lock kept `list` silent for up to 30 s, a frozen terminal."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pyte
import pytest

from servers import Blackhole
from test_signals import started_until_said

WAITING = "waiting for the database: another process is writing to it"


@pytest.fixture
def held_database(isolated_home: Path) -> Iterator[sqlite3.Connection]:
    """A new database (one to migrate) whose write lock another process holds, as a chat
    saving does: committed by the test when it is done waiting."""
    isolated_home.mkdir(mode=0o700)
    database = sqlite3.connect(isolated_home / "claudechat.db", isolation_level=None)
    database.execute("PRAGMA journal_mode=WAL")
    database.execute("BEGIN IMMEDIATE")
    yield database
    if database.in_transaction:
        database.execute("COMMIT")
    database.close()


@pytest.mark.fresh_store
def test_a_wait_to_open_the_database_is_one_line_where_stderr_is_no_terminal(  # type: ignore[no-untyped-def]
    held_database,
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "claudechat", "list"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    try:
        said = process.stderr.readline()
    finally:
        held_database.execute("COMMIT")
    _, rest = process.communicate(timeout=60)
    assert process.returncode == 0, said + rest
    assert said == f"{WAITING}\n"
    assert rest == "no conversations yet: start one with `claudechat chat`\n"


@pytest.mark.fresh_store
def test_a_wait_to_open_the_database_is_counted_on_a_terminal_and_erased(  # type: ignore[no-untyped-def]
    held_database,
) -> None:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "claudechat", "list"],
        env={**os.environ, "TERM": "xterm-256color"},
        dimensions=(24, 80),
    )
    screen = pyte.Screen(80, 24)
    stream = pyte.ByteStream(screen)

    def on_screen() -> str:
        return "\n".join(line.rstrip() for line in screen.display)

    try:
        while f"{WAITING} · " not in on_screen():
            stream.feed(child.read_nonblocking(4096, timeout=20))
    finally:
        held_database.execute("COMMIT")
    while True:
        try:
            stream.feed(child.read_nonblocking(4096, timeout=20))
        except pexpect.EOF:
            break
    child.close()
    assert child.exitstatus == 0, on_screen()
    lines = [line for line in on_screen().splitlines() if line]
    assert lines == ["no conversations yet: start one with `claudechat chat`"], lines


def test_a_piped_message_the_store_stopped_before_sending_is_said_to_be_unsent(  # type: ignore[no-untyped-def]
    cli, fake_api, monkeypatch
) -> None:
    """`echo hi | claudechat chat -c q` ended on the store's error alone: nothing said the
    message (kept nowhere) was not sent."""
    with Blackhole() as database:
        url = f"postgresql+psycopg2://postgres@127.0.0.1:{database.port}/claudechat"
        monkeypatch.setenv("CLAUDECHAT_DATABASE_URL", url)
        result = cli("chat", "-c", "about this", input="hi")
    assert result.returncode == 5, result.stderr
    assert result.stderr.startswith("waiting for the database to answer\n"), result.stderr
    assert result.stderr.rstrip().endswith("; your message was not sent"), result.stderr
    assert not fake_api.requests


def test_a_signal_while_the_store_opens_says_the_message_was_not_sent(  # type: ignore[no-untyped-def]
    cli, fake_api, monkeypatch
) -> None:
    """SIGTERM while a piped turn waited for its store ended on "terminated (SIGTERM)" alone:
    the message, kept nowhere, was gone without a word."""
    with Blackhole() as database:
        url = f"postgresql+psycopg2://postgres@127.0.0.1:{database.port}/claudechat"
        monkeypatch.setenv("CLAUDECHAT_DATABASE_URL", url)
        waiting = b"waiting for the database to answer\n"
        process, said = started_until_said(waiting, "-c", "about this", stdin=b"hi")
        assert waiting in said, said
        process.terminate()
        process.wait(timeout=30)
        said += process.stderr.read()
    assert process.returncode == 143, said
    last = said.decode().splitlines()[-1]
    assert last == "claudechat: terminated (SIGTERM); your message was not sent", said
    assert not fake_api.requests
