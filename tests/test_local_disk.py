"""The local disk: a home on a small tmpfs that fills up or is remounted read-only.

Saves go on to the store when the journal cannot be written, or stay in memory until space
returns when the store is on that disk too; nothing typed is lost, nothing is stored twice.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from claudechat.conversation import Conversation
from claudechat.settings import load_settings
from claudechat.storage import open_store
from conftest import API_KEY, echoed
from fakes.anthropic_api import ErrorReply, Reply
from serve_harness import Serve, clean_env, team_env
from test_faults import contents, conversation_id, stored
from test_repl import PROMPT, leave, say, spawn
from test_signals import started_until_said


@contextlib.contextmanager
def small_tmpfs(folder: Path) -> Iterator[Path]:
    """`folder` on a 4 MB tmpfs of its own, so it can fill up or turn read-only."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", folder], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", folder], check=False)


@pytest.fixture
def small_home(isolated_home: Path) -> Iterator[Path]:
    with small_tmpfs(isolated_home):
        yield isolated_home


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as handle:  # unbuffered: closing writes nothing more
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def test_a_full_disk_does_not_stop_saves_to_the_team_store(  # type: ignore[no-untyped-def]
    team, fake_api, cli, small_home
) -> None:
    assert cli("list").returncode == 0
    fill(small_home)
    first = cli("chat", input="written with a full disk")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "echo: written with a full disk\n"
    assert first.stderr.count("saving straight to the store") == 1  # told once
    assert "saved locally" not in first.stderr
    shared = conversation_id(first.stderr)
    again = cli("chat", "--continue", input="and again")
    assert again.returncode == 0, again.stderr
    assert contents(stored(cli, shared)) == [
        "written with a full disk",
        "echo: written with a full disk",
        "and again",
        "echo: and again",
    ]


def test_a_full_disk_under_the_embedded_store_keeps_the_turns_in_memory_until_space_returns(  # type: ignore[no-untyped-def]
    fake_api, cli, small_home
) -> None:
    assert cli("list").returncode == 0
    filler = fill(small_home)
    piped = cli("chat", input="nowhere to go")  # one turn, and the process ends: say so
    assert piped.returncode == 5, piped.stderr
    assert piped.stdout == "echo: nowhere to go\n"
    assert "could not be saved" in piped.stderr and "Traceback" not in piped.stderr
    child = spawn()
    started = time.monotonic()
    say(child, "one")
    child.expect_exact("echo: one")  # the notice after the reply, not under its live region
    child.expect(r"kept\s+in\s+memory")  # the notice wraps between words at the window's edge
    child.expect_exact(PROMPT)
    assert time.monotonic() - started < 10
    say(child, "two")
    child.expect_exact("echo: two")
    child.expect_exact(PROMPT)
    filler.unlink()
    say(child, "three")
    child.expect_exact("echo: three")
    # Not "the store is reachable again": the store never went away, the disk filled.
    child.expect_exact("saving works again; the conversation is saved")
    child.expect_exact(PROMPT)
    conversation = leave(child)
    assert contents(stored(cli, conversation)) == echoed("one", "two", "three")
    assert len(cli("list").stdout.splitlines()) == 1


