"""claudechat's own conversation types, shared by the REPL, the renderer, memory and storage.

Nothing here knows about the anthropic SDK or SQL: the adapter modules translate to and from
these types, and the stored JSON document is exactly `Conversation.to_document()`.

Format 2: a conversation is a tree. Every message has an id and its parent's id, so two
sessions continuing the same conversation make two branches of it, and saving is a merge:
the union of both sides' messages by id, last-writer-wins for name, model, system prompt and
the shown branch. A merge never drops a message, and merging in any order, or twice, gives the
same document (see `merge`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from claudechat.blocks import Block, blocks_from_json, text_block, text_of
from claudechat.document_checks import (
    check_head,
    check_tree,
    conversation_id_field,
    count_field,
    id_field,
    optional_conversation_id_field,
    optional_id_field,
    optional_str_field,
    str_field,
    time_field,
)
from claudechat.errors import CorruptDocumentError, NewerFormatError
from claudechat.jsontext import dumps_json, replace_lone_surrogates

__all__ = [
    "FORMAT_VERSION",
    "STATUSES",
    "Conversation",
    "Message",
    "Usage",
    "dumps_json",
    "new_conversation_id",
    "replace_lone_surrogates",
    "utc_now",
]

FORMAT_VERSION = 2

Role = Literal["user", "assistant"]
# complete: a whole reply (message_stop seen), or a user message that was answered.
# interrupted: the user pressed Ctrl-C (or a signal stopped the program).
# incomplete: the stream was cut off by the network or the server.
# pending: a user message whose reply has not arrived (yet, or ever: the API failed).
Status = Literal["complete", "interrupted", "incomplete", "pending"]
STATUSES: tuple[str, ...] = ("complete", "interrupted", "incomplete", "pending")

# Fields of a conversation that sessions may change; each remembers when it was set.
LWW_FIELDS = ("name", "model", "system", "head")
# When a field never set was set: before any real time.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_conversation_id() -> str:
    return str(uuid.uuid4())


def new_message_id() -> str:
    return str(uuid.uuid4())


_USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")


@dataclass(frozen=True)
class Usage:
    """Tokens as the API reported them for one reply; None where the server gave no number."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0

    def __post_init__(self) -> None:
        # The rule reading a document applies (see from_dict), checked when the figures are
        # made, so claudechat never writes usage it would refuse to read back.
        for name in _USAGE_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"usage {name} is not a whole number: {value!r}")

    @property
    def prompt_tokens(self) -> int:
        """Everything the request put in the context window, cached or not."""
        return self.input_tokens + self.cache_read_tokens + self.cache_creation_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_creation_tokens + other.cache_creation_tokens,
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_creation_tokens": self.cache_creation_tokens,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Usage:
        return cls(**{k: count_field(data, k) for k in _USAGE_FIELDS})


@dataclass
class Message:
    role: Role
    content: list[Block]
    id: str = field(default_factory=new_message_id)
    parent_id: str | None = None
    created_at: datetime = field(default_factory=utc_now)
    tokens: int | None = None
    tokens_exact: bool = False
    status: Status = "complete"
    model: str | None = None
    usage: Usage | None = None
    stop_reason: str | None = None

    @classmethod
    def of_text(cls, role: Role, text: str, **fields: Any) -> Message:
        return cls(role=role, content=[text_block(text)], **fields)

    def copy(self) -> Message:
        # Every save copies every message: this skips dataclasses.replace's per-field work.
        twin = object.__new__(Message)
        twin.__dict__.update(self.__dict__)
        twin.content = [dict(block) for block in self.content]
        return twin

    @property
    def text(self) -> str:
        """The message's text blocks joined: what a person reads as the message."""
        return text_of(self.content)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "parent_id": self.parent_id,
            "role": self.role,
            "content": [dict(block) for block in self.content],
            "created_at": self.created_at.isoformat(),
            "tokens": self.tokens,
            "tokens_exact": self.tokens_exact,
            "status": self.status,
        }
        if self.model:
            data["model"] = self.model
        if self.usage:
            data["usage"] = self.usage.to_dict()
        if self.stop_reason:
            data["stop_reason"] = self.stop_reason
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Message:
        if not isinstance(data, dict):
            raise CorruptDocumentError("a message is not an object")
        role = data.get("role")
        if role not in ("user", "assistant"):
            raise CorruptDocumentError(f"a message has an unknown role: {role!r}")
        status = data.get("status", "complete")
        if status not in STATUSES:
            raise CorruptDocumentError(f"a message has an unknown status: {status!r}")
        usage = data.get("usage")
        tokens = data.get("tokens")
        return cls(
            role=role,
            content=blocks_from_json(data.get("content")),
            id=id_field(data, "id"),
            parent_id=optional_id_field(data, "parent_id"),
            created_at=time_field(data, "created_at"),
            tokens=tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None,
            tokens_exact=bool(data.get("tokens_exact", False)),
            status=status,
            model=data.get("model") if isinstance(data.get("model"), str) else None,
            usage=Usage.from_dict(usage) if isinstance(usage, dict) else None,
            stop_reason=optional_str_field(data, "stop_reason"),
        )

    def sort_key(self) -> tuple[datetime, str]:
        return (self.created_at, self.id)


