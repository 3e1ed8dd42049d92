"""The count `chat --continue` gives of a conversation that ends in an unanswered message."""

from __future__ import annotations

import pytest

from claudechat.conversation import Conversation
from conftest import save_conversation
from repl_pty import screen_lines, started
from test_repl import leave

pytestmark = pytest.mark.pty


@pytest.mark.parametrize("answered_before", [0, 1])
def test_continue_counts_the_unanswered_message(fake_api, cli, answered_before) -> None:  # type: ignore[no-untyped-def]
    """A conversation of one unanswered message said "0 message(s)": the session's branch,
    which was counted, stops before the message it leaves unanswered."""
    earlier = Conversation.new("tester", "claude-sonnet-4-6")
    for number in range(answered_before):
        earlier.append("user", f"question {number}")
        earlier.append("assistant", f"answer {number}")
    earlier.append("user", "unanswered q", status="pending")
    save_conversation(earlier)
    child, log = started("--continue")
    [resumed] = [line for line in screen_lines(log) if line.startswith("resumed ")]
    count = 2 * answered_before + 1
    assert resumed.endswith(f" · {count} message{'' if count == 1 else 's'}"), resumed
    assert leave(child) == earlier.id
