"""The CPU a reply's stream costs, read as the SDK's typed events or as the raw JSON events.

claude.py reads the stream with `client.post(..., cast_to=object)`: each event as the JSON
object the server sent. It used to read `messages.create(stream=True)`, whose events the SDK
builds into pydantic models (a union of event types, resolved by validation). Both are timed
here through the real SDK against the fake Messages API in a process of its own, a reply of
20 text deltas and 5 other events, alternating request by request, with the process's CPU
clock (not wall time):

- back to back (deltas 0 ms apart): the code's own cost, caches warm;
- at a reply's pace (deltas 50 ms apart, as bench_serve.py streams them): each event starts
  after a pause, with cold caches (see bench_idle_cost.py), as in a real turn.

    .venv/bin/python bench/bench_stream_events.py [--requests 30] [--paced 6]

Read the ratios; the milliseconds depend on the machine and its neighbours.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))


def readers(client: Any) -> dict[str, Callable[[], int]]:
    from anthropic import Stream

    request = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 1000,
        "messages": [{"role": "user", "content": "bench"}],
    }

    def typed() -> int:
        with client.messages.create(**request, stream=True) as events:
            return sum(event.type == "content_block_delta" for event in events)

    def raw() -> int:
        body = {**request, "stream": True}
        stream_cls = Stream[object]
        with client.post(
            "/v1/messages", body=body, cast_to=object, stream=True, stream_cls=stream_cls
        ) as events:
            return sum(event.get("type") == "content_block_delta" for event in events)

    return {"typed events (messages.create)": typed, "raw JSON events (client.post)": raw}


def cpu_per_request(delta_ms: float, requests: int) -> dict[str, float]:
    """Median CPU milliseconds per request of each reader, at the fake's given pace."""
    import anthropic
    import serve_load
    from serve_load import API_KEY, FakeProcess

    serve_load.DELTA_DELAY = delta_ms / 1000
    os.environ["BENCH_DELTA_MS"] = str(delta_ms)  # the fake's process reads it at start
    with FakeProcess() as fake:
        client = anthropic.Anthropic(api_key=API_KEY, base_url=fake.base_url, max_retries=0)
        chosen = readers(client)
        for read in chosen.values():
            assert read() == 20, "the fake's reply should hold 20 deltas"
        timings: dict[str, list[float]] = {name: [] for name in chosen}
        for _ in range(requests):
            for name, read in chosen.items():
                started = time.process_time()
                read()
                timings[name].append((time.process_time() - started) * 1000)
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30, help="Back-to-back requests each.")
    parser.add_argument("--paced", type=int, default=6, help="Requests each at 50 ms a delta.")
    args = parser.parse_args()
    columns = {"back to back": cpu_per_request(0, args.requests)}
    columns["50 ms apart"] = cpu_per_request(50, args.paced)
    print("CPU per request of 25 events (20 deltas), medians, ms")
    print(f"{'reader':<34}" + "".join(f"{name:>16}" for name in columns))
    print("-" * (34 + 16 * len(columns)))
    names = list(next(iter(columns.values())))
    for name in names:
        print(f"{name:<34}" + "".join(f"{column[name]:>16.2f}" for column in columns.values()))
    typed, raw = names
    ratios = "".join(f"{column[raw] / column[typed]:>16.2f}" for column in columns.values())
    print(f"{'raw / typed':<34}{ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
