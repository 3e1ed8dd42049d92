"""Real signals to the real program while a reply streams, and readers that close stdout early:
what arrived is kept and saved, and the process ends with the code the README gives."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

import pexpect
import pytest

from conftest import content_text
from fakes.anthropic_api import ErrorReply, Reply
from test_repl import PROMPT, say, spawn

SLOW = Reply(" ".join(f"w{i}" for i in range(60)), delay=0.1)


def latest(cli) -> dict:  # type: ignore[no-untyped-def, type-arg]
    listed = cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    shown = cli("show", json.loads(listed.stdout)[0]["id"], "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)  # type: ignore[no-any-return]


def assert_kept_partial(document: dict) -> None:  # type: ignore[type-arg]
    user, reply = document["messages"]
    assert (content_text(user["content"]), user["status"]) == ("go", "complete")
    assert reply["status"] == "interrupted"
    assert content_text(reply["content"]).startswith("w0 w1 ")
    assert len(content_text(reply["content"])) < len(SLOW.text)


def start_pipe_turn() -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "claudechat", "chat"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"go")
    process.stdin.close()
    seen = read_until(process.stdout.fileno(), b"w1 ")
    assert b"w1 " in seen, seen
    return process


def read_until(fd: int, marker: bytes, seconds: float = 30) -> bytes:
    """What `fd` gives up to `marker`, its end, or `seconds`: a read waits only while time is
    left (a process that stays silent fails the test instead of hanging it)."""
    said = b""
    deadline = time.monotonic() + seconds
    while marker not in said:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 1024)
        if not chunk:
            break
        said += chunk
    return said


def started_until_said(
    marker: bytes, *args: str, stdin: bytes | None = None
) -> tuple[subprocess.Popen[bytes], bytes]:
    """`claudechat chat go` (or `chat ARGS`) with nothing on stdin (or `stdin`), and its
    stderr read up to `marker` (or its end, or 30 s)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "claudechat", "chat", *(args or ("go",))],
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    if stdin is not None:
        assert process.stdin is not None
        process.stdin.write(stdin)
        process.stdin.close()
    return process, read_until(process.stderr.fileno(), marker)


@pytest.mark.parametrize(
    ("signum", "code", "reason"),
    [
        (signal.SIGTERM, 143, "terminated (SIGTERM)"),
        (signal.SIGHUP, 129, "(SIGHUP)"),
        (signal.SIGINT, 130, "interrupted"),
    ],
)
def test_a_signal_in_pipe_mode_keeps_the_partial_reply(cli, fake_api, signum, code, reason) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(SLOW)
    process = start_pipe_turn()
    process.send_signal(signum)
    assert process.stderr is not None
    process.wait(timeout=30)
    text = process.stderr.read().decode()
    assert process.returncode == code, text
    assert "claudechat: " in text and reason in text
    if signum != signal.SIGINT:
        assert f"{reason}; what arrived is kept" in text
    assert "Traceback" not in text and "Exception ignored" not in text
    assert_kept_partial(latest(cli))


def test_a_signal_while_waiting_to_retry_says_only_the_message_is_kept(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """Nothing of a reply had arrived: "what arrived is kept" told of a reply there was not."""
    fake_api.queue(ErrorReply(529, "overloaded_error", "busy", {"retry-after": "30"}))
    process, said = started_until_said(b"retrying in")
    assert process.stderr is not None
    assert b"retrying in 30 s" in said, said
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    said += process.stderr.read()
    assert process.returncode == 143, said
    # The last line whole, on a line of its own (not run on after the retry notice's text).
    last = said.decode().splitlines()[-1]
    assert last == "claudechat: terminated (SIGTERM); your message is kept, with no reply yet"
    assert b"what arrived" not in said
    [message] = latest(cli)["messages"]
    assert (content_text(message["content"]), message["status"]) == ("go", "pending")


@pytest.mark.pty
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_in_the_repl_keeps_the_partial_reply(cli, fake_api, signum, code) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(SLOW)
    child = spawn()
    say(child, "go")
    child.expect_exact("w2")
    child.kill(signum)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == code, child.before
    assert "Traceback" not in (child.before or "")
    assert_kept_partial(latest(cli))


@pytest.mark.pty
def test_closing_the_terminal_mid_reply_keeps_the_partial_reply(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """A real hangup: the terminal's side of the pty goes away, the kernel sends SIGHUP and
    every later write to the terminal fails; the save must not depend on the screen."""
    fake_api.queue(SLOW)
    child = spawn()
    say(child, "go")
    child.expect_exact("w2")
    os.close(child.child_fd)  # the terminal window closes
    _, status = os.waitpid(child.pid, 0)
    child.closed = True  # its descriptor is gone; nothing for pexpect to close
    assert os.waitstatus_to_exitcode(status) == 129
    assert_kept_partial(latest(cli))


@pytest.mark.pty
def test_sigterm_at_the_repl_prompt_leaves_with_143(fake_api) -> None:  # type: ignore[no-untyped-def]
    child = spawn()
    say(child, "hello")
    child.expect_exact("echo: hello")
    child.expect_exact(PROMPT)
    child.kill(signal.SIGTERM)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 143
    assert "terminated (SIGTERM)" in (child.before or "")
    assert "kept" not in (child.before or "")  # no turn was under way


def closed_reader_run(*args: str, input: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run with a stdout whose reader has already gone, as `| head -1` leaves it."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "claudechat", *args],
            input=input,
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=60,
        )
    finally:
        os.close(write_end)


def test_list_into_a_closed_pipe_exits_quietly(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    cli("chat", input="something to list")
    result = closed_reader_run("list", "--json")
    assert result.returncode == 0
    assert result.stderr == b""


def test_a_reply_into_a_closed_pipe_is_saved_whole(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(Reply("the whole reply, saved even though nobody read it"))
    result = closed_reader_run("chat", input=b"go")
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    assert "claudechat:" not in stderr  # no error line: only the conversation id
    reply = latest(cli)["messages"][-1]
    assert content_text(reply["content"]) == "the whole reply, saved even though nobody read it"
    assert reply["status"] == "complete"


# Run in a process of its own: a SIGINT sent to the test process would reach pytest.
