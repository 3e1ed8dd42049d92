"""The renderer in-process: CPU per token and bytes written, against the SDK's own cost.

Replies of about 1k, 4k and 16k tokens (code-heavy, table-heavy, mixed) are fed to
MarkdownStreamRenderer one token (4 characters) at a time, in a 100x40 terminal with 256
colours (what TERM=xterm-256color gets). Instead of sleeping
to simulate 100 tokens/s with 4 refreshes/s, the live region is refreshed every
25 tokens, which is the same work. The floor is the anthropic SDK consuming the
same tokens as a Messages API event stream (one HTTP chunk per event, through a
mock transport, so no sockets): `messages.stream(...).text_stream`.

    .venv/bin/python bench/bench_render.py [--quick]

bench_terminal.py measures the same in a whole process in a pseudo-terminal.
"""

from __future__ import annotations

import io
import json
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from replies import REPLIES, REPLY_TOKENS, long_code_reply, mixed_reply, token_chunks

TOKENS_PER_REFRESH = 25  # 4 refreshes/s at 100 tokens/s
RUNS = 5


# --------------------------------------------------------------------------- the renderer


class CountingRenderer(MarkdownStreamRenderer):
    markdown_builds = 0

    def make_markdown(self, text: str) -> Markdown:
        self.markdown_builds += 1
        return super().make_markdown(text)


def render_once(
    chunks: list[str], refresh_every: int = TOKENS_PER_REFRESH
) -> tuple[float, int, int]:
    """CPU seconds per token for one streamed reply, the Markdown builds it took and the
    bytes it wrote."""
    console = Console(
        file=io.StringIO(), force_terminal=True, width=100, height=40, color_system="256"
    )
    renderer = CountingRenderer(console, auto_refresh=False)
    start = time.process_time()
    for index, chunk in enumerate(chunks, 1):
        renderer.feed(chunk)
        if index % refresh_every == 0:
            renderer.refresh()
    renderer.finish()
    cpu = (time.process_time() - start) / len(chunks)
    return cpu, renderer.markdown_builds, len(console.file.getvalue().encode())  # type: ignore[attr-defined]


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
    bytes_ratio: float  # bytes written / bytes of the reply's text


def measure(reply: str, text: str) -> Row:
    chunks = token_chunks(text)
    renderer_costs, sdk_costs, builds, written = [], [], 0, 0
    for _ in range(RUNS):  # interleaved, so a noisy machine moves both together
        cost, builds, written = render_once(chunks)
        renderer_costs.append(cost)
        sdk_costs.append(sdk_once(chunks, text))
    no_refresh = median_of_runs(lambda: render_once(chunks, refresh_every=len(chunks) + 1)[0])
    blocks = len(split_finished_blocks(text)[0]) + 1
    return Row(
        reply,
        len(chunks),
        blocks,
        builds,
        statistics.median(renderer_costs),
        no_refresh,
        statistics.median(sdk_costs),
        written / len(text.encode()),
    )


def replies() -> list[tuple[str, str]]:
    found = [
        (f"{kind} {tokens // 1000}k", make(tokens))
        for kind in ("code-heavy", "table-heavy")
        for tokens in REPLY_TOKENS
        for make in [REPLIES[kind]]
    ]
    found += [(f"mixed {tokens // 1000}k", mixed_reply(tokens)) for tokens in REPLY_TOKENS]
    return [*found, ("mixed 4k + 300-line code block", long_code_reply(4_000, 300))]


def print_row(cells: list[str], widths: list[int]) -> None:
    print(
        "| "
        + " | ".join(cell.rjust(width) for cell, width in zip(cells, widths, strict=True))
        + " |"
    )
    sys.stdout.flush()


def main() -> None:
    global RUNS
    if "--quick" in sys.argv:
        RUNS = 3
    render_once(token_chunks(mixed_reply(300, seed=1)))  # warm imports and caches
    sdk_once(token_chunks("warm up"), "warm up")
    print(
        f"CPU time (time.process_time), median of {RUNS} runs; 4 chars per token, live "
        f"refresh every {TOKENS_PER_REFRESH} tokens (4/s at 100 tokens/s); targets: renderer "
        "<= 1.5x SDK per token, bytes <= 3x the text"
    )
    headings = [
        "reply", "tokens", "blocks", "Markdown()", "renderer us/token",
        "no refreshes us/token", "SDK us/event", "renderer/SDK", "bytes/text",
    ]  # fmt: skip
    widths = [max(len(heading), 30 if index == 0 else 0) for index, heading in enumerate(headings)]
    print_row(headings, widths)
    print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    for reply, text in replies():
        row = measure(reply, text)
        cells = [row.reply, str(row.tokens), str(row.blocks), str(row.markdown_builds)]
        cells += [
            f"{row.renderer * 1e6:.1f}",
            f"{row.no_refresh * 1e6:.1f}",
            f"{row.sdk * 1e6:.1f}",
            f"{row.renderer / row.sdk:.2f}",
            f"{row.bytes_ratio:.2f}",
        ]
        print_row(cells, widths)


if __name__ == "__main__":
    main()
