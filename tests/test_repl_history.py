"""/edit, /undo, /fork and /copy in the real REPL, in a pty, on both configurations (/search and
what a resumed conversation shows: test_repl_search.py)."""

from __future__ import annotations

import base64

import pytest

from conftest import content_text
from fakes.anthropic_api import Reply
from repl_pty import document, screen_lines, sent, started, texts, turn
from test_repl import PROMPT, leave, say

pytestmark = pytest.mark.pty
CTRL_U = "\x15"


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


def test_a_command_typed_at_the_edit_prompt_is_not_sent(fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    """/exit typed there to back out went to Claude as the edited message, and was kept."""
    child, _log = started()
    turn(child, "what is 2+2")
    asked = len(fake_api.requests)
    say(child, "/edit")
    child.expect_exact("edit› ")
    child.send(CTRL_U + "/exit\r")
    child.expect_exact("/exit does not run at edit›: Ctrl-C cancels the edit; nothing sent")
    child.expect_exact(PROMPT)
    assert len(fake_api.requests) == asked
    assert texts(document(cli, leave(child))["messages"]) == ["what is 2+2", "echo: what is 2+2"]


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
    child.expect_exact("the last reply has 2 code blocks; /copy N, N from 1 to 2, copies one")
    child.expect_exact(PROMPT)
    say(child, "/copy -1")
    child.expect_exact("usage: /copy, or /copy N")
    child.expect_exact(PROMPT)
    assert any("copied the last reply" in line for line in screen_lines(log))
    assert not any("unlikely" in line for line in screen_lines(log))
    turn(child, "no code")  # it said "the last reply has 0 code block(s)"
    say(child, "/copy 0")
    child.expect_exact("the last reply has no code block; /copy copies the whole reply")
    child.expect_exact(PROMPT)
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
