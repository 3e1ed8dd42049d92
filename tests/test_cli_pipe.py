"""Pipe mode through the real program (`echo q | claudechat chat`): stdout has the answer,
stderr the rest; API errors, cut-off replies, and output that cannot be written. list, show,
--help and completion are in test_cli_pipe_commands.py."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from conftest import API_KEY, content_text, conversation_id
from fakes.anthropic_api import ErrorReply, Reply

ESCAPE = re.compile(r"\x1b")


def test_piped_stdin_is_the_message_and_the_reply_is_plain_stdout(cli, fake_api, backend) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(Reply("# Title\n\n**bold** reply", input_tokens=12, output_tokens=5))
    result = cli("chat", input="hi there\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "# Title\n\n**bold** reply\n"
    assert not ESCAPE.search(result.stdout + result.stderr)
    body = fake_api.requests[-1].body
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi there"}]}]
    assert body["model"] == "claude-sonnet-4-6"
    assert body["cache_control"] == {"type": "ephemeral"}
    assert body["stream"] is True

    shown = cli("show", conversation_id(result.stderr), "--json")
    document = json.loads(shown.stdout)
    assert [(m["role"], content_text(m["content"]), m["status"]) for m in document["messages"]] == [
        ("user", "hi there", "complete"),
        ("assistant", "# Title\n\n**bold** reply", "complete"),
    ]
    assert document["messages"][1]["usage"]["output_tokens"] == 5
    assert document["messages"][1]["tokens"] == 5


def test_a_turn_ends_with_the_usage_line_on_stderr(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """The README's dim line after each reply, in pipe mode too (plain text in a pipe): a
    one-turn run said only its conversation's id, nothing of what it cost."""
    usage = {"input_tokens": 40, "output_tokens": 9, "cache_read_input_tokens": 30}
    fake_api.queue(Reply("a long answer that", stop_reason="max_tokens", **usage))
    result = cli("chat", input="hi")
    assert result.returncode == 0, result.stderr
    notice, line, named = result.stderr.splitlines()
    assert "stopped at the output limit" in notice  # the reply's notices first, as in the REPL
    # As the REPL's line reads (test_repl): 40 x $3 + 9 x $15 + 30 x $0.30 per million.
    assert line == "40 in · 9 out · 30 from cache · $0.0003"
    assert named.startswith("conversation ")