@dataclass
class Conversation:
    id: str
    user_id: str
    model: str
    name: str | None = None
    system: str | None = None
    messages: list[Message] = field(default_factory=list)  # every branch, oldest first
    created_at: datetime = field(default_factory=utc_now)
    updated_at: datetime = field(default_factory=utc_now)
    parent_id: str | None = None  # the conversation this one was forked from
    head: str | None = None  # the newest message of the branch shown by default
    set_at: dict[str, datetime] = field(default_factory=dict)  # when each LWW field was set

    @classmethod
    def new(cls, user_id: str, model: str, **kwargs: Any) -> Conversation:
        conversation = cls(id=new_conversation_id(), user_id=user_id, model=model, **kwargs)
        conversation.set_at = dict.fromkeys(LWW_FIELDS, conversation.created_at)
        return conversation

    def copy(self) -> Conversation:
        """A copy that later changes to this one do not reach (new messages, a status moving
        on, a block given its citations)."""
        return replace(self, messages=[m.copy() for m in self.messages], set_at=dict(self.set_at))

    # -- changes a session makes ------------------------------------------------------------

    def set(self, name: str, value: Any) -> None:
        """Change a last-writer-wins field (name, model, system, head), stamped with now."""
        if name not in LWW_FIELDS:
            raise ValueError(f"{name} is not a session-settable field")
        setattr(self, name, value)
        self.set_at[name] = max(utc_now(), self.set_at.get(name, EPOCH))

    def add(self, message: Message) -> Message:
        """Add a message to the tree (its parent must already be here) and show its branch."""
        if message.parent_id is not None and self.find(message.parent_id) is None:
            raise ValueError(f"message {message.id} has no parent {message.parent_id} here")
        self.messages.append(message)
        self.set("head", message.id)
        return message

    def append(self, role: Role, text: str, **fields: Any) -> Message:
        """A text message at the end of the shown branch."""
        return self.add(Message.of_text(role, text, parent_id=self.current_leaf(), **fields))

    # -- the tree ---------------------------------------------------------------------------

    def find(self, message_id: str | None) -> Message | None:
        if message_id is None:
            return None
        return next((m for m in self.messages if m.id == message_id), None)

    def branch(self, leaf_id: str | None = None) -> list[Message]:
        """The messages from the root to leaf_id (default: the shown branch), oldest first."""
        by_id = {m.id: m for m in self.messages}
        current = by_id.get(leaf_id or "") if leaf_id else by_id.get(self.current_leaf() or "")
        path: list[Message] = []
        while current is not None:
            path.append(current)
            current = by_id.get(current.parent_id or "")
        path.reverse()
        return path

    def current_leaf(self) -> str | None:
        """The head if this document has it, else the newest message."""
        if self.head and any(m.id == self.head for m in self.messages):
            return self.head
        return max(self.messages, key=Message.sort_key).id if self.messages else None

    def leaves(self) -> list[Message]:
        """The last message of every branch, oldest first."""
        parents = {m.parent_id for m in self.messages}
        return [m for m in self.messages if m.id not in parents]

    def children(self, message_id: str | None) -> list[Message]:
        return [m for m in self.messages if m.parent_id == message_id]

    @property
    def title(self) -> str:
        """The name, or else the first words of the shown branch's first message, as `list`'s
        preview (storage/documents.row_for): the first of all messages made `show` and the
        resume line name a conversation otherwise than `list` once a branch set it aside."""
        if self.name:
            return self.name
        for message in self.branch():
            if message.role == "user" and message.text.strip():
                return _first_words(message.text)
        return "(empty)"

    @property
    def usage(self) -> Usage:
        """Every reply's tokens, on every branch: all of it was paid for."""
        total = Usage()
        for message in self.messages:
            if message.usage:
                total = total + message.usage
        return total

    # -- documents --------------------------------------------------------------------------

    def to_document(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "id": self.id,
            "user_id": self.user_id,
            "name": self.name,
            "model": self.model,
            "system": self.system,
            "parent_id": self.parent_id,
            "head": self.head,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "set_at": {k: self.set_at.get(k, EPOCH).isoformat() for k in LWW_FIELDS},
            "messages": [m.to_dict() for m in sorted(self.messages, key=Message.sort_key)],
        }

    @classmethod
    def from_document(cls, data: Any) -> Conversation:
        """Read a document of this format or an older one (upgraded in memory, written back
        in this format on its next save). A newer format is refused, never misread."""
        if not isinstance(data, dict):
            raise CorruptDocumentError("the document is not a JSON object")
        version = data.get("format")
        if not isinstance(version, int) or isinstance(version, bool):
            raise CorruptDocumentError("the document has no format version")
        if version > FORMAT_VERSION:
            raise NewerFormatError(version, FORMAT_VERSION)
        if version < 1:
            raise CorruptDocumentError(f"unknown format version {version}")
        if version == 1:
            from claudechat.formats import upgrade_format_1

            data = upgrade_format_1(data)
        messages = data.get("messages")
        if not isinstance(messages, list):
            raise CorruptDocumentError("the document has no message list")
        updated_at = time_field(data, "updated_at")
        set_at = data.get("set_at") if isinstance(data.get("set_at"), dict) else {}
        conversation = cls(
            id=conversation_id_field(data, "id"),
            user_id=str_field(data, "user_id"),
            model=str_field(data, "model"),
            name=optional_str_field(data, "name"),
            system=optional_str_field(data, "system"),
            parent_id=optional_conversation_id_field(data, "parent_id"),
            head=optional_id_field(data, "head"),
            created_at=time_field(data, "created_at"),
            updated_at=updated_at,
            set_at={k: time_field(set_at, k) if k in set_at else EPOCH for k in LWW_FIELDS},
            messages=[Message.from_dict(m) for m in messages],
        )
        check_tree(conversation.messages)
        if conversation.parent_id == conversation.id:  # an import's, before import refused it
            conversation.parent_id = None
        check_head(conversation.head, conversation.messages)
        return conversation


def _first_words(text: str, limit: int = 48) -> str:
    words = " ".join(text.split())
    return words if len(words) <= limit else words[: limit - 1].rstrip() + "…"
