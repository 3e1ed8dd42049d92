"""A freshly started `serve` worker's first requests, next to its later ones.

Starts `claudechat serve` (1 worker) several times over one data directory, as a service is
restarted: the model catalogue is cached after the first start, which is not counted. Each
start, a new user sends /new_chat, then 12 turns; the fake Messages API (in a process of its
own) streams each reply as 20 deltas without pauses and times what it serves. The table shows
medians over the starts: the worker's first /new_chat, the added latency (the client's time
beyond the fake's own) of its first three /chat turns, and that of turns 4 to 12: the floor,
the same worker warmed up.

    .venv/bin/python bench/bench_serve_start.py [--starts 5]

The machine is shared and noisy: read the figures as sizes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

TURNS = 12
WARM_FROM = 3  # turns from this index on are the floor


def one_start(env: dict[str, str], home: Path, number: int) -> dict[str, Any]:
    from serve_harness import Serve

    server = Serve(env, "--workers", "1", home=home)
    token = server.token(f"user{number}")  # before the start: the CLI is a process of its own
    server.start()
    try:
        timings: list[tuple[str, float]] = []
        with server.client(token) as http:
            started = time.perf_counter()
            assert http.post("/new_chat", json={}).is_success
            new_chat = time.perf_counter() - started
            for turn in range(TURNS):
                text = f"start {number} turn {turn}"
                started = time.perf_counter()
                answer = http.post("/chat", json={"user_input": text})
                timings.append((text, time.perf_counter() - started))
                assert answer.status_code == 200, answer.text
    finally:
        server.stop()
    return {"new_chat": new_chat, "timings": timings}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5, help="Starts to take medians of.")
    args = parser.parse_args()
    os.environ["BENCH_DELTA_MS"] = "0"  # read by the fake's process as it starts
    from serve_load import API_KEY, FakeProcess

    from serve_harness import clean_env

    with FakeProcess() as fake, tempfile.TemporaryDirectory() as home:
        env = clean_env(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake.base_url)
        one_start(env, Path(home), 0)  # fetches and caches the model catalogue: not counted
        starts = [one_start(env, Path(home), n) for n in range(1, args.starts + 1)]
        served = fake.served()
    added = [[(elapsed - served[text]) * 1000 for text, elapsed in s["timings"]] for s in starts]
    rows = [("first /new_chat (total)", [s["new_chat"] * 1000 for s in starts])]
    rows += [(f"/chat turn {turn + 1}, added", [a[turn] for a in added]) for turn in range(3)]
    floor = [statistics.median(a[WARM_FROM:]) for a in added]
    rows.append((f"/chat turns {WARM_FROM + 1}-{TURNS}, added (floor)", floor))
    print(f"serve, 1 worker, restarted over one data directory; medians over {args.starts} starts")
    print(f"{'request':<36}{'median':>9}{'lowest':>9}{'highest':>9}")
    print("-" * 63)
    for name, values in rows:
        print(
            f"{name:<36}{statistics.median(values):>7.1f}ms{min(values):>7.1f}ms"
            f"{max(values):>7.1f}ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
