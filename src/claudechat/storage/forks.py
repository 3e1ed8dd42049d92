"""/fork: a branch of a conversation copied into a new conversation that records its parent.

Apart from the store: it is built on an ordinary save, so it needs nothing of the store's
insides, and the store stays about keeping documents and rows in step.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from claudechat.conversation import Conversation

if TYPE_CHECKING:
    from claudechat.storage.store import ConversationStore


def fork(
    store: ConversationStore, conversation: Conversation, upto: str | None = None
) -> Conversation:
    """A new conversation continuing from `upto` (default: the shown branch's end), that
    records where it came from."""
    branch = conversation.branch(upto)
    forked = replace(
        Conversation.new(conversation.user_id, conversation.model),
        name=conversation.name,
        system=conversation.system,
        parent_id=conversation.id,
        messages=[replace(m) for m in branch],
        head=branch[-1].id if branch else None,
    )
    store.save(forked)
    return forked
