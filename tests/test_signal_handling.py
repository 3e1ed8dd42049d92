"""The program's own signal handling, each in a child process of its own: a signal held
while a draw is under way, one deferred past the import machinery or the loading of a
command, one once the work is done or as the process leaves, and a clean-up that hangs."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from fakes.anthropic_api import Reply

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


IN_A_CLASS_BODY = """
import sys
import time
from claudechat import signals
from claudechat.errors import Terminated

signals.install()
sys.path.insert(0, sys.argv[1])
try:
    import lazily_loaded  # its class body takes the signal (see the test)
    print("imported whole:", lazily_loaded.Model.loaded)
    time.sleep(5)
    print("never raised")
except Terminated as ended:
    print("raised after the import:", ended.reason)
"""

# A module whose class body is where the signal arrives, as in the SDK's lazily imported
# resources: an exception raised in __set_name__ comes out as a RuntimeError.
LAZILY_LOADED = """
import signal


class Named:
    def __set_name__(self, owner, name):
        signal.raise_signal(signal.SIGTERM)
        sum(range(1000))


class Model:
    field = Named()
    loaded = "yes"
"""


def test_a_signal_in_a_module_being_imported_is_raised_after_the_import(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A SIGTERM while the SDK loaded a resource lazily, in a class body, came out of it as
    "Error calling __set_name__ ...": the turn took that for a stream cut off and asked Claude
    again, and the process ended with 0, the signal lost."""
    (tmp_path / "lazily_loaded.py").write_text(LAZILY_LOADED)
    done = subprocess.run(
        [sys.executable, "-c", IN_A_CLASS_BODY, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.stdout.splitlines()[-1] == "raised after the import: terminated (SIGTERM)", (
        done.stdout + done.stderr
    )
    assert "RuntimeError" not in done.stderr, done.stderr


RUN_BY_ITS_LOADER = """
import importlib.util
import sys
import time
from claudechat import signals
from claudechat.errors import Terminated

signals.install()
# As Alembic runs its env.py for a migration: executed by a loader, imported by nobody.
spec = importlib.util.spec_from_file_location("env", sys.argv[1])
started = time.monotonic()
try:
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    print("ran to its end")
except Terminated as ended:
    print(f"raised in it after {time.monotonic() - started:.3f} s:", ended.reason)
"""


def test_a_signal_in_a_file_run_by_its_loader_is_raised_there(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Put off as an import, a SIGTERM during a migration waited for it to end."""
    env = tmp_path / "env.py"
    env.write_text("import signal, time\nsignal.raise_signal(signal.SIGTERM)\ntime.sleep(5)\n")
    done = subprocess.run(
        [sys.executable, "-c", RUN_BY_ITS_LOADER, str(env)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    said, _, reason = done.stdout.partition(": ")
    assert reason == "terminated (SIGTERM)\n", done.stdout + done.stderr
    # Raised there, not after the file's 5 s sleep (a loaded machine may take a moment).
    assert float(said.removeprefix("raised in it after ").removesuffix(" s")) < 2, said


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
