"""The test suite itself, ended by SIGTERM (`timeout 300 pytest`): it stops the servers it
started. Python's default ended pytest at once, and its PostgreSQL server ran on for good."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from servers import PostgresServer

TESTS = Path(__file__).parent
# Waits on the server, then until it is stopped: SIGTERM arrives in the test's body.
WAITING_TEST = """
import os
import time
from pathlib import Path


def test_waits_on_postgres(postgres):
    pid = (postgres.data_dir / "postmaster.pid").read_text().splitlines()[0]
    seen = Path(os.environ["SEEN"])
    seen.with_suffix(".tmp").write_text(f"{pid}\\n{postgres.base_dir}")
    seen.with_suffix(".tmp").rename(seen)  # whole, or not there
    time.sleep(120)
"""


def test_sigterm_to_pytest_stops_its_postgres_and_deletes_its_folder(tmp_path: Path) -> None:
    (tmp_path / "test_waiting.py").write_text(WAITING_TEST)
    seen = tmp_path / "seen"
    python_path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    # tests/conftest.py as a plugin: the generated test is outside tests/, as is its temp.
    plugin = ["-p", "no:cacheprovider", "-p", "conftest", "--basetemp", str(tmp_path / "temp")]
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", *plugin],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": python_path, "SEEN": str(seen)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        pid, folder = _started(run, seen)
        run.send_signal(signal.SIGTERM)
        output, _ = run.communicate(timeout=60)
        assert _ends(pid), output.decode(errors="replace")
        assert not Path(folder).exists(), output.decode(errors="replace")
    finally:
        _leave_nothing_running(run, seen)


def _started(run: subprocess.Popen[bytes], seen: Path) -> tuple[int, str]:
    """The PostgreSQL server's pid and folder, once the child's test is waiting on it."""
    deadline = time.monotonic() + 60  # a bound on a hang, not a timed assertion
    while not seen.exists():
        assert run.poll() is None, run.communicate()[0].decode(errors="replace")
        assert time.monotonic() < deadline, "the child pytest never started PostgreSQL"
        time.sleep(0.05)
    pid, folder = seen.read_text().splitlines()
    return int(pid), folder


def _ends(pid: int) -> bool:
    """Whether the process ends (or is a zombie) soon: `pg_ctl stop -w` returns once the
    server's pid file is gone, a moment before the process itself is."""
    deadline = time.monotonic() + 30  # a bound on the wait; the server, left running, never ends
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def _leave_nothing_running(run: subprocess.Popen[bytes], seen: Path) -> None:
    """Whatever the child left behind (without the fix: its server, for good) is stopped."""
    if run.poll() is None:
        run.kill()
        run.communicate()
    if seen.exists():
        left = PostgresServer()
        left.base_dir = Path(seen.read_text().splitlines()[1])
        left.stop()  # does nothing once the folder is gone
