"""reused_threads.py: the threads that run a turn and the save beside its request are kept for
the next job, and a process on its way out still waits for the jobs that are running."""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from claudechat import reused_threads
from claudechat.reused_threads import run_soon

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _thread_when_idle() -> threading.Thread:
    """The thread a job ran on, once it is back among the idle ones."""
    job = run_soon(threading.current_thread)
    thread = job.result()
    deadline = time.monotonic() + 10
    while thread not in reused_threads._kept()._idle_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    return thread


def test_jobs_one_after_another_run_on_one_kept_thread() -> None:
    ran_on = [_thread_when_idle() for _ in range(3)]
    assert ran_on[0] is not threading.main_thread()
    assert ran_on[0] is ran_on[1] is ran_on[2]
    assert not ran_on[0].daemon  # an exiting process waits for a job still running


def test_the_thread_idle_last_takes_the_next_job() -> None:
    """Its memory is the likeliest still in the CPU's caches."""
    releases = [threading.Event() for _ in range(3)]

    def held_until(release: threading.Event) -> threading.Thread:
        release.wait(10)
        return threading.current_thread()

    jobs = [run_soon(functools.partial(held_until, release)) for release in releases]
    for release in releases:  # idle in this order: the last one first to work again
        release.set()
        thread = jobs[releases.index(release)].result()
        while thread not in reused_threads._kept()._idle_threads():
            time.sleep(0.01)
    assert _thread_when_idle() is jobs[-1].result()


def test_a_job_running_beside_another_gets_a_thread_of_its_own() -> None:
    release = threading.Event()
    first = run_soon(lambda: (release.wait(10), threading.current_thread())[1])
    second = run_soon(threading.current_thread).result()  # not queued behind it
    release.set()
    assert first.result() is not second


def test_the_result_is_the_jobs_value_or_its_exception() -> None:
    job = run_soon(lambda: 42)
    assert job.result() == 42
    assert job.done()

    def fails() -> None:
        raise KeyboardInterrupt  # what a stopped turn raises: not only Exception

    with pytest.raises(KeyboardInterrupt):
        run_soon(fails).result()


def _exiting(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    script = "import sys, threading, time\nfrom pathlib import Path\n"
    script += "from claudechat.reused_threads import run_soon\n" + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "done")],
        env={"PYTHONPATH": SRC},
        capture_output=True,
        text=True,
        timeout=60,  # idle kept threads holding the exit up would end here
    )


def test_an_exiting_process_finishes_the_jobs_still_running(tmp_path: Path) -> None:
    ended = _exiting(
        tmp_path,
        """
        run_soon(lambda: None).result()  # a kept thread, idle at exit
        def save():
            time.sleep(0.5)
            Path(sys.argv[1]).write_text("saved")
        run_soon(save)
        """,
    )
    assert ended.returncode == 0, ended.stderr
    assert (tmp_path / "done").read_text() == "saved"


def test_a_job_started_as_the_process_exits_still_runs(tmp_path: Path) -> None:
    """Once the interpreter is exiting the kept threads take no more work: a turn finishing
    then (serve's shutdown) that starts a job gets a thread of its own, waited for too."""
    ended = _exiting(
        tmp_path,
        """
        def save():
            time.sleep(0.3)
            Path(sys.argv[1]).write_text("saved")
        # Run at exit after the pool has ended: those calls run in reverse order, and the
        # pool registers its own when it is first made, just below.
        threading._register_atexit(lambda: run_soon(save))
        run_soon(lambda: None).result()
        """,
    )
    assert ended.returncode == 0, ended.stderr
    assert (tmp_path / "done").read_text() == "saved"
