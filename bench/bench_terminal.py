"""The whole program in a pseudo-terminal, as a person runs it, against the SDK's own cost.

`claudechat chat "go"` runs in a 100x40 pty (TERM=xterm-256color) against the fake Messages
API, which streams a generated reply (code-heavy or table-heavy, 1k / 4k / 16k tokens, one
event per 4-character token) as fast as the client reads; Ctrl-D leaves once the reply is
done. The floor is a script that only consumes the same stream from the same fake with the
SDK, in the same pty, in the same run, interleaved: its raw events
(`messages.create(..., stream=True)`), the cheapest way through the SDK and the one claudechat's
adapter takes. The `messages.stream()` helper costs about twice as much per token (it rebuilds
a snapshot of the message and helper events for every delta); the ratio to it is shown too.

CPU time is the process's own (user + system, from its rusage). Start-up cancels out: every
figure per token is (CPU of the run - CPU of a one-word reply) / tokens, for both. A short
reply alone adds too little to a 1.7 s start-up to be told from noise, so every run streams
about 16k tokens: a 1k-token reply is answered 16 times in one session (16 turns; the SDK
script streams it 16 times), a 4k one 4 times; the turns' own costs count as the replies'.
The runs are paired: each round runs the one-word reply and every reply once, the
differences are taken within a round, and the table shows their medians over the rounds.
Bytes are everything the program wrote to the terminal, minus the same for the one-word reply,
over the bytes of the reply's text. Piped (`claudechat chat go > pipe`) is shown for scale.

    .venv/bin/python bench/bench_terminal.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import CLAUDECHAT, PYTHON, app_env, note, print_table
from replies import REPLIES, REPLY_TOKENS, token_chunks

ROWS, COLS = 40, 100
BASELINE = "ok"

# Runs a command and writes the CPU seconds it used to the file named first.
_CPU_OF = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(repr(usage.ru_utime + usage.ru_stime))
sys.exit(code)
"""

_SDK_ONLY = """
import sys
import anthropic
client = anthropic.Anthropic()
for _turn in range(int(sys.argv[1])):
    with client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=64000,
        messages=[{"role": "user", "content": "go"}],
        stream=True,
    ) as stream:
        for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                _text = event.delta.text
"""
# The SDK's streaming helper, the way its README streams: the #8 target was first met
# against it, so its ratio stays in the table beside the raw events'.
_SDK_HELPER = """
import sys
import anthropic
client = anthropic.Anthropic()
for _turn in range(int(sys.argv[1])):
    with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=64000, messages=[{"role": "user", "content": "go"}]
    ) as stream:
        for _text in stream.text_stream:
            pass
"""
# Every run streams about this many tokens (see above).
TOKENS_PER_RUN = max(REPLY_TOKENS)


# A session of one-word turns, beside the one-word reply: what one turn costs by itself.
TURNS, TURN_RUN = "turns", 16


def turns_for(text: str) -> int:
    return max(1, round(TOKENS_PER_RUN / len(token_chunks(text))))


