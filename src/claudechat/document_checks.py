"""What a stored document must hold to be read: fields of the right types, and a message tree
without repeated ids, missing parents or loops. Each check raises CorruptDocumentError naming
what is wrong, so a damaged document is reported, never misread or walked for ever.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from claudechat.errors import CorruptDocumentError

if TYPE_CHECKING:
    from claudechat.conversation import Message


def check_tree(messages: list[Message]) -> None:
    """Every parent is present, ids are unique and no chain loops: else the document is
    corrupt (a loop would hang every reader that walks a branch)."""
    by_id: dict[str, Message] = {}
    for message in messages:
        if message.id in by_id:
            raise CorruptDocumentError(f"message id {message.id} appears twice")
        by_id[message.id] = message
    rooted: set[str] = set()  # ids whose chain is known to reach a root: walked once each
    for message in messages:
        path: list[str] = []
        current = message
        while current.id not in rooted:
            if current.id in path:
                raise CorruptDocumentError("the message tree has a loop")
            path.append(current.id)
            if current.parent_id is None:
                break
            parent = by_id.get(current.parent_id)
            if parent is None:
                raise CorruptDocumentError(f"message {current.id} has a missing parent")
            current = parent
        rooted.update(path)


# -- field readers -------------------------------------------------------------------------


def str_field(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise CorruptDocumentError(f"field {key!r} is missing or not text")
    return value


def optional_str_field(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise CorruptDocumentError(f"field {key!r} is not text")
    return value


def id_field(data: dict[str, Any], key: str) -> str:
    value = str_field(data, key)
    if not value or len(value) > 64 or not value.isprintable():
        raise CorruptDocumentError(f"field {key!r} is not an id")
    return value


def optional_id_field(data: dict[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else id_field(data, key)


def conversation_id_field(data: dict[str, Any], key: str) -> str:
    """A conversation's id, in its canonical lower-case form: an export with one of another
    form was refused only by the save, after the files before it had been imported, and one
    in capitals was kept so (its row said ABCD..., its document's key abcd..., and no command
    found it by either)."""
    from claudechat.storage.ids import is_conversation_id

    value = str_field(data, key)
    if not is_conversation_id(value):  # as storage/ids.py takes one for a key
        raise CorruptDocumentError(f"field {key!r} is not a conversation id")
    return value.lower()


def optional_conversation_id_field(data: dict[str, Any], key: str) -> str | None:
    """A fork's parent: one of any form was taken as text, and `list` and `show` printed it,
    escape sequences and all."""
    return None if data.get(key) is None else conversation_id_field(data, key)


def check_head(head: str | None, messages: list[Message]) -> None:
    """The shown branch's newest message is one of the document's."""
    if head is not None and all(message.id != head for message in messages):
        raise CorruptDocumentError("field 'head' names no message of the document")


def count_field(data: dict[str, Any], key: str) -> int:
    """A token count; null (a server that sent no number) counts as 0, unknown."""
    value = data.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool):
        raise CorruptDocumentError(f"field {key!r} is not a whole number")
    return value


def time_field(data: dict[str, Any], key: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str_field(data, key))
    except ValueError as exc:
        raise CorruptDocumentError(f"field {key!r} is not an ISO time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
