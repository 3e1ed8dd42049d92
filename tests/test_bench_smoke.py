"""The serve benchmarks still run, on a tiny load: a bench that broke would go unnoticed until
someone needed its figures. (The figures themselves come from full runs, never from tests.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_bench(*argv: str) -> str:
    done = subprocess.run(
        [sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_bench_serve_runs_and_counts_every_turn() -> None:
    out = run_bench(
        "bench/bench_serve.py", "--clients", "2", "--turns", "2", "--delta-ms", "1",
        "--workers", "1", "--client-processes", "1", "--no-session-row",
    )  # fmt: skip
    name = "serve, SQLite + folder, 1 worker(s)"
    # The first table's row (the second table's has the same name): requests, req/s, the
    # timings, errors, lost: 2 clients x 2 turns, none failed, none lost.
    cells = next(line for line in out.splitlines() if line.startswith(name))[len(name) :].split()
    assert cells[0] == "4" and cells[-2:] == ["0", "0"], out


def test_bench_turn_phases_times_each_phase() -> None:
    for json_turns in ([], ["--json-turns"]):
        out = run_bench(
            "bench/bench_turn_phases.py", "--conversations", "1", "--delta-ms", "1", *json_turns
        )
        assert out.startswith("20 turns (1 conversations of 20)"), out
        assert " ms per turn" in out.splitlines()[0], out
        per_turn = {line.split()[0]: float(line.split()[1]) for line in out.splitlines()[3:]}
        assert per_turn["ChatSession.save"] == 1.0 and per_turn["Claude._events"] == 1.0, out
        # A JSON turn pushes once (its reply's save, with the message); another, twice (and
        # /new_chat's save once a conversation).
        assert round(per_turn["ConversationStore._finish_save"]) == (1 if json_turns else 2), out


def test_bench_serve_takes_parts_out_of_serve_alone() -> None:
    """--what-if runs serve without a part (bench/whatif/), and `phases` says where each
    request's time went; a name it does not know is refused before anything starts."""
    out = run_bench(
        "bench/bench_serve.py", "--clients", "2", "--turns", "2", "--delta-ms", "1",
        "--workers", "1", "--client-processes", "1", "--no-session-row",
        "--what-if", "no-rows,cached-tokens,no-push,phases",
    )  # fmt: skip
    row = "serve (what-if no-rows,cached-tokens,no-push,phases), SQLite + folder, 1 worker(s)"
    assert row in out
    # Every request of the what-if's row, each in its phases.
    assert "where the added latency goes (4 requests, " in out, out
    assert "\nthe conversation read " in out, out
    refused = subprocess.run(
        [sys.executable, "bench/bench_serve.py", "--what-if", "no-rows,bogus"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2 and "unknown --what-if bogus" in refused.stderr


def test_bench_serve_what_if_whole_replies_answers_every_turn() -> None:
    """JSON turns asking Claude for whole messages: every request answered, every message
    saved (the row's errors and lost are 0)."""
    out = run_bench(
        "bench/bench_serve.py", "--clients", "2", "--turns", "2", "--delta-ms", "1",
        "--workers", "1", "--client-processes", "1", "--no-session-row",
        "--what-if", "whole-replies",
    )  # fmt: skip
    row = next(line for line in out.splitlines() if line.startswith("serve (what-if whole"))
    assert row.split()[-2:] == ["0", "0"], out
    assert row.split()[row.split().index("worker(s)") + 1] == "4", out  # requests


def test_bench_serve_runs_a_baseline_beside_the_current_code() -> None:
    """--baseline runs serve from another checkout too (here this one), in every round, in
    turn with the current code, and the medians name both."""
    out = run_bench(
        "bench/bench_serve.py", "--clients", "2", "--turns", "2", "--delta-ms", "1",
        "--workers", "1", "--client-processes", "1", "--no-session-row", "--rounds", "2",
        "--baseline", str(ROOT), "--dump", "/dev/stdout",
    )  # fmt: skip
    # The current row's claudechat is this checkout's, not whichever is installed.
    assert f"serve: claudechat from {ROOT / 'src'}; baseline from {ROOT / 'src'}\n" in out, out
    medians = out[out.index("medians over 2 rounds") :]
    assert "\nserve, SQLite + folder, 1 worker(s) " in medians, out
    assert "\nserve (baseline), SQLite + folder, 1 worker(s) " in medians, out
    # Every request of each row, by round: 2 rounds x 3 rows x 2 clients x 2 turns.
    assert out.count('"request": ') == 24, out
