"""`list` for one user among 100,000 conversations of 100 users in PostgreSQL: in-process,
as a subprocess, an id-prefix lookup, and the query plan.

    .venv/bin/python bench/bench_list.py [--quick]
"""

from __future__ import annotations

import csv
import io
import random
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchlib import (
    CLAUDECHAT,
    MODEL,
    PYTHON,
    Servers,
    app_env,
    bench_run,
    fmt_ms,
    fmt_s,
    import_times,
    median,
    note,
    parse_args,
    print_import_table,
    print_table,
    scoped_environ,
    text_of,
    time_calls,
    time_commands,
    verdict,
)

# ------------------------------------------------------------------------------- section 4

LIST_USERS = 100
LIST_PER_USER = 1000
TARGET_USER = "user042"
_COLUMNS = (
    "conversation_id",
    "user_id",
    "conversation_name",
    "s3_file_location",
    "model",
    "message_count",
    "preview",
    "created_at",
    "updated_at",
    "version",
    "parent_id",
)


def seed_metadata(dsn: str) -> list[str]:
    """100,000 rows for 100 users by COPY; returns TARGET_USER's ids."""
    import psycopg2

    rng = random.Random(4)
    now = datetime.now(UTC)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    target_ids = []
    for index in range(LIST_USERS * LIST_PER_USER):
        user = f"user{index % LIST_USERS:03d}"
        conversation_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if user == TARGET_USER:
            target_ids.append(conversation_id)
        updated = now - timedelta(seconds=rng.randrange(365 * 86400))
        created = updated - timedelta(seconds=rng.randrange(7 * 86400))
        writer.writerow(
            [
                conversation_id,
                user,
                "named" if rng.random() < 0.1 else None,
                f"s3://bench/chats/{user}/{conversation_id}.json",
                MODEL,
                rng.randrange(2, 400),
                text_of(rng, 120),
                created.isoformat(),
                updated.isoformat(),
                1,
                None,
            ]
        )
    buffer.seek(0)
    connection = psycopg2.connect(dsn)
    try:
        with connection, connection.cursor() as cursor:
            cursor.copy_expert(
                f"COPY conversations ({', '.join(_COLUMNS)}) FROM STDIN WITH (FORMAT csv)", buffer
            )
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE conversations")
            cursor.execute("SELECT count(*), count(DISTINCT user_id) FROM conversations")
            total, users = cursor.fetchone()
    finally:
        connection.close()
    if total != LIST_USERS * LIST_PER_USER or users != LIST_USERS:
        raise RuntimeError(f"seeded {total} rows of {users} users")
    return target_ids


def explain(engine: Any, statement: str, parameters: Any) -> str:
    with engine.connect() as connection:
        plan = connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters
        ).scalars()
        return "\n".join(plan)


