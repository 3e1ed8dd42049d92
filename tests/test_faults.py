"""Never lose a conversation: crashes, outages, concurrent sessions and API faults, for real.

Each fault is injected as it happens in life: the process is killed with SIGKILL, the database
or blob store is stopped (PostgreSQL and moto are paused; the embedded files are moved away),
the stream is cut by the server, two processes write one conversation.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from claudechat.conversation import Conversation
from claudechat.settings import load_settings
from claudechat.storage import open_blob_store, open_store
from claudechat.storage.store import decode_document
from conftest import Backend, content_text, conversation_id, echoed
from fakes.anthropic_api import ErrorReply, Reply
from test_repl import PROMPT, leave, say, spawn


def stored(cli, reference: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    result = cli("show", reference, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def contents(document: dict) -> list[str]:  # type: ignore[type-arg]
    return [content_text(m["content"]) for m in document["messages"]]


@contextmanager
def swapped_out(path: Path) -> Iterator[None]:
    """An embedded store 'goes down': its file or folder is moved away and a blocker put in
    its place, as when a disk is unmounted; the data comes back untouched afterwards."""
    aside = path.with_name(path.name + ".away")
    moved = [p for p in path.parent.glob(path.name + "*") if p.exists()]
    for item in moved:
        item.rename(item.with_name(item.name.replace(path.name, path.name + ".away", 1)))
    blocker = path.parent / path.name
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.suffix == ".db":
        blocker.mkdir()  # SQLite cannot open a directory
    else:
        blocker.write_text("not a folder")  # nothing can be written below a file
    try:
        yield
    finally:
        shutil.rmtree(blocker) if blocker.is_dir() else blocker.unlink()
        for item in path.parent.glob(path.name + ".away*"):
            item.rename(item.with_name(item.name.replace(".away", "", 1)))
        assert not aside.exists()


def outage_of(team_server: str, embedded_path: str):  # type: ignore[no-untyped-def]
    """A fixture that takes one store down: the team's server is paused, or the embedded
    file or folder is swapped out."""

    @pytest.fixture
    def fixture(backend: Backend, request: pytest.FixtureRequest, isolated_home: Path):  # type: ignore[no-untyped-def]
        @contextmanager
        def outage() -> Iterator[None]:
            if backend.name == "team":
                server = request.getfixturevalue(team_server)
                server.pause()
                try:
                    yield
                finally:
                    server.resume()
            else:
                with swapped_out(isolated_home / embedded_path):
                    yield

        return outage

    return fixture


database_down = outage_of("postgres", "claudechat.db")
blobs_down = outage_of("s3", "conversations")


def journal_files(home: Path) -> list[Path]:
    return [p for p in (home / "journal").rglob("*.json")] if (home / "journal").exists() else []


# -- crashes -------------------------------------------------------------------------------


def test_kill_9_while_a_reply_streams_loses_nothing_typed(backend, fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    child = spawn()
    say(child, "first question")
    child.expect_exact("echo: first question")
    child.expect_exact(PROMPT)
    fake_api.queue(Reply(chunks=[f"w{i} " for i in range(400)], delay=0.05))
    say(child, "second question, never answered")
    child.expect_exact("w3 ")
    os.kill(child.pid, signal.SIGKILL)
    child.close(force=True)

    resumed = cli("chat", "--continue", input="third")
    assert resumed.returncode == 0, resumed.stderr
    # The crashed session's unanswered message is kept, but never sent along with a new one:
    # it is answered only when the user asks (/retry).
    assert contents({"messages": fake_api.requests[-1].body["messages"]}) == [
        "first question",
        "echo: first question",
        "third",
    ]
    document = stored(cli, conversation_id(resumed.stderr))
    assert sorted(contents(document)) == sorted(
        [
            "first question",
            "echo: first question",
            "second question, never answered",
            "third",
            "echo: third",
        ]
    )
    by_text = {content_text(m["content"]): m for m in document["messages"]}
    # Two branches from the first reply: the crashed turn and the new one.
    answered = by_text["echo: first question"]["id"]
    assert by_text["second question, never answered"]["parent_id"] == answered
    assert by_text["third"]["parent_id"] == answered
    assert len(cli("list").stdout.splitlines()) == 1


def test_readers_never_see_a_half_written_document(backend) -> None:  # type: ignore[no-untyped-def]
    store = open_store(load_settings())
    convo = Conversation.new("tester", "m")
    convo.append("user", "start")
    store.save(convo)
    key = store.blob_key("tester", convo.id)
    reader_blobs = open_blob_store(load_settings())  # its own client, as another process has
    stop, reads, failures = threading.Event(), [0], []

    def read_continuously() -> None:
        while not stop.is_set():
            try:
                decode_document(reader_blobs.get(key))
                reads[0] += 1
            except Exception as exc:
                failures.append(exc)

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        for turn in range(40):
            convo.append("assistant", f"reply {turn} " + "x" * 40_000)
            store.save(convo)
    finally:
        stop.set()
        reader.join()
    assert failures == []
    assert reads[0] > 10
    assert len(decode_document(reader_blobs.get(key)).messages) == 41


def test_a_crash_between_document_and_row_is_repaired_on_the_next_start(  # type: ignore[no-untyped-def]
    backend, database_down, fake_api, cli, isolated_home
) -> None:
    with database_down():
        during = cli("chat", input="written while the database was away")
        assert during.returncode == 0, during.stderr
    # The document reached the blob store; its row did not; the journal remembers.
    assert len(journal_files(isolated_home)) == 1
    after = cli("list")
    assert after.returncode == 0, after.stderr
    (line,) = after.stdout.splitlines()
    assert not line.split("\t")[0].endswith("*")
    assert journal_files(isolated_home) == []
    assert "written while the database was away" in line


def test_doctor_adopts_orphan_documents_and_reports_missing_ones(  # type: ignore[no-untyped-def]
    backend, database_down, fake_api, cli, isolated_home
) -> None:
    kept = conversation_id(cli("chat", input="an ordinary conversation").stderr)
    with database_down():
        orphan = conversation_id(cli("chat", input="orphaned by a crash").stderr)
    # As if the crash happened where the journal is not: only the document is left.
    shutil.rmtree(isolated_home / "journal")
    assert orphan[:8] not in cli("list").stdout

    repaired = cli("doctor")
    assert repaired.returncode == 0, repaired.stderr
    assert f"{orphan}\tdocument without a row: row re-created" in repaired.stdout
    assert kept not in repaired.stdout
    assert orphan[:8] in cli("list").stdout
    assert contents(stored(cli, orphan)) == ["orphaned by a crash", "echo: orphaned by a crash"]

    store = open_store(load_settings())
    store.blobs.delete(store.blob_key("tester", kept))
    (isolated_home / "cache" / "tester" / f"{kept}.json").unlink()  # else doctor puts it back
    missing = cli("doctor")
    assert missing.returncode == 1
    assert f"{kept}\trow whose document is missing" in missing.stdout


# -- outages -------------------------------------------------------------------------------


@pytest.mark.parametrize("down", ["database_down", "blobs_down"])
def test_sync_with_nothing_waiting_still_says_the_store_is_down(  # type: ignore[no-untyped-def]
    backend, cli, request, down
) -> None:
    """Nothing to push asked nothing of the store: "pushed 0", exit 0, read as all well."""
    with request.getfixturevalue(down)():
        synced = cli("sync", env={"CLAUDECHAT_STORE_TIMEOUT": "1"})
    assert synced.returncode == 5, synced.stderr
    # The error alone: "pushed 0 conversation(s)" before it read as a success.
    assert "pushed" not in synced.stderr and "claudechat:" in synced.stderr


def test_database_down_at_start_the_chat_works_and_syncs_later(  # type: ignore[no-untyped-def]
    backend, database_down, fake_api, cli, isolated_home
) -> None:
    with database_down():
        result = cli("chat", input="hello during an outage")
        assert result.returncode == 0, result.stderr
        assert result.stdout == "echo: hello during an outage\n"
        assert result.stderr.count("saved locally") == 1
        again = cli("chat", "--continue", input="and more")
        assert again.returncode == 0, again.stderr
        assert conversation_id(again.stderr) == conversation_id(result.stderr)
        listed = cli("list")
        assert listed.returncode == 5  # the database is down, and it says so
        (line,) = listed.stdout.splitlines()
        assert line.split("\t")[0].endswith("*")
        assert line.split("\t")[3] == "4"
    synced = cli("sync")
    assert synced.returncode == 0 and "pushed 1 conversation" in synced.stderr
    listed = cli("list")
    (line,) = listed.stdout.splitlines()  # nothing duplicated
    assert not line.split("\t")[0].endswith("*")
    assert contents(stored(cli, conversation_id(result.stderr))) == [
        "hello during an outage",
        "echo: hello during an outage",
        "and more",
        "echo: and more",
    ]
    assert journal_files(isolated_home) == []


def test_blob_store_down_mid_session_is_told_once_and_pushed_when_back(  # type: ignore[no-untyped-def]
    backend, blobs_down, fake_api, cli, isolated_home
) -> None:
    child = spawn()
    child.logfile_read = transcript = io.StringIO()
    say(child, "one")
    child.expect_exact("echo: one")
    child.expect_exact(PROMPT)
    with blobs_down():
        say(child, "two")
        child.expect_exact("saved locally")
        child.expect_exact(PROMPT)
        say(child, "three")
        child.expect_exact("echo: three")
        child.expect_exact(PROMPT)
    say(child, "four")
    child.expect_exact("reachable again")
    child.expect_exact(PROMPT)
    conversation = leave(child)
    # Told once when saves fell back to the journal, once when they recovered: four saves
    # failed (two turns, each saved before and after the reply), one notice.
    assert transcript.getvalue().count("saved locally") == 1
    assert transcript.getvalue().count("reachable again") == 1
    document = stored(cli, conversation)
    assert contents(document) == echoed("one", "two", "three", "four")
    assert journal_files(isolated_home) == []
    assert len(cli("list").stdout.splitlines()) == 1


# -- concurrency ---------------------------------------------------------------------------


def test_two_sessions_on_one_conversation_make_two_branches_of_it(  # type: ignore[no-untyped-def]
    backend, fake_api, cli
) -> None:
    original = conversation_id(cli("chat", input="shared start").stderr)
    child = spawn("--resume", original[:8])
    other = cli("chat", "--resume", original, input="from the other terminal")
    assert other.returncode == 0, other.stderr

    say(child, "from this terminal")
    child.expect_exact("echo: from this terminal")
    child.expect_exact(PROMPT)
    # This session's request carried its own branch only, not the other terminal's turn.
    assert contents({"messages": fake_api.requests[-1].body["messages"]}) == [
        "shared start",
        "echo: shared start",
        "from this terminal",
    ]
    say(child, "still here")
    child.expect_exact("echo: still here")
    assert leave(child) == original  # nothing forked

    document = stored(cli, original)
    assert sorted(contents(document)) == sorted(
        [
            "shared start",
            "echo: shared start",
            "from the other terminal",
            "echo: from the other terminal",
            "from this terminal",
            "echo: from this terminal",
            "still here",
            "echo: still here",
        ]
    )
    listed = cli("list")
    (line,) = listed.stdout.splitlines()
    assert line.startswith(original[:8])
    assert len(fake_api.requests) == 4  # every message answered exactly once


# -- Claude API faults ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "first",
    [
        Reply("lost", cut_after=0, cut_mode="close"),
        Reply("lost", cut_after=0, cut_mode="abort"),
        Reply("lost", cut_after=0, error_event=("overloaded_error", "Overloaded")),
        ErrorReply(429, "rate_limit_error", "slow down", {"retry-after-ms": "50"}),
        ErrorReply(529, "overloaded_error", "busy", {"retry-after-ms": "50"}),
        ErrorReply(503, "api_error", "unavailable", {"retry-after-ms": "50"}),
    ],
    ids=[
        "closed-before-text",
        "broken-before-text",
        "error-event-before-text",
        "429",
        "529",
        "503",
    ],
)
def test_faults_before_any_text_are_retried(cli, fake_api, first) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(first, Reply("the answer"))
    result = cli("chat", input="question")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "the answer\n"
    assert len(fake_api.requests) == 2
    document = stored(cli, conversation_id(result.stderr))
    assert [(content_text(m["content"]), m["status"]) for m in document["messages"]] == [
        ("question", "complete"),
        ("the answer", "complete"),
    ]


@pytest.mark.parametrize(
    "broken",
    [Reply("lost", cut_after=0), Reply("lost", thinking="a whole thought here", cut_after=3)],
    ids=["nothing", "thinking-only"],
)
def test_a_stream_that_never_brought_text_is_a_failed_reply_not_a_cut_off_one(  # type: ignore[no-untyped-def]
    cli, fake_api, broken
) -> None:
    """Exit 4 promises the part of a reply that arrived; none had, and none was kept."""
    fake_api.queue(broken, broken, broken)
    result = cli("chat", input="question")
    assert result.returncode == 3, result.stderr
    assert "the reply broke off before any text arrived (the stream closed" in result.stderr
    # Thinking alone is no reply: not kept as one, so the message waits for /retry.
    document = stored(cli, conversation_id(result.stderr))
    assert [(content_text(m["content"]), m["status"]) for m in document["messages"]] == [
        ("question", "pending"),
    ]


def test_after_text_was_shown_nothing_is_resent_silently(fake_api) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(
        Reply(chunks=["shown ", "then ", "cut"], cut_after=1, cut_mode="abort"),
        Reply("regenerated"),
    )
    child = spawn()
    say(child, "question")
    child.expect_exact("shown")
    child.expect_exact("/retry asks again")
    child.expect_exact(PROMPT)
    assert len(fake_api.requests) == 1
    say(child, "/retry")
    child.expect_exact("regenerated")
    child.expect_exact(PROMPT)
    leave(child)
    assert len(fake_api.requests) == 2
