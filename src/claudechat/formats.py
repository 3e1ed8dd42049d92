"""Upgrades of stored documents from older formats, in memory; saved in the newest on write.

Format 1 (claudechat 0.1) held one list of messages without ids. Upgrading gives each message
an id derived from the conversation id and its position, so two processes that upgrade the
same document independently produce the same ids, and their saves merge instead of doubling
every message.
"""

from __future__ import annotations

import uuid
from typing import Any

from claudechat.errors import CorruptDocumentError


def upgrade_format_1(data: dict[str, Any]) -> dict[str, Any]:
    messages = data.get("messages")
    conversation_id = data.get("id")
    if not isinstance(messages, list) or not isinstance(conversation_id, str):
        raise CorruptDocumentError("the document has no message list")
    try:
        namespace = uuid.UUID(conversation_id)
    except ValueError as exc:
        raise CorruptDocumentError("field 'id' is not a conversation id") from exc
    upgraded: list[dict[str, Any]] = []
    last_id: str | None = None  # the message the next one follows
    last_role: str | None = None
    for position, message in enumerate(messages):
        if not isinstance(message, dict):
            raise CorruptDocumentError("a message is not an object")
        message_id = str(uuid.uuid5(namespace, str(position)))
        parent = last_id
        if message.get("role") == "assistant" and last_role == "assistant":
            # Format 1 kept a /retry that was cut short after the earlier reply: they are two
            # answers to one question, so siblings, and the earlier (whole) one stays shown.
            parent = upgraded[-1]["parent_id"]
            upgraded.append({**message, "id": message_id, "parent_id": parent})
            continue
        upgraded.append({**message, "id": message_id, "parent_id": parent})
        last_id, last_role = message_id, message.get("role")
    set_at = data.get("updated_at")
    return {
        **data,
        "format": 2,
        "messages": upgraded,
        "head": last_id,
        "set_at": dict.fromkeys(("name", "model", "system", "head"), set_at),
    }
