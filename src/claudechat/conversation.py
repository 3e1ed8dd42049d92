"""claudechat's own conversation types, shared by the REPL, the renderer, memory and storage.

Nothing here knows about the anthropic SDK or SQL: the adapter modules translate to and from
these types, and the stored JSON document is exactly `Conversation.to_document()`.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from claudechat.errors import CorruptDocumentError, NewerFormatError

FORMAT_VERSION = 1

Role = Literal["user", "assistant"]
# complete: a whole reply (message_stop seen). interrupted: the user pressed Ctrl-C.
# incomplete: the stream was cut off by the network or the server. pending: a user message
# whose reply has not arrived (yet, or ever: the API failed).
Status = Literal["complete", "interrupted", "incomplete", "pending"]
STATUSES: tuple[str, ...] = ("complete", "interrupted", "incomplete", "pending")


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_conversation_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Usage:
    """Tokens as the API reported them for one reply."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0

    def __post_init__(self) -> None:
        # The rule reading a document applies (see from_dict), checked when the figures are
        # made, so claudechat never writes usage it would refuse to read back.
        for name, value in self.to_dict().items():
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
        # A figure a server never sent (null, as some proxies write it) is unknown: 0.
        return cls(**{k: 0 if data.get(k) is None else _int(data, k) for k in cls().to_dict()})


@dataclass
class Message:
    role: Role
    content: str
    created_at: datetime = field(default_factory=utc_now)
    tokens: int | None = None
    tokens_exact: bool = False
    status: Status = "complete"
    model: str | None = None
    usage: Usage | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "role": self.role,
            "content": self.content,
            "created_at": self.created_at.isoformat(),
            "tokens": self.tokens,
            "tokens_exact": self.tokens_exact,
            "status": self.status,
        }
        if self.model:
            data["model"] = self.model
        if self.usage:
            data["usage"] = self.usage.to_dict()
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
            content=_str(data, "content"),
            created_at=_time(data, "created_at"),
            tokens=tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None,
            tokens_exact=bool(data.get("tokens_exact", False)),
            status=status,
            model=data.get("model") if isinstance(data.get("model"), str) else None,
            usage=Usage.from_dict(usage) if isinstance(usage, dict) else None,
        )


@dataclass
class Conversation:
    id: str
    user_id: str
    model: str
    name: str | None = None
    system: str | None = None
    messages: list[Message] = field(default_factory=list)
    created_at: datetime = field(default_factory=utc_now)
    updated_at: datetime = field(default_factory=utc_now)
    parent_id: str | None = None

    @classmethod
    def new(cls, user_id: str, model: str, **kwargs: Any) -> Conversation:
        return cls(id=new_conversation_id(), user_id=user_id, model=model, **kwargs)

    @property
    def title(self) -> str:
        """The name, or else the first words of the first message."""
        if self.name:
            return self.name
        for message in self.messages:
            if message.role == "user" and message.content.strip():
                return _first_words(message.content)
        return "(empty)"

    @property
    def usage(self) -> Usage:
        total = Usage()
        for message in self.messages:
            if message.usage:
                total = total + message.usage
        return total

    def to_document(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "id": self.id,
            "user_id": self.user_id,
            "name": self.name,
            "model": self.model,
            "system": self.system,
            "parent_id": self.parent_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "messages": [m.to_dict() for m in self.messages],
        }

    @classmethod
    def from_document(cls, data: Any) -> Conversation:
        if not isinstance(data, dict):
            raise CorruptDocumentError("the document is not a JSON object")
        version = data.get("format")
        if not isinstance(version, int) or isinstance(version, bool):
            raise CorruptDocumentError("the document has no format version")
        if version > FORMAT_VERSION:
            raise NewerFormatError(version, FORMAT_VERSION)
        messages = data.get("messages")
        if not isinstance(messages, list):
            raise CorruptDocumentError("the document has no message list")
        return cls(
            id=_str(data, "id"),
            user_id=_str(data, "user_id"),
            model=_str(data, "model"),
            name=_optional_str(data, "name"),
            system=_optional_str(data, "system"),
            parent_id=_optional_str(data, "parent_id"),
            created_at=_time(data, "created_at"),
            updated_at=_time(data, "updated_at"),
            messages=[Message.from_dict(m) for m in messages],
        )


def _first_words(text: str, limit: int = 48) -> str:
    words = " ".join(text.split())
    return words if len(words) <= limit else words[: limit - 1].rstrip() + "…"


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise CorruptDocumentError(f"field {key!r} is missing or not text")
    return value


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise CorruptDocumentError(f"field {key!r} is not text")
    return value


def _int(data: dict[str, Any], key: str) -> int:
    value = data.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool):
        raise CorruptDocumentError(f"field {key!r} is not a whole number")
    return value


def _time(data: dict[str, Any], key: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(_str(data, key))
    except ValueError as exc:
        raise CorruptDocumentError(f"field {key!r} is not an ISO time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def dumps_json(data: Any, indent: int | None = None) -> str:
    """JSON text that always encodes as UTF-8: readable non-ASCII where possible, and escapes
    where the text holds lone surrogates (valid JSON, e.g. from an API reply, but not UTF-8)."""
    text = json.dumps(data, ensure_ascii=False, indent=indent)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(data, ensure_ascii=True, indent=indent)
    return text


_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def replace_lone_surrogates(text: str) -> str:
    """Lone surrogates are valid in JSON text but have no UTF-8 form: nothing can print or
    send them, so where text leaves claudechat they become U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text)
