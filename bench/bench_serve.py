"""`claudechat serve` under load: 50 concurrent clients, each holding a 20-turn conversation.

Each client is a user with a token of its own: POST /new_chat, then 20 bare POST /chat turns
(JSON answers) that continue it. The fake Messages API runs in a process of its own and
streams every reply as 20 deltas 50 ms apart (--delta-ms); it times each request it serves, so
"added latency" is what a client waited beyond the fake's own time for that very request:
HTTP, authentication, loading and saving the conversation twice, the SDK. Clients start
spread over one reply's duration (not in lockstep). The floor beside it
is the same 50 x 20 conversation pattern sent straight to the fake with the SDK, no server.

    .venv/bin/python bench/bench_serve.py [--clients 50] [--turns 20] [--team] [--workers 1,4]
                                          [--rounds 3] [--baseline CHECKOUT] [--what-if NAMES]
                                          [--dump FILE] [--push-after SECONDS]

With --baseline, every round also runs serve from another checkout (a git worktree of an older
commit), in turn with the current code: the two are compared on the same minutes of a noisy
machine, which separate runs an hour apart are not. --what-if takes parts out of the current
code's row only (bench/whatif/): beside a baseline of the same commit, a paired what-if.
`--what-if phases` takes nothing out: it prints where each request's added latency goes.

Prints a table per round, and beside it each conversation's first turn apart from the others
(the first turns come in a burst at the start); then, with several rounds, each row's medians
over the rounds; checks
that no request failed and that every conversation holds every turn. The machine is shared and
noisy, from minute to minute as well: each round runs the floor again, then the other rows,
so each serve figure has a floor measured beside it. Read the figures as sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

# bench/ is on the path as the script's folder.
import serve_load  # noqa: E402
from proc_usage import usage  # noqa: E402
from serve_load import (  # noqa: E402
    API_KEY,
    DELTAS,
    FakeProcess,
    in_process_service,
    run_client_processes,
    run_clients,
    session_client,
)
from serve_phases import print_phases  # noqa: E402
from serve_tables import print_medians, print_table, print_turns, print_usage, summarize  # noqa: E402

BASELINE = " (baseline)"  # the label of --baseline's rows

# -- the server -----------------------------------------------------------------------------


def start_server(env: dict[str, str], workers: int, home: Path, *options: str) -> tuple[Any, str]:
    from serve_harness import Serve

    server = Serve(env, "--workers", str(workers), *options, home=home)
    server.start()
    return server, server.base_url


def main() -> int:
    args = _arguments()
    from serve_harness import clean_env

    serve_load.DELTA_DELAY = args.delta_ms / 1000
    os.environ["BENCH_DELTA_MS"] = str(args.delta_ms)  # the fake's process reads it at start
    runs: list[tuple[int, str, list[Any], float]] = []  # (round, row name, results, wall)
    usages: list[tuple[int, str, list[Any], float, Any]] = []
    with FakeProcess() as fake, _storage(args.team) as storage_env:
        env = clean_env(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake.base_url, **storage_env)
        for round_number in range(1, args.rounds + 1):
            _one_round(round_number, env, fake.base_url, args, runs, usages)
        served = fake.served()
    if args.dump:
        Path(args.dump).write_text(json.dumps(_request_rows(runs, served)))
    tables: dict[int, list[dict[str, Any]]] = {}
    for round_number, name, results, wall in runs:
        tables.setdefault(round_number, []).append(summarize(name, results, wall, served))
    where = args.home or tempfile.gettempdir()
    print(
        f"{args.clients} clients x {args.turns} turns; replies: {DELTAS} deltas "
        f"{serve_load.DELTA_DELAY * 1000:.0f} ms apart; data under {where}; "
        f"{os.cpu_count()} CPUs, clients in {args.client_processes} processes"
    )
    print(f"serve: claudechat from {ROOT / 'src'}", end="")
    print(f"; baseline from {Path(args.baseline).resolve() / 'src'}" if args.baseline else "")
    for round_number, rows in tables.items():
        if args.rounds > 1:
            print(f"\nround {round_number} of {args.rounds}")
        print_table(rows)
        print()
        print_turns(rows)
        print_usage([u for u in usages if u[0] == round_number])
    if args.rounds > 1:
        print_medians(list(tables.values()))
    if args.phases_folder:
        phased = [r for r in _request_rows(runs, served) if "(what-if" in r["run"]]
        print_phases(phased, Path(args.phases_folder))
        shutil.rmtree(args.phases_folder, ignore_errors=True)
    bad = any(row["errors"] or row["lost"] for rows in tables.values() for row in rows)
    return 1 if bad else 0


def _one_round(
    round_number: int,
    env: dict[str, str],
    fake_url: str,
    args: Any,
    runs: list[tuple[int, str, list[Any], float]],
    usages: list[tuple[int, str, list[Any], float, Any]],
) -> None:
    """The floor, the in-process session and each serve row, one after another."""
    tag = f"r{round_number}"
    setup = {"base_url": fake_url, "turns": args.turns, "tag": tag}
    results, wall = run_client_processes("sdk", args.clients, args.client_processes, setup)
    runs.append((round_number, "SDK straight to the fake (floor)", results, wall))
    if not args.no_session_row:
        home = Path(tempfile.mkdtemp(dir=args.home))
        service = in_process_service(env, home)
        indices = list(range(args.clients))
        results, wall = run_clients(indices, lambda i: session_client(service, args.turns, i, tag))
        service.store.close()
        shutil.rmtree(home, ignore_errors=True)
        runs.append((round_number, "ChatSession, no HTTP (one process)", results, wall))
    _serve_rows(round_number, env, args, tag, runs, usages)


def _serve_rows(
    round_number: int,
    env: dict[str, str],
    args: Any,
    tag: str,
    runs: list[tuple[int, str, list[Any], float]],
    usages: list[tuple[int, str, list[Any], float, Any]],
) -> None:
    """A serve row per worker count; against a baseline, the baseline's row beside each, first
    one then the other in turn: the machine's speed drifts from minute to minute, and each
    sees the same drift. What-ifs change the current code's row only: beside a baseline of the
    same commit, a paired what-if."""
    storage = "PostgreSQL + S3" if args.team else "SQLite + folder"
    label = f" (what-if {args.what_if})" if args.what_if else ""
    # Each row names its claudechat: left to the installed one, the current row ran whatever
    # checkout was installed, not this one's (a worktree's bench compared main with itself).
    current = _checkout_env(env, str(ROOT))
    codes = [(label, {**current, **_what_if_env(args.what_if, args.phases_folder, current)})]
    if args.baseline:
        codes.append((BASELINE, _checkout_env(env, args.baseline)))
    if round_number % 2 == 0:
        codes.reverse()
    for position, count in enumerate(int(c) for c in args.workers.split(",")):
        for label, code_env in codes:
            # A tag per row (--workers 1,1 included): the fake times requests by their text.
            row_tag = f"{tag}s{position}{'b' if label == BASELINE else ''}"
            options = () if label == BASELINE or args.push_after is None else args.push_after
            results, wall, memory = _serve_run(code_env, count, args, row_tag, *options)
            pushes = f", --push-after {options[1]}" if options else ""
            name = f"serve{label}, {storage}, {count} worker(s){pushes}"
            runs.append((round_number, name, results, wall))
            usages.append((round_number, name, results, wall, memory))


def _request_rows(
    runs: list[tuple[int, str, list[Any], float]], served: dict[str, float]
) -> list[dict[str, Any]]:
    """Each request's text, client wall time and the fake's own time, by round and row."""
    return [
        {"round": round_number, "run": name, "request": key, "wall": wall, "own": served[key]}
        for round_number, name, results, _ in runs
        for result in results
        for key, wall in result["timings"].items()
    ]


def _checkout_env(env: dict[str, str], folder: str) -> dict[str, str]:
    """`env` with the claudechat of a checkout (its src/ first on the path)."""
    source = Path(folder).resolve() / "src"
    if not (source / "claudechat").is_dir():
        sys.exit(f"bench_serve: no claudechat in {source}")
    paths = [str(source), *filter(None, [env.get("PYTHONPATH")])]
    return {**env, "PYTHONPATH": os.pathsep.join(paths)}


def _what_if_env(
    what_ifs: str | None, phases_folder: str | None, env: dict[str, str]
) -> dict[str, str]:
    """The environment that makes serve's processes run the what-ifs (whatif/sitecustomize.py)."""
    if not what_ifs:
        return {}
    folder = str(Path(__file__).resolve().parent / "whatif")
    paths = [folder, *filter(None, [env.get("PYTHONPATH")])]
    what_if = {"PYTHONPATH": os.pathsep.join(paths), "CLAUDECHAT_BENCH_WHAT_IF": what_ifs}
    return {**what_if, "CLAUDECHAT_BENCH_PHASES": phases_folder} if phases_folder else what_if


