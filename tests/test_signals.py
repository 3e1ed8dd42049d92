"""Real signals to the real program while a reply streams, and readers that close stdout early:
what arrived is kept and saved, and the process ends with the code the README gives."""

from __future__ import annotations

import json
import os
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
    seen = b""
    deadline = time.monotonic() + 30
    while b"w1 " not in seen and time.monotonic() < deadline:
        seen += os.read(process.stdout.fileno(), 1024)
    assert b"w1 " in seen, seen
    return process


def started_until_said(marker: bytes) -> tuple[subprocess.Popen[bytes], bytes]:
    """`claudechat chat go` with nothing on stdin, and its stderr read up to `marker` (or its
    end, or 30 s)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "claudechat", "chat", "go"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    said = b""
    deadline = time.monotonic() + 30
    while marker not in said and time.monotonic() < deadline:
        chunk = os.read(process.stderr.fileno(), 1024)
        if not chunk:
            break
        said += chunk
    return process, said


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
HELD_DRAW = """
import os, signal, threading, time
from claudechat.conversation import Conversation
from claudechat.render import signals_held
from claudechat.settings import load_settings
from claudechat.storage import open_store

settings = load_settings()
store = open_store(settings)
conversation = Conversation.new(settings.user, settings.model)
conversation.append("user", "hello")
assert store.save(conversation).pushed  # its store call leaves a thread waiting for the next
assert [t for t in threading.enumerate() if t.name == "store-call"]
where = "nowhere"
try:
    with signals_held():  # a draw Ctrl-C must not cut in half
        os.kill(os.getpid(), signal.SIGINT)
        try:
            deadline = time.monotonic() + 0.3
            while time.monotonic() < deadline:
                pass
        except KeyboardInterrupt:
            where = "inside"
except KeyboardInterrupt:
    where = "after"
print(where)
"""


def test_ctrl_c_waits_for_a_held_draw_whatever_threads_the_store_started(isolated_home) -> None:  # type: ignore[no-untyped-def]
    """The kernel gave a signal the main thread blocked to another thread, and Python then
    ran its handler in the main thread all the same: held draws were cut in half as soon as
    the store had started a thread. Now the handlers only note them during the block."""
    done = subprocess.run(
        [sys.executable, "-c", HELD_DRAW], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["after"]


CTRL_C_AND_KILL_IN_ONE_DRAW = """
import os, signal, time
from claudechat.render import signals_held

def terminated(_signum, _frame):
    raise SystemExit(143)

signal.signal(signal.SIGTERM, terminated)
try:
    with signals_held():
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline:
            pass
except KeyboardInterrupt:
    print("the Ctrl-C won; the kill was lost")
