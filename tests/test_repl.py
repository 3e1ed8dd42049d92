"""The real REPL in a pseudo-terminal, driven as a person would: type, watch, interrupt, leave."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

import pexpect
import pytest

from conftest import content_text
from fakes.anthropic_api import ErrorReply, Reply

pytestmark = pytest.mark.pty
PROMPT = "›"
CTRL_C, CTRL_D, ESC_ENTER, UP = "\x03", "\x04", "\x1b\r", "\x1b[A"


def spawn(*args: str, logfile: Any = None) -> pexpect.spawn:
    """The REPL in a pty; `logfile` gets what it prints from the start."""
    env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm-256color"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "claudechat", "chat", *args],
        env=env,
        encoding="utf-8",
        dimensions=(30, 100),
        timeout=20,
    )
    child.logfile_read = logfile
    child.expect_exact(PROMPT)
    return child


@pytest.fixture
def repl(fake_api) -> Iterator[pexpect.spawn]:  # type: ignore[no-untyped-def]
    child = spawn()
    yield child
    child.close(force=True)


def say(child: pexpect.spawn, text: str) -> None:
    child.send(text + "\r")


def leave(child: pexpect.spawn) -> str:
    child.send(CTRL_D)
    return leave_after_ctrl_d(child)


def leave_after_ctrl_d(child: pexpect.spawn) -> str:
    child.expect(r"conversation ([0-9a-f-]{36}) saved")
    conversation_id: str = child.match.group(1)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    return conversation_id


def stored(cli, conversation_id: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    result = cli("show", conversation_id, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_type_see_the_reply_and_leave_with_the_id(repl, fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(
        Reply(
            "## Answer\n\n- one\n- two\n",
            input_tokens=40,
            output_tokens=9,
            cache_read_input_tokens=30,
        )
    )
    say(repl, "hello claude")
    repl.expect_exact("Answer")
    repl.expect_exact("two")
    # 40 x $3 + 9 x $15 + 30 x $0.30 per million
    repl.expect_exact("40 in · 9 out · 30 from cache · $0.0003")
    repl.expect_exact(PROMPT)
    conversation_id = leave(repl)
    document = stored(cli, conversation_id)
    assert [content_text(m["content"]) for m in document["messages"]] == [
        "hello claude",
        "## Answer\n\n- one\n- two\n",
    ]
    listed = cli("list").stdout
    assert conversation_id[:8] in listed and "hello claude" in listed


def test_ctrl_c_mid_stream_keeps_what_arrived(repl, fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    chunks = [f"word{i} " for i in range(200)]
    fake_api.queue(Reply(chunks=chunks, delay=0.05))
    say(repl, "tell me a long story")
    repl.expect_exact("word5")
    repl.send(CTRL_C)
    repl.expect_exact("interrupted")
    repl.expect_exact(PROMPT)
    say(repl, "/usage")  # the REPL is still up and answering
    repl.expect_exact("this conversation:")
    document = stored(cli, leave(repl))
    reply = document["messages"][-1]
    assert reply["status"] == "interrupted"
    assert content_text(reply["content"]).startswith("word0 word1 word2 word3 word4 word5")
    assert len(content_text(reply["content"]).split()) < 200


def test_keys_typed_while_a_reply_streams_reach_the_next_prompt(repl, fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    # Typed during a reply: a whole question with its Enter, then Ctrl-D during the next
    # reply. The terminal's line editing used to turn that Ctrl-D into a NUL.
    # Replies of 2 s, so the keys are sent while they stream, however busy the machine.
    fake_api.queue(Reply(chunks=[f"one{i} " for i in range(40)], delay=0.05))
    fake_api.queue(Reply(chunks=[f"two{i} " for i in range(40)], delay=0.05))
    say(repl, "first")
    repl.expect_exact("one2")
    repl.send("second\r")
    repl.expect_exact("two2")
    repl.send(CTRL_D)
    document = stored(cli, leave_after_ctrl_d(repl))
    texts = [content_text(message["content"]) for message in document["messages"]]
    assert texts[0::2] == ["first", "second"]
    assert texts[3].split() == [f"two{i}" for i in range(40)]  # Ctrl-D waited for the reply


def test_retry_regenerates_the_last_reply(repl, fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(Reply("first draft"), Reply("second draft"))
    say(repl, "write a haiku")
    repl.expect_exact("first draft")
    repl.expect_exact(PROMPT)
    say(repl, "/retry")
    repl.expect_exact("second draft")
    repl.expect_exact(PROMPT)
    document = stored(cli, leave(repl))
    # Both drafts are kept, as two answers to one question; the new one is shown.
    assert [content_text(m["content"]) for m in document["messages"]] == [
        "write a haiku",
        "first draft",
        "second draft",
    ]
    question, first, second = document["messages"]
    assert first["parent_id"] == second["parent_id"] == question["id"]
    assert document["head"] == second["id"]
    assert fake_api.requests[-1].body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "write a haiku"}]}
    ]


def test_ctrl_c_during_retry_says_the_earlier_reply_stays(repl, fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    """It said "what arrived is kept; /retry asks again", and the next message went on from
    the earlier reply, not the part of the new one last on screen."""
    fake_api.queue(Reply("Paris."), Reply(chunks=[f"redo{i} " for i in range(200)], delay=0.05))
    say(repl, "capital of France?")
    repl.expect_exact("Paris.")
    repl.expect_exact(PROMPT)
    say(repl, "/retry")
    repl.expect_exact("redo5")
    repl.send(CTRL_C)
    repl.expect_exact("(interrupted: the earlier reply stays; what arrived is kept as a branch")
    repl.expect_exact(PROMPT)
    say(repl, "are you sure?")
    repl.expect_exact("echo: are you sure?")
    repl.expect_exact(PROMPT)
    assert [m["content"][0]["text"] for m in fake_api.requests[-1].body["messages"]] == [
        "capital of France?",
        "Paris.",
        "are you sure?",
    ]
    leave(repl)


def test_an_api_error_keeps_the_message_and_retry_sends_it(repl, fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(ErrorReply(400, "invalid_request_error", "prompt is too long"), Reply("fine"))
    say(repl, "my precious message")
    repl.expect_exact("prompt is too long")
    repl.expect_exact(PROMPT)
    say(repl, "/retry")
    repl.expect_exact("fine")
    repl.expect_exact(PROMPT)
    document = stored(cli, leave(repl))
    assert [(content_text(m["content"]), m["status"]) for m in document["messages"]] == [
        ("my precious message", "complete"),
        ("fine", "complete"),
    ]


def test_a_model_claude_does_not_know_is_said_before_what_follows_from_it(repl, fake_api) -> None:  # type: ignore[no-untyped-def]
    """The near miss and the model gone back to were said above the error they follow."""
    say(repl, "hello")
    repl.expect_exact("echo: hello")
    say(repl, "/model claude-sonet-4-6")
    repl.expect_exact("model: claude-sonet-4-6")
    repl.expect(r"did\s+you\s+mean\s+claude-sonnet-4-6\?")  # /model says it at once too
    fake_api.queue(ErrorReply(404, "not_found_error", "model: claude-sonet-4-6"))
    say(repl, "again")
    repl.expect_exact("the conversation goes back to claude-sonnet-4-6")
    said = " ".join(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", repl.before).split())
    error = said.find("does not know model 'claude-sonet-4-6' (404)")
    assert -1 < error < said.find("did you mean claude-sonnet-4-6?"), said


def test_new_starts_another_conversation_and_keeps_the_first(repl, fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    say(repl, "first topic")
    repl.expect_exact("echo: first topic")
    repl.expect_exact(PROMPT)
    say(repl, "/new")
    repl.expect(r"new conversation \(([0-9a-f]{8}) is saved\)")
    first_short = repl.match.group(1)
    say(repl, "second topic")
    repl.expect_exact("echo: second topic")
    second = leave(repl)
    assert fake_api.requests[-1].body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "second topic"}]}
    ]
    listed = cli("list").stdout.splitlines()
    assert [line.split("\t")[0] for line in listed] == [second[:8], first_short]


def test_a_name_given_before_any_message_says_when_it_is_kept(repl, fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    """An empty conversation is not saved: "named “my project”" was said, and leaving, or
    /new, left no trace of it without a word."""
    say(repl, "/name draft")
    repl.expect_exact("named “draft”; kept once a message is sent")
    say(repl, "/new")
    repl.expect_exact("new conversation (“draft” had no message; not kept)")
    say(repl, "/name my project")
    repl.expect_exact("named “my project”; kept once a message is sent")
    say(repl, "/exit")
    repl.expect_exact("“my project” had no message; not kept")
    repl.expect(pexpect.EOF)
    assert cli("list").stdout == ""
    child = spawn()
    say(child, "/name kept")
    child.expect_exact("named “kept”; kept once a message is sent")
    say(child, "/system be brief")
    child.expect_exact("system prompt: be brief; kept once a message is sent")
    say(child, "hello")
    child.expect_exact("echo: hello")
    say(child, "/system be briefer")
    child.expect_exact("system prompt: be briefer")
    child.expect_exact("\n")
    assert "kept once" not in child.before  # saved with the conversation now
    document = stored(cli, leave(child))
    assert (document["name"], document["system"]) == ("kept", "be briefer")


def test_name_model_system_and_unknown_commands(repl, fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    say(repl, "/frobnicate")
    repl.expect_exact("unknown command /frobnicate; /help lists the commands")
    say(repl, "/exit now")  # not carried out, its argument dropped: said
    repl.expect_exact("/exit takes no argument; /help lists the commands")
    say(repl, "/help")
    repl.expect_exact("/retry")
    say(repl, "/model claude-haiku-4-6")  # a typo: said at once, not after a reply's 404
    repl.expect(
        r"not\s+described:\s+conservative\s+limits;\s+did\s+you\s+mean\s+claude-haiku-4-5\?"
    )
    say(repl, "/model claude-haiku-4-5")
    repl.expect_exact("model: claude-haiku-4-5")
    say(repl, "/system answer in French")
    repl.expect_exact("system prompt: answer in French")
    say(repl, "bonjour")
    repl.expect_exact("echo: bonjour")
    say(repl, """/name French "practice" it's""")  # quoted plainly: repr showed it\'s
    repl.expect_exact("""named “French "practice" it's”""")
    document = stored(cli, leave(repl))
    assert document["name"] == """French "practice" it's"""
    body = fake_api.requests[-1].body
    assert (body["model"], body["system"]) == ("claude-haiku-4-5", "answer in French")


