"""/search in the real REPL, in a pty, and what a resumed conversation shows (--continue, /new
after a delete elsewhere, a hit on another branch), on both configurations."""

from __future__ import annotations

import json

import pexpect
import pytest

from claudechat.conversation import Conversation, Message
from claudechat.settings import load_settings
from claudechat.storage import open_store
from repl_pty import document, screen_lines, sent, started, texts, turn
from test_faults import database_down  # noqa: F401  (a fixture)
from test_repl import PROMPT, leave, say

pytestmark = pytest.mark.pty


def saved_exchange(name: str | None = None) -> Conversation:
    """A question about sourdough and its answer, saved as the program would."""
    store = open_store(load_settings())
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    if name:
        conversation.set("name", name)
    conversation.append("user", "my sourdough starter smells odd")
    conversation.append("assistant", "feed it more often")
    assert store.save(conversation).pushed
    store.close()
    return conversation


def test_search_in_the_repl_resumes_the_chosen_conversation(backend, fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    earlier = saved_exchange(name="Bread")
    child, log = started()
    turn(child, "a question of today")
    [today] = [
        row["id"] for row in json.loads(cli("list", "--json").stdout) if row["id"] != earlier.id
    ]
    say(child, "/search sourd")
    child.expect_exact("resume which (1-1, Enter to stay)?")
    child.send("1\r")
    child.expect_exact(f"the conversation left: {today[:8]} is saved")  # it said nothing of it
    child.expect_exact(f"resumed {earlier.id[:8]} · Bread")
    child.expect_exact(PROMPT)
    turn(child, "and now?")
    assert sent(fake_api) == ["my sourdough starter smells odd", "feed it more often", "and now?"]
    lines = screen_lines(log)
    assert any(line.startswith(f" 1. {earlier.id[:8]}  Bread") for line in lines)
    assert any("my sourdough starter smells odd" in line for line in lines), lines
    assert leave(child) == earlier.id


def test_search_in_the_repl_says_what_the_resumed_conversation_holds(fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    """--continue named an unanswered message and the other branches; resuming from /search
    said nothing of them, and showed a cut-off reply as if whole."""
    store = open_store(load_settings())
    earlier = Conversation.new("tester", "claude-sonnet-4-6")
    earlier.append("user", "my sourdough starter smells odd")
    earlier.append("assistant", "feed it more", status="interrupted")
    earlier.append("user", "and the crust?", status="pending")
    assert store.save(earlier).pushed
    store.close()
    child, log = started()
    say(child, "/search sourd")
    child.expect_exact("resume which (1-1, Enter to stay)?")
    child.send("1\r")
    child.expect_exact("the last message has no reply (another session may still be waiting")
    child.expect_exact(PROMPT)
    lines = [line.strip() for line in screen_lines(log)]
    assert "claude: feed it more (interrupted)" in lines, lines
    assert leave(child) == earlier.id


def test_search_in_the_repl_opens_the_branch_holding_the_chosen_message(fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    """A hit on a branch the conversation does not show opened the shown branch: the
    conversation went on without the message chosen."""
    earlier, _ = _saved_with_two_branches()
    child, log = started()
    say(child, "/search rye flour")
    child.expect_exact("resume which (1-1, Enter to stay)?")
    child.send("1\r")
    child.expect(r"on\s+the\s+branch\s+of\s+the\s+message\s+chosen")  # wrapped to the window
    child.expect_exact(PROMPT)
    turn(child, "and now?")
    assert sent(fake_api) == [
        "my sourdough starter smells odd",
        "feed it more often",
        "what about rye flour",
        "rye works well",
        "and now?",
    ]
    lines = [line.strip() for line in screen_lines(log)]
    assert "claude: rye works well" in lines, lines
    assert leave(child) == earlier.id


def test_continue_shows_where_the_conversation_stands(fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    """--continue said only "resumed 1a2b3c4d": nothing of what was said before."""
    earlier = saved_exchange(name="Bread")
    child, log = started("--continue")
    lines = [line.strip() for line in screen_lines(log)]
    assert f"resumed {earlier.id[:8]} · Bread · 2 messages" in lines, lines
    assert "you: my sourdough starter smells odd" in lines
    assert "claude: feed it more often" in lines
    turn(child, "and now?")
    assert leave(child) == earlier.id


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "incomplete"},
        {"status": "interrupted"},
        {"stop_reason": "max_tokens"},
        {"thinking": True},
    ],
    ids=["cut-off", "interrupted", "output-limit", "only-thinking"],
)
def test_continue_marks_the_last_reply_as_show_heads_it(fake_api, cli, fields) -> None:  # type: ignore[no-untyped-def]
    """--continue said "(cut off)" of an interrupted reply, which `show` heads
    "(interrupted)", and nothing of a reply stopped at the output limit or of one that held
    only thinking."""
    store = open_store(load_settings())
    earlier = Conversation.new("tester", "claude-sonnet-4-6")
    earlier.append("user", "my sourdough starter smells odd")
    if fields.pop("thinking", False):
        thought = {"type": "thinking", "thinking": "weighing it", "signature": "sig-fake"}
        earlier.add(Message("assistant", [thought], parent_id=earlier.current_leaf()))
    else:
        earlier.append("assistant", "feed it more", **fields)
    assert store.save(earlier).pushed
    store.close()
    heading = [line for line in cli("show", earlier.id).stdout.splitlines() if "Claude" in line]
    mark = heading[-1][heading[-1].index(" (") :]
    child, log = started("--continue")
    lines = [line.strip() for line in screen_lines(log)]
    said = [line for line in lines if line.startswith("claude:")]
    assert len(said) == 1 and said[0].endswith(mark), (said, mark)
    assert leave(child) == earlier.id


def test_search_in_the_repl_looks_in_the_copies_here_while_the_database_is_down(  # type: ignore[no-untyped-def]
    backend,
    database_down,  # noqa: F811  (the fixture imported above)
    fake_api,
    cli,
) -> None:
    earlier = saved_exchange()  # saved, and kept in this machine's cache
    with database_down():
        child, _log = started()
        say(child, "/search sourd")
        child.expect_exact("searched the copies kept on this machine")
        child.expect_exact("resume which (1-1, Enter to stay)?")
        child.send("1\r")
        child.expect_exact(f"resumed {earlier.id[:8]}")
        child.expect_exact(PROMPT)
        turn(child, "and now?")
        assert leave(child) == earlier.id
    assert sent(fake_api) == ["my sourdough starter smells odd", "feed it more often", "and now?"]
    assert texts(document(cli, earlier.id)["messages"])[-1] == "echo: and now?"


def test_new_after_the_conversation_was_deleted_elsewhere_says_so(fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    """It said "(4d9d0a8f is saved)" of a conversation another machine had deleted."""
    child, _log = started()
    turn(child, "one")
    [row] = json.loads(cli("list", "--json").stdout)
    assert cli("delete", row["id"], "--yes").returncode == 0
    say(child, "two")
    child.expect_exact("was deleted")
    child.expect_exact(PROMPT)
    say(child, "/new")
    child.expect_exact(f"new conversation ({row['id'][:8]} was deleted elsewhere; not saved)")
    child.expect_exact(PROMPT)
    turn(child, "three")
    row = json.loads(cli("list", "--json").stdout)[0]  # the newest
    assert cli("delete", row["id"], "--yes").returncode == 0  # no save of ours finds it out
    say(child, "/new")
    child.expect_exact(f"new conversation ({row['id'][:8]} was deleted elsewhere; not saved)")
    child.expect_exact(PROMPT)
    child.sendeof()  # from an empty conversation: nothing to say
    child.expect(pexpect.EOF)
    # Leaving right after the refused save: it said "saved; resume with" the deleted id.
    child, _log = started()
    turn(child, "four")
    row = json.loads(cli("list", "--json").stdout)[0]
    assert cli("delete", row["id"], "--yes").returncode == 0
    say(child, "five")
    child.expect_exact("was deleted")
    child.expect_exact(PROMPT)
    child.sendeof()
    child.expect_exact(f"conversation {row['id'][:8]} was deleted elsewhere; it is not saved")
    child.expect(pexpect.EOF)


def test_a_search_hit_on_another_branch_is_still_shown_on_resuming(fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    """The branch a /search choice moved to was in memory only: leaving without sending,
    --resume reopened the branch shown before, as /branch (which saves) never did."""
    earlier, chosen_branch = _saved_with_two_branches()
    child, _ = started()
    say(child, "/search rye flour")
    child.expect_exact("resume which (1-1, Enter to stay)?")
    child.send("1\r")
    child.expect(r"on\s+the\s+branch\s+of\s+the\s+message\s+chosen")
    child.expect_exact(PROMPT)
    assert leave(child) == earlier.id
    shown = json.loads(cli("show", earlier.id, "--json").stdout)
    assert shown["head"] == chosen_branch.id


def _saved_with_two_branches() -> tuple[Conversation, Message]:
    """A saved conversation whose shown branch is not the one about rye flour; that branch's
    last message too."""
    store = open_store(load_settings())
    earlier = Conversation.new("tester", "claude-sonnet-4-6")
    earlier.append("user", "my sourdough starter smells odd")
    answer = earlier.append("assistant", "feed it more often")
    earlier.append("user", "what about rye flour")
    rye = earlier.append("assistant", "rye works well")
    earlier.add(Message.of_text("user", "and the crust?", parent_id=answer.id))
    earlier.append("assistant", "bake it longer")  # the shown branch
    assert store.save(earlier).pushed
    store.close()
    return earlier, rye