"""


def test_a_kill_during_a_held_draw_is_not_lost_to_a_ctrl_c_before_it() -> None:
    """Both are raised again after the draw, the most serious first: the Ctrl-C's
    KeyboardInterrupt would otherwise end the raising before the kill's turn."""
    done = subprocess.run(
        [sys.executable, "-c", CTRL_C_AND_KILL_IN_ONE_DRAW],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (143, ""), done.stderr


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGHUP, 129), (signal.SIGTERM, 143)])
def test_a_process_that_hangs_after_a_signal_still_exits(signum: int, code: int) -> None:
    """Once, after a hangup at the prompt, prompt-toolkit's event loop waited forever in its
    own clean-up, with further signals ignored: the process never ended. Here a clean-up that
    never ends stands in for it; the process ends anyway, with the signal's exit code."""
    script = (
        "import time\n"
        "from claudechat import signals\n"
        "signals.EXIT_DEADLINE_SECONDS = 1\n"
        "signals.install()\n"
        "said = False\n"
        "while True:\n"
        "    try:\n"
        "        if not said:\n"
        "            said = True\n"
        "            print('ready', flush=True)\n"
        "        time.sleep(10)\n"
        "    except KeyboardInterrupt:\n"
        "        pass  # a clean-up that never ends\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        process.send_signal(signum)
        assert process.wait(timeout=20) == code
    finally:
        process.kill()
        process.wait()


DEFERRED = """
import time
from claudechat import signals
from claudechat.errors import Terminated

signals.install()
# Code that reports itself as importlib's, as the module lock's weakref callback does.
machinery = compile(
    "import signal\\nsignal.raise_signal(signal.SIGTERM)\\nsignal.raise_signal(signal.SIGHUP)\\n"
    "sum(range(1000))\\nran.append('to its end')\\n",
    "<frozen importlib._bootstrap>",
    "exec",
)
# Noted there, said only once raised: the signal comes 10 ms after it arrived, and on a busy
# machine that may be anywhere in the lines after the machinery (it cut a print in two).
ran = []
try:
    exec(machinery, {"ran": ran})
    time.sleep(5)
    print("never raised")
except Terminated as ended:
    print("the machinery ran", *ran)
    print("raised after it:", ended.reason)
"""


def test_a_signal_inside_the_import_machinery_is_raised_just_after_it() -> None:
    """An exception raised in importlib's own code can be swallowed with the import lock held
    (a SIGTERM at start-up hung the process until its 30 s exit deadline, now and then)."""
    done = subprocess.run(
        [sys.executable, "-c", DEFERRED], capture_output=True, text=True, timeout=30
    )
    # The first of two signals that came meanwhile decides how the process ends.
    raised = "raised after it: terminated (SIGTERM)"
    assert done.stdout == f"the machinery ran to its end\n{raised}\n", done.stderr


LOADING = """
import builtins

real_import = builtins.__import__


def interrupted(name, *args, **kwargs):  # Ctrl-C while the command's modules still load
    if name == "claudechat.cli":
        raise KeyboardInterrupt
    return real_import(name, *args, **kwargs)


builtins.__import__ = interrupted
from claudechat.entry import main

main()
"""


def test_ctrl_c_while_the_program_still_loads_is_one_line_and_exit_130() -> None:
    """It printed Python's traceback of the import it stopped."""
    done = subprocess.run(
        [sys.executable, "-c", LOADING], capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stderr) == (130, "claudechat: interrupted\n")


HELD = """
import os, threading, time
from claudechat import signals
from claudechat.errors import Terminated

signals.install()
# Another thread, as the store's runners are: the kernel may hand it a process's signal.
threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
kept = []
try:
    with signals.held():
        os.kill(os.getpid(), signals.signal.SIGTERM)
        time.sleep(0.2)  # time enough for it to arrive, and be held
        kept.append("built")  # not cut off by the signal that came meanwhile
        print("the held lines ran to their end", flush=True)
    print("never here")
except Terminated as ended:
    print("then:", ended.reason, kept)
"""


def test_a_signal_while_held_takes_effect_just_after() -> None:
    """Where an object must be built and kept at once (the SDK's client: cut in two by a
    Ctrl-C, its finalizer printed "Exception ignored in ..." at exit)."""
    done = subprocess.run([sys.executable, "-c", HELD], capture_output=True, text=True, timeout=30)
    assert done.stdout == (
        "the held lines ran to their end\nthen: terminated (SIGTERM) ['built']\n"
    ), done.stderr


ENDING = """
import time
from claudechat import signals

signals.install()
signals.end_at_once()
signals.signal.raise_signal(signals.signal.SIGTERM)
time.sleep(5)
print("never here")
"""


def test_a_signal_once_the_work_is_done_ends_the_process_with_its_line_and_code() -> None:
    """While leaving (threads waited for, stores closed, output flushed), a signal escaped as a
    traceback, or an exit handler swallowed it and the process ended with 0."""
    done = subprocess.run(
        [sys.executable, "-c", ENDING], capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stdout) == (143, "")
    assert done.stderr == "claudechat: terminated (SIGTERM)\n"


LEAVING = """
import atexit, runpy, signal, sys

# Registered first, so run last of the exit handlers: once the store has been closed.
atexit.register(signal.raise_signal, signal.SIGTERM)
sys.argv = ["claudechat", "chat"]
runpy.run_module("claudechat", run_name="__main__")
"""


def test_sigterm_as_a_pipe_turn_leaves_says_the_conversation_is_saved(fake_api) -> None:  # type: ignore[no-untyped-def]
    """It came once the reply was saved, while the process closed its store and left: the line
    said "terminated (SIGTERM)" alone, where SIGTERM's last line says what is kept."""
    fake_api.queue(Reply("the answer"))
    done = subprocess.run(
        [sys.executable, "-c", LEAVING], input="hi", capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (143, "the answer\n"), done.stderr
    assert done.stderr.endswith("claudechat: terminated (SIGTERM); the conversation is saved\n")
