"""The CPU a request to Claude costs, its body handed to the SDK as a dict or as JSON bytes.

claude.py sends the Messages API body as bytes it encoded (`client.post(..., content=...)`),
encoded as the SDK encodes a body: given the dict (`body=...`), the SDK first walks and copies
all of it, the whole conversation on every turn. Both are timed through the real SDK against
the fake Messages API in a process of its own (a short reply, back to back), alternating
request by request, with the process's CPU clock, for conversations of a few sizes.

    .venv/bin/python bench/bench_request_body.py [--requests 200]

Read the differences; the milliseconds depend on the machine and its neighbours.
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

SIZES = (1, 41, 201)  # messages in the conversation sent (the last one the user's)
WORDS = 60  # in each message


def senders(client: Any, messages: int) -> dict[str, Callable[[], None]]:
    from anthropic import Stream

    from claudechat.claude import _json

    text = [{"type": "text", "text": "word " * WORDS}]
    turns = [{"role": "assistant" if i % 2 else "user", "content": text} for i in range(messages)]
    body = {"model": "claude-sonnet-4-6", "max_tokens": 1000, "messages": turns, "stream": True}

    def send(**sent: Any) -> None:
        with client.post(
            "/v1/messages", **sent, cast_to=object, stream=True, stream_cls=Stream[object]
        ) as events:
            for _event in events:
                pass

    return {
        "as a dict (body=)": lambda: send(body=body),
        "as JSON bytes (content=)": lambda: send(content=_json(body)),
    }


def cpu_per_request(requests: int) -> dict[int, dict[str, float]]:
    """Median CPU milliseconds per request of each way, by conversation size."""
    import anthropic
    import serve_load
    from serve_load import API_KEY, FakeProcess

    serve_load.DELTA_DELAY = 0
    os.environ["BENCH_DELTA_MS"] = "0"  # the fake's process reads it at start
    medians: dict[int, dict[str, float]] = {}
    with FakeProcess() as fake:
        client = anthropic.Anthropic(api_key=API_KEY, base_url=fake.base_url, max_retries=0)
        for size in SIZES:
            chosen = senders(client, size)
            timings: dict[str, list[float]] = {name: [] for name in chosen}
            for _ in range(requests):
                for name, send in chosen.items():
                    started = time.process_time()
                    send()
                    timings[name].append((time.process_time() - started) * 1000)
            medians[size] = {name: statistics.median(values) for name, values in timings.items()}
    return medians


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="Requests each, per size.")
    args = parser.parse_args()
    medians = cpu_per_request(args.requests)
    ways = list(next(iter(medians.values())))
    print("CPU per request (a reply of 20 deltas, back to back), medians, ms")
    print(f"{'messages sent':<16}" + "".join(f"{way:>28}" for way in ways) + f"{'saved':>10}")
    print("-" * (16 + 28 * len(ways) + 10))
    for size, row in medians.items():
        cells = "".join(f"{row[way]:>28.3f}" for way in ways)
        print(f"{size:<16}{cells}{row[ways[0]] - row[ways[1]]:>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
