"""ConversationStore.save() at turn 1 and turn 200 (SQLite + folder, PostgreSQL + S3,
SQLite + S3), against encoding the document and writing it once to the same blob store.

    .venv/bin/python bench/bench_saves.py [--quick]
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchlib import (
    USER,
    Servers,
    app_env,
    bench_run,
    conversation_with_turns,
    fmt_ms,
    median,
    note,
    parse_args,
    print_table,
    scoped_environ,
    time_calls,
)

# ------------------------------------------------------------------------------- section 3


def _durable_write(path: Path, data: bytes) -> None:
    """What one local blob write must cost at least: temp file, fsync, rename, fsync dir."""
    temp = path.with_suffix(".tmp")
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    descriptor = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def measure_saves(
    env: dict[str, str], saves: int, make_floor: Callable[[], Callable[[bytes], None]]
) -> dict[int, tuple[float, float, int]]:
    """{turns: (median save s, median floor s, document bytes)} at turn 1 and turn 200."""
    from claudechat.conversation import utc_now
    from claudechat.settings import load_settings
    from claudechat.storage import open_store
    from claudechat.storage.store import encode_document

    results = {}
    with scoped_environ(env):
        store = open_store(load_settings())
        floor_write = make_floor()  # made under the same environment as the store
        try:
            for turns in (1, 200):
                conversation = conversation_with_turns(USER, turns, random.Random(turns))
                first = store.save(conversation)  # insert; later saves are updates
                if not first.pushed:
                    raise RuntimeError(f"save failed: {first.error}")

                def touch(conversation: Any = conversation) -> None:
                    conversation.updated_at = utc_now()

                def save(conversation: Any = conversation) -> None:
                    result = store.save(conversation)
                    if not result.pushed:
                        raise RuntimeError(f"save failed: {result.error}")

                def floor(conversation: Any = conversation) -> None:
                    floor_write(encode_document(conversation))

                floor()  # warm-up: the floor's first request opens its connection
                save_samples, floor_samples = [], []
                for _ in range(saves):  # interleaved, one of each per round
                    save_samples += time_calls(save, 1, before=touch)
                    floor_samples += time_calls(floor, 1, before=touch)
                size = len(encode_document(conversation))
                results[turns] = (median(save_samples), median(floor_samples), size)
        finally:
            store.close()
    return results


def section_saves(runs: int, tmp: Path, servers: Servers) -> None:
    from s3_server import aws_test_env

    saves = 5 * runs
    scratch = tmp / "scratch"
    scratch.mkdir()

    def local_floor() -> Callable[[bytes], None]:
        return lambda data: _durable_write(scratch / "doc.json", data)

    s3 = servers.s3
    bucket = "bench-saves"
    s3.create_bucket(bucket)

    def s3_floor() -> Callable[[bytes], None]:
        from claudechat.storage.s3 import make_client

        client = make_client()  # the app's own client and configuration

        def put(data: bytes) -> None:
            client.put_object(
                Bucket=bucket, Key="floor/doc.json", Body=data, ContentType="application/json"
            )

        return put

    aws = aws_test_env(s3.endpoint_url)
    database_url = servers.postgres.create_database("bench_saves")
    configurations: list[tuple[str, dict[str, str], Callable[[], Callable[[bytes], None]]]] = [
        ("SQLite + folder (embedded default)", app_env(tmp / "home-save-local"), local_floor),
        (
            "PostgreSQL + S3 (moto)",
            app_env(
                tmp / "home-save-pg-s3",
                CLAUDECHAT_DATABASE_URL=database_url,
                CLAUDECHAT_STORAGE_URL=f"s3://{bucket}/pg",
                **aws,
            ),
            s3_floor,
        ),
        (
            "SQLite + S3 (moto)",
            app_env(
                tmp / "home-save-sqlite-s3", CLAUDECHAT_STORAGE_URL=f"s3://{bucket}/sqlite", **aws
            ),
            s3_floor,
        ),
    ]
    rows = []
    for label, env, make_floor in configurations:
        results = measure_saves(env, saves, make_floor)
        for turns in (1, 200):
            value, floor, size = results[turns]
            rows.append(
                [
                    label,
                    str(turns),
                    f"{size / 1024:,.0f} KiB",
                    fmt_ms(value),
                    fmt_ms(floor),
                    f"{value / floor:.1f}x",
                    f"{value / results[1][0]:.1f}x" if turns == 200 else "-",
                ]
            )
    print_table(
        f"3. ConversationStore.save() per call (median of {saves} saves at each size)",
        ["backend", "turn", "document", "ms per save", "floor", "x floor", "turn 200 / turn 1"],
        rows,
    )
    note(
        "floor: encode the document and write it once to the same blob store "
        "(local: temp file + fsync + rename + dir fsync; S3: one put_object). "
        "A save writes the journal entry (left to the page cache; fsynced only if the store "
        "fails), the blob, the row and the search index, then removes the entry."
    )


def main() -> int:
    args = parse_args(__doc__)
    with bench_run(args) as (runs, tmp, servers):
        section_saves(runs, tmp, servers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