def test_prompt_argument_is_the_request_and_stdin_the_material(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    diff = "diff --git a/x b/x\n-old\n+new\n"
    result = cli("chat", "review this", input=diff)
    assert result.returncode == 0, result.stderr
    sent = content_text(fake_api.requests[-1].body["messages"][0]["content"])
    assert sent == "review this\n\n" + diff.rstrip("\n")


def test_continue_and_resume_hold_a_conversation_across_runs(cli, fake_api, backend) -> None:  # type: ignore[no-untyped-def]
    first = cli("chat", "--name", "script", input="one")
    cid = conversation_id(first.stderr)
    second = cli("chat", "--continue", input="two")
    assert conversation_id(second.stderr) == cid
    assert [content_text(m["content"]) for m in fake_api.requests[-1].body["messages"]] == [
        "one",
        "echo: one",
        "two",
    ]
    third = cli("chat", "--resume", cid[:6], "--system", "be terse", input="three")
    assert third.returncode == 0, third.stderr
    body = fake_api.requests[-1].body
    assert body["system"] == "be terse"
    assert len(body["messages"]) == 5


def test_model_from_option_and_environment(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    cli("chat", input="a", env={"CLAUDECHAT_MODEL": "claude-haiku-4-5"})
    assert fake_api.requests[-1].body["model"] == "claude-haiku-4-5"
    cli("chat", "--model", "claude-opus-4-6", input="b", env={"CLAUDECHAT_MODEL": "x"})
    assert fake_api.requests[-1].body["model"] == "claude-opus-4-6"


def test_no_prompt_and_empty_stdin_is_a_usage_error(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    result = cli("chat", input="")
    assert result.returncode == 2
    assert "nothing to send" in result.stderr
    assert "Traceback" not in result.stderr
    assert fake_api.requests == []


def test_missing_api_key_says_how_to_set_it(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("chat", input="hello")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "export ANTHROPIC_API_KEY=" in result.stderr


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ErrorReply(400, "invalid_request_error", "max_tokens too big"), "max_tokens too big"),
        (
            ErrorReply(429, "rate_limit_error", "slow down", {"retry-after-ms": "1"}),
            "rate limiting requests (429): rate_limit_error: slow down",
        ),
        (
            ErrorReply(429, "rate_limit_error", "a day's spend", {"retry-after": "100"}),
            "(429; it asks to wait 100 s): rate_limit_error: a day's spend",
        ),
        (
            ErrorReply(529, "overloaded_error", "busy", {"retry-after-ms": "1"}),
            "overloaded (529): overloaded_error: busy",
        ),
        (
            ErrorReply(500, "api_error", "boom", {"retry-after-ms": "1"}),
            "server error (500): api_error: boom",
        ),
    ],
)
def test_api_errors_are_one_line_and_keep_the_message(cli, fake_api, error, expected) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(error, error, error)  # the SDK retries 429/5xx twice before giving up
    result = cli("chat", input="keep me")
    assert result.returncode == 3
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    document = json.loads(cli("show", conversation_id(result.stderr), "--json").stdout)
    assert [(content_text(m["content"]), m["status"]) for m in document["messages"]] == [
        ("keep me", "pending")
    ]


def test_a_refused_api_key_is_a_setup_error_and_keeps_the_message(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """Exit 2, as a missing key (and AWS credentials Bedrock refuses) are: it was 3, as a
    reply that failed."""
    fake_api.queue(ErrorReply(401, "authentication_error", "invalid x-api-key"))
    result = cli("chat", input="keep me")
    assert result.returncode == 2, result.stderr
    assert "rejected the credentials (401): check ANTHROPIC_API_KEY" in result.stderr
    document = json.loads(cli("show", conversation_id(result.stderr), "--json").stdout)
    assert [(content_text(m["content"]), m["status"]) for m in document["messages"]] == [
        ("keep me", "pending")
    ]
    assert len(fake_api.requests) == 1  # not asked again


def test_connection_refused_is_reported(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    result = cli("chat", input="anyone there?")
    assert result.returncode == 3
    assert "cannot reach the Anthropic API" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("cut_mode", ["close", "abort"])
def test_a_cut_off_reply_is_kept_marked_incomplete(cli, fake_api, backend, cut_mode) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(
        Reply(chunks=["partial ", "answer ", "never ", "finished"], cut_after=2, cut_mode=cut_mode)
    )
    result = cli("chat", input="question")
    assert result.returncode == 4
    assert "cut off" in result.stderr
    assert result.stdout.startswith("partial answer")
    document = json.loads(cli("show", conversation_id(result.stderr), "--json").stdout)
    reply = document["messages"][-1]
    assert (content_text(reply["content"]), reply["status"]) == ("partial answer ", "incomplete")


def test_an_error_event_mid_stream_is_reported_and_the_text_kept(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(
        Reply(chunks=["half ", "way"], cut_after=1, error_event=("overloaded_error", "Overloaded"))
    )
    result = cli("chat", input="q")
    assert result.returncode == 4  # text had arrived: a cut-off reply, as the README says
    assert "mid-reply" in result.stderr and "Overloaded" in result.stderr
    document = json.loads(cli("show", conversation_id(result.stderr), "--json").stdout)
    assert document["messages"][-1]["status"] == "incomplete"


def test_a_reply_stopped_by_the_output_limit_says_so(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(Reply("a long answer that", stop_reason="max_tokens"))
    result = cli("chat", input="write a novel")
    assert result.returncode == 0
    assert result.stdout == "a long answer that\n"
    assert "stopped at the output limit" in result.stderr


def test_a_reply_with_a_lone_surrogate_prints_and_exports(cli, fake_api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Valid JSON from the API, but no UTF-8 form: stdout, markdown and HTML get U+FFFD, the
    document and a JSON export keep it exactly (a JSON escape); none of it is a traceback."""
    fake_api.queue(Reply("odd \ud800 reply"))
    result = cli("chat", input="hi\n")
    assert (result.returncode, result.stdout) == (0, "odd \ufffd reply\n"), result.stderr
    conversation = conversation_id(result.stderr)
    for form in ("markdown", "html"):
        exported = cli("export", conversation, "-f", form)
        assert exported.returncode == 0 and "odd \ufffd reply" in exported.stdout, exported.stderr
        written = cli("export", conversation, "-o", str(tmp_path / f"out.{form[:4]}"))
        assert written.returncode == 0, written.stderr
    assert "odd \ufffd reply" in (tmp_path / "out.html").read_text()
    as_json = cli("export", conversation, "-f", "json")
    assert as_json.returncode == 0 and "odd \\ud800 reply" in as_json.stdout
    listed = cli("list")
    assert listed.returncode == 0 and conversation[:8] in listed.stdout


def _shell(command: str) -> subprocess.CompletedProcess[str]:
    """A command line with its own redirections (`> /dev/full`, `>&-`), claudechat as CC."""
    claudechat = f"{shlex.quote(sys.executable)} -m claudechat"
    return subprocess.run(
        ["bash", "-c", command.replace("CC", claudechat)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_reply_that_cannot_be_written_is_saved_and_said_in_one_line(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(Reply(chunks=["a reply ", "that arrives ", "whole"]))
    done = _shell("echo hi | CC chat > /dev/full")
    assert done.returncode == 5, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = [ln for ln in done.stderr.splitlines() if "cannot write" in ln]
    assert "No space left on device" in line
    shown = cli("show", conversation_id(done.stderr), "--json")
    messages = json.loads(shown.stdout)["messages"]
    assert [(content_text(m["content"]), m["status"]) for m in messages] == [
        ("hi", "complete"),
        ("a reply that arrives whole", "complete"),
    ]
    listed = _shell("CC list > /dev/full")
    assert listed.returncode == 5 and listed.stderr.count("\n") == 1, listed.stderr


def test_a_closed_stdout_is_output_that_cannot_be_written(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """As `> /dev/full` is: one line, exit 5, the reply saved. A closed stdout was taken for
    /dev/null, and the reply or the list went nowhere with exit 0 and no word."""
    done = _shell("echo hi | CC chat >&-")
    assert done.returncode == 5 and "Traceback" not in done.stderr, done.stderr
    (line,) = [ln for ln in done.stderr.splitlines() if "cannot write" in ln]
    assert "cannot write the reply to standard output (Bad file descriptor); it is saved" in line
    shown = cli("show", conversation_id(done.stderr), "--json")
    assert [m["status"] for m in json.loads(shown.stdout)["messages"]] == ["complete"] * 2
    listed = _shell("CC list >&-")
    assert listed.returncode == 5, listed.stderr
    assert listed.stderr == "claudechat: cannot write the output: Bad file descriptor\n"
    # Nothing to write is no failure; a closed stderr decides nothing.
    for command in ("CC list --search zzzz >&-", "CC list 2>&-"):
        assert _shell(command).returncode == 0, command


def _with_stderr(stderr: int | str, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    """The program with stderr a pipe nobody reads any more (an fd) or a file (/dev/full)."""
    with open(stderr, "w") if isinstance(stderr, str) else open(stderr, "w", closefd=False) as err:
        return subprocess.run(
            [sys.executable, "-m", "claudechat", *args],
            input=stdin,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            timeout=60,
        )


@pytest.mark.parametrize("where", ["closed pipe", "/dev/full"])
def test_a_stderr_that_cannot_be_written_decides_neither_the_turn_nor_its_exit_code(  # type: ignore[no-untyped-def]
    cli, fake_api, where
) -> None:
    """`claudechat chat 2>&1 | head -1`: the first retry notice closed the reader, and the
    notice's failed write ended the turn: no retry, the reply never asked for, exit 0."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    stderr: int | str = write_end if where == "closed pipe" else where
    try:
        busy = ErrorReply(529, "overloaded_error", "busy", {"retry-after-ms": "1"})
        fake_api.queue(busy, busy, Reply("third time lucky"))
        done = _with_stderr(stderr, "chat", "say", stdin="hi")
        assert (done.returncode, done.stdout) == (0, "third time lucky\n")
        (row,) = json.loads(cli("list", "--json").stdout)
        messages = json.loads(cli("show", row["id"], "--json").stdout)["messages"]
        assert [(content_text(m["content"]), m["status"]) for m in messages] == [
            ("say\n\nhi", "complete"),
            ("third time lucky", "complete"),
        ]
        fake_api.queue(ErrorReply(400, "invalid_request_error", "max_tokens too big"))
        refused = _with_stderr(stderr, "chat", "--continue", stdin="again")
        assert refused.returncode == 3  # it was 0: the error line's failed write hid it
    finally:
        os.close(write_end)


def _from_a_terminal(*args: str) -> subprocess.CompletedProcess[str]:
    """The program typed at a terminal (stdin one), its output redirected to a pipe."""
    leader, follower = os.openpty()
    try:
        return subprocess.run(
            [sys.executable, "-m", "claudechat", *args],
            stdin=follower,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(leader)
        os.close(follower)


def test_output_redirected_from_a_terminal_is_one_turn(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """`claudechat chat "explain x" > answer.md`: the REPL drew its prompt into the file and
    waited, unseen, for input that would never come."""
    done = _from_a_terminal("chat", "explain x")
    assert (done.returncode, done.stdout) == (0, "echo: explain x\n"), done.stderr
    shown = json.loads(cli("show", conversation_id(done.stderr), "--json").stdout)
    assert [content_text(m["content"]) for m in shown["messages"]] == [
        "explain x",
        "echo: explain x",
    ]
    bare = _from_a_terminal("chat")
    assert bare.returncode == 2 and bare.stdout == ""
    assert "give its message" in bare.stderr and "Traceback" not in bare.stderr
