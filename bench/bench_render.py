"""CPU cost of rendering a streamed reply, per token, against the SDK's own cost.

Replies of about 1k, 4k and 16k tokens of mixed markdown are fed to
MarkdownStreamRenderer one token (4 characters) at a time. Instead of sleeping
to simulate 100 tokens/s with 4 refreshes/s, the live region is refreshed every
25 tokens, which is the same work. The floor is the anthropic SDK consuming the
same tokens as a Messages API event stream (one HTTP chunk per event, through a
mock transport, so no sockets): `messages.stream(...).text_stream`.

    .venv/bin/python bench/bench_render.py
"""

from __future__ import annotations

import io
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rich.console import Console
from rich.markdown import Markdown

from claudechat.render import MarkdownStreamRenderer, split_finished_blocks

CHARS_PER_TOKEN = 4
TOKENS_PER_REFRESH = 25  # 4 refreshes/s at 100 tokens/s
RUNS = 5
REPLY_TOKENS = (1_000, 4_000, 16_000)

WORDS = (  # noqa: SIM905 - a sentence reads better than a 35-line list
    "the a stream token render block list table code reply model terminal line "
    "markdown parse refresh cost value function return error request response cache "
    "server client buffer index query result option default config simple quickly"
).split()


# --------------------------------------------------------------------------- the reply


def words(rng: random.Random, count: int) -> str:
    chosen = [rng.choice(WORDS) for _ in range(count)]
    if rng.random() < 0.5:
        chosen[rng.randrange(count)] = f"`{rng.choice(WORDS)}()`"
    if rng.random() < 0.5:
        chosen[rng.randrange(count)] = f"**{rng.choice(WORDS)}**"
    return " ".join(chosen)


def paragraph(rng: random.Random) -> str:
    return words(rng, rng.randint(40, 110)).capitalize() + "."


def bullet_list(rng: random.Random) -> str:
    return "\n".join(f"- {words(rng, rng.randint(5, 18))}" for _ in range(rng.randint(3, 6)))


def loose_numbered_list(rng: random.Random) -> str:
    items = []
    for number in range(1, rng.randint(3, 5) + 1):
        item = f"{number}. **{rng.choice(WORDS).title()}**: {words(rng, rng.randint(8, 20))}"
        if rng.random() < 0.5:
            item += f"\n   {words(rng, rng.randint(6, 14))}"
        items.append(item)
    return "\n\n".join(items)


def code_block(rng: random.Random) -> str:
    lines = ["```python"]
    for index in range(rng.randint(8, 30)):
        name, arg = rng.choice(WORDS), rng.choice(WORDS)
        if index % 7 == 6:
            lines.append("")
        elif index % 5 == 0:
            lines.append(f"def {name}_{index}({arg}: int) -> int:")
        else:
            lines.append(
                f"    {name} = {arg}_{index} + {rng.randint(0, 99)}  # {rng.choice(WORDS)}"
            )
    lines.append("```")
    return "\n".join(lines)


def table(rng: random.Random) -> str:
    rows = ["| Option | Default | Meaning |", "|---|---:|---|"]
    for _ in range(rng.randint(3, 7)):
        rows.append(f"| `{rng.choice(WORDS)}` | {rng.randint(0, 999)} | {words(rng, 6)} |")
    return "\n".join(rows)


def section(rng: random.Random) -> list[str]:
    """About 1k tokens with the same mix every time, so replies of any length
    have the same composition and their per-token costs compare."""
    return [
        f"## {words(rng, 4).title()}",
        paragraph(rng),
        bullet_list(rng),
        paragraph(rng),
        code_block(rng),
        loose_numbered_list(rng),
        paragraph(rng),
        table(rng),
        code_block(rng),
        paragraph(rng),
    ]


def mixed_reply(tokens: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    blocks: list[str] = []
    while sum(map(len, blocks)) < tokens * CHARS_PER_TOKEN:
        blocks.extend(section(rng))
    return "\n\n".join(blocks)[: tokens * CHARS_PER_TOKEN] + "\n"


def long_code_reply(tokens: int, code_lines: int, seed: int = 0) -> str:
    """Mixed markdown around one long code block (a whole file, say)."""
    rng = random.Random(seed)
    code = [
        f"    value_{n} = compute({rng.choice(WORDS)!r}, {n})  # step {n}"
        for n in range(code_lines)
    ]
    before, after = mixed_reply(tokens // 2, seed), mixed_reply(tokens // 2, seed + 1)
    return before + "\n```python\n" + "\n".join(code) + "\n```\n\n" + after


def token_chunks(text: str) -> list[str]:
    return [text[i : i + CHARS_PER_TOKEN] for i in range(0, len(text), CHARS_PER_TOKEN)]


# --------------------------------------------------------------------------- the renderer


class CountingRenderer(MarkdownStreamRenderer):
    markdown_builds = 0

    def make_markdown(self, text: str) -> Markdown:
        self.markdown_builds += 1
        return super().make_markdown(text)


def render_once(chunks: list[str], refresh_every: int = TOKENS_PER_REFRESH) -> tuple[float, int]:
    """CPU seconds per token for one streamed reply, and the Markdown builds it took."""
    console = Console(
        file=io.StringIO(), force_terminal=True, width=100, height=40, color_system="truecolor"
    )
    renderer = CountingRenderer(console, auto_refresh=False)
    start = time.process_time()
    for index, chunk in enumerate(chunks, 1):
        renderer.feed(chunk)
        if index % refresh_every == 0:
            renderer.refresh()
    renderer.finish()
    return (time.process_time() - start) / len(chunks), renderer.markdown_builds


# --------------------------------------------------------------------------- the SDK floor


def sse_events(chunks: list[str]) -> list[bytes]:
    """The Messages API's event stream for a reply made of these text deltas."""

    def event(name: str, data: dict[str, object]) -> bytes:
        return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

    message: dict[str, object] = {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "claude-bench",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }
    text_block = {"type": "text", "text": ""}
    events = [
        event("message_start", {"type": "message_start", "message": message}),
        event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": text_block},
        ),
        event("ping", {"type": "ping"}),
    ]
    for chunk in chunks:
        delta = {"type": "text_delta", "text": chunk}
        events.append(
            event(
                "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
            )
        )
    events += [
        event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": len(chunks)},
            },
        ),
        event("message_stop", {"type": "message_stop"}),
    ]
    return events


