"""The fork server (forkserver.py) runs the program as a fresh interpreter would.

Most one-shot runs in this suite are forked from it, so what a run sees must not depend on how
it was started: arguments, environment, folder, umask, standard streams, exit code, death by a
signal, atexit handlers and threads still running when main returns. Each probe runs forked
and fresh, and the two must agree.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import FORK_SERVER, run_cli

PROBE = """
import atexit, json, os, random, sys, threading, time

atexit.register(lambda: print("atexit ran", file=sys.stderr))


def late():
    time.sleep(0.3)
    print("thread finished")


threading.Thread(target=late).start()  # not a daemon: the interpreter waits for it
if sys.argv[1] == "sleep":
    time.sleep(60)


def stream(s):
    kind = type(s.buffer).__name__
    return [s.name, s.mode, kind, s.isatty(), s.encoding, s.errors, s.line_buffering,
            s.write_through]


print(json.dumps({
    "argv": sys.argv,
    "name": __name__,
    "path0": sys.path[0],
    "cwd": os.getcwd(),
    "umask": os.umask(0),
    "probe": os.environ.get("PROBE"),
    "home": os.environ.get("HOME"),
    "stdin": sys.stdin.read(),
    "streams": [stream(sys.stdin), stream(sys.stdout), stream(sys.stderr)],
    "random": random.random(),
    "parent_is_the_test": os.getppid() == int(os.environ["TEST_PID"]),
}))
sys.stdout.write("no newline, never flushed by the probe")
code = int(sys.argv[1])
if code < 0:
    sys.stdout.flush()
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


def probe(script: Path, *args: str, input: str = "", fresh: bool = False) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "HOME"}
    env |= {"PROBE": "set for this run", "TEST_PID": str(os.getpid())}
    if fresh:
        env["PYTHONHASHSEED"] = "7"  # Python starts differently: so the run must be fresh
    process = FORK_SERVER.popen([sys.executable, str(script), *args], env, text=True)
    out, err = process.communicate(input, timeout=60)
    report, tail = out.split("\n", 1)
    return {
        **json.loads(report),
        "returncode": process.returncode,
        "stdout after": tail,
        "stderr": err,
    }


@pytest.fixture
def script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(FORK_SERVER, "fresh", False)  # these tests are of the fork server
    path = tmp_path / "probe.py"
    path.write_text(PROBE)
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return path


@pytest.mark.parametrize("code", ["0", "3", str(-signal.SIGTERM)])
def test_a_forked_run_sees_and_ends_as_a_fresh_one(script: Path, code: str) -> None:
    previous = os.umask(0o027)
    try:
        first = probe(script, code, "x", input="piped in\r\n")
        second = probe(script, code, "x", input="piped in\r\n")
        fresh = probe(script, code, "x", input="piped in\r\n", fresh=True)
    finally:
        os.umask(previous)
    assert not first["parent_is_the_test"] and fresh["parent_is_the_test"]
    assert first["random"] != second["random"]  # each child seeds its own
    for report in (first, second, fresh):
        del report["parent_is_the_test"], report["random"]
    assert first == fresh == second
    assert fresh["argv"] == [str(script), code, "x"]
    assert fresh["umask"] == 0o027 and fresh["home"] is None and fresh["stdin"] == "piped in\r\n"
    assert fresh["returncode"] == int(code)
    if code == "0":
        assert fresh["stdout after"].endswith("thread finished\n")
        assert fresh["stderr"] == "atexit ran\n"


def test_a_run_past_its_timeout_is_killed(script: Path) -> None:
    process = FORK_SERVER.popen([sys.executable, str(script), "sleep"], dict(os.environ))
    with pytest.raises(subprocess.TimeoutExpired):
        process.communicate(timeout=1)
    process.kill()
    assert process.wait(10) == -signal.SIGKILL


def test_the_program_answers_alike_forked_and_fresh(
    fake_api, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    runs = [
        ("chat",),
        ("config",),
        ("show", "ffff0000"),
        ("show", "zz-not-an-id!"),
        ("--help",),
    ]

    monkeypatch.setattr(FORK_SERVER, "fresh", False)

    def answers() -> list[tuple[int, str, str]]:
        results = []
        for args in runs:
            done = run_cli(*args, input="hello")
            # A new conversation each time: its id and name differ, nothing else may.
            unique = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}|[0-9a-f]{8}")
            results.append((done.returncode, done.stdout, unique.sub("ID", done.stderr)))
        return results

    forked = answers()
    monkeypatch.setattr(FORK_SERVER, "fresh", True)
    assert answers() == forked
    assert [code for code, _, _ in forked] == [0, 0, 1, 2, 0]  # the README's table


def test_the_server_ends_with_the_process_that_started_it(tmp_path: Path) -> None:
    """A test process killed outright (no atexit) leaves no fork server behind, nor its
    folder."""
    code = (
        "import os, sys; sys.path.insert(0, sys.argv[1]); from forked import ForkServer; "
        "s = ForkServer(dict(os.environ)); s._start(); print(s._process.pid, flush=True); input()"
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", code, str(Path(__file__).parent)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None
    server = int(owner.stdout.readline())
    assert running(server)
    folder = Path(os.readlink(f"/proc/{server}/cwd"))  # the server's socket and log
    assert (folder / "socket").exists()
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 20
    while running(server):
        assert time.monotonic() < deadline, "the fork server outlived its test process"
        time.sleep(0.05)
    assert not folder.exists()


def running(pid: int) -> bool:
    """Neither gone nor a zombie (ended, and not yet reaped by whoever adopted it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