def test_multiline_input_history_and_completion(fake_api) -> None:  # type: ignore[no-untyped-def]
    child = spawn()
    child.send("line one")
    child.send(ESC_ENTER)
    child.send("line two\r")
    child.expect_exact("echo: line one")
    child.expect_exact(PROMPT)
    assert (
        content_text(fake_api.requests[-1].body["messages"][0]["content"]) == "line one\nline two"
    )
    # Pasted text keeps its newlines (bracketed paste).
    child.send("\x1b[200~pasted a\npasted b\x1b[201~\r")
    child.expect_exact("echo: pasted a")
    child.expect_exact(PROMPT)
    assert (
        content_text(fake_api.requests[-1].body["messages"][-1]["content"]) == "pasted a\npasted b"
    )
    leave(child)

    # History survives the process: Up recalls the last line of the previous run.
    child = spawn()
    child.send(UP)
    child.send("\r")
    child.expect_exact("echo: pasted a")
    child.expect_exact(PROMPT)
    child.send("/he\t")
    child.expect_exact("/help")
    child.send("\r")
    child.expect_exact("/retry")
    leave(child)


def test_ctrl_c_at_the_prompt_clears_the_line(repl, fake_api) -> None:  # type: ignore[no-untyped-def]
    repl.send("half typed")
    repl.send(CTRL_C)
    repl.expect_exact(PROMPT)
    say(repl, "fresh")
    repl.expect_exact("echo: fresh")
    assert content_text(fake_api.requests[-1].body["messages"][-1]["content"]) == "fresh"
    leave(repl)