def _known_what_ifs() -> set[str]:
    import importlib.util

    path = Path(__file__).resolve().parent / "whatif" / "sitecustomize.py"
    spec = importlib.util.spec_from_file_location("bench_what_ifs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # inert here: CLAUDECHAT_BENCH_WHAT_IF is serve's alone
    return set(module.KNOWN)


def _arguments() -> Any:
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
    parser.add_argument(
        "--baseline",
        metavar="CHECKOUT",
        help="Also run serve from this checkout (e.g. a git worktree of an older commit) in "
        "every round, in turn with the current code: a paired comparison.",
    )
    parser.add_argument(
        "--push-after",
        metavar="SECONDS",
        type=lambda value: ("--push-after", str(float(value))),
        help="Run the current code's serve with --push-after SECONDS (not the baseline's).",
    )
    parser.add_argument(
        "--dump", metavar="FILE", help="Write every request's added latency there (JSON)."
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
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="Run the floor and every row this many times, alternating; prints the medians.",
    )
    parser.add_argument(
        "--what-if",
        metavar="NAMES",
        help="Take parts out of serve, to see what they cost: no-rows, no-search, "
        "cached-tokens, inline-store-calls, no-gc, no-fsync, no-push, whole-replies, phases "
        "(comma-separated; bench/whatif/).",
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    unknown = set((args.what_if or "").split(",")) - {"", *_known_what_ifs()}
    if unknown:
        parser.error(f"unknown --what-if {', '.join(sorted(unknown))}")
    # Where serve's processes write the phases of each /chat (whatif/phases.py).
    phased = "phases" in (args.what_if or "").split(",")
    args.phases_folder = tempfile.mkdtemp(prefix="serve-phases-") if phased else None
    return args


def _serve_run(
    env: dict[str, str], workers: int, args: Any, tag: str, *options: str
) -> tuple[Any, ...]:
    """One serve (of `workers` workers, on data of its own) under the clients: their results,
    the wall time, and the service's CPU and memory before and after (after every push the
    clients' turns put off is done: the journal empty)."""
    home = Path(tempfile.mkdtemp(dir=args.home))
    server, base_url = start_server(env, workers, home, *options)
    try:
        tokens = [server.token(f"user{i}") for i in range(args.clients)]
        idle = usage(server.process.pid)
        setup = {"base_url": base_url, "turns": args.turns, "tokens": tokens, "tag": tag}
        results, wall = run_client_processes("serve", args.clients, args.client_processes, setup)
        never_pushed = "no-push" in env.get("CLAUDECHAT_BENCH_WHAT_IF", "").split(",")
        if not args.team and not never_pushed:
            server.settled(60)
        loaded = usage(server.process.pid)
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    return results, wall, (idle, loaded)


class _storage:
    def __init__(self, team: bool) -> None:
        self.team = team
        self.servers: list[Any] = []

    def __enter__(self) -> dict[str, str]:
        if not self.team:
            return {}
        from s3_server import S3Server
        from serve_harness import team_env
        from servers import PostgresServer

        postgres, s3 = PostgresServer().start(), S3Server().start()
        self.servers = [postgres, s3]
        return team_env(postgres, s3)

    def __exit__(self, *exc: object) -> None:
        for server in self.servers:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
