"""`claudechat serve` under load: 50 concurrent clients, each holding a 20-turn conversation.

Each client is a user with a token of its own: POST /new_chat, then 20 bare POST /chat turns
(JSON answers) that continue it. The fake Messages API runs in a process of its own and
streams every reply as 20 deltas 50 ms apart (--delta-ms); it times each request it serves, so
"added latency" is what a client waited beyond the fake's own time for that very request:
HTTP, authentication, loading and saving the conversation twice, the SDK. Clients start
spread over one reply's duration (not in lockstep). The floor beside it
is the same 50 x 20 conversation pattern sent straight to the fake with the SDK, no server.

    .venv/bin/python bench/bench_serve.py [--clients 50] [--turns 20] [--team] [--workers 1,4]

Prints a table; checks that no request failed and that every conversation holds every turn.
The machine is shared and noisy: read the figures as sizes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from proc_usage import usage  # noqa: E402  (bench/ is on the path as the script's folder)

API_KEY = "sk-ant-bench"
DELTAS = 20
DELTA_DELAY = float(os.environ.get("BENCH_DELTA_MS", "10")) / 1000  # set by --delta-ms


# -- the fake Messages API, in its own process, timing what it serves ------------------------


def _fake_process(conn: Any) -> None:
    from fakes import anthropic_api
    from fakes.anthropic_api import FakeAnthropic, Reply

    served: dict[str, float] = {}

    def slow_echo(self: FakeAnthropic, body: dict[str, Any]) -> Reply:
        last = body["messages"][-1]["content"]
        text = last if isinstance(last, str) else last[0]["text"]
        return Reply(chunks=[f"{text} {i} " for i in range(DELTAS)], delay=DELTA_DELAY)

    original = anthropic_api._Handler._messages

    def timed(self: Any, path: str, headers: dict[str, str], body: Any) -> None:
        started = time.perf_counter()
        original(self, path, headers, body)
        last = body["messages"][-1]["content"]
        served[last if isinstance(last, str) else last[0]["text"]] = time.perf_counter() - started

    FakeAnthropic._next_reply = slow_echo  # type: ignore[method-assign]
    anthropic_api._Handler._messages = timed  # type: ignore[method-assign]
    with FakeAnthropic(api_key=API_KEY) as fake:
        conn.send(fake.base_url)
        conn.recv()  # any message: report and stop
        conn.send(dict(served))


class FakeProcess:
    def __enter__(self) -> FakeProcess:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_fake_process, args=(child,), daemon=True)
        self.process.start()
        self.base_url: str = self.conn.recv()
        return self

    def served(self) -> dict[str, float]:
        self.conn.send("report")
        result: dict[str, float] = self.conn.recv()
        return result

    def __exit__(self, *exc: object) -> None:
        self.process.kill()
        self.process.join()


# -- clients ------------------------------------------------------------------------------


def run_clients(indices: list[int], one_client: Any) -> tuple[list[Any], float]:
    """The clients numbered `indices`, as threads of this process."""
    results: list[Any] = [None] * len(indices)
    barrier = threading.Barrier(len(indices))

    def work(position: int, index: int) -> None:
        barrier.wait()
        # Clients start spread over one reply's duration, as independent users would; all at
        # once would keep them in lockstep, every turn ending at the same instant.
        time.sleep(random.Random(index).uniform(0, DELTAS * DELTA_DELAY))
        results[position] = one_client(index)

    threads = [threading.Thread(target=work, args=pair) for pair in enumerate(indices)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


def _client_process(kind: str, indices: list[int], setup: dict[str, Any], conn: Any) -> None:
    """One process's share of the clients, as threads; started by `run_client_processes`."""
    global DELTA_DELAY
    DELTA_DELAY = setup["delta_delay"]
    import anthropic  # noqa: F401  (imported before the start, as a warm client would be)
    import httpx  # noqa: F401

    def one(index: int) -> Any:
        if kind == "sdk":
            return sdk_client(setup["base_url"], setup["turns"], index)
        return serve_client(setup["base_url"], setup["tokens"][index], setup["turns"], index)

    conn.send("ready")
    conn.recv()  # the start signal
    results, _wall = run_clients(indices, one)
    conn.send(results)


