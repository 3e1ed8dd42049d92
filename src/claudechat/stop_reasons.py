"""What a reply's stop reason means for the user, said in one line after the reply.

Apart from the session: the wording is the user's whole explanation of a reply that ended
early, and it grows with every stop reason the API adds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from claudechat.blocks import THINKING_TYPES
from claudechat.errors import BUDGET_SETTING

if TYPE_CHECKING:
    from claudechat.conversation import Message

# What each stop reason means for the user; end_turn and stop_sequence need no word.
STOP_NOTICES = {
    "end_turn": None,
    "stop_sequence": None,
    "max_tokens": "the reply stopped at the output limit; ask Claude to continue",
    "refusal": "Claude declined to answer this (stop reason: refusal); the reply is kept as is",
    "model_context_window_exceeded": (
        "the reply stopped because the model's context window is full; it is kept. Lower "
        f"{BUDGET_SETTING}, or switch to a model with a bigger window"
    ),
    "pause_turn": "Claude paused its turn (pause_turn); send a message to let it continue",
}


def stop_notice(reason: str | None) -> str | None:
    if reason in STOP_NOTICES:
        return STOP_NOTICES[reason]
    return f"the reply ended with stop reason {reason!r}"


def holds_no_text(message: Message) -> bool:
    """A reply that ended with nothing to read: only thinking (end_turn after it, or the
    output limit reached while thinking), or nothing at all. It showed as no reply and exited
    0; a refusal with no text is Claude's answer, and its own notice says so."""
    return (
        message.role == "assistant"
        and not message.text.strip()
        and message.stop_reason != "refusal"
    )


def holds_thinking(message: Message) -> bool:
    return any(block.get("type") in THINKING_TYPES for block in message.content)


def no_text_notice(reason: str | None, thought: bool) -> str:
    """Said instead of the stop notice for a reply that holds no text."""
    if reason == "max_tokens":
        said = "the reply stopped at the output limit"
        said += " during thinking, before any text" if thought else " before any text"
    else:
        said = "Claude's reply held " + ("only thinking and no text" if thought else "no text")
        other = stop_notice(reason)
        if other is not None:  # a window full, a pause: its own advice follows
            return f"{said}: {other}"
    return f"{said}; /retry in the REPL asks again, a new message goes without it"


# How a message's heading in `show` and `export` marks a reply that ended early.
STATUS_MARKS = {
    "interrupted": " (interrupted)",
    "incomplete": " (cut off)",
    "pending": " (no reply)",
}
STOP_MARKS = {
    "stop_sequence": "",
    "max_tokens": " (stopped at the output limit)",
    "refusal": " (declined)",
    "model_context_window_exceeded": " (context window full)",
    "pause_turn": " (paused)",
}


def status_mark(message: Message) -> str:
    """What follows the speaker and time in a message's heading: " (cut off)", " (declined)",
    or nothing for a reply that ended as it should."""
    from claudechat.output import one_line

    mark = STATUS_MARKS.get(message.status, "")
    reason = message.stop_reason
    if message.role == "assistant" and reason not in (None, "end_turn"):
        # A stop reason the API added since is named as it came, made safe: it is a server's.
        mark += STOP_MARKS.get(reason or "", f" (stop reason: {one_line(reason or '')})")
    if holds_no_text(message):
        # Its section was empty, headed as a whole answer.
        what = "only thinking, no text" if holds_thinking(message) else "no text"
        mark = f"{mark[:-1]}; {what})" if mark else f" ({what})"
    return mark
