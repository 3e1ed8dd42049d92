"""Conversation documents as bytes, and the metadata row that describes one."""

from __future__ import annotations

import json
from collections.abc import Iterable

from claudechat.conversation import Conversation, dumps_json
from claudechat.errors import CorruptDocumentError, MissingDocumentError
from claudechat.jsontext import storable_text
from claudechat.merging import merge
from claudechat.storage.blobs import BlobNotFoundError
from claudechat.storage.metadata import ConversationRow

# A stored conversation that cannot be read: commands going over many skip it and say so.
UNREADABLE = (CorruptDocumentError, MissingDocumentError, BlobNotFoundError)

PREVIEW_CHARS = 200


# What a deleted conversation's document is replaced by: a save still running elsewhere
# (a turn in another terminal, a serve request) finds it and stops, instead of writing the
# conversation back as if it were new.
_TOMBSTONE_START = b'{"deleted": true'


def tombstone(user_id: str, conversation_id: str) -> bytes:
    from claudechat.conversation import utc_now

    marker = {"id": conversation_id, "user_id": user_id, "at": utc_now().isoformat()}
    return _TOMBSTONE_START + b", " + dumps_json(marker)[1:].encode("utf-8")


def is_tombstone(data: bytes) -> bool:
    return data.startswith(_TOMBSTONE_START)


def encode_document(conversation: Conversation) -> bytes:
    return dumps_json(conversation.to_document()).encode("utf-8")


def decode_document(data: bytes, location: str | None = None) -> Conversation:
    try:
        parsed = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CorruptDocumentError("it is not UTF-8 text", location) from exc
    except json.JSONDecodeError as exc:
        where = f"{exc.msg.removesuffix(' at')} at char {exc.pos}"  # "...starting at" + at
        raise CorruptDocumentError(f"invalid JSON ({where})", location) from exc
    except ValueError as exc:  # e.g. an integer longer than Python converts
        raise CorruptDocumentError(f"invalid JSON ({exc})", location) from exc
    except RecursionError as exc:
        raise CorruptDocumentError("it is nested too deeply", location) from exc
    try:
        return Conversation.from_document(parsed)
    except CorruptDocumentError as exc:
        if location and exc.reason != "newer format":
            raise CorruptDocumentError(exc.reason, location) from exc
        raise


def merged_by_id(conversations: Iterable[Conversation]) -> dict[str, Conversation]:
    """One conversation per id, from several copies of it (e.g. journal entries of several
    writers): their merge."""
    merged: dict[str, Conversation] = {}
    for conversation in conversations:
        known = merged.get(conversation.id)
        merged[conversation.id] = conversation if known is None else merge(known, conversation)
    return merged


def newest_rows(conversations: Iterable[Conversation]) -> dict[str, ConversationRow]:
    """One row per conversation, the row of the merge of its copies."""
    return {key: row_for(value, "local") for key, value in merged_by_id(conversations).items()}


def row_for(conversation: Conversation, location: str) -> ConversationRow:
    branch = conversation.branch()
    first_user = next((m.text for m in branch if m.role == "user" and m.text.strip()), None)
    return ConversationRow(
        conversation_id=conversation.id,
        user_id=conversation.user_id,
        conversation_name=storable_text(conversation.name) if conversation.name else None,
        s3_file_location=location,
        model=conversation.model,
        message_count=len(branch),
        preview=storable_text(first_user[:PREVIEW_CHARS]) if first_user else None,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        parent_id=conversation.parent_id,
        cost_usd=_cost(conversation),
    )


def _cost(conversation: Conversation) -> float | None:
    """At the packaged list prices; None when a reply's model has no price, so `list` never
    shows a partial sum as the total. A fork counts the replies made in it, not the ones it
    copied from its parent (made before it was): `usage` counts each reply once, where it was
    made, and summing `list` paid for the copies twice."""
    from claudechat.pricing import conversation_cost, made_here, price_table, usd_figure

    return usd_figure(conversation_cost(made_here(conversation), price_table()))
