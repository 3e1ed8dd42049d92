"""Start-up: `--help`, `--version`, `list` and `show` against `python -c pass`, which imports
dominate, and the time to the first REPL prompt in a pseudo-terminal.

    .venv/bin/python bench/bench_startup.py [--quick]
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchlib import (
    CLAUDECHAT,
    PROMPT,
    PYTHON,
    app_env,
    bench_run,
    fmt_ms,
    fmt_s,
    import_times,
    median,
    note,
    parse_args,
    parse_importtime,
    print_import_table,
    print_table,
    seed_embedded,
    summarize_imports,
    time_commands,
    verdict,
)


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
        "chat --help": ([CLAUDECHAT, "chat", "--help"], env),
        "--version": ([CLAUDECHAT, "--version"], env),
        "list": ([CLAUDECHAT, "list"], env),
        "show": ([CLAUDECHAT, "show", ids[500][:8]], env),
    }
    samples = time_commands(commands, runs)
    floor = median(samples["floor"])
    targets = {
        "--help": (0.1, "< 0.1 s"),
        "chat --help": (0.1, "< 0.1 s"),
        "--version": (0.1, "< 0.1 s *"),
        "list": (0.3, "< 0.3 s"),
        "show": (0.3, "< 0.3 s *"),
    }
    labels = {
        "--help": "`claudechat --help`",
        "chat --help": "`claudechat chat --help` (Typer's parameter handling)",
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
    ratio = results["chat --help"] / results["--help"]
    note(f"`chat --help` / `--help`: {ratio:.2f}x (target <= 1.2x: {verdict(ratio, 1.2)})")
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


def main() -> int:
    args = parse_args(__doc__)
    with bench_run(args) as (runs, tmp, _servers):
        section_startup(runs, tmp)
        section_first_prompt(runs, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
