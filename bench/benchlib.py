"""Shared pieces of the application benchmarks: timing, tables, generated content, servers.

Every figure is a median of N runs, printed next to a floor measured in the same run,
interleaved with it, so a noisy machine moves both together."""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
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
    from claudechat.conversation import Conversation, Usage

    conversation = Conversation.new(user, MODEL)
    for _ in range(turns):
        conversation.append("user", text_of(rng, 500), tokens=125)
        conversation.append(
            "assistant",
            text_of(rng, 2000),
            tokens=500,
            tokens_exact=True,
            model=MODEL,
            usage=Usage(input_tokens=1000, output_tokens=500),
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
            from s3_server import S3Server

            self._s3 = self._stack.enter_context(S3Server())
        return self._s3


# ------------------------------------------------------------------------------- section 1


def seed_embedded(home: Path, count: int) -> list[str]:
    """`count` two-message conversations for USER through the library, newest last."""
    from claudechat.conversation import Conversation
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
                conversation = Conversation.new(USER, MODEL, created_at=moment, updated_at=moment)
                conversation.append("user", text_of(rng, 120), created_at=moment)
                conversation.append("assistant", text_of(rng, 600), created_at=moment, model=MODEL)
                conversation.updated_at = moment
                result = store.save(conversation)
                if not result.pushed:
                    raise RuntimeError(f"seeding failed: {result.error}")
                ids.append(conversation.id)
        finally:
            store.close()
    return ids


# ------------------------------------------------------------------------------- running


def parse_args(doc: str | None, sections: list[int] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 runs instead of 7")
    if sections:
        parser.add_argument(
            "--only", type=int, action="append", choices=sections, help="run only these"
        )
    return parser.parse_args()


@contextlib.contextmanager
def bench_run(args: argparse.Namespace) -> Iterator[tuple[int, Path, Servers]]:
    """(runs, a temporary directory, servers started on demand); everything is removed and
    stopped at the end, also on error."""
    runs = 3 if args.quick else 7
    note(
        f"# claudechat benchmark ({'quick, ' if args.quick else ''}N={runs}, "
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs)"
    )
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="claudechat-bench-"))
    os.chmod(tmp, 0o755)  # PostgreSQL runs as postgres; it never needs this dir, but be safe
    try:
        with contextlib.ExitStack() as stack:
            yield runs, tmp, Servers(stack)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        note(f"\n(total {time.perf_counter() - started:.0f} s)")
