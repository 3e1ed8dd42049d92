"""What a test scripts the fake to answer (Reply, ErrorReply), what the fake records
(ReceivedRequest), and the checks of the real API that the fake applies to every request.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from fakes.content_blocks import BlockError, validate_blocks

_CUT_MODES = ("close", "abort")


LOGIN_PAGE = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"


@dataclass
class Reply:
    text: str = "Hello from the fake."
    chunks: list[str] | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    stop_reason: str = "end_turn"
    delay: float = 0.0
    cut_after: int | None = None
    cut_mode: str = "close"
    error_event: tuple[str, str] | None = None
    # Thinking streamed before the text (thinking_delta, then signature_delta), and a
    # redacted_thinking block as the API sends one; cut_after counts thinking deltas first.
    thinking: str | None = None
    signature: str = "sig-fake"
    redacted: str | None = None
    citations: list[dict[str, Any]] | None = None  # sent as citations_delta events
    # Faults of servers that are almost the Messages API (proxies, reimplementations):
    malformed_after: int | None = None  # after N deltas, an event whose data is not JSON
    unopened_block_after: int | None = None  # after N deltas, a delta for a block never started
    stall_after: int | None = None  # after N deltas, silence (no pings) for stall_seconds
    stall_seconds: float = 0.0
    # After N deltas, wait until the test sets `release` (pinging meanwhile, as the API does
    # during a long pause): a reply that lasts exactly as long as the test needs it to.
    held_after: int | None = None
    release: threading.Event | None = None
    delta_usage: dict[str, Any] | None = None  # message_delta's usage, verbatim
    not_streamed: bool = False  # a whole JSON message in answer to a streaming request
    html_page: bool = False  # 200 text/html: a captive portal's or a proxy's login page

    def __post_init__(self) -> None:
        if self.cut_mode not in _CUT_MODES:
            raise ValueError(f"cut_mode must be one of {_CUT_MODES}, not {self.cut_mode!r}")

    def deltas(self) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        # Whitespace stays attached to the word before it, so "".join(deltas) == text.
        return re.findall(r"\S+\s*|\s+", self.text)

    def thinking_deltas(self) -> list[str]:
        return re.findall(r"\S+\s*|\s+", self.thinking) if self.thinking else []

    def content(self) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if self.thinking is not None:
            blocks.append(
                {"type": "thinking", "thinking": self.thinking, "signature": self.signature}
            )
        if self.redacted is not None:
            blocks.append({"type": "redacted_thinking", "data": self.redacted})
        return [*blocks, {"type": "text", "text": self.text}]

    def out_tokens(self) -> int:
        return self.output_tokens if self.output_tokens is not None else max(1, len(self.text) // 4)


@dataclass
class ErrorReply:
    status: int
    error_type: str
    message: str = "Error from the fake."
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    received_at: float = field(default_factory=time.monotonic)
    raw: bytes = b""  # the body's bytes as they came


class Rejected(Exception):
    """A request the fake itself refuses, as the real service would."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
        )
    return ""


def validate_messages(body: dict[str, Any]) -> None:
    """The checks of the real API that catch a client sending a broken context."""

    def bad(message: str) -> Rejected:
        return Rejected(400, "invalid_request_error", message)

    if "max_tokens" not in body:
        raise bad("max_tokens: Field required")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise bad("messages: Field required")
    if not messages:
        raise bad("messages: at least one message is required")
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ("user", "assistant"):
            raise bad(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        content = m.get("content")
        if not content:
            raise bad(f"messages.{i}: all messages must have non-empty content")
        if isinstance(content, list) and any(
            isinstance(b, dict) and b.get("type") == "text" and not b.get("text") for b in content
        ):
            raise bad("messages: text content blocks must be non-empty")
        try:
            validate_blocks(content, f"messages.{i}")
        except BlockError as exc:
            raise bad(str(exc)) from exc
        if i and role == messages[i - 1]["role"]:
            raise bad(
                'messages: roles must alternate between "user" and "assistant", '
                f'but found multiple "{role}" roles in a row'
            )
    if messages[0]["role"] != "user":
        raise bad('messages: first message must use the "user" role')
    if messages[-1]["role"] != "user":
        raise bad('messages: final message must use the "user" role')


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex[:24]


def estimate_input_tokens(body: dict[str, Any]) -> int:
    return max(1, len(json.dumps([body.get("system"), body.get("messages")])) // 4)
