"""/edit, /undo, /fork, /copy and /search in the real REPL, in a pty, on both configurations."""

from __future__ import annotations

import base64
import io
import json

import pexpect
import pyte
import pytest

from claudechat.conversation import Conversation, Message
from claudechat.settings import load_settings
from claudechat.storage import open_store
from conftest import content_text
from fakes.anthropic_api import Reply
from test_faults import database_down  # noqa: F401  (a fixture)
from test_repl import PROMPT, leave, say, spawn

pytestmark = pytest.mark.pty
CTRL_U = "\x15"


def started(*args: str) -> tuple[pexpect.spawn, io.StringIO]:
    log = io.StringIO()
    child = spawn(*args, logfile=log)
    return child, log


def screen_lines(log: io.StringIO) -> list[str]:
    """What a person sees, scrollback included."""
    screen = pyte.HistoryScreen(100, 30, history=500)
    pyte.Stream(screen).feed(log.getvalue())
    above = ["".join(ch.data for ch in row.values()) for row in screen.history.top]
    return [line.rstrip() for line in above + screen.display]


def turn(child: pexpect.spawn, text: str) -> None:
    say(child, text)
    child.expect_exact(f"echo: {text}")
    child.expect_exact(PROMPT)


def document(cli, conversation_id: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    result = cli("show", conversation_id, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def texts(messages: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [content_text(m["content"]) for m in messages]


def sent(fake_api) -> list[str]:  # type: ignore[no-untyped-def]
    return [content_text(m["content"]) for m in fake_api.requests[-1].body["messages"]]


def test_edit_prefills_the_last_message_and_keeps_the_old_exchange(backend, fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    child, log = started()
    turn(child, "first question")
    turn(child, "what is 2+2")
    say(child, "/edit")
    child.expect_exact("edit› ")
    child.send(" exactly\r")  # typed after the prefilled text
    child.expect_exact("echo: what is 2+2 exactly")
    child.expect_exact(PROMPT)
    assert any(line.startswith("› what is 2+2 exactly") for line in screen_lines(log))
    assert sent(fake_api) == ["first question", "echo: first question", "what is 2+2 exactly"]
    stored = document(cli, leave(child))
    by_text = {content_text(m["content"]): m for m in stored["messages"]}
    old, new = by_text["what is 2+2"], by_text["what is 2+2 exactly"]
    assert old["parent_id"] == new["parent_id"] == by_text["echo: first question"]["id"]
    assert "echo: what is 2+2" in by_text  # the earlier exchange is kept
    assert stored["head"] == by_text["echo: what is 2+2 exactly"]["id"]


def test_ctrl_c_or_ctrl_d_at_the_edit_prompt_cancels_the_edit_not_the_repl(fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    """Both ended the REPL (Ctrl-D with a traceback, exit 1)."""
    child, log = started()
    turn(child, "what is 2+2")
    asked = len(fake_api.requests)
    for key in ("\x03", CTRL_U + "\x04"):  # Ctrl-D ends input only on an empty line
        say(child, "/edit")
        child.expect_exact("edit› ")
        child.send(key)
        child.expect_exact("edit cancelled; nothing sent")
        child.expect_exact(PROMPT)
    turn(child, "still here")
    assert len(fake_api.requests) == asked + 1
    assert "Traceback" not in log.getvalue()
    stored = document(cli, leave(child))
    assert texts(stored["messages"]) == [
        "what is 2+2",
        "echo: what is 2+2",
        "still here",
        "echo: still here",
    ]


def test_edit_in_the_editor(fake_api, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EDITOR", "sed -i s/cats/dogs/")
    child, log = started()
    turn(child, "tell me about cats")
    say(child, "/edit -e")
    child.expect_exact("echo: tell me about dogs")
    child.expect_exact(PROMPT)
    # The edited message is shown as it is sent, as /edit's is (it was not shown at all).
    lines = screen_lines(log)
    edited = lines.index("› tell me about dogs")
    assert lines.index("echo: tell me about dogs") > edited, "\n".join(lines)
    say(child, "/edit -e")  # the editor changes nothing now: nothing is sent
    child.expect_exact("nothing changed; nothing sent")
    stored = document(cli, leave(child))
    assert sorted(texts(stored["messages"])) == sorted(
        [
            "tell me about cats",
            "echo: tell me about cats",
            "tell me about dogs",
            "echo: tell me about dogs",
        ]
    )


@pytest.mark.parametrize(
    ("editing", "said"),
    [
        (
            "printf 'bad \\377\\376 bytes' > \"$1\"",
            "the edited text is not UTF-8 (byte 4); nothing sent",
        ),
        ('rm "$1"', "the editor removed the file; nothing sent"),
        (': > "$1"', "the message is empty; nothing sent"),
    ],
    ids=["not-utf8", "removed", "emptied"],
)
def test_an_edit_the_editor_leaves_unusable_is_a_failed_command(  # type: ignore[no-untyped-def]
    fake_api, cli, monkeypatch, tmp_path, editing: str, said: str
) -> None:
    """A file saved in another encoding ended the REPL with a traceback; a file removed, with
    "cannot use /tmp/...", exit 5; a file emptied said "nothing changed"."""
    editor = tmp_path / "editor.sh"
    editor.write_text(f"#!/bin/sh\n{editing}\n")
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    child, log = started()
    turn(child, "tell me about cats")
    say(child, "/edit -e")
    child.expect_exact(said)
    child.expect_exact(PROMPT)
    turn(child, "still here")
    assert "Traceback" not in log.getvalue()
    stored = document(cli, leave(child))
    assert texts(stored["messages"]) == [
        "tell me about cats",
        "echo: tell me about cats",
        "still here",
        "echo: still here",
    ]


def test_edit_and_undo_after_a_refused_message_act_on_that_message(fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    """A refused message is set aside; /edit and /undo took the exchange before it instead
    (a too-long paste shortened with /edit dropped the whole earlier exchange)."""
    from fakes.anthropic_api import ErrorReply

    child, _log = started()
    turn(child, "first question")
    fake_api.queue(ErrorReply(400, "invalid_request_error", "prompt is too long"))
    say(child, "a very long paste")
    child.expect_exact("a new message goes without it")
    child.expect_exact(PROMPT)
    say(child, "/edit")
    child.expect_exact("edit› ")
    child.send(CTRL_U + "a short paste\r")
    child.expect_exact("echo: a short paste")
    child.expect_exact(PROMPT)
    assert sent(fake_api) == ["first question", "echo: first question", "a short paste"]
    fake_api.queue(ErrorReply(400, "invalid_request_error", "prompt is too long"))
    say(child, "another long one")
    child.expect_exact("a new message goes without it")
    child.expect_exact(PROMPT)
    say(child, "/undo")
    child.expect_exact("took back “another long one” (kept as a branch)")
    child.expect_exact(PROMPT)
    turn(child, "next")
    assert sent(fake_api)[-3:] == ["a short paste", "echo: a short paste", "next"]
    leave(child)


def test_undo_takes_back_the_last_exchange_and_keeps_it(backend, fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    child, log = started()
    turn(child, "keep this")
    turn(child, "regret this")
    say(child, "/undo")
    child.expect_exact("took back “regret this”")
    child.expect_exact(PROMPT)
    turn(child, "say this instead")
    assert sent(fake_api) == ["keep this", "echo: keep this", "say this instead"]
    assert any("took back “regret this” and its reply" in line for line in screen_lines(log))
    stored = document(cli, leave(child))
    assert "regret this" in texts(stored["messages"])  # in the tree, as a branch
    assert "echo: regret this" in texts(stored["messages"])
    exported = cli("export", stored["id"]).stdout
    assert "regret this" not in exported and "say this instead" in exported


def test_fork_from_message_n_records_its_parent(backend, fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    child, _log = started()
    turn(child, "alpha")
    turn(child, "beta")
    say(child, "/fork 2")
    child.expect(r"forked ([0-9a-f]{8}) from ([0-9a-f]{8}) at message 2")
    fork_short, parent_short = child.match.group(1), child.match.group(2)
    child.expect_exact(PROMPT)
    turn(child, "gamma")
    assert sent(fake_api) == ["alpha", "echo: alpha", "gamma"]
    fork_id = leave(child)
    assert fork_id.startswith(fork_short)
    fork = document(cli, fork_id)
    assert fork["parent_id"].startswith(parent_short)
    assert texts(fork["messages"]) == ["alpha", "echo: alpha", "gamma", "echo: gamma"]
    parent = document(cli, parent_short)
    assert texts(parent["messages"]) == ["alpha", "echo: alpha", "beta", "echo: beta"]
    rows = {line.split("\t")[0]: line.split("\t") for line in cli("list").stdout.splitlines()}
    assert rows[fork_short][5] == parent_short  # `list` shows the parent
    assert rows[parent_short][5] == ""


def test_a_fork_at_a_message_of_yours_sets_it_aside_for_retry(fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    """The fork ended on a question whose reply it cut: the next message was sent in one turn
    with it ("echo: betain the fork"), two user messages in a row."""
    child, _log = started()
    turn(child, "alpha")
    turn(child, "beta")
    say(child, "/fork 3")
    child.expect_exact("at message 3")
    child.expect_exact("the last message has no reply (not on this branch): 'beta'")
    child.expect_exact("/retry in the REPL answers it")
    child.expect_exact(PROMPT)
    turn(child, "gamma")
    assert sent(fake_api) == ["alpha", "echo: alpha", "gamma"]
    fork = document(cli, leave(child))
    assert sorted(texts(fork["messages"])) == sorted(
        ["alpha", "echo: alpha", "beta", "gamma", "echo: gamma"]
    )


def test_fork_refuses_a_bad_number(fake_api) -> None:  # type: ignore[no-untyped-def]
    child, _log = started()
    turn(child, "only")
    say(child, "/fork 9")
    child.expect_exact("/fork [N], N from 1 to 2")
    child.expect_exact(PROMPT)
    leave(child)


def test_copy_sends_the_reply_or_a_code_block_by_osc52(fake_api) -> None:  # type: ignore[no-untyped-def]
    reply = "Two ways:\n\n```python\nprint(1)\n```\n\nor\n\n```sh\nls -la\n```\n"
    fake_api.queue(Reply(reply))
    child, log = started()
    say(child, "show me")
    child.expect(r"[\d,]+ in · [\d,]+ out")  # the dim line: the code is split by colours
    child.expect_exact(PROMPT)
    say(child, "/copy 2")
    encoded = base64.b64encode(b"ls -la").decode()
    child.expect_exact(f"\x1b]52;c;{encoded}\x07")
    child.expect_exact("copied code block 2 (6 characters) to the clipboard")
    child.expect_exact(PROMPT)
    say(child, "/copy")
    child.expect_exact(f"\x1b]52;c;{base64.b64encode(reply.encode()).decode()}\x07")
    child.expect_exact(PROMPT)
    say(child, "/copy 3")
    child.expect_exact("the last reply has 2 code block(s)")
    child.expect_exact(PROMPT)
    say(child, "/copy -1")
    child.expect_exact("usage: /copy, or /copy N")
    child.expect_exact(PROMPT)
    assert any("copied the last reply" in line for line in screen_lines(log))
    assert not any("unlikely" in line for line in screen_lines(log))
    leave(child)


def test_copy_says_when_the_terminal_is_unlikely_to_support_it(fake_api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TERM_PROGRAM", "Apple_Terminal")
    child, _log = started()
    turn(child, "hello")
    say(child, "/copy")
    child.expect_exact("copied the last reply")
    child.expect_exact("(Apple_Terminal) is unlikely to support OSC 52")
    child.expect_exact(PROMPT)
    leave(child)


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
    say(child, "/search sourd")
    child.expect_exact("resume which (1-1, Enter to stay)?")
    child.send("1\r")
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
    assert f"resumed {earlier.id[:8]} · Bread · 2 message(s)" in lines, lines
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
