"""Wall-time benchmarks of the whole application: start-up, first prompt, saves, listing.

Every figure is the median of N runs (7, or 3 with --quick) and is printed next to a floor
measured in the same run, interleaved with it, so a noisy machine moves both together.

    .venv/bin/python bench/bench_app.py [--quick]

Sections
  1. start-up of `--help`, `--version`, `list` (1,000 stored conversations) and `show`
     against `python -c pass`, plus which imports dominate `list` (-X importtime);
  2. time to the first REPL prompt in a pseudo-terminal, against printing "›";
  3. ConversationStore.save() at turn 1 and turn 200: SQLite + folder, PostgreSQL + S3,
     SQLite + S3, against encoding the document and writing it once to the same blob store;
  4. `list` for one user among 100,000 conversations of 100 users in PostgreSQL: in-process,
     as a subprocess, an id-prefix lookup, and the query plan.

Servers (PostgreSQL, moto S3, the fake Messages API) run on 127.0.0.1 only and are stopped
at the end, also on error. Nothing is changed outside temporary directories.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python")  # the venv's own python, never a pyenv shim
CLAUDECHAT = str(VENV_BIN / "claudechat")  # the console script
USER = "bench"
MODEL = "claude-sonnet-4-6"
PROMPT = "›"

# Which variables of ours may leak into the measured processes: none.
_FOREIGN_PREFIXES = ("CLAUDECHAT_", "ANTHROPIC_", "AWS_", "BOTO_")


# ------------------------------------------------------------------------------- helpers


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def fmt_s(seconds: float) -> str:
    return f"{seconds:.3f} s"


def fmt_ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.1f} ms" if ms < 100 else f"{ms:.0f} ms"


def verdict(value: float, limit: float | None) -> str:
    if limit is None:
        return "-"
    return "PASS" if value < limit else "MISS"


def print_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    print(f"\n### {title}\n")
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" for _ in headers) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    sys.stdout.flush()


def note(text: str) -> None:
    print(text)
    sys.stdout.flush()


def clean_environ() -> dict[str, str]:
    """os.environ without any claudechat, Anthropic or AWS settings of the caller."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_PREFIXES)}


