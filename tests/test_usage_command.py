"""/usage in the REPL: the same replies and the same money as `list` and `claudechat usage`."""

from __future__ import annotations

import json

import pytest

from claudechat.chat import ChatSession
from claudechat.claude import Claude
from claudechat.conversation import Conversation
from claudechat.model_commands import usage_command
from claudechat.settings import load_settings
from claudechat.storage import open_store
from claudechat.storage.forks import fork
from fakes.anthropic_api import Reply


def said_by_usage(session: ChatSession, capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    usage_command(session, "")
    return capsys.readouterr().err.splitlines()


def test_usage_in_a_fork_counts_its_own_replies_as_list_does(cli, fake_api, capsys) -> None:  # type: ignore[no-untyped-def]
    """It summed every message of the fork, the parent's replies copied into it too: $1.20
    where list showed the fork at $0.0045."""
    settings = load_settings()
    store = open_store(settings)
    claude = Claude(settings)
    parent = ChatSession(settings, store, claude, Conversation.new("tester", "claude-sonnet-4-6"))
    fake_api.queue(Reply("a", input_tokens=100_000, output_tokens=10_000))
    parent.send("one", lambda _text: None)
    fake_api.queue(Reply("b", input_tokens=200_000, output_tokens=10_000))
    parent.send("two", lambda _text: None)
    # $0.45 + $0.75: 100,000 / 200,000 x $3 + 10,000 x $15 per million
    assert said_by_usage(parent, capsys)[1] == "cost $1.20 · caching saved $0.0000"

    forked = ChatSession(settings, store, claude, fork(store, parent.conversation))
    fake_api.queue(Reply("c", input_tokens=1000, output_tokens=100))
    forked.send("three", lambda _text: None)
    usage, money = said_by_usage(forked, capsys)
    assert money == "cost $0.0045 · caching saved $0.0000"  # 1,000 x $3 + 100 x $15
    assert usage.endswith("= 1,000 tokens in · 100 out")
    listed = {row["id"]: row["cost_usd"] for row in json.loads(cli("list", "--json").stdout)}
    assert listed[forked.conversation.id] == 0.0045
    by_conversation = json.loads(cli("usage", "--by", "conversation", "--json").stdout)
    assert {r["conversation"]: r["cost"] for r in by_conversation} == listed
    store.close()


def test_replies_of_a_model_with_no_price_cost_unknown_in_usage_and_show(  # type: ignore[no-untyped-def]
    cli, fake_api, capsys
) -> None:
    """/usage said "cost $0.0000 · caching saved $0.0000 (2 repl(ies) of unpriced models)" and
    show --json "usd": 0.0, where list showed `?` and usage --json a null cost."""
    settings = load_settings()
    store = open_store(settings)
    new = Conversation.new("tester", "claude-sonnet-4-6")
    session = ChatSession(settings, store, Claude(settings), new)
    fake_api.queue(Reply("a", input_tokens=1000, output_tokens=100))
    session.send("priced", lambda _text: None)
    session.set_model("claude-future-1")
    for text in ("unpriced", "again"):
        fake_api.queue(Reply(text, input_tokens=5000, output_tokens=500))
        session.send(text, lambda _text: None)
    money = said_by_usage(session, capsys)[1]
    assert money == "cost $? · caching saved $? (2 replies of models with no price)"
    cid = session.conversation.id
    cost = json.loads(cli("show", cid, "--json").stdout)["cost"]
    assert (cost["usd"], cost["saved_by_cache_usd"], cost["unpriced_replies"]) == (None, None, 2)
    [row] = json.loads(cli("usage", "--by", "conversation", "--json").stdout)
    assert (row["cost"], row["saved_by_cache"], row["unpriced"]) == (None, None, 2)
    [listed] = json.loads(cli("list", "--json").stdout)
    assert listed["cost_usd"] is None
    store.close()


def test_one_reply_of_a_model_with_no_price_is_said_as_one() -> None:
    from claudechat.conversation import Usage
    from claudechat.pricing import Spend, price_table

    spend = Spend()
    spend.add(Usage(input_tokens=10, output_tokens=1), "claude-future-1", price_table())
    assert spend.unpriced_said() == " (1 reply of a model with no price)"
    spend.add(Usage(input_tokens=10, output_tokens=1), "claude-sonnet-4-6", price_table())
    assert (spend.total_cost, spend.total_saved) == (None, None)