def sdk_once(chunks: list[str], expected_text: str) -> float:
    """CPU seconds per event for the SDK to consume the reply's event stream."""
    import anthropic
    import httpx2

    events = sse_events(chunks)

    def respond(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream"}, content=iter(events)
        )

    http_client = httpx2.Client(transport=httpx2.MockTransport(respond))
    client = anthropic.Anthropic(
        api_key="bench", base_url="http://bench.invalid", http_client=http_client, max_retries=0
    )
    received: list[str] = []
    start = time.process_time()
    with client.messages.stream(
        model="claude-bench", max_tokens=32_000, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        for text in stream.text_stream:
            received.append(text)
    elapsed = time.process_time() - start
    http_client.close()
    assert "".join(received) == expected_text
    return elapsed / len(events)


# --------------------------------------------------------------------------- the table


def median_of_runs(measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(RUNS))


class Row(NamedTuple):
    reply: str
    tokens: int
    blocks: int
    markdown_builds: int
    renderer: float  # CPU seconds per token, live refreshes included
    no_refresh: float  # the same without periodic refreshes
    sdk: float  # CPU seconds per event


def measure(reply: str, text: str) -> Row:
    chunks = token_chunks(text)
    renderer_costs, builds = zip(*(render_once(chunks) for _ in range(RUNS)), strict=True)
    no_refresh = median_of_runs(lambda: render_once(chunks, refresh_every=len(chunks) + 1)[0])
    sdk_cost = median_of_runs(lambda: sdk_once(chunks, text))
    blocks = len(split_finished_blocks(text)[0]) + 1
    renderer_cost = statistics.median(renderer_costs)
    return Row(reply, len(chunks), blocks, builds[0], renderer_cost, no_refresh, sdk_cost)


def replies() -> list[tuple[str, str]]:
    mixed = [(f"mixed {tokens // 1000}k", mixed_reply(tokens)) for tokens in REPLY_TOKENS]
    return [*mixed, ("mixed 4k + 300-line code block", long_code_reply(4_000, 300))]


def print_row(cells: list[str], widths: list[int]) -> None:
    print(
        "| "
        + " | ".join(cell.rjust(width) for cell, width in zip(cells, widths, strict=True))
        + " |"
    )


def main() -> None:
    render_once(token_chunks(mixed_reply(300, seed=1)))  # warm imports and caches
    sdk_once(token_chunks("warm up"), "warm up")
    print(
        f"CPU time (time.process_time), median of {RUNS} runs; {CHARS_PER_TOKEN} chars per token,"
        f" live refresh every {TOKENS_PER_REFRESH} tokens (4/s at 100 tokens/s)"
    )
    headings = [
        "reply", "tokens", "blocks", "Markdown()", "renderer us/token",
        "no refreshes us/token", "SDK us/event", "renderer/SDK",
    ]  # fmt: skip
    widths = [max(len(heading), 30 if index == 0 else 0) for index, heading in enumerate(headings)]
    print_row(headings, widths)
    print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    results = []
    for reply, text in replies():
        row = measure(reply, text)
        results.append(row)
        cells = [row.reply, str(row.tokens), str(row.blocks), str(row.markdown_builds)]
        cells += [
            f"{row.renderer * 1e6:.1f}",
            f"{row.no_refresh * 1e6:.1f}",
            f"{row.sdk * 1e6:.1f}",
        ]
        cells.append(f"{row.renderer / row.sdk:.2f}")
        print_row(cells, widths)
    growth = results[len(REPLY_TOKENS) - 1].renderer / results[0].renderer
    verdict = "flat" if growth < 1.25 else "NOT flat"
    print(
        f"renderer CPU per token, mixed {REPLY_TOKENS[-1] // 1000}k vs {REPLY_TOKENS[0] // 1000}k:"
        f" x{growth:.2f} ({verdict})"
    )


if __name__ == "__main__":
    main()
