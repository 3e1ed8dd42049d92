"""How /branches and /branch name a branch's last message: marked as `show` heads it."""

from __future__ import annotations

import pytest

from claudechat.conversation import Conversation, Message
from conftest import save_conversation
from repl_pty import started
from test_repl import PROMPT, leave, say

pytestmark = pytest.mark.pty


def test_a_branch_ending_in_only_thinking_is_marked_so(fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    """It read `last by Claude: ''`, where `show` heads the reply "(only thinking, no text)"."""
    earlier = Conversation.new("tester", "claude-sonnet-4-6")
    question = earlier.append("user", "why is the sky blue?")
    thought = {"type": "thinking", "thinking": "weighing it", "signature": "sig-fake"}
    earlier.add(Message("assistant", [thought], parent_id=question.id))
    cut = Message.of_text("assistant", "cut short", parent_id=question.id, status="interrupted")
    earlier.add(cut)  # the branch shown
    save_conversation(earlier)
    child, _log = started("--continue")
    say(child, "/branches")
    child.expect_exact("1  2 messages, last by Claude (only thinking, no text)")
    child.expect_exact(PROMPT)
    say(child, "/branch 1")
    child.expect_exact(
        "now on the branch ending 2 messages, last by Claude (only thinking, no text)"
    )
    child.expect_exact(PROMPT)
    say(child, "/branches")
    child.expect_exact("1  2 messages, last by Claude: 'cut short' (interrupted)")
    child.expect_exact(PROMPT)
    assert leave(child) == earlier.id
