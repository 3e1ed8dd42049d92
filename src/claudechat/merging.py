"""How two copies of one conversation become one: the union of their messages by id, and
last-writer-wins for the fields sessions may change (conversation.LWW_FIELDS). Every save is
such a merge, so sessions, processes and machines saving the same conversation in any order,
or the same save twice, end with the same document.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from claudechat.conversation import EPOCH, LWW_FIELDS, Conversation, Message
from claudechat.jsontext import canonical_json

# A status only moves forward: pending is the one state a message leaves.
_STATUS_RANK = {"pending": 0, "incomplete": 1, "interrupted": 1, "complete": 2}


def merge(ours: Conversation, theirs: Conversation) -> Conversation:
    """Both sides' messages, by id; the newer setting of each field. Commutative, idempotent
    and associative, so any number of sessions saving in any order agree, and a save that is
    repeated (a journal pushed twice) changes nothing."""
    if (ours.id, ours.user_id) != (theirs.id, theirs.user_id):
        raise ValueError("only two copies of the same conversation can be merged")
    messages: dict[str, Message] = {m.id: m for m in ours.messages}
    for message in theirs.messages:
        mine = messages.get(message.id)
        messages[message.id] = message if mine is None else _further(mine, message)
    merged = replace(
        ours,
        messages=sorted(messages.values(), key=Message.sort_key),
        created_at=min(ours.created_at, theirs.created_at),
        updated_at=max(ours.updated_at, theirs.updated_at),
        # Set once, when a fork is made; min() keeps the merge commutative all the same.
        parent_id=min((p for p in (ours.parent_id, theirs.parent_id) if p), default=None),
        set_at={},
    )
    for name in LWW_FIELDS:
        winner = max(ours, theirs, key=lambda side: _stamp(side, name))
        setattr(merged, name, getattr(winner, name))
        merged.set_at[name] = winner.set_at.get(name, EPOCH)
    return merged


def covers(newer: Conversation, older: Conversation) -> bool:
    """Whether merging `older` into `newer` changes nothing (a session saving again, say):
    every message of older is in newer as far along, and every field as merge would keep it."""
    mine = {m.id: m for m in newer.messages}
    for message in older.messages:
        found = mine.get(message.id)
        if found is None or (found != message and _further(message, found) is not found):
            return False
    parents = (p for p in (newer.parent_id, older.parent_id) if p)
    return (
        newer.created_at <= older.created_at
        and newer.updated_at >= older.updated_at
        and newer.parent_id == min(parents, default=None)
        and all(_stamp(newer, name) >= _stamp(older, name) for name in LWW_FIELDS)
    )


def _stamp(side: Conversation, name: str) -> tuple[datetime, str]:
    # The value breaks ties, so two writes in the same microsecond still merge the same way
    # in either order.
    return (side.set_at.get(name, EPOCH), canonical_json(getattr(side, name)))


def _further(a: Message, b: Message) -> Message:
    """Of two copies of one message, the one further along: a status only moves forward and a
    token count only becomes exact. Anything else differing breaks the tie deterministically."""
    if a == b:  # the usual case: the same message on both sides, no JSON needed
        return a

    def key(message: Message) -> tuple[int, bool, str]:
        rank = _STATUS_RANK.get(message.status, 0)
        return (rank, message.tokens_exact, canonical_json(message.to_dict()))

    return max(a, b, key=key)
