"""What a slow open of the database is said to be: "another process is writing to it" only
while another process holds its write lock. A new user's first `list` on a loaded machine
said so while the wait was its own first migration."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from claudechat import progress
from claudechat.commands import opening
from claudechat.settings import load_settings

ANOTHER_PROCESS = "another process is writing to it"

HOLDER = """
import sqlite3, sys
database = sqlite3.connect(sys.argv[1], isolation_level=None)
database.execute("PRAGMA journal_mode=WAL")
database.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.read()
database.execute("COMMIT")
"""


def said_label(monkeypatch: pytest.MonkeyPatch) -> str:
    """The line a long wait to open the configured database would say."""
    labels: list[str] = []

    def recorded(label: str, _short: str, _after: float) -> contextlib.nullcontext[None]:
        labels.append(label)
        return contextlib.nullcontext()

    monkeypatch.setattr(progress, "said_while_waiting", recorded)
    with opening._said_while_waiting(load_settings().database_url):
        pass
    return labels[0]


@contextlib.contextmanager
def held_elsewhere(home: Path) -> Iterator[None]:
    """The database's write lock, held by another process until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home / "claudechat.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline() == "held\n"
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


@pytest.mark.fresh_store
def test_a_new_users_first_open_is_preparing_the_database(monkeypatch, isolated_home) -> None:  # type: ignore[no-untyped-def]
    assert not (isolated_home / "claudechat.db").exists()
    assert said_label(monkeypatch) == "preparing the database"


def test_an_open_nothing_holds_is_no_other_process_writing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert said_label(monkeypatch) == "opening the database"


def test_a_lock_held_by_this_process_is_no_other_process_writing(  # type: ignore[no-untyped-def]
    monkeypatch, isolated_home
) -> None:
    """As during this process's own migration (an exclusive transaction)."""
    database = sqlite3.connect(isolated_home / "claudechat.db", isolation_level=None)
    database.execute("BEGIN EXCLUSIVE")
    try:
        assert said_label(monkeypatch) == "opening the database"
    finally:
        database.execute("COMMIT")
        database.close()


def test_a_lock_held_by_another_process_is_said(monkeypatch, isolated_home) -> None:  # type: ignore[no-untyped-def]
    with held_elsewhere(isolated_home):
        assert said_label(monkeypatch) == f"waiting for the database: {ANOTHER_PROCESS}"


@pytest.mark.fresh_store
def test_a_new_database_held_by_another_process_is_said(  # type: ignore[no-untyped-def]
    monkeypatch, isolated_home
) -> None:
    isolated_home.mkdir(mode=0o700)
    with held_elsewhere(isolated_home):
        assert said_label(monkeypatch) == f"waiting for the database: {ANOTHER_PROCESS}"
