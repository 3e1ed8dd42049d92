"""claudechat's own stream events: what the adapter yields while a reply arrives.

The REPL, pipe mode and the HTTP server consume these; none of them sees an SDK type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from claudechat.blocks import Block
from claudechat.conversation import Usage


@dataclass(frozen=True)
class Opened:
    """Claude accepted the request and its reply has begun (message_start): a refusal, rate
    limit or outage of the request itself would have come before this. Thinking or text
    follows, though perhaps not soon."""


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer's text."""

    text: str


@dataclass(frozen=True)
class ThinkingDelta:
    """A piece of Claude's (summarized) thinking, shown apart from the answer."""

    text: str


@dataclass(frozen=True)
class BlockDone:
    """A content block is complete (thinking with its signature, redacted thinking, text)."""

    block: Block


@dataclass(frozen=True)
class UsageUpdate:
    """The latest token figures the API reported for this reply."""

    usage: Usage


@dataclass(frozen=True)
class Stop:
    """Why the reply ended (end_turn, max_tokens, refusal, ... or an unknown reason as is)."""

    reason: str | None


@dataclass(frozen=True)
class Retrying:
    """The attempt broke off before any answer and is made again: what it streamed (its
    thinking) is no part of the reply, and a notice follows."""


Event = Opened | TextDelta | ThinkingDelta | BlockDone | UsageUpdate | Stop | Retrying
Listener = Callable[[Event], None]


def text_listener(on_text: Callable[[str], None]) -> Listener:
    """A listener for callers that only want the answer's text."""

    def listen(event: Event) -> None:
        if isinstance(event, TextDelta):
            on_text(event.text)

    return listen


def turn_listener(on_text: Callable[[str], None] | None, on_event: Listener | None) -> Listener:
    """The one listener a turn streams to: `on_event` gets every event, `on_text` the
    answer's text only."""
    text = text_listener(on_text) if on_text is not None else None

    def listen(event: Event) -> None:
        if text is not None:
            text(event)
        if on_event is not None:
            on_event(event)

    return listen
