"""claudechat's neutral blocks as the Messages API takes them: plain dicts, so this needs
no SDK import and the adapter (claude.py) sends what it returns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from claudechat.blocks import Block
from claudechat.conversation import replace_lone_surrogates


def api_blocks(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    """claudechat's neutral blocks as the Messages API takes them (new dicts: the caller may
    add cache_control without touching the conversation)."""
    converted: list[dict[str, Any]] = []
    for block in blocks:
        if block.get("type") == "text":
            converted.append({"type": "text", "text": replace_lone_surrogates(block["text"])})
        elif block.get("type") == "attachment":
            converted.append(attachment_api_block(block))
        else:
            converted.append(dict(block))
    return converted


def attachment_api_block(block: Block) -> dict[str, Any]:
    """An attachment whose bytes the session put in "data": an image block, a PDF document
    block (citations on when the session says the model has them), or a text block headed
    by the file's name."""
    data: bytes = block["data"]
    media_type = block["media_type"]
    if media_type == "application/pdf":
        document: dict[str, Any] = {
            "type": "document",
            "source": {"type": "base64", "media_type": media_type, "data": _b64(data)},
            "title": block["name"],
        }
        if block.get("citations"):
            document["citations"] = {"enabled": True}
        return document
    if media_type.startswith("image/"):
        source = {"type": "base64", "media_type": media_type, "data": _b64(data)}
        return {"type": "image", "source": source}
    # utf-8-sig: a byte-order mark the file starts with (kept in its stored bytes) is no text.
    text = data.decode("utf-8-sig", "replace")
    return {"type": "text", "text": f"File: {block['name']}\n\n{text}"}


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")