def test_on_a_terminal_a_notice_during_the_reply_waits_for_its_end(fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    """Piped input, a terminal for output, a save that fails after the reply has shown: the
    notice used to start on the reply's last line. (The store is out of reach: with no disk
    either, one turn ends with the one line of what was lost, and no notice.)"""
    import shlex

    import pexpect

    assert cli("list").returncode == 0
    fake_api.queue(Reply(chunks=["the reply ", "in full"]))
    command = f"echo more | {shlex.quote(sys.executable)} -m claudechat chat"
    outage = {"CLAUDECHAT_DATABASE_URL": "postgresql://chat@127.0.0.1:9/chats"}
    output = pexpect.run(
        f"bash -c {shlex.quote(command)}",
        env={**os.environ, **outage},
        encoding="utf-8",
        timeout=60,
    )
    import pyte

    screen = pyte.Screen(1000, 24)  # what the terminal shows: the reply is rendered there
    pyte.Stream(screen).feed(output)
    lines = [line.rstrip() for line in screen.display if line.strip()]
    assert lines[0] == "the reply in full", output
    notice = " ".join(" ".join(lines[1:]).split())  # wrapped between words to 80 columns
    assert "saved locally" in notice and "the reply" not in lines[1], output


def test_a_rename_or_export_a_full_disk_cannot_take_says_so(fake_api, cli, small_home) -> None:  # type: ignore[no-untyped-def]
    """With the embedded store and the journal both on a full disk, a rename is not kept
    anywhere: it must not say "renamed" and exit 0 (it said so, and the name was lost)."""
    made = cli("chat", input="to be renamed")
    assert made.returncode == 0, made.stderr
    conversation = conversation_id(made.stderr)
    filler = fill(small_home)
    renamed = cli("rename", conversation[:8], "a new name")
    assert renamed.returncode == 5, renamed.stderr
    assert "nothing was saved" in renamed.stderr and "renamed" not in renamed.stderr
    assert "Traceback" not in renamed.stderr
    exported = cli("export", conversation[:8], "-o", str(small_home / "out.md"))
    assert exported.returncode == 5 and "No space left" in exported.stderr  # a file: not usage
    filler.unlink()
    assert cli("rename", conversation[:8], "a new name").returncode == 0
    assert "a new name" in cli("list").stdout


@pytest.mark.fresh_store
def test_a_read_only_home_does_not_stop_saves_to_the_team_store(  # type: ignore[no-untyped-def]
    team, fake_api, cli, small_home
) -> None:
    assert cli("list").returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", small_home], check=True)
    started = time.monotonic()
    result = cli("chat", input="written with a read-only home")
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("saving straight to the store") == 1
    assert "Traceback" not in result.stderr
    assert took < 15
    shown = stored(cli, conversation_id(result.stderr))
    assert contents(shown) == [
        "written with a read-only home",
        "echo: written with a read-only home",
    ]


def test_an_embedded_store_on_a_read_only_home_says_the_folder_is_read_only(  # type: ignore[no-untyped-def]
    fake_api, cli, small_home
) -> None:
    """SQLite said only "unable to open database file" (or "attempt to write a readonly
    database"), which names no cause."""
    made = cli("chat", input="before the remount")
    assert made.returncode == 0, made.stderr
    subprocess.run(["mount", "-o", "remount,ro", small_home], check=True)
    listed = cli("list")
    assert listed.returncode == 5, listed.stderr
    assert "is read-only to you" in listed.stderr and "Traceback" not in listed.stderr


def test_a_version_read_for_a_save_that_failed_still_refreshes_the_local_copy(  # type: ignore[no-untyped-def]
    isolated_home, tmp_path, monkeypatch
) -> None:
    """Another host adds a turn; a save here reads that version to merge into, then cannot
    write (the blob folder is full). The next load must still put that version in the local
    copy, which `show` falls back on while the store is down: the save's read is not taken
    for a version this process wrote, whose local copy is written already."""
    shared = {
        "storage_url": (tmp_path / "blobs").as_uri(),
        "database_url": f"sqlite:///{isolated_home / 'claudechat.db'}",
    }
    with small_tmpfs(tmp_path / "blobs") as blobs:
        settings = load_settings(shared)
        here = open_store(settings)
        mine = Conversation.new(settings.user, settings.model)
        mine.append("user", "from here")
        assert here.save(mine).pushed
        monkeypatch.setenv("CLAUDECHAT_HOME", str(tmp_path / "other-host"))
        there = open_store(load_settings(shared))  # its own journal and local copies
        theirs = there.load(settings.user, mine.id)
        theirs.append("user", "from the other host")
        assert there.save(theirs).pushed
        monkeypatch.setenv("CLAUDECHAT_HOME", str(isolated_home))
        filler = fill(blobs)
        mine.append("user", "written with a full disk")
        assert not here.save(mine).pushed  # kept in the journal
        filler.unlink()
        here.load(settings.user, mine.id)
        assert here.cache is not None
        kept = here.cache.get(settings.user, mine.id)
        assert kept is not None
        assert contents(kept.to_document()) == ["from here", "from the other host"]


@pytest.mark.parametrize("disk", ["full", "read-only"])
def test_one_turn_that_cannot_be_saved_promises_no_later_save(
    fake_api, cli, small_home, disk
) -> None:  # type: ignore[no-untyped-def]
    """Pipe mode said the conversation was "kept in memory and saved as soon as either is
    back" of a process about to end, then that it could not be saved."""
    assert cli("list").returncode == 0
    if disk == "full":
        fill(small_home)
    else:
        subprocess.run(["mount", "-o", "remount,ro", small_home], check=True)
    piped = cli("chat", input="nowhere to go")
    assert piped.returncode == 5, piped.stderr
    assert piped.stdout == "echo: nowhere to go\n"
    usage, *lines = piped.stderr.strip().splitlines()
    assert " out · " in usage  # the reply's usage line, as any reply's
    assert len(lines) == 1, piped.stderr
    assert lines[0].startswith("claudechat: the conversation could not be saved: neither")
    assert "cannot write" in lines[0]  # why


def test_a_served_turn_that_cannot_be_saved_says_it_is_not_saved(  # type: ignore[no-untyped-def]
    fake_api, tmp_path, postgres, s3
) -> None:
    """With S3 down and the server's journal read-only, the turn is kept nowhere once the
    request ends: its answer says so, not that it will be saved once the store is back."""
    env = {
        **clean_env(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake_api.base_url),
        **team_env(postgres, s3),
        "CLAUDECHAT_STORE_TIMEOUT": "1",
    }
    home = tmp_path / "home"
    with small_tmpfs(home / "journal") as journal:
        # Read-only from the start: once serving, its lock file is open for writing there.
        subprocess.run(["mount", "-o", "remount,ro", journal], check=True)
        with Serve(env, "--no-auth", home=home) as server, server.client() as http:
            assert http.post("/chat", json={"user_input": "before"}).status_code == 200
            s3.pause()
            try:
                answer = http.post("/chat", json={"user_input": "kept nowhere"})
            finally:
                s3.resume()
    assert answer.status_code == 200, answer.text
    assert answer.json()["notices"] == [
        "this turn is not saved: the conversation store is unavailable and the server's "
        "local journal cannot be written"
    ]
    assert f":{s3.port}" not in answer.text  # where S3 is goes to the log alone
    assert "a turn is not saved" in server.log()


def test_health_says_a_blob_folder_on_a_full_or_read_only_disk_is_unwritable(  # type: ignore[no-untyped-def]
    fake_api, tmp_path
) -> None:
    """It said "ok", from reads that succeed there, while every save failed."""
    env = clean_env(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake_api.base_url)
    home = tmp_path / "home"
    with (
        small_tmpfs(home / "conversations") as folder,  # the blob folder alone
        Serve(env, "--no-auth", home=home) as server,
        server.client() as http,
    ):
        assert http.get("/health").json()["blob_store"] == "ok"
        filler = fill(folder)
        full = http.get("/health")
        filler.unlink()
        freed = http.get("/health")
        subprocess.run(["mount", "-o", "remount,ro", folder], check=True)
        read_only = http.get("/health")
        subprocess.run(["mount", "-o", "remount,rw", folder], check=True)
    assert (full.status_code, full.json()) == (
        503,
        {"status": "unavailable", "database": "ok", "blob_store": "unwritable"},
    )
    assert (freed.status_code, freed.json()["blob_store"]) == (200, "ok")
    assert (read_only.status_code, read_only.json()["blob_store"]) == (503, "unwritable")
    assert "its disk is full" in server.log() and "it is read-only" in server.log()


BUSY = ErrorReply(529, "overloaded_error", "busy", {"retry-after-ms": "1"})


@pytest.mark.parametrize(
    ("failure", "code"),
    [((BUSY, BUSY, BUSY), 3), ((Reply(chunks=["partial ", "reply"], cut_after=1),), 4)],
)
def test_one_turn_that_fails_and_cannot_be_saved_says_so(  # type: ignore[no-untyped-def]
    fake_api, cli, small_home, failure, code
) -> None:
    """The closing line was said only of a turn that ended well: the API's error alone was
    said, and the message was gone without a word."""
    assert cli("list").returncode == 0
    fill(small_home)
    fake_api.queue(*failure)
    piped = cli("chat", input="hi")
    assert piped.returncode == code, piped.stderr
    assert piped.stderr.count("the conversation could not be saved: neither") == 1, piped.stderr
    assert "cannot write" in piped.stderr and "Traceback" not in piped.stderr


def test_a_sigterm_in_one_turn_that_cannot_be_saved_does_not_say_it_is_kept(  # type: ignore[no-untyped-def]
    fake_api, small_home
) -> None:
    """Its last line said "your message is kept, with no reply yet" of a message lost."""
    fill(small_home)
    fake_api.queue(ErrorReply(529, "overloaded_error", "busy", {"retry-after": "30"}))
    # The whole line: a signal between its text and its \n left the newline unwritten, and
    # the last line glued to the notice.
    process, said = started_until_said(b"(1/2)\n")
    assert process.stderr is not None
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    said += process.stderr.read()
    assert process.returncode == 143, said
    last = said.decode().strip().splitlines()[-1]
    assert last.startswith("claudechat: terminated (SIGTERM); the conversation could not be saved")
    assert b"kept" not in said and b"Traceback" not in said
