"""Where serve's added latency goes, request by request: the phases `--what-if phases` recorded
in serve's processes (whatif/phases.py), set beside each request's added latency.

The segments add up to the added latency: the ones before Claude's request, the SDK's time
beyond the fake's own, the ones after the stream, and what lies outside serve's handler
(uvicorn's parsing before it, the network, the client).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

SLOW_MS = 20.0  # the p99 target: what the slow requests are set against

BEYOND_THE_FAKE = "the SDK, beyond the fake's own time"
ADDED = "added (all of the above)"
# (label, from, to), in the request's order; the SDK's request and stream come between the two
# halves, less the fake's own time.
BEFORE_CLAUDE = [
    ("arrival to the turn (auth, body)", "in", "turn"),
    ("the turn's thread starts", "turn", "thread"),
    ("the current conversation looked up", "thread", "looked_up"),
    ("the conversation read", "looked_up", "opened"),
    ("the session, to Claude's request", "opened", "post"),
]
AFTER_CLAUDE = [
    ("the reply saved (journal, fsync)", "streamed", "put"),
    ("the outcome to the handler", "put", "outcome"),
    ("the answer sent", "outcome", "sent"),
]
SEGMENTS = BEFORE_CLAUDE + AFTER_CLAUDE


def print_phases(requests: list[dict[str, Any]], folder: Path) -> None:
    """`requests`: {"request": text, "wall": s, "own": s} for each request of the phased rows."""
    timed = {r["request"]: r for r in requests}
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            phases = json.loads(line)
            request = timed.get(phases["text"])
            if request is not None and _complete(phases):
                rows.append(_segments(phases, request))
    if not rows:
        print("\nno phases recorded (a /chat that failed records none)")
        return
    slow = [r for r in rows if r[ADDED] > SLOW_MS]
    print(f"\nwhere the added latency goes ({len(rows)} requests, {len(slow)} over {SLOW_MS:g} ms)")
    print(f"{'segment':42} {'p50':>7} {'p90':>7} {'p99':>7} {'slow p50':>9}")
    print("-" * 76)
    for label in rows[0]:
        values = sorted(r[label] for r in rows)
        slow_median = statistics.median(r[label] for r in slow) if slow else float("nan")
        print(
            f"{label:42} {_at(values, 0.5):7.2f} {_at(values, 0.9):7.2f} {_at(values, 0.99):7.2f} "
            f"{slow_median:9.2f}"
        )


# Marks a request may not pass: a /chat naming its conversation looks up no current one.
OPTIONAL = {"looked_up": "thread"}


def _complete(phases: dict[str, Any]) -> bool:
    for name, instead in OPTIONAL.items():
        phases.setdefault(name, phases.get(instead))
    return all(phases.get(name) is not None for _, start, end in SEGMENTS for name in (start, end))


def _segments(phases: dict[str, Any], request: dict[str, Any]) -> dict[str, float]:
    def ms(start: str, end: str) -> float:
        return (phases[end] - phases[start]) * 1000

    own = request["own"] * 1000
    added = request["wall"] * 1000 - own
    segments = {label: ms(start, end) for label, start, end in BEFORE_CLAUDE}
    segments[BEYOND_THE_FAKE] = ms("post", "streamed") - own
    segments.update({label: ms(start, end) for label, start, end in AFTER_CLAUDE})
    segments["outside serve's handler"] = added - (ms("in", "sent") - own)
    segments[ADDED] = added
    return segments


def _at(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(fraction * len(values)))]
