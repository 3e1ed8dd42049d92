"""What the same work costs right after a pause: CPU time per unit, by the pause before it.

A turn of `claudechat serve` is bursts of work between waits: a reply's deltas arrive 50 ms
apart, a client's next request comes a second later. On a machine whose cores go idle in
between (a VM on a shared host, above all), each burst starts with cold caches and branch
predictors, so it costs more CPU than the same work done back to back; code that touches much
(the SDK's event parsing, a document's encoding) pays more than a tight loop. This measures
that, in one process and thread, with the CPU clock of the thread (not wall time):

- a tight loop: little code and data, the control;
- one stream event through the SDK: JSON to its pydantic model, as the SDK reads each event;
- the same event's JSON parsed alone, without the model;
- a 40-message conversation encoded and decoded, as each save and load does.

    .venv/bin/python bench/bench_idle_cost.py [--rounds 7]

Pauses are interleaved round by round, so a noisy minute hits every column alike. Read the
ratios, not the microseconds: they depend on the machine and its neighbours.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PAUSES_MS = [0.0, 1.0, 10.0, 50.0]
REPEATS = 40  # units per pause per round


def tight_loop() -> Callable[[], object]:
    def unit() -> object:
        total = 0
        for number in range(2000):
            total += number * number
        return total

    return unit


def sdk_event() -> Callable[[], object]:
    from anthropic._models import construct_type
    from anthropic.types import RawMessageStreamEvent

    raw = json.dumps(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi "}}
    )
    return lambda: construct_type(type_=RawMessageStreamEvent, value=json.loads(raw))


def json_event() -> Callable[[], object]:
    raw = json.dumps(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi "}}
    )
    return lambda: json.loads(raw)


def document_round_trip() -> Callable[[], object]:
    from claudechat.conversation import Conversation
    from claudechat.storage.documents import decode_document, encode_document

    conversation = Conversation.new("bench", "claude-sonnet-4-6")
    for turn in range(20):
        conversation.append("user", f"question {turn} " + "words " * 30)
        conversation.append("assistant", f"answer {turn} " + "more words " * 60)
    return lambda: decode_document(encode_document(conversation), "bench")


UNITS = {
    "tight loop (control)": tight_loop,
    "one SDK stream event": sdk_event,
    "the same event, JSON parsed alone": json_event,
    "40-message document, encode + decode": document_round_trip,
}


def cost_after(unit: Callable[[], object], pause_ms: float) -> float:
    """The median CPU seconds of `unit`, each run after sleeping `pause_ms`."""
    samples = []
    for _ in range(REPEATS):
        if pause_ms:
            time.sleep(pause_ms / 1000)
        started = time.thread_time()
        unit()
        samples.append(time.thread_time() - started)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="Rounds to take medians of.")
    args = parser.parse_args()
    units = {name: make() for name, make in UNITS.items()}
    for unit in units.values():
        unit()  # imports and first-call caches, outside the measurement
    costs: dict[tuple[str, float], list[float]] = {}
    for _round in range(args.rounds):
        for name, unit in units.items():
            for pause in PAUSES_MS:
                costs.setdefault((name, pause), []).append(cost_after(unit, pause))
    header = "| work | " + " | ".join(f"after {p:g} ms" for p in PAUSES_MS) + " | 50 ms / 0 ms |"
    print(f"CPU per unit, median over {args.rounds} rounds of {REPEATS}\n")
    print(header)
    print("|" + "---|" * (len(PAUSES_MS) + 2))
    for name in units:
        medians = [statistics.median(costs[(name, pause)]) for pause in PAUSES_MS]
        cells = " | ".join(f"{value * 1e6:.0f} us" for value in medians)
        print(f"| {name} | {cells} | {medians[-1] / medians[0]:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
