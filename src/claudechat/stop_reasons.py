"""What a reply's stop reason means for the user, said in one line after the reply.

Apart from the session: the wording is the user's whole explanation of a reply that ended
early, and it grows with every stop reason the API adds.
"""

from __future__ import annotations

# What each stop reason means for the user; end_turn and stop_sequence need no word.
STOP_NOTICES = {
    "end_turn": None,
    "stop_sequence": None,
    "max_tokens": "the reply stopped at the output limit; ask Claude to continue",
    "refusal": "Claude declined to answer this (stop reason: refusal); the reply is kept as is",
    "model_context_window_exceeded": (
        "the reply stopped because the model's context window is full; it is kept. Lower "
        "--max-context-tokens or switch to a model with a bigger window (/model)"
    ),
    "pause_turn": "Claude paused its turn (pause_turn); send a message to let it continue",
}


def stop_notice(reason: str | None) -> str | None:
    if reason in STOP_NOTICES:
        return STOP_NOTICES[reason]
    return f"the reply ended with stop reason {reason!r}"
