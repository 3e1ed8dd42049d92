"""The small pure pieces behind the history commands."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from claudechat.errors import UsageError
from claudechat.history_view import parse_since, plain_snippet
from claudechat.repl_copy import code_blocks, osc52
from claudechat.storage.search_text import MARK_END, MARK_START, parse


def test_code_blocks_in_order_with_any_fence() -> None:
    reply = "a\n```py\nx = 1\n```\ntext\n~~~\ny\n  z\n~~~\n````md\n```\ninner\n```\n````\n```\nopen"
    assert code_blocks(reply) == ["x = 1", "y\n  z", "```\ninner\n```", "open"]
    assert code_blocks("no code") == []


def test_osc52_plain_and_inside_tmux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TMUX", raising=False)
    encoded = base64.b64encode("héllo".encode()).decode()
    assert osc52("héllo") == f"\x1b]52;c;{encoded}\x07"
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    assert osc52("héllo") == f"\x1bPtmux;\x1b\x1b]52;c;{encoded}\x07\x1b\\"


def test_since_durations_and_dates() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("12h", now) == now - timedelta(hours=12)
    assert parse_since("30m", now) == now - timedelta(minutes=30)
    assert parse_since("2w", now) == now - timedelta(weeks=2)
    assert parse_since("2026-11-01T00:00:00+00:00") == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(UsageError):
        parse_since("last tuesday")


def test_since_the_first_day_of_the_calendar_is_everything() -> None:
    """Its local offset could not be worked out: a traceback, "year 0 is out of range"."""
    for first_day in ("0001-01-01", "0001-01-01T00:00"):
        assert parse_since(first_day) <= datetime(1, 1, 2, tzinfo=UTC)


def test_fts5_queries_as_typed() -> None:
    assert parse("deploy kube").fts5 == '("deploy" AND "kube"*)'
    assert parse("deploy kube ").fts5 == '("deploy" AND "kube")'
    assert parse('"helm chart" -staging x').fts5 == '("helm chart" AND "x"* NOT "staging")'
    assert parse("a OR b").fts5 == '("a") OR ("b"*)'
    assert parse('say "hi').fts5 == '("say" AND "hi")'  # an unclosed quote closes at the end
    assert parse('x"y').fts5 == '("x""y"*)'  # a quote inside a word is a character


def test_plain_snippet_marks_matches_and_flattens() -> None:
    snippet = f"a\n{MARK_START}match{MARK_END}\tb \x1b[31m"
    assert plain_snippet(snippet) == "a **match** b ^[[31m"
    literal = f"**{MARK_START}bold{MARK_END}** \\*"
    assert plain_snippet(literal) == r"\*\***bold**\*\* \\\*"


def test_list_show_and_the_resume_line_name_a_conversation_alike() -> None:
    """A first message set aside (its reply failed) and a new branch after it: `list` named
    the conversation by the new branch's first message, `show` and the resume line by the
    message set aside."""
    from claudechat.conversation import Conversation, Message
    from claudechat.storage.documents import row_for

    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.add(Message.of_text("user", "wait please", parent_id=None, status="pending"))
    conversation.add(Message.of_text("user", "code narrow", parent_id=None))
    conversation.set("head", conversation.messages[-1].id)
    conversation.append("assistant", "echo: code narrow")
    assert conversation.title == "code narrow"
    assert row_for(conversation, "").preview == "code narrow"
