"""A streamed reply: the raw events of the Messages API's stream (plain JSON, as sent) read
into a Reply, and claudechat's neutral events for them. Part of the adapter (claude.py), with
no SDK import.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from claudechat.blocks import Block, text_of
from claudechat.conversation import Usage
from claudechat.events import (
    BlockDone,
    Event,
    Opened,
    Stop,
    TextDelta,
    ThinkingDelta,
    UsageUpdate,
)


@dataclass
class Reply:
    """What one streamed request produced so far; complete only once message_stop arrived.

    `blocks` holds the finished content blocks in order; `open_blocks` the ones still
    arriving, by their index in the stream."""

    blocks: list[Block] = field(default_factory=list)
    open_blocks: dict[int, Block] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    complete: bool = False
    model: str | None = None
    citations: list[dict[str, Any]] = field(default_factory=list)  # passages of documents
    # Deltas of open blocks, joined when read: `block["text"] += delta` copied the whole
    # text so far for every token.
    pieces: dict[tuple[int, str], list[str]] = field(default_factory=dict)
    started: set[int] = field(default_factory=set)  # indexes a content_block_start opened

    @property
    def text(self) -> str:
        return text_of(self.content())

    def add_piece(self, index: int, key: str, piece: str) -> None:
        self.pieces.setdefault((index, key), []).append(piece)

    def settle(self) -> None:
        """Join the deltas received into their open blocks."""
        for (index, key), parts in self.pieces.items():
            block = self.open_blocks.get(index)
            if block is not None:
                block[key] += "".join(parts)
        self.pieces.clear()

    def content(self) -> list[Block]:
        """The blocks worth keeping: every finished one, and the text of an unfinished text
        block. Thinking cut short has no signature, so the API would refuse it back."""
        self.settle()
        kept = list(self.blocks)
        for index in sorted(self.open_blocks):
            block = self.open_blocks[index]
            if block["type"] == "text" and block["text"]:
                kept.append(dict(block))
        return kept

    def thinking(self) -> str:
        self.settle()
        return "".join(
            b["thinking"]
            for b in [*self.blocks, *self.open_blocks.values()]
            if b["type"] == "thinking"
        )


def absorb(event: Any, reply: Reply) -> Iterator[Event]:
    """One raw event (a JSON object, as sent) into `reply`, and claudechat's events for it."""
    if not isinstance(event, dict):
        return  # nothing claudechat reads: a server that is almost the API
    kind = event.get("type")
    if kind == "content_block_delta":
        delta = _object(event.get("delta"))
        if delta.get("type") == "citations_delta":
            reply.citations.append(_citation(_object(delta.get("citation"))))
        else:
            yield from _absorb_delta(_index(event), delta, reply)
    elif kind == "content_block_start":
        index = _index(event)
        reply.started.add(index)
        block = _neutral_block(_object(event.get("content_block")))
        if block is not None:
            reply.settle()  # a block started again at the same index keeps what came before
            reply.open_blocks[index] = block
    elif kind == "content_block_stop":
        reply.settle()
        done = reply.open_blocks.pop(_index(event), None)
        if done is not None:
            reply.blocks.append(done)
            yield BlockDone(done)
    elif kind == "message_start":
        reply.usage = _usage(_object(event.get("message")).get("usage"), Usage())
        yield Opened()
        yield UsageUpdate(reply.usage)
    elif kind == "message_delta":
        reason = _object(event.get("delta")).get("stop_reason")
        reply.stop_reason = reason if isinstance(reason, str) else None
        reply.usage = _usage(event.get("usage"), reply.usage)
        yield UsageUpdate(reply.usage)
    elif kind == "message_stop":
        reply.complete = True
        yield Stop(reply.stop_reason)


def _object(value: Any) -> dict[str, Any]:
    """A part of an event that should be a JSON object; an empty one when it is not."""
    return value if isinstance(value, dict) else {}


def _index(event: dict[str, Any]) -> int:
    index = event.get("index")
    if not isinstance(index, int) or isinstance(index, bool):
        raise StreamOrderError(f"an event without a content block's index: {event.get('type')}")
    return index


def _absorb_delta(index: int, delta: dict[str, Any], reply: Reply) -> Iterator[Event]:
    if index not in reply.started:
        # Events out of order, from a server that is almost the API: the stream cannot be
        # trusted further (the reply so far is kept, cut off).
        raise StreamOrderError(f"a delta for content block {index}, which never started")
    block = reply.open_blocks.get(index)
    kind = delta.get("type")
    if kind == "text_delta":
        text = _text(delta, "text")
        if block is None or block["type"] != "text":  # its block is not open as text: keep it
            reply.settle()  # what a block of another type already received stays with it
            reply.open_blocks[index] = {"type": "text", "text": ""}
        reply.add_piece(index, "text", text)
        yield TextDelta(text)
    elif kind == "thinking_delta" and block is not None and block["type"] == "thinking":
        thinking = _text(delta, "thinking")
        reply.add_piece(index, "thinking", thinking)
        yield ThinkingDelta(thinking)
    elif kind == "signature_delta" and block is not None and block["type"] == "thinking":
        reply.add_piece(index, "signature", _text(delta, "signature"))


def _text(part: dict[str, Any], key: str) -> str:
    value = part.get(key)
    return value if isinstance(value, str) else ""


class StreamOrderError(ValueError):
    pass


def _neutral_block(block: dict[str, Any]) -> Block | None:
    """A starting content block in claudechat's form; None for kinds it does not keep yet."""
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": _text(block, "text")}
    if kind == "thinking":
        return {"type": "thinking", "thinking": _text(block, "thinking"), "signature": ""}
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": _text(block, "data")}
    return None


def _citation(citation: dict[str, Any]) -> dict[str, Any]:
    """The parts of a citation worth showing and keeping: the passage and where it is."""
    found = {
        "cited_text": citation.get("cited_text", ""),
        "document_title": citation.get("document_title"),
        "start_page": citation.get("start_page_number"),
        "end_page": citation.get("end_page_number"),
    }
    return {key: value for key, value in found.items() if value is not None}


# Usage fields as the API names them, and as claudechat does. message_delta's usage is
# cumulative and any field may appear in it (input_tokens included), so the latest figure
# wins; a field a server leaves out or sends as null keeps what was known (0 = unknown).
_USAGE_FIELDS = (
    ("input_tokens", "input_tokens"),
    ("output_tokens", "output_tokens"),
    ("cache_read_input_tokens", "cache_read_tokens"),
    ("cache_creation_input_tokens", "cache_creation_tokens"),
)


def _usage(usage: Any, known: Usage) -> Usage:
    figures: dict[str, int] = {}
    for wire, ours in _USAGE_FIELDS:
        value = usage.get(wire) if isinstance(usage, dict) else None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            figures[ours] = value
        else:
            figures[ours] = getattr(known, ours)
    return Usage(**figures)