def section_big_list(runs: int, tmp: Path, servers: Servers) -> None:
    from sqlalchemy import event

    from claudechat.settings import load_settings
    from claudechat.storage import open_store

    postgres = servers.postgres
    database_url = postgres.create_database("bench_list")
    home = tmp / "home-list"
    env = app_env(home, user=TARGET_USER, CLAUDECHAT_DATABASE_URL=database_url)
    with scoped_environ(env):
        open_store(load_settings()).metadata.close()  # the app's own migrations make the table
    started = time.perf_counter()
    target_ids = seed_metadata(postgres.dsn("bench_list"))
    note(
        f"\n(seeded {LIST_USERS * LIST_PER_USER:,} rows of {LIST_USERS} users by COPY + ANALYZE "
        f"in {fmt_s(time.perf_counter() - started)})"
    )

    calls = 5 * runs
    # A prefix of 6 characters that is unique among the target user's ids.
    prefixes: dict[str, int] = defaultdict(int)
    for conversation_id in target_ids:
        prefixes[conversation_id[:6]] += 1
    prefix = next(p for p in sorted(prefixes) if prefixes[p] == 1)

    statements: list[tuple[str, Any]] = []
    with scoped_environ(env):
        store = open_store(load_settings())
        try:
            start = time.perf_counter()
            listing = store.list(TARGET_USER, limit=50)
            cold = time.perf_counter() - start
            if len(listing.rows) != 50 or listing.error:
                raise RuntimeError(f"list returned {len(listing.rows)} rows, {listing.error}")
            if listing.rows[0].updated_at < listing.rows[-1].updated_at:
                raise RuntimeError("list is not newest first")
            list_samples = time_calls(lambda: store.list(TARGET_USER, limit=50), calls)
            resolve_samples = time_calls(lambda: store.resolve(TARGET_USER, prefix), calls)
            found = store.resolve(TARGET_USER, prefix)
            if not found.startswith(prefix):
                raise RuntimeError(f"resolve({prefix}) gave {found}")

            engine = store.metadata.engine

            def capture(
                _conn: Any,
                _cursor: Any,
                statement: str,
                parameters: Any,
                _context: Any,
                _many: bool,
            ) -> None:
                if "FROM conversations" in statement:
                    statements.append((statement, parameters))

            event.listen(engine, "before_cursor_execute", capture)
            store.list(TARGET_USER, limit=50)
            store.resolve(TARGET_USER, prefix)
            event.remove(engine, "before_cursor_execute", capture)
            plans = [explain(engine, statement, parameters) for statement, parameters in statements]
        finally:
            store.close()

    subprocess_commands = {
        "floor": ([PYTHON, "-c", "pass"], env),
        "list": ([CLAUDECHAT, "list", "--limit", "50"], env),
    }
    samples = time_commands(subprocess_commands, runs)
    floor = median(samples["floor"])
    value_list, value_resolve = median(list_samples), median(resolve_samples)
    value_cli = median(samples["list"])
    print_table(
        f"4. `list` for one user among {LIST_USERS * LIST_PER_USER:,} conversations of "
        f"{LIST_USERS} users, PostgreSQL 15",
        ["measure", "median", "x floor", "target", "result"],
        [
            [
                f"(a) in-process `store.list(user, limit=50)` (median of {calls}, warm pool)",
                fmt_ms(value_list),
                "-",
                "< 100 ms",
                verdict(value_list, 0.1),
            ],
            [
                "(a') the same, first call (engine, connect, schema check)",
                fmt_ms(cold),
                "-",
                "-",
                "-",
            ],
            [f"(b) floor: `python -c pass` (median of {runs})", fmt_s(floor), "1.0x", "-", "-"],
            [
                f"(b) `claudechat list --limit 50` subprocess (median of {runs})",
                fmt_s(value_cli),
                f"{value_cli / floor:.1f}x",
                "< 0.3 s *",
                verdict(value_cli, 0.3),
            ],
            [
                f"(c) `store.resolve(user, '{prefix}')` 6-char prefix (median of {calls})",
                fmt_ms(value_resolve),
                "-",
                "< 100 ms *",
                verdict(value_resolve, 0.1),
            ],
        ],
    )
    note("\n\\* not in the brief: (b) gets the start-up bound of `list`, (c) the bound of (a).")
    for (statement, parameters), plan in zip(statements, plans, strict=True):
        kind = "list" if "ORDER BY" in statement and "updated_at DESC" in statement else "lookup"
        note(
            f"\nEXPLAIN (ANALYZE, BUFFERS) of the {kind} query as SQLAlchemy sends it, "
            f"parameters {parameters}:\n"
        )
        note("```sql\n" + " ".join(statement.split()) + "\n```\n```\n" + plan + "\n```")
        if kind == "list":
            uses = "ix_conversations_user_updated" in plan
            note(f"uses ix_conversations_user_updated: {'yes' if uses else 'NO'}")
    print_import_table(
        "Imports of `python -X importtime -m claudechat list --limit 50` (PostgreSQL, median of 3)",
        import_times(["-m", "claudechat", "list", "--limit", "50"], env),
        top=12,
    )


def main() -> int:
    args = parse_args(__doc__)
    with bench_run(args) as (runs, tmp, servers):
        section_big_list(runs, tmp, servers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