def test_resume_shows_that_it_resumed(fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    first = cli("chat", input="remember 42")
    conversation_id = re.search(r"conversation ([0-9a-f-]{36})", first.stderr).group(1)  # type: ignore[union-attr]
    child = spawn("--resume", conversation_id[:8])
    say(child, "what number?")
    child.expect_exact("echo: what number?")
    assert [content_text(m["content"]) for m in fake_api.requests[-1].body["messages"]] == [
        "remember 42",
        "echo: remember 42",
        "what number?",
    ]
    assert leave(child) == conversation_id


def test_ctrl_r_searches_history(fake_api) -> None:  # type: ignore[no-untyped-def]
    child = spawn()
    for text in ("alpha question", "beta question"):
        say(child, text)
        child.expect_exact(f"echo: {text}")
        child.expect_exact(PROMPT)
    child.send("\x12")  # Ctrl-R: reverse incremental search
    child.send("alpha")
    child.send("\r")  # accept the match into the line
    child.send("\r")  # and send it
    child.expect_exact("echo: alpha question")
    assert content_text(fake_api.requests[-1].body["messages"][-1]["content"]) == "alpha question"
    leave(child)


def test_suggestions_from_history_and_slash_exit(fake_api) -> None:  # type: ignore[no-untyped-def]
    child = spawn()
    say(child, "what is a monad")
    child.expect_exact("echo: what is a monad")
    child.expect_exact(PROMPT)
    child.send("what is")
    child.expect_exact(" a monad")  # the rest of the line, suggested from history
    child.send("\x1b[C")  # Right arrow accepts the suggestion
    child.send("\r")
    child.expect_exact("echo: what is a monad")
    child.expect_exact(PROMPT)
    assert len(fake_api.requests) == 2
    assert content_text(fake_api.requests[-1].body["messages"][-1]["content"]) == "what is a monad"
    say(child, "/exit")
    child.expect(r"conversation [0-9a-f-]{36} saved")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
