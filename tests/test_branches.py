"""Two sessions on one conversation make two branches of it: nothing forked, nothing lost,
nothing answered twice, and neither session's request carries the other's message."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time

import pexpect

from conftest import Backend, content_text
from fakes.anthropic_api import FakeAnthropic, Reply


def _conversation_id(stderr: str) -> str:
    match = re.search(r"conversation ([0-9a-f-]{36})", stderr)
    assert match, stderr
    return match.group(1)


def _texts(request_body: dict) -> list[str]:  # type: ignore[type-arg]
    return [content_text(m["content"]) for m in request_body["messages"]]


def _wait_for_requests(fake: FakeAnthropic, count: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while len(fake.requests) < count:
        assert time.monotonic() < deadline, "the first session never asked Claude"
        time.sleep(0.02)


def test_a_session_resuming_mid_reply_branches_and_never_takes_the_others_message(
    backend: Backend, fake_api: FakeAnthropic, cli
) -> None:  # type: ignore[no-untyped-def]
    first = cli("chat", input="shared question")
    assert first.returncode == 0, first.stderr
    conversation = _conversation_id(first.stderr)

    # Session A asks, and its reply streams slowly; session B resumes meanwhile.
    slowly = "answer to A, held after its first word until B is done"
    release = threading.Event()
    fake_api.queue(Reply(slowly, held_after=1, release=release))
    slow = subprocess.Popen(
        [sys.executable, "-m", "claudechat", "chat", "--resume", conversation, "question A"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    try:
        _wait_for_requests(fake_api, 2)
        second = cli("chat", "--resume", conversation, "question B")
        assert slow.poll() is None, "session A ended while its reply was held"
    finally:
        release.set()  # a failed check must not leave A held (and its process running)
    out, err = slow.communicate(timeout=30)
    assert slow.returncode == 0, err
    assert second.returncode == 0, second.stderr
    assert "the last message has no reply" in second.stderr

    requests = {_texts(r.body)[-1]: _texts(r.body) for r in fake_api.requests[1:]}
    history = ["shared question", "echo: shared question"]
    assert requests == {
        "question A": [*history, "question A"],
        "question B": [*history, "question B"],
    }
    assert out.decode() == slowly + "\n"
    assert second.stdout == "echo: question B\n"

    document = json.loads(cli("show", conversation, "--json").stdout)
    messages = {m["id"]: m for m in document["messages"]}
    questions = [m for m in messages.values() if m["role"] == "user"]
    # Every question answered exactly once, in the one conversation.
    for question in questions:
        replies = [m for m in messages.values() if m["parent_id"] == question["id"]]
        assert len(replies) == 1, (content_text(question["content"]), replies)
        assert question["status"] == "complete"
    assert sorted(content_text(q["content"]) for q in questions) == [
        "question A",
        "question B",
        "shared question",
    ]
    listed = cli("list", "--json")
    assert [row["id"] for row in json.loads(listed.stdout)] == [conversation]
    shown = cli("show", conversation)
    assert "branches: 2" in shown.stdout


def test_the_repl_lists_and_switches_branches(fake_api: FakeAnthropic, cli) -> None:  # type: ignore[no-untyped-def]
    first = cli("chat", input="root question")
    conversation = _conversation_id(first.stderr)
    assert cli("chat", "--resume", conversation, "left").returncode == 0
    env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm-256color"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "claudechat", "chat", "--resume", conversation[:8]],
        env=env,
        encoding="utf-8",
        dimensions=(30, 100),
        timeout=20,
    )
    child.expect_exact("›")
    child.send("/retry\r")  # a second answer to "left": a new branch
    child.expect_exact("echo: left")
    child.expect_exact("›")
    child.send("/branches\r")
    child.expect(r"1\s+4 messages, last by Claude: 'echo: left'")
    child.expect_exact("›")
    child.send("/branch 1\r")
    child.expect_exact("now on the branch ending")
    child.expect_exact("›")
    child.send("next\r")
    child.expect_exact("echo: next")
    child.expect_exact("›")
    child.send("\x04")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    document = json.loads(cli("show", conversation, "--json").stdout)
    by_id = {m["id"]: m for m in document["messages"]}
    left = next(m for m in by_id.values() if content_text(m["content"]) == "left")
    answers = [m for m in by_id.values() if m["parent_id"] == left["id"]]
    assert len(answers) == 2  # the first answer and the retried one, both kept
    newest = by_id[document["head"]]
    assert content_text(newest["content"]) == "echo: next"
    # "next" continued the branch that was switched to: the older answer to "left".
    question = by_id[newest["parent_id"]]
    assert content_text(question["content"]) == "next"
    assert question["parent_id"] == min(answers, key=lambda m: m["created_at"])["id"]
    assert len(fake_api.requests[-1].body["messages"]) == 5


def test_pipe_mode_names_branches_as_the_repls_command(fake_api: FakeAnthropic, cli) -> None:  # type: ignore[no-untyped-def]
    """Pipe mode said "/branches lists them", a command only the REPL runs."""
    from claudechat.conversation import Conversation, Message
    from conftest import save_conversation

    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.append("user", "first")
    answer = conversation.append("assistant", "first reply")
    conversation.append("user", "a branch")
    conversation.append("assistant", "its reply")
    conversation.add(Message.of_text("user", "another", parent_id=answer.id))
    conversation.append("assistant", "the shown branch")
    save_conversation(conversation)
    result = cli("chat", "-r", conversation.id, "more")
    assert result.returncode == 0, result.stderr
    assert (
        "this conversation has 1 other branch(es): /branches lists them in the REPL "
        f"(claudechat chat -r {conversation.id})\n"
    ) in result.stderr
