"""Search among many conversations: SQLite FTS5 (embedded) and PostgreSQL full-text (team).

    .venv/bin/python bench/bench_search.py [--conversations 100000] [--turns 10] [--runs 15]
                                           [--users 100] [--only sqlite|postgresql]

Seeds N conversations of T turns (a question and a reply each, so 2*N*T messages) for
--users owners (default 100), with words drawn from a Zipf distribution over 20,000 made-up
words, straight into the tables the app's own migrations create (bulk load, then the index
built once: it is a benchmark, not a test of saving). Then times
claudechat.storage.search.search() in-process for one user, per kind of query, against a floor
measured in the same run (`SELECT 1` on the same connection pool). Target: under 100 ms.

PostgreSQL runs on 127.0.0.1 (tests/servers.py) and is stopped at the end; SQLite lives in a
temporary directory.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import itertools
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

DEFAULT_USERS = 100
USERS = DEFAULT_USERS
VOCABULARY = 20_000
USER_WORDS, REPLY_WORDS = 10, 24
TARGET = "user007"
# 28 syllables make 21,952 three-syllable words.
SYLLABLES = tuple(
    "ka lo mi ne su ta ri po ve da zu fe gi ho ja ku le mo na pi ro sa ti vo wa ye zi bu".split(" ")  # noqa: SIM905
)


def vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    words = ["".join(parts) for parts in itertools.product(SYLLABLES, repeat=3)]
    rng.shuffle(words)
    words = words[:VOCABULARY]
    weights = list(itertools.accumulate(1 / rank for rank in range(1, VOCABULARY + 1)))
    return words, weights


def messages(conversations: int, turns: int) -> Iterator[tuple[Any, ...]]:
    """(user, conversation id, message id, role, created_at, body, owner) for every message."""
    from claudechat.storage.search import owner_token

    rng = random.Random(11)
    words, weights = vocabulary(rng)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for number in range(conversations):
        user = f"user{number % USERS:03d}"
        owner = owner_token(user)
        conversation = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        drawn = rng.choices(words, cum_weights=weights, k=turns * (USER_WORDS + REPLY_WORDS))
        at = start + timedelta(minutes=number)
        for turn in range(turns):
            base = turn * (USER_WORDS + REPLY_WORDS)
            question = " ".join(drawn[base : base + USER_WORDS])
            reply = " ".join(drawn[base + USER_WORDS : base + USER_WORDS + REPLY_WORDS])
            for role, body in (("user", question), ("assistant", reply)):
                yield user, conversation, str(uuid.uuid4()), role, at.isoformat(), body, owner
                at += timedelta(seconds=1)


def queries() -> dict[str, str]:
    words, _ = vocabulary(random.Random(11))
    return {
        "common word (rank 20)": words[19],
        "middling word (rank 1,000)": words[999],
        "rare word (rank 15,000)": words[14_999],
        "two words (AND)": f"{words[40]} {words[300]}",
        "phrase": f'"{words[5]} {words[6]}"',
        "OR": f"{words[800]} OR {words[900]}",
        "prefix, as typed": words[500][:4],
        "no match": "xyzzy",
    }


# -- loading -------------------------------------------------------------------------------


def load_postgres(dsn: str, conversations: int, turns: int) -> None:
    import psycopg2

    connection = psycopg2.connect(dsn)
    with connection, connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute("DROP INDEX ix_search_messages_document")
        for batch in _batches(messages(conversations, turns), 200_000):
            buffer = io.StringIO()
            csv.writer(buffer).writerows(batch)
            buffer.seek(0)
            cursor.copy_expert(
                "COPY search_messages (user_id, conversation_id, message_id, role, created_at, "
                "body, owner) FROM STDIN WITH (FORMAT csv)",
                buffer,
            )
        cursor.execute(
            "CREATE INDEX ix_search_messages_document ON search_messages USING gin (document)"
        )
        _conversation_rows_postgres(cursor)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE search_messages")
        cursor.execute("ANALYZE conversations")
    connection.close()


def _conversation_rows_postgres(cursor: Any) -> None:
    cursor.execute(
        "INSERT INTO conversations (conversation_id, user_id, conversation_name, "
        "s3_file_location, model, message_count, created_at, updated_at) "
        "SELECT conversation_id, min(user_id), 'bench', 's3://bench/x', 'm', count(*), "
        "min(created_at), max(created_at) FROM search_messages GROUP BY conversation_id"
    )


def load_sqlite(path: Path, conversations: int, turns: int) -> None:
    import sqlite3

    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    # The migration's triggers fill the FTS5 index row by row, as saves do.
    for batch in _batches(messages(conversations, turns), 200_000):
        connection.executemany(
            "INSERT INTO search_messages (user_id, conversation_id, message_id, role, "
            "created_at, body, owner) VALUES (?, ?, ?, ?, ?, ?, ?)",
            batch,
        )
    connection.execute("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
    connection.execute(
        "INSERT INTO conversations (conversation_id, user_id, conversation_name, "
        "s3_file_location, model, message_count, created_at, updated_at, version) "
        "SELECT conversation_id, min(user_id), 'bench', 'file:///x', 'm', count(*), "
        "min(created_at), max(created_at), 1 FROM search_messages GROUP BY conversation_id"
    )
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()


def _batches(rows: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    while batch := list(itertools.islice(rows, size)):
        yield batch


# -- timing --------------------------------------------------------------------------------


def timed(call: Callable[[], Any], runs: int) -> list[float]:
    call()  # warm: the first call pays for plans and pages
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(name: str, url: str, runs: int) -> list[tuple[str, str, float, float, int]]:
    from sqlalchemy import text

    from claudechat.storage.metadata import MetadataStore
    from claudechat.storage.search import search

    store = MetadataStore(url)
    rows = []
    with store.engine.connect() as connection:
        floor = timed(lambda: connection.execute(text("SELECT 1")).scalar(), runs)
    rows.append((name, "floor: SELECT 1", statistics.median(floor), p95(floor), 0))
    for label, query in queries().items():
        hits = len(search(store, TARGET, query))
        samples = timed(lambda q=query: search(store, TARGET, q), runs)
        rows.append((name, label, statistics.median(samples), p95(samples), hits))
    store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--users",
        type=int,
        default=DEFAULT_USERS,
        help="Owners of the conversations (1: one owns all).",
    )
    args = parser.parse_args()
    global USERS, TARGET
    USERS, TARGET = args.users, f"user{min(7, args.users - 1):03d}"
    total = args.conversations * args.turns * 2
    print(
        f"{args.conversations:,} conversations x {args.turns} turns = {total:,} messages, "
        f"{USERS} users; searching as one user ({args.conversations // USERS:,} conversations)",
        file=sys.stderr,
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        from claudechat.storage.metadata import MetadataStore

        if args.only != "postgresql":
            path = Path(tmp) / "bench.db"
            MetadataStore(f"sqlite:///{path}").close()
            started = time.perf_counter()
            load_sqlite(path, args.conversations, args.turns)
            print(f"(SQLite loaded in {time.perf_counter() - started:.0f} s)", file=sys.stderr)
            results += measure("SQLite FTS5", f"sqlite:///{path}", args.runs)
        if args.only != "sqlite":
            from servers import PostgresServer

            server = stack.enter_context(PostgresServer())
            url = server.create_database("bench_search")
            MetadataStore(url).close()
            started = time.perf_counter()
            load_postgres(server.dsn("bench_search"), args.conversations, args.turns)
            print(f"(PostgreSQL loaded in {time.perf_counter() - started:.0f} s)", file=sys.stderr)
            results += measure("PostgreSQL", url, args.runs)
    print_table(results, args.runs)


def print_table(results: list[tuple[str, str, float, float, int]], runs: int) -> None:
    print(f"\n| backend | query | median ms | p95 ms | hits | ratio to floor |  ({runs} runs)")
    print("|---|---|---:|---:|---:|---:|")
    floors = {name: median for name, label, median, _p, _h in results if label.startswith("floor")}
    for name, label, median, high, hits in results:
        ratio = median / floors[name] if floors[name] else 0
        times = f"{median * 1000:.2f} | {high * 1000:.2f}"
        print(f"| {name} | {label} | {times} | {hits} | {ratio:.0f}x |")


if __name__ == "__main__":
    main()
