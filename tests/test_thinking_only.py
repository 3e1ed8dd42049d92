"""A reply that holds only thinking (end_turn after it, or the output limit reached while
thinking): it showed as nothing at all and exited 0, `show` headed it as a whole answer, and
its question was merged into the next message sent."""

from __future__ import annotations

from conftest import content_text, conversation_id
from fakes.anthropic_api import Reply

THOUGHT = "First I weigh the options. Then I run out of room."


def test_pipe_says_a_reply_held_only_thinking_and_exits_3(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(Reply("", thinking=THOUGHT))
    result = cli("chat", input="think only")
    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    assert "Claude's reply held only thinking and no text; /retry" in result.stderr
    conversation_id(result.stderr)  # saved all the same

    fake_api.queue(Reply("", thinking=THOUGHT, stop_reason="max_tokens"))
    result = cli("chat", input="think long")
    assert result.returncode == 3, result.stderr
    said = [line for line in result.stderr.splitlines() if "output limit" in line]
    assert len(said) == 1 and "stopped at the output limit during thinking" in said[0]
    assert "ask Claude to continue" not in result.stderr  # no text to continue from


def test_show_and_export_mark_a_reply_of_only_thinking(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(Reply("", thinking=THOUGHT))
    cid = conversation_id(cli("chat", input="one").stderr)
    fake_api.queue(Reply("", thinking=THOUGHT, stop_reason="max_tokens"))
    cli("chat", "--continue", input="two")
    shown = cli("show", cid).stdout
    headings = [line for line in shown.splitlines() if line.startswith("## Claude")]
    assert [h.split(" (", 1)[1] for h in headings] == [
        "only thinking, no text)",
        "stopped at the output limit; only thinking, no text)",
    ]
    markdown = cli("export", cid).stdout
    assert [line for line in markdown.splitlines() if line.startswith("## Claude")] == headings


def test_next_turn_leaves_out_a_question_answered_by_thinking_alone(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """The roles alternate without merging the unanswered question into the next one."""
    fake_api.queue(Reply("Four."))
    assert cli("chat", input="two plus two").returncode == 0
    fake_api.queue(Reply("", thinking=THOUGHT))
    cli("chat", "--continue", input="and times three?")
    fake_api.queue(Reply("Twelve."))
    result = cli("chat", "--continue", input="the product, please")
    assert result.returncode == 0, result.stderr
    sent = fake_api.requests[-1].body["messages"]
    assert [(m["role"], content_text(m["content"])) for m in sent] == [
        ("user", "two plus two"),
        ("assistant", "Four."),
        ("user", "the product, please"),
    ]
