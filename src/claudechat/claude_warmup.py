"""The SDK's first-use work, done before a `serve` worker's first reply instead of during it.

The first reply a process streams makes the SDK build the helpers that transform a request
and runs its HTTP and stream-decoding code for the first time: measured, about 20 ms on top of
that reply when the SDK still built a model of each event, which it no longer does
(bench/bench_serve_start.py). A worker does it at start: one request goes through the adapter
and the SDK exactly as a reply does, to a client whose transport answers in memory with a short
canned stream. No network, no cost, nothing saved.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from claudechat.blocks import text_block
from claudechat.claude import Claude
from claudechat.claude_stream import Reply
from claudechat.memory import ContextMessage

if TYPE_CHECKING:
    from claudechat.settings import Settings

MODEL = "claude-warm-up"
TEXT = "warm"

# A reply with the blocks and deltas of a plain answer (thinking, signature, text), as the
# Messages API streams it: every kind of event the adapter reads goes through it once.
EVENTS: list[dict[str, Any]] = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_warm_up",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": 1,
                "output_tokens": 1,
                "cache_read_input_tokens": 0,
                "cache_creation_input_tokens": 0,
            },
        },
    },
    {"type": "ping"},
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "thinking_delta", "thinking": "."},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "signature_delta", "signature": "s"},
    },
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": TEXT}},
    {"type": "content_block_stop", "index": 1},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 2},
    },
    {"type": "message_stop"},
]


def warm_up(settings: Settings) -> Reply:
    """Stream the canned reply through a Claude of its own; returns what it received."""
    import anthropic
    import httpx2

    body = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in EVENTS).encode()

    def answer(_request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    # The first-party API's request, whatever the provider: Bedrock's replies are the same
    # event types.
    first_party = replace(settings, values={**settings.values, "provider": "anthropic"})
    reply = Reply()
    with httpx2.Client(transport=httpx2.MockTransport(answer)) as http:
        client = anthropic.Anthropic(
            api_key="warm-up", base_url="http://warm-up.invalid", http_client=http, max_retries=0
        )
        context = [ContextMessage("user", (text_block("warm-up"),))]
        for _event in Claude(first_party, client=client).stream(context, MODEL, None, reply):
            pass
    return reply
