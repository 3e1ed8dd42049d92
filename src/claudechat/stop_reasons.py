"""What a reply's stop reason means for the user, said in one line after the reply.

Apart from the session: the wording is the user's whole explanation of a reply that ended
early, and it grows with every stop reason the API adds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    return mark
