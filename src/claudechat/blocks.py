"""Content blocks: what a message is made of, in claudechat's own neutral form.

A block is a small JSON object with a "type": text, thinking (with its signature), redacted
thinking (opaque data, sent back as it came), and attachment (a reference to a stored file,
never its bytes). The adapter turns them into the API's blocks; nothing else needs the SDK.
"""

from __future__ import annotations

from typing import Any

from claudechat.errors import CorruptDocumentError

Block = dict[str, Any]

# Each block type and the text fields it must carry.
BLOCK_FIELDS: dict[str, tuple[str, ...]] = {
    "text": ("text",),
    "thinking": ("thinking", "signature"),
    "redacted_thinking": ("data",),
    "attachment": ("sha256", "media_type", "name"),
}

# Blocks of Claude's thinking: no answer by themselves.
THINKING_TYPES = ("thinking", "redacted_thinking")


def text_block(text: str) -> Block:
    return {"type": "text", "text": text}


def text_of(blocks: list[Block]) -> str:
    return "".join(block["text"] for block in blocks if block.get("type") == "text")


def blocks_from_json(data: Any) -> list[Block]:
    """Validated blocks of a stored message; a bare string (older documents) is one text block."""
    if isinstance(data, str):
        return [text_block(data)]
    if not isinstance(data, list):
        raise CorruptDocumentError("a message's content is not a list of blocks")
    return [_block(item) for item in data]


def _block(item: Any) -> Block:
    if not isinstance(item, dict):
        raise CorruptDocumentError("a content block is not an object")
    kind = item.get("type")
    fields = BLOCK_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        raise CorruptDocumentError(f"a content block has an unknown type: {str(kind)[:40]!r}")
    for name in fields:
        if not isinstance(item.get(name), str):
            raise CorruptDocumentError(f"a {kind} block has no text field {name!r}")
    return dict(item)