class Bench:
    def __init__(self, fake: Any, home: Path, work: Path) -> None:
        self.fake = fake
        self.work = work
        self.runs = 0
        self.env = app_env(
            home,
            TERM="xterm-256color",
            PROMPT_TOOLKIT_NO_CPR="1",
            ANTHROPIC_API_KEY="x",
            ANTHROPIC_BASE_URL=fake.base_url,
        )

    def _queue(self, text: str) -> None:
        from fakes.anthropic_api import Reply

        self.fake.queue(Reply(chunks=token_chunks(text), output_tokens=len(text) // 4))

    def _cpu_file(self) -> Path:
        self.runs += 1
        return self.work / f"run-{self.runs}.cpu"

    def in_terminal(
        self, command: list[str], text: str, repl: bool, turns: int = 1
    ) -> tuple[float, int]:
        """(CPU seconds, bytes written to the terminal) of one run in a pty: `turns` replies
        (the REPL's first turn is its argument, the next ones are typed)."""
        import pexpect

        for _ in range(turns):
            self._queue(text)
        cpu_file = self._cpu_file()
        written = _Counter()
        child = pexpect.spawn(
            PYTHON,
            ["-c", _CPU_OF, str(cpu_file), *command],
            env=self.env,
            dimensions=(ROWS, COLS),
            timeout=300,
        )
        child.logfile_read = written
        try:
            if repl:
                for turn in range(turns):
                    if turn:
                        child.send("go\r")
                    child.expect(" from cache")  # the dim line after the reply
                    child.expect("\u203a".encode())  # the next prompt
                child.send("\x04")
            child.expect(pexpect.EOF)
        finally:
            child.close(force=True)
        return float(cpu_file.read_text()), written.count

    def piped(self, text: str) -> float:
        self._queue(text)
        cpu_file = self._cpu_file()
        subprocess.run(
            [PYTHON, "-c", _CPU_OF, str(cpu_file), CLAUDECHAT, "chat", "go"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=True,
        )
        return float(cpu_file.read_text())

    def measure(self, text: str, turns: int = 1) -> dict[str, tuple[float, int]]:
        """Piped is one turn: each piped turn is a process of its own."""
        sdk_only = [PYTHON, "-c", _SDK_ONLY, str(turns)]
        return {
            "app": self.in_terminal([CLAUDECHAT, "chat", "go"], text, repl=True, turns=turns),
            "sdk": self.in_terminal(sdk_only, text, repl=False, turns=turns),
            "helper": self.in_terminal(
                [PYTHON, "-c", _SDK_HELPER, str(turns)], text, repl=False, turns=turns
            ),
            "piped": (self.piped(text), 0),
        }


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    def write(self, data: bytes) -> None:
        self.count += len(data)

    def flush(self) -> None:
        pass


Sample = dict[str, tuple[float, int]]  # per command: (CPU seconds, bytes to the terminal)


def median_of(samples: list[Sample], key: str, part: int) -> float:
    return statistics.median(sample[key][part] for sample in samples)


def run(runs: int) -> None:
    from fakes.anthropic_api import FakeAnthropic

    replies = [
        (f"{kind} {tokens // 1000}k", REPLIES[kind](tokens))
        for kind in ("code-heavy", "table-heavy")
        for tokens in REPLY_TOKENS
    ]
    with (
        tempfile.TemporaryDirectory(prefix="claudechat-bench-") as tmp,
        FakeAnthropic(api_key="x") as fake,
    ):
        bench = Bench(fake, Path(tmp) / "home", Path(tmp))
        bench.measure(BASELINE)  # warm-up: creates the data directory and the database
        samples: dict[str, list[Sample]] = {BASELINE: []}
        for _ in range(runs):  # interleaved, so a noisy machine moves every figure together
            samples[BASELINE].append(bench.measure(BASELINE))
            samples.setdefault(TURNS, []).append(bench.measure(BASELINE, turns=TURN_RUN + 1))
            for name, text in replies:
                samples.setdefault(name, []).append(bench.measure(text, turns_for(text)))
    base = samples[BASELINE]
    print_table(
        f"Whole process in a {COLS}x{ROWS} pty, CPU (user + system), paired medians of {runs}",
        ["reply", "turns", "claudechat", "SDK only", "claudechat us/token",
         "SDK us/token", "ratio (target <= 1.5)", "ratio, turns' own cost apart",
         "piped ratio (one turn)", "ratio to stream() helper", "bytes / text (<= 3)"],
        [_row(name, text, samples[name], base, samples[TURNS]) for name, text in replies],
    )  # fmt: skip
    startup = median_of(base, "app", 0), median_of(base, "sdk", 0)
    note(
        f"one-word reply (start-up and one turn): claudechat {startup[0]:.2f} s CPU, "
        f"SDK-only script {startup[1]:.2f} s CPU"
    )
    sessions = list(zip(samples[TURNS], base, strict=True))
    turn = [
        statistics.median((many[key][0] - one[key][0]) / TURN_RUN for many, one in sessions)
        for key in ("app", "sdk")
    ]
    note(
        f"each further one-word turn of a session: claudechat {turn[0] * 1000:.1f} ms CPU, "
        f"the SDK {turn[1] * 1000:.1f} ms CPU"
    )


def _row(
    name: str, text: str, samples: list[Sample], base: list[Sample], sessions: list[Sample]
) -> list[str]:
    """One reply's figures, each the median over the rounds of what the reply added to that
    same round's one-word reply. "Turns' own cost apart" also takes off what the extra turns
    cost by themselves (that round's one-word session): the rendering and streaming alone.
    Piped runs one turn, so its ratio is shown where the run is one turn too."""
    turns = turns_for(text)
    tokens = len(token_chunks(text)) * turns
    rounds = list(zip(samples, base, strict=True))

    def per_token(key: str, part: int = 0, count: int = tokens) -> list[float]:
        return [(reply[key][part] - one_word[key][part]) / count for reply, one_word in rounds]

    def without_turns(key: str) -> list[float]:
        pairs = zip(sessions, base, strict=True)
        turn_cost = [(many[key][0] - one[key][0]) / TURN_RUN for many, one in pairs]
        return [
            added - cost * (turns - 1) / tokens
            for added, cost in zip(per_token(key), turn_cost, strict=True)
        ]

    app, sdk = per_token("app"), per_token("sdk")
    app_alone, sdk_alone = without_turns("app"), without_turns("sdk")
    piped = per_token("piped", count=tokens // turns)  # one turn
    median = statistics.median
    piped_ratio = median(p / s for p, s in zip(piped, sdk, strict=True)) if turns == 1 else None
    return [
        name,
        str(turns),
        f"{median_of(samples, 'app', 0):.2f} s",
        f"{median_of(samples, 'sdk', 0):.2f} s",
        f"{median(app) * 1e6:.0f}",
        f"{median(sdk) * 1e6:.0f}",
        f"{median(a / s for a, s in zip(app, sdk, strict=True)):.2f}",
        f"{median(a / s for a, s in zip(app_alone, sdk_alone, strict=True)):.2f}",
        "-" if piped_ratio is None else f"{piped_ratio:.2f}",
        f"{median(a / h for a, h in zip(app, per_token('helper'), strict=True)):.2f}",
        f"{median(per_token('app', 1, len(text.encode()) * turns)):.2f}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of --runs")
    parser.add_argument("--runs", type=int, default=7, help="Rounds (default 7).")
    args = parser.parse_args()
    run(3 if args.quick else args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
