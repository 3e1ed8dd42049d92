"""Where one turn's time goes, without load: the chat session as `serve` runs it, no HTTP.

Conversations of 20 turns (as bench_serve.py's) against the fake Messages API in a process of
its own, one turn at a time, on the embedded default in a temporary folder. Prints the turn's
added latency (the client's wait beyond the fake's own time for that request) and a table of
the session's and the store's phases: how often each runs per turn, its median wall time, and
its total per turn. A phase runs in the turn's thread or beside it (the push of the user's
message runs while the request does): the phases overlap and do not add up to the turn. Also
the process's CPU per turn (every thread's).

With --json-turns, each turn is a JSON turn of serve's on this store: answered (the timer
stops) once the reply is in the journal on disk, its one push after (by the worker's push
thread, as soon as the turn is answered: --push-after 0, so that each turn's push is timed;
serve's default puts it off until the conversation rests, and pushes quick turns together);
without, a turn as a stream's or the REPL's, its message pushed beside the request and the
reply pushed before the answer.

    .venv/bin/python bench/bench_turn_phases.py [--conversations 10] [--delta-ms 5] [--json-turns]
                                                [--push-after 0]

The phases are timed by wrapping the methods named in PHASES, for this process only.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

TURNS = 20

# (module, class, method): the session's phases first, then the store's.
PHASES = [
    ("claudechat.server.service", "Service", "open_session"),
    ("claudechat.chat", "ChatSession", "_save_beside_request"),
    ("claudechat.claude", "Claude", "_events"),
    ("claudechat.chat", "ChatSession", "save"),
    ("claudechat.storage.store", "ConversationStore", "begin_save"),
    ("claudechat.storage.store", "ConversationStore", "_finish_save"),
    ("claudechat.storage.store", "ConversationStore", "record"),
    ("claudechat.storage.store", "ConversationStore", "_keep_stored_version"),
    ("claudechat.storage.store", "ConversationStore", "load_checked"),
    ("claudechat.storage.blobs", "LocalBlobStore", "put"),
    ("claudechat.storage.journal", "Journal", "remove"),
]


def timed_phases() -> dict[str, list[float]]:
    """Wrap each phase's method; the returned dict fills with their wall times (seconds)."""
    import importlib

    times: dict[str, list[float]] = defaultdict(list)
    lock = threading.Lock()
    for module_name, class_name, method in PHASES:
        cls = getattr(importlib.import_module(module_name), class_name)
        original = getattr(cls, method)
        setattr(cls, method, _timed(original, times[f"{class_name}.{method}"], lock))
    return times


def _timed(original: Any, samples: list[float], lock: threading.Lock) -> Any:
    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            with lock:
                samples.append(time.perf_counter() - started)

    return wrapper


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10)
    parser.add_argument("--delta-ms", type=float, default=5, help="Pause between deltas.")
    parser.add_argument(
        "--json-turns", action="store_true", help="Turns as serve's JSON turns on this store."
    )
    parser.add_argument(
        "--push-after", type=float, default=0, help="serve's --push-after, for --json-turns."
    )
    args = parser.parse_args()
    os.environ["BENCH_DELTA_MS"] = str(args.delta_ms)  # read by serve_load at import
    import serve_load

    from serve_harness import clean_env

    with serve_load.FakeProcess() as fake:
        env = clean_env(ANTHROPIC_API_KEY=serve_load.API_KEY, ANTHROPIC_BASE_URL=fake.base_url)
        home = Path(tempfile.mkdtemp())
        service = serve_load.in_process_service(env, home, args.push_after)
        serve_load.session_client(service, 5, 999, "warm")  # the SDK and the store warmed
        times = timed_phases()
        cpu_started = time.process_time()
        results = [
            serve_load.session_client(service, TURNS, i, "run", args.json_turns)
            for i in range(args.conversations)
        ]
        service.pushes.flush(60)  # the pushes put off: timed and counted too
        cpu = time.process_time() - cpu_started
        served = fake.served()
    turns = TURNS * args.conversations
    added = sorted(
        (elapsed - served[key]) * 1000 for r in results for key, elapsed in r["timings"].items()
    )
    print(
        f"{turns} turns ({args.conversations} conversations of {TURNS}), one at a time; added "
        f"latency p50 {statistics.median(added):.2f} ms, p90 {added[int(0.9 * turns)]:.2f} ms; "
        f"CPU {cpu / turns * 1000:.2f} ms per turn"
    )
    print(f"{'phase':40} {'per turn':>9} {'median':>10} {'total/turn':>11}")
    print("-" * 73)
    ran = {name: values for name, values in times.items() if values}
    for name, values in sorted(ran.items(), key=lambda item: -sum(item[1])):
        print(
            f"{name:40} {len(values) / turns:>9.1f} {statistics.median(values) * 1000:>8.3f}ms "
            f"{sum(values) / turns * 1000:>9.3f}ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