def run_client_processes(
    kind: str, clients: int, processes: int, setup: dict[str, Any]
) -> tuple[list[Any], float]:
    """The clients spread over `processes` processes: 50 client threads in one Python process
    would queue on its GIL, and that wait would be counted as the service's."""
    context = multiprocessing.get_context("spawn")
    setup = {**setup, "delta_delay": DELTA_DELAY}
    shares = [list(range(clients))[i::processes] for i in range(processes)]
    pipes, children = [], []
    for share in shares:
        parent, child = context.Pipe()
        process = context.Process(target=_client_process, args=(kind, share, setup, child))
        process.start()
        pipes.append(parent)
        children.append(process)
    for pipe in pipes:
        pipe.recv()  # every process imported and ready
    started = time.perf_counter()
    for pipe in pipes:
        pipe.send("go")
    results = [result for pipe in pipes for result in pipe.recv()]
    wall = time.perf_counter() - started
    for process in children:
        process.join()
    return results, wall


def serve_client(base_url: str, token: str, turns: int, index: int) -> dict[str, Any]:
    import httpx

    timings: dict[str, float] = {}
    errors: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60, trust_env=False) as http:
        conversation = http.post("/new_chat", json={}).json()["conversation_id"]
        for turn in range(turns):
            text = f"client {index} turn {turn}"
            started = time.perf_counter()
            answer = http.post("/chat", json={"user_input": text})
            timings[text] = time.perf_counter() - started
            if answer.status_code != 200 or answer.json()["conversation_id"] != conversation:
                errors.append(f"{answer.status_code} {answer.text[:200]}")
        document = http.get("/get_conversation", params={"conversation_id": conversation}).json()
    complete = [m for m in document["messages"] if m["status"] == "complete"]
    return {"timings": timings, "errors": errors, "kept": len(complete), "expected": 2 * turns}


def sdk_client(base_url: str, turns: int, index: int) -> dict[str, Any]:
    import anthropic

    client = anthropic.Anthropic(api_key=API_KEY, base_url=base_url)
    messages: list[dict[str, str]] = []
    timings: dict[str, float] = {}
    for turn in range(turns):
        text = f"sdk {index} turn {turn}"
        messages.append({"role": "user", "content": text})
        started = time.perf_counter()
        with client.messages.stream(
            model="claude-sonnet-4-6", max_tokens=1000, messages=messages
        ) as stream:
            reply = "".join(stream.text_stream)
        timings[text] = time.perf_counter() - started
        messages.append({"role": "assistant", "content": reply})
    return {"timings": timings, "errors": [], "kept": 2 * turns, "expected": 2 * turns}


def session_client(service: Any, turns: int, index: int) -> dict[str, Any]:
    """The REPL's path, no HTTP: the same Service calls a /chat makes, in this process."""
    from claudechat.server.service import ChatRequest, Notices

    user, timings = f"inproc{index}", {}
    service.new_chat(user)
    for turn in range(turns):
        text = f"inproc {index} turn {turn}"
        started = time.perf_counter()
        session, before = service.open_session(user, ChatRequest(text), Notices())
        session.send(text, lambda _text: None)
        service.remember(user, before, session.conversation)
        timings[text] = time.perf_counter() - started
    return {"timings": timings, "errors": [], "kept": 2 * turns, "expected": 2 * turns}


def in_process_service(env: dict[str, str], home: Path) -> Any:
    from claudechat.claude import Claude
    from claudechat.server.service import Service
    from claudechat.settings import load_settings
    from claudechat.storage import open_store

    os.environ.update({**env, "CLAUDECHAT_HOME": str(home)})
    settings = load_settings()
    service = Service(settings, open_store(settings), Claude(settings))
    service.store.metadata, service.claude.client  # noqa: B018  (connect, import the SDK)
    return service


# -- the server -----------------------------------------------------------------------------