def app_env(home: Path, user: str = USER, **extra: str) -> dict[str, str]:
    env = clean_environ()
    env.update(
        CLAUDECHAT_HOME=str(home),
        CLAUDECHAT_USER=user,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def scoped_environ(env: dict[str, str]) -> Iterator[None]:
    """Run in-process code (load_settings, boto3) under exactly this environment."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_once(argv: list[str], env: dict[str, str], check_output: bool = False) -> float:
    """Wall time of one whole subprocess, from spawn to exit."""
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or (check_output and not proc.stdout.strip()):
        raise RuntimeError(
            f"{' '.join(argv)} exited {proc.returncode}\n"
            f"stdout: {proc.stdout[-500:]!r}\nstderr: {proc.stderr[-2000:]!r}"
        )
    return elapsed


def time_commands(
    commands: dict[str, tuple[list[str], dict[str, str]]], runs: int
) -> dict[str, list[float]]:
    """Each command once as a warm-up, then `runs` rounds, interleaved, of every command.

    The entry named "floor" may print nothing; every other command must print something.
    """
    for name, (argv, env) in commands.items():
        run_once(argv, env, check_output=name != "floor")
    samples: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        for name, (argv, env) in commands.items():
            samples[name].append(run_once(argv, env, check_output=name != "floor"))
    return samples


def time_calls(
    function: Callable[[], Any], count: int, before: Callable[[], Any] | None = None
) -> list[float]:
    """Wall time of `count` calls; `before` runs untimed ahead of each."""
    samples = []
    for _ in range(count):
        if before is not None:
            before()
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return samples


_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def parse_importtime(text: str) -> dict[str, tuple[float, float, int]]:
    """{module: (cumulative s, self s, nesting depth)} from `-X importtime` output."""
    found = {}
    for line in text.splitlines():
        match = _IMPORTTIME.match(line.strip("\r"))
        if match:
            found[match.group(4)] = (
                int(match.group(2)) / 1e6,
                int(match.group(1)) / 1e6,
                len(match.group(3)) // 2,
            )
    return found


def summarize_imports(
    runs: list[dict[str, tuple[float, float, int]]],
) -> list[tuple[str, float, float, int]]:
    """(module, median cumulative s, median self s, depth), largest cumulative first."""
    names = {name for run in runs for name in run}
    rows = []
    for name in names:
        values = [run[name] for run in runs if name in run]
        rows.append(
            (name, median([v[0] for v in values]), median([v[1] for v in values]), values[0][2])
        )
    return sorted(rows, key=lambda r: r[1], reverse=True)


def import_times(
    argv: list[str], env: dict[str, str], runs: int = 3
) -> list[tuple[str, float, float, int]]:
    """Median `python -X importtime` figures of a command, over `runs` runs."""
    parsed = []
    for _ in range(runs):
        proc = subprocess.run(
            [PYTHON, "-X", "importtime", *argv], env=env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise RuntimeError(f"importtime run failed: {proc.stderr[-2000:]}")
        parsed.append(parse_importtime(proc.stderr))
    return summarize_imports(parsed)


def print_import_table(title: str, rows: list[tuple[str, float, float, int]], top: int) -> None:
    total = sum(r[1] for r in rows if r[3] == 0)
    print_table(
        f"{title} (sum of top-level imports {fmt_s(total)})",
        ["module", "cumulative", "self", "nesting"],
        [
            [f"`{name}`", fmt_ms(cum), fmt_ms(own), str(level)]
            for name, cum, own, level in rows[:top]
        ],
    )
    toplevel = [r for r in rows if r[3] == 0][:8]
    print_table(
        f"{title}: top-level imports only",
        ["module", "cumulative"],
        [[f"`{name}`", fmt_ms(cum)] for name, cum, _own, _level in toplevel],
    )


# ------------------------------------------------------------------------------- content

_WORDS = (  # noqa: SIM905 - a sentence reads better than a list
    "the a stream token render block list table code reply model terminal line markdown "
    "parse refresh cost value function return error request response cache server client "
    "buffer index query result option default config simple quickly store journal save"
).split()


def text_of(rng: random.Random, chars: int) -> str:
    parts: list[str] = []
    size = 0
    while size < chars:
        word = rng.choice(_WORDS)
        parts.append(word)
        size += len(word) + 1
    return " ".join(parts)[:chars]


def conversation_with_turns(user: str, turns: int, rng: random.Random) -> Any:
    """A conversation of `turns` turns: a ~500-char question and a ~2,000-char reply each."""
    from claudechat.conversation import Conversation, Message, Usage

    conversation = Conversation.new(user, MODEL)
    for _ in range(turns):
        conversation.messages.append(Message("user", text_of(rng, 500), tokens=125))
        conversation.messages.append(
            Message(
                "assistant",
                text_of(rng, 2000),
                tokens=500,
                tokens_exact=True,
                model=MODEL,
                usage=Usage(input_tokens=1000, output_tokens=500),
            )
        )
    return conversation


# ------------------------------------------------------------------------------- servers


class Servers:
    """PostgreSQL and moto S3, started on first use, stopped by close()."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack
        self._postgres: Any = None
        self._s3: Any = None

    @property
    def postgres(self) -> Any:
        if self._postgres is None:
            from servers import PostgresServer

            started = time.perf_counter()
            self._postgres = self._stack.enter_context(PostgresServer())
            note(f"(PostgreSQL started in {fmt_s(time.perf_counter() - started)})")
        return self._postgres

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            from servers import S3Server

            self._s3 = self._stack.enter_context(S3Server())
        return self._s3


# ------------------------------------------------------------------------------- section 1


def seed_embedded(home: Path, count: int) -> list[str]:
    """`count` two-message conversations for USER through the library, newest last."""
    from claudechat.conversation import Conversation, Message
    from claudechat.settings import load_settings
    from claudechat.storage import open_store

    rng = random.Random(1)
    now = datetime.now(UTC)
    ids = []
    with scoped_environ(app_env(home)):
        store = open_store(load_settings())
        try:
            for index in range(count):
                moment = now - timedelta(minutes=10 * (count - index))
                conversation = Conversation.new(
                    USER,
                    MODEL,
                    created_at=moment,
                    updated_at=moment,
                    messages=[
                        Message("user", text_of(rng, 120), created_at=moment),
                        Message("assistant", text_of(rng, 600), created_at=moment, model=MODEL),
                    ],
                )
                result = store.save(conversation)
                if not result.pushed:
                    raise RuntimeError(f"seeding failed: {result.error}")
                ids.append(conversation.id)
        finally:
            store.close()
    return ids


def section_startup(runs: int, tmp: Path) -> dict[str, Any]:
    home = tmp / "home-startup"
    started = time.perf_counter()
    ids = seed_embedded(home, 1000)
    note(
        f"\n(seeded 1,000 conversations through ConversationStore.save in "
        f"{fmt_s(time.perf_counter() - started)})"
    )
    env = app_env(home)
    commands = {
        "floor": ([PYTHON, "-c", "pass"], env),
        "--help": ([CLAUDECHAT, "--help"], env),
        "--version": ([CLAUDECHAT, "--version"], env),
        "list": ([CLAUDECHAT, "list"], env),
        "show": ([CLAUDECHAT, "show", ids[500][:8]], env),
    }
    samples = time_commands(commands, runs)
    floor = median(samples["floor"])
    targets = {
        "--help": (0.1, "< 0.1 s"),
        "--version": (0.1, "< 0.1 s *"),
        "list": (0.3, "< 0.3 s"),
        "show": (0.3, "< 0.3 s *"),
    }
    labels = {
        "--help": "`claudechat --help`",
        "--version": "`claudechat --version`",
        "list": "`claudechat list` (1,000 stored, SQLite + folder)",
        "show": "`claudechat show <8-char id>` (2 messages)",
    }
    rows = [["floor: `python -c pass`", fmt_s(floor), "1.0x", "-", "-"]]
    results = {}
    for name, (limit, shown) in targets.items():
        value = median(samples[name])
        results[name] = value
        rows.append(
            [labels[name], fmt_s(value), f"{value / floor:.1f}x", shown, verdict(value, limit)]
        )
    print_table(
        f"1. Start-up, wall time of the whole subprocess (median of {runs})",
        ["command", "median", "x floor", "target", "result"],
        rows,
    )
    note("\n\\* no target in the brief: the same bound as `--help` / `list`.")
    note(f"min/max of `list`: {fmt_s(min(samples['list']))} / {fmt_s(max(samples['list']))}")
    print_import_table(
        "Imports of `python -X importtime -m claudechat list` (1,000 stored, median of 3)",
        import_times(["-m", "claudechat", "list"], env),
        top=15,
    )
    return {"env": env, "results": results}


# ------------------------------------------------------------------------------- section 2


def section_first_prompt(runs: int, tmp: Path) -> None:
    import pexpect

    from fakes.anthropic_api import FakeAnthropic

    home = tmp / "home-repl"
    with FakeAnthropic(api_key="x") as fake:
        env = app_env(
            home,
            PROMPT_TOOLKIT_NO_CPR="1",
            TERM="xterm-256color",
            ANTHROPIC_API_KEY="x",
            ANTHROPIC_BASE_URL=fake.base_url,
        )

        def spawn_until_prompt(args: list[str], leave: bool) -> tuple[float, str]:
            """Seconds from spawn to the prompt character, and everything printed before it."""
            start = time.perf_counter()
            child = pexpect.spawn(
                PYTHON, args, env=env, encoding="utf-8", dimensions=(30, 100), timeout=20
            )
            try:
                child.expect_exact(PROMPT)
                elapsed = time.perf_counter() - start
                before = child.before or ""
                if leave:
                    child.send("\x04")  # Ctrl-D
                child.expect(pexpect.EOF)
            finally:
                child.close(force=True)
            if child.exitstatus not in (0, None):
                raise RuntimeError(f"{args} exited {child.exitstatus}: {child.before!r}")
            return elapsed, before

        chat = ["-m", "claudechat", "chat"]
        # Diagnostic only: the same start with the background `import anthropic` switched off
        # in the measured process (the app's code is not changed).
        no_preload = [
            "-c",
            "import claudechat.claude as c; c.preload = lambda: None; "
            "from claudechat.cli import main; main(['chat'])",
        ]
        floor_args = ["-c", f"print({PROMPT!r})"]
        spawn_until_prompt(chat, True)  # warm-up: creates the data dir and the database
        spawn_until_prompt(floor_args, False)
        samples: dict[str, list[float]] = defaultdict(list)
        for _ in range(runs):
            samples["floor"].append(spawn_until_prompt(floor_args, False)[0])
            samples["chat"].append(spawn_until_prompt(chat, True)[0])
            samples["no_preload"].append(spawn_until_prompt(no_preload, True)[0])
        imports = summarize_imports(
            [
                parse_importtime(spawn_until_prompt(["-X", "importtime", *no_preload], True)[1])
                for _ in range(3)
            ]
        )
        if fake.requests:
            raise RuntimeError("the REPL called the API before any input")
    floor, value = median(samples["floor"]), median(samples["chat"])
    diagnostic = median(samples["no_preload"])
    print_table(
        f"2. Time to the first REPL prompt in a pseudo-terminal (median of {runs})",
        ["measure", "median", "x floor", "target", "result"],
        [
            [
                "floor: pexpect spawns `python -c \"print('›')\"` and sees it",
                fmt_s(floor),
                "1.0x",
                "-",
                "-",
            ],
            [
                "`python -m claudechat chat` until `›` is drawn",
                fmt_s(value),
                f"{value / floor:.1f}x",
                "< 0.3 s",
                verdict(value, 0.3),
            ],
            [
                "diagnostic: the same with `claudechat.claude.preload` made a no-op",
                fmt_s(diagnostic),
                f"{diagnostic / floor:.1f}x",
                "-",
                "-",
            ],
        ],
    )
    note(
        f"min/max of chat: {fmt_s(min(samples['chat']))} / {fmt_s(max(samples['chat']))}; "
        f"the background `import anthropic` (preload thread) costs the prompt about "
        f"{fmt_ms(value - diagnostic)} here (GIL contention on {os.cpu_count()} CPUs)."
    )
    toplevel = [r for r in imports if r[3] == 0][:8]
    print_table(
        "Top-level imports before the first prompt, preload off (`-X importtime`, median of 3)",
        ["module", "cumulative"],
        [[f"`{name}`", fmt_ms(cum)] for name, cum, _own, _level in toplevel],
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
    from servers import aws_test_env

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
        "A save writes the journal entry (fsynced), the blob, the row, then removes the entry."
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


# ------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 runs instead of 7")
    parser.add_argument(
        "--only", type=int, action="append", choices=[1, 2, 3, 4], help="run only these sections"
    )
    args = parser.parse_args()
    runs = 3 if args.quick else 7
    sections = set(args.only or [1, 2, 3, 4])
    note(
        f"# claudechat application benchmark ({'quick, ' if args.quick else ''}N={runs}, "
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs)"
    )
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="claudechat-bench-"))
    os.chmod(tmp, 0o755)  # PostgreSQL runs as postgres; it never needs this dir, but be safe
    try:
        with contextlib.ExitStack() as stack:
            servers = Servers(stack)
            if 1 in sections:
                section_startup(runs, tmp)
            if 2 in sections:
                section_first_prompt(runs, tmp)
            if 3 in sections:
                section_saves(runs, tmp, servers)
            if 4 in sections:
                section_big_list(runs, tmp, servers)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    note(f"\n(total {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
