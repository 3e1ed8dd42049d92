"""Stores that hang, databases born at once, reading while a store is down (disks that fill
and homes that turn read-only: test_local_disk.py).

Each case asserts that nothing typed is lost, nothing is stored twice, and how long a turn
or a save took while the fault lasted. The faults are real: a listener that accepts and
never answers (tests/servers.Blackhole), a stopped PostgreSQL, eight processes starting on one
fresh database.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from claudechat.conversation import Conversation
from claudechat.settings import load_settings
from claudechat.storage import migrate, open_store
from conftest import Backend, echoed
from servers import Blackhole, PostgresServer
from test_faults import blobs_down, contents, conversation_id, journal_files, stored
from test_repl import PROMPT, leave, say, spawn

__all__ = ["blobs_down"]  # a fixture, used by name

TIMEOUT = 1  # CLAUDECHAT_STORE_TIMEOUT in the in-process cases: they test the mechanism
SLACK = 1.5  # for a loaded machine


def blackhole_store(which: str, hole: Blackhole, monkeypatch: pytest.MonkeyPatch) -> None:
    if which == "database":
        url = f"postgresql+psycopg2://postgres@127.0.0.1:{hole.port}/claudechat"
        monkeypatch.setenv("CLAUDECHAT_DATABASE_URL", url)
    else:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{hole.port}")


def heal(monkeypatch: pytest.MonkeyPatch, backend: Backend) -> None:
    """Point the program at the real servers again."""
    assert backend.database_url and backend.s3_endpoint
    monkeypatch.setenv("CLAUDECHAT_DATABASE_URL", backend.database_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", backend.s3_endpoint)


def timed_save(store, conversation: Conversation):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    result = store.save(conversation)
    return result, time.monotonic() - started


# -- stores that stop answering ------------------------------------------------------------


@pytest.mark.parametrize("which", ["database", "blobs"])
def test_a_blackholed_store_costs_one_timeout_then_saves_skip_it(  # type: ignore[no-untyped-def]
    team, which, monkeypatch
) -> None:
    monkeypatch.setenv("CLAUDECHAT_STORE_TIMEOUT", str(TIMEOUT))
    with Blackhole() as hole:
        blackhole_store(which, hole, monkeypatch)
        store = open_store(load_settings())
        convo = Conversation.new("tester", "m")
        convo.append("user", "turn 0")
        first, took = timed_save(store, convo)
        assert not first.pushed and first.journaled
        # A hung database is given up by libpq's connect_timeout (3 s, plus importing the
        # driver on a busy machine: within the 5 s target), a hung S3 by the deadline.
        assert took < (5 if which == "database" else TIMEOUT) + SLACK
        assert hole.accepted >= 1  # the client reached the hole and waited on it
        durations = []
        for turn in range(1, 11):
            convo.append("user", f"turn {turn}")
            result, took = timed_save(store, convo)
            assert not result.pushed and result.journaled
            durations.append(took)
        assert statistics.median(durations) < 0.05, durations
        store.journal.release()  # as when the process ends
    heal(monkeypatch, team)
    healthy = open_store(load_settings())
    assert healthy.sync("tester").pushed == [convo.id]
    texts = [m.text for m in healthy.load("tester", convo.id).messages]
    assert texts == [f"turn {turn}" for turn in range(11)]  # all, and each once
    assert [r.conversation_id for r in healthy.list("tester").rows] == [convo.id]


def postgres_processes(server: PostgresServer) -> list[int]:
    """The postmaster this suite started, and its children."""
    postmaster = int((server.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == postmaster:
            children.append(int(stat.parent.name))
    return [postmaster, *children]


def test_a_stopped_postgresql_costs_one_timeout_and_is_used_again_when_it_wakes(  # type: ignore[no-untyped-def]
    team, postgres, monkeypatch
) -> None:
    monkeypatch.setenv("CLAUDECHAT_STORE_TIMEOUT", str(TIMEOUT))
    store = open_store(load_settings())
    convo = Conversation.new("tester", "m")
    convo.append("user", "before")
    assert store.save(convo).pushed  # a pooled connection is open now
    stopped = postgres_processes(postgres)
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    try:
        convo.append("user", "while stopped")
        result, took = timed_save(store, convo)
        assert not result.pushed and took < TIMEOUT + SLACK
        convo.append("user", "still stopped")
        result, took = timed_save(store, convo)
        assert not result.pushed and took < 0.5  # not waiting on it again
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
    # A background probe finds PostgreSQL back; then saves reach the store again.
    deadline = time.monotonic() + 20
    while not (result := store.save(convo)).pushed:
        assert time.monotonic() < deadline, result.error
        time.sleep(0.2)
    texts = [m.text for m in open_store(load_settings()).load("tester", convo.id).messages]
    assert texts == ["before", "while stopped", "still stopped"]


def test_search_with_postgresql_stopped_behind_an_open_connection_answers_from_this_machine(  # type: ignore[no-untyped-def]
    team, postgres, monkeypatch
) -> None:
    """A stopped PostgreSQL keeps a pooled connection open and silent: the search's first
    look at the database must be given up at the deadline like any store call, not wait."""
    from claudechat.storage.journal_search import search_everywhere

    monkeypatch.setenv("CLAUDECHAT_STORE_TIMEOUT", str(TIMEOUT))
    store = open_store(load_settings())
    convo = Conversation.new("tester", "m")
    convo.append("user", "a note on sourdough")
    assert store.save(convo).pushed  # a pooled connection is open, the document cached here
    assert search_everywhere(store, "tester", "sourdough", 5).error is None
    stopped = postgres_processes(postgres)
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    answers = []
    try:
        # A daemon thread: a search that hangs fails the test instead of holding it.
        search = threading.Thread(
            target=lambda: answers.append(search_everywhere(store, "tester", "sourdough", 5)),
            daemon=True,
        )
        started = time.monotonic()
        search.start()
        search.join(TIMEOUT + SLACK + 10)
        took = time.monotonic() - started
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
    assert answers and took < TIMEOUT + SLACK, f"no answer in {took:.1f} s"
    (found,) = answers
    assert found.error is not None
    assert [hit.conversation_id for hit in found.hits] == [convo.id]


def test_a_chat_against_blackholed_postgresql_and_s3_never_hangs(  # type: ignore[no-untyped-def]
    team, fake_api, cli, monkeypatch, isolated_home
) -> None:
    """What a person sees, with the default deadline: one wait of at most 5 s, then turns
    as fast as Claude answers; everything pushed once the servers are back."""
    with Blackhole() as database, Blackhole() as blobs:
        blackhole_store("database", database, monkeypatch)
        blackhole_store("blobs", blobs, monkeypatch)
        child = spawn()
        # From the reply on the screen to the next prompt: what the store added to the turn.
        # Not the whole turn: the first one also waits for the SDK and the database driver to
        # load, seconds on a busy machine (it took 8.3 s there, its store's part 3).
        waits = []
        for text in ("one", "two", "three"):
            say(child, text)
            child.expect_exact(f"echo: {text}")
            answered = time.monotonic()
            child.expect_exact(PROMPT)
            waits.append(time.monotonic() - answered)
        conversation = leave(child)
    assert waits[0] < 5 + SLACK, waits  # one wait, within the deadline
    # Nothing waited on the store: not even libpq's 3 s connect timeout.
    assert max(waits[1:]) < 2, waits
    heal(monkeypatch, team)
    assert cli("sync").returncode == 0
    assert contents(stored(cli, conversation)) == echoed("one", "two", "three")
    assert journal_files(isolated_home) == []


# -- two sessions while the blob store is down ---------------------------------------------


def test_two_sessions_during_a_blob_store_outage_both_keep_their_turns(  # type: ignore[no-untyped-def]
    backend, blobs_down, fake_api, cli, isolated_home
) -> None:
    shared = conversation_id(cli("chat", input="shared start").stderr)
    with blobs_down(), ThreadPoolExecutor(2) as pool:
        started = time.monotonic()
        runs = list(
            pool.map(
                lambda text: cli("chat", "--resume", shared, input=text),
                ["from terminal A", "from terminal B"],
            )
        )
        took = time.monotonic() - started
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert "saved locally" in run.stderr
        assert conversation_id(run.stderr) == shared
    assert took < 30, took
    assert len(journal_files(isolated_home)) == 2  # one entry per writer: none overwritten
    listed = cli("list")  # pushes what the journal holds
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 1
    assert sorted(contents(stored(cli, shared))) == sorted(
        [
            "shared start",
            "echo: shared start",
            "from terminal A",
            "echo: from terminal A",
            "from terminal B",
            "echo: from terminal B",
        ]
    )
    assert journal_files(isolated_home) == []


# -- many first starts at once -------------------------------------------------------------


@pytest.mark.fresh_store
def test_eight_first_starts_at_once_on_a_fresh_database_all_succeed(backend) -> None:  # type: ignore[no-untyped-def]
    starts = [
        subprocess.Popen(
            [sys.executable, "-m", "claudechat", "list"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    outcomes = [(p.wait(timeout=60), p.stderr.read() if p.stderr else "") for p in starts]
    for code, stderr in outcomes:
        assert code == 0, stderr
        assert "Traceback" not in stderr
    from sqlalchemy import create_engine

    engine = create_engine(load_settings().database_url)
    with engine.connect() as connection:
        assert migrate.current_revision(connection) == migrate.HEAD_REVISION
    engine.dispose()


def test_a_new_embedded_database_is_made_in_wal_mode_before_it_takes_its_name(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Eight first starts at once, each switching an empty file to WAL, failed one in a few
    # hundred with "database is locked" (a deadlock SQLite refuses instead of waiting).
    from claudechat.storage.sqlite_file import create_wal_database

    database = tmp_path / "data" / "claudechat.db"
    create_wal_database(database)
    header = database.read_bytes()[:20]
    assert header.startswith(b"SQLite format 3\x00") and header[18:20] == b"\x02\x02"  # WAL
    assert sorted(p.name for p in database.parent.iterdir()) == ["claudechat.db"]
    assert database.stat().st_mode & 0o777 == 0o600
    before = database.read_bytes()
    create_wal_database(database)  # there already: left alone
    assert database.read_bytes() == before
    linked = tmp_path / "linked.db"  # a symlink to a database not made yet: its target is
    linked.symlink_to(tmp_path / "elsewhere.db")
    create_wal_database(linked)
    assert (tmp_path / "elsewhere.db").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "elsewhere.db").read_bytes()[18:20] == b"\x02\x02"


# -- reading while the store is down -------------------------------------------------------


def test_show_continue_and_resume_work_from_the_local_cache_while_the_store_is_down(  # type: ignore[no-untyped-def]
    backend, blobs_down, fake_api, cli, isolated_home
) -> None:
    first = conversation_id(cli("chat", input="pushed before the outage").stderr)
    assert (isolated_home / "cache").exists()
    with blobs_down():
        shown = cli("show", first[:8])
        assert shown.returncode == 0, shown.stderr
        assert "pushed before the outage" in shown.stdout
        assert shown.stderr.count("may be stale") == 1
        resumed = cli("chat", "--resume", first[:8], input="during the outage")
        assert resumed.returncode == 0, resumed.stderr
        assert "may be stale" in resumed.stderr
        renamed = cli("rename", first[:8], "named in the outage")
        assert renamed.returncode == 0, renamed.stderr
        assert "; using the copy kept on this machine, which may be stale" in renamed.stderr
        continued = cli("chat", "--continue", input="still during it")
        assert continued.returncode == 0, continued.stderr
        assert conversation_id(continued.stderr) == first
    assert cli("sync").returncode == 0
    assert contents(stored(cli, first)) == [
        "pushed before the outage",
        "echo: pushed before the outage",
        "during the outage",
        "echo: during the outage",
        "still during it",
        "echo: still during it",
    ]
    assert journal_files(isolated_home) == []


def test_a_hung_blob_store_costs_one_wait_with_a_journal_entry_waiting(  # type: ignore[no-untyped-def]
    team, fake_api, cli, monkeypatch
) -> None:
    """The wait on the waiting entry opened the breaker; the load's probe then asked only
    the database, which answered, and closed it: the turn's save waited out S3 once more."""
    shared = conversation_id(cli("chat", input="a conversation to resume").stderr)
    timeout = {"CLAUDECHAT_STORE_TIMEOUT": "2"}
    with Blackhole() as blobs:
        blackhole_store("blobs", blobs, monkeypatch)
        assert cli("chat", input="journaled, its writer gone", env=timeout).returncode == 0
        started = time.monotonic()
        resumed = cli("chat", "--resume", shared, input="and more", env=timeout)
        took = time.monotonic() - started
    assert resumed.returncode == 0, resumed.stderr
    assert (
        "1 conversation waits to be pushed" in resumed.stderr
    )  # the first wait: the entry waiting
    waits = [line for line in resumed.stderr.splitlines() if "did not answer within" in line]
    assert all("not waiting on it again" in line for line in waits[1:]), waits
    assert took < 2 * 2 + SLACK, (took, resumed.stderr)  # one wait, not two