def start_server(env: dict[str, str], workers: int, home: Path) -> tuple[Any, str]:
    from serve_harness import Serve

    server = Serve(env, "--workers", str(workers), home=home)
    server.start()
    return server, server.base_url


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summarize(
    name: str, results: list[Any], wall: float, served: dict[str, float]
) -> dict[str, Any]:
    total, own, added = [], [], []
    for result in results:
        for key, elapsed in result["timings"].items():
            total.append(elapsed)
            own.append(served[key])
            added.append(elapsed - served[key])
    return {
        "name": name,
        "requests": len(total),
        "rps": len(total) / wall,
        "own_p50": statistics.median(own) * 1000,
        "total_p50": statistics.median(total) * 1000,
        "total_p99": percentile(total, 0.99) * 1000,
        "added_p50": statistics.median(added) * 1000,
        "added_p99": percentile(added, 0.99) * 1000,
        "errors": sum(len(r["errors"]) for r in results),
        "lost": sum(r["expected"] - r["kept"] for r in results),
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'run':<34}{'requests':>9}{'req/s':>8}{'fake p50':>10}{'total p50':>11}"
        f"{'total p99':>11}{'added p50':>11}{'added p99':>11}{'errors':>8}{'lost':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['name']:<34}{row['requests']:>9}{row['rps']:>8.1f}{row['own_p50']:>8.1f}ms"
            f"{row['total_p50']:>9.1f}ms{row['total_p99']:>9.1f}ms{row['added_p50']:>9.1f}ms"
            f"{row['added_p99']:>9.1f}ms{row['errors']:>8}{row['lost']:>6}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument(
        "--workers", default="1,4", help="Worker counts, one serve row each (e.g. 1,2,4)."
    )
    parser.add_argument(
        "--team", action="store_true", help="PostgreSQL + S3 instead of the default"
    )
    parser.add_argument(
        "--delta-ms", type=float, default=50, help="Pause between the fake's deltas."
    )
    parser.add_argument("--home", help="Where the data directories go (e.g. /dev/shm).")
    parser.add_argument(
        "--no-session-row", action="store_true", help="Skip the in-process ChatSession run."
    )
    parser.add_argument(
        "--client-processes",
        type=int,
        default=5,
        help="Processes the clients are spread over (the in-process row stays in one).",
    )
    args = parser.parse_args()

    from serve_harness import clean_env

    global DELTA_DELAY
    DELTA_DELAY = args.delta_ms / 1000
    os.environ["BENCH_DELTA_MS"] = str(args.delta_ms)  # the fake's process reads it at start

    with FakeProcess() as fake, _storage(args.team) as storage_env:
        env = clean_env(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake.base_url, **storage_env)
        setup = {"base_url": fake.base_url, "turns": args.turns}
        sdk_results, sdk_wall = run_client_processes(
            "sdk", args.clients, args.client_processes, setup
        )
        if not args.no_session_row:
            service = in_process_service(env, Path(tempfile.mkdtemp(dir=args.home)))
            session_results, session_wall = run_clients(
                list(range(args.clients)), lambda i: session_client(service, args.turns, i)
            )
        serve_rows = [_serve_run(env, int(count), args) for count in args.workers.split(",")]
        served = fake.served()
    storage = "PostgreSQL + S3" if args.team else "SQLite + folder"
    rows = [summarize("SDK straight to the fake (floor)", sdk_results, sdk_wall, served)]
    if not args.no_session_row:
        name = "ChatSession, no HTTP (one process)"
        rows.append(summarize(name, session_results, session_wall, served))
    for count, results, wall, _memory in serve_rows:
        rows.append(summarize(f"serve, {storage}, {count} worker(s)", results, wall, served))
    where = args.home or tempfile.gettempdir()
    print(
        f"{args.clients} clients x {args.turns} turns; replies: {DELTAS} deltas "
        f"{DELTA_DELAY * 1000:.0f} ms apart; data under {where}; {os.cpu_count()} CPUs, "
        f"clients in {args.client_processes} processes"
    )
    print_table(rows)
    for count, results, wall, (idle, loaded) in serve_rows:
        requests = max(1, sum(len(result["timings"]) for result in results))
        cpu = loaded.cpu_seconds - idle.cpu_seconds  # workers that ended meanwhile not counted
        print(
            f"serve, {count} worker(s): CPU {cpu / requests * 1000:.1f} ms per request "
            f"({cpu / wall:.2f} of a CPU); memory {idle.rss_kib / 1024:.0f} MiB after start, "
            f"{loaded.rss_kib / 1024:.0f} MiB after the run, peak {loaded.peak_kib / 1024:.0f} MiB"
        )
        for result in results:
            for error in result["errors"][:3]:
                print("error:", error)
    bad = any(row["errors"] or row["lost"] for row in rows)
    return 1 if bad else 0


def _serve_run(env: dict[str, str], workers: int, args: Any) -> tuple[Any, ...]:
    """One serve (of `workers` workers, on data of its own) under the clients."""
    server, base_url = start_server(env, workers, Path(tempfile.mkdtemp(dir=args.home)))
    try:
        tokens = [server.token(f"user{i}") for i in range(args.clients)]
        idle = usage(server.process.pid)
        setup = {"base_url": base_url, "turns": args.turns, "tokens": tokens}
        results, wall = run_client_processes("serve", args.clients, args.client_processes, setup)
        loaded = usage(server.process.pid)
    finally:
        server.stop()
    return workers, results, wall, (idle, loaded)


class _storage:
    def __init__(self, team: bool) -> None:
        self.team = team
        self.servers: list[Any] = []

    def __enter__(self) -> dict[str, str]:
        if not self.team:
            return {}
        from serve_harness import team_env
        from servers import PostgresServer, S3Server

        postgres, s3 = PostgresServer().start(), S3Server().start()
        self.servers = [postgres, s3]
        return team_env(postgres, s3)

    def __exit__(self, *exc: object) -> None:
        for server in self.servers:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
