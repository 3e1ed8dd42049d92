"""list, show, --version, --help and shell completion through the real program, in a pipe:
plain text on stdout (tab-separated for list, no escape codes), errors one line on stderr."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import pytest

from claudechat.conversation import Conversation
from conftest import conversation_id, save_conversation
from fakes.anthropic_api import Reply

ESCAPE = re.compile(r"\x1b")


def test_list_in_a_pipe_is_tab_separated_newest_first(cli, fake_api, backend) -> None:  # type: ignore[no-untyped-def]
    cli("chat", "--name", "first one", input="alpha")
    cli("chat", input="what is the airspeed of an unladen swallow")
    result = cli("list")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    newest, oldest = (line.split("\t") for line in lines)
    assert newest[1] == "what is the airspeed of an unladen swallow"
    assert oldest[1] == "first one"
    assert newest[2:4] == ["claude-sonnet-4-6", "2"]
    assert newest[4] == "just now"
    assert len(newest[0]) == 8
    assert not ESCAPE.search(result.stdout)

    as_json = json.loads(cli("list", "--json", "--limit", "1").stdout)
    assert [c["title"] for c in as_json] == ["what is the airspeed of an unladen swallow"]


def test_an_empty_list_says_so_on_stderr(cli, fake_api, backend) -> None:  # type: ignore[no-untyped-def]
    """`list --search zzzz` printed nothing at all, where `search zzzz` says no message
    matches; `list` with no conversations said so only in a terminal."""
    empty = cli("list")
    assert (empty.returncode, empty.stdout) == (0, "")
    assert empty.stderr.strip() == "no conversations yet: start one with `claudechat chat`"
    cli("chat", input="alpha")
    for filters in (["--search", "zzzz"], ["--since", "0d"], ["--search", "alpha", "--since=0d"]):
        result = cli("list", *filters)
        assert (result.returncode, result.stdout) == (0, ""), filters
        assert result.stderr.strip() == "no conversation matches", filters
    assert cli("list", "--search", "zzzz", "--json").stdout.strip() == "[]"


def test_conversations_never_used_are_counted_not_listed(cli, fake_api, backend) -> None:  # type: ignore[no-untyped-def]
    """A bot's /new_chat that went no further saves a conversation with no message: hundreds
    of `(empty)` rows pushed a person's conversations off the page. Named, one is listed."""
    for name in (None, None, "kept for later"):
        started = Conversation.new("tester", "claude-sonnet-4-6")
        started.set("name", name)
        save_conversation(started)
    cli("chat", input="alpha")

    default = cli("list")
    assert [line.split("\t")[1] for line in default.stdout.splitlines()] == [
        "alpha",
        "kept for later",
    ]
    left_out = "2 conversations without messages not listed (`list --empty` lists them)"
    assert default.stderr.splitlines() == [left_out]
    # The limit counts the rows listed, not the ones left out (newest of all, here).
    assert len(cli("list", "-n", "2").stdout.splitlines()) == 2
    assert [c["title"] for c in json.loads(cli("list", "--json", "-n", "1").stdout)] == ["alpha"]
    every = cli("list", "--empty")
    assert (len(every.stdout.splitlines()), every.stderr) == (4, "")
    # Filtered, the ones never used that the filter kept are counted: none match a search.
    assert cli("list", "--search", "alpha").stderr == ""
    recent = cli("list", "--since", "1h")
    assert (len(recent.stdout.splitlines()), recent.stderr.splitlines()) == (2, [left_out])
    nothing = cli("list", "--search", "zzzz")
    assert (nothing.stdout, nothing.stderr.strip()) == ("", "no conversation matches")


def test_only_conversations_never_used_say_why_nothing_is_listed(cli, backend) -> None:  # type: ignore[no-untyped-def]
    save_conversation(Conversation.new("tester", "claude-sonnet-4-6"))
    result = cli("list")
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr.splitlines() == [
        "1 conversation without messages not listed (`list --empty` lists them)"
    ]


def test_show_plain_in_a_pipe(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(Reply("**yes**"))
    cid = conversation_id(cli("chat", "--name", "named", input="really?").stderr)
    result = cli("show", cid[:8])
    assert result.returncode == 0
    assert result.stdout.startswith("# named\n")
    assert "## You · " in result.stdout and "## Claude · " in result.stdout
    assert "really?" in result.stdout and "**yes**" in result.stdout
    assert not ESCAPE.search(result.stdout)


@pytest.mark.parametrize(
    ("reference", "code", "message"),
    [
        ("0000", 1, "no conversation '0000'"),
        ("00000000-0000-4000-8000-000000000000", 1, "no conversation"),
        ("not-an-id!", 2, "not a conversation id"),
        ("ab", 2, "at least 4"),
    ],
)
def test_show_bad_ids(cli, reference, code, message) -> None:  # type: ignore[no-untyped-def]
    result = cli("show", reference)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_version_and_help(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("--version").stdout.startswith("claudechat 0.1.0")
    for command in ("chat", "list", "show", "config", "db"):
        result = cli(command, "--help")
        assert result.returncode == 0
        assert "Usage: claudechat" in result.stdout
    chat_help = cli("chat", "--help").stdout
    for option in (
        "--model",
        "--system",
        "--name",
        "--continue",
        "--resume",
        "--max-context-tokens",
        "--provider",
    ):
        assert option in chat_help
    assert cli("list", "--bogus").returncode == 2


def test_shell_completion_script(isolated_home) -> None:  # type: ignore[no-untyped-def]
    # Typed in bash: the shell is found among the program's parents. Run straight from a
    # test, the parents are whatever started pytest, and with no shell among them typer says
    # "Shell  not supported" (it did once, under `timeout`).
    # (`; exit $?`: bash would otherwise replace itself with the program, leaving no shell.)
    program = f"{shlex.quote(sys.executable)} -m claudechat --show-completion; exit $?"
    result = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "_CLAUDECHAT_COMPLETE" in result.stdout
    assert "complete" in result.stdout
