"""Text a terminal would obey (C1 controls, bidi overrides) is shown, not obeyed; JSON output
stays exact but escapes it; help and messages say one thing, whole."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pexpect
import pytest

from claudechat.conversation import Conversation
from claudechat.output import json_safe, safe_text
from claudechat.settings import load_settings
from claudechat.storage import open_store
from conftest import content_text
from fakes.anthropic_api import ErrorReply, Reply
from test_repl import PROMPT, leave, say, spawn

# A right-to-left override makes "txt.exe" read as "exe.txt"; CSI in its one-byte C1 form.
RLO, CSI_C1, LRI, PDI = "\u202e", "\u009b", "\u2066", "\u2069"
TRICKY = f"file {RLO}txt.exe and {CSI_C1}31m red {LRI}isolated{PDI} end"
RAW = (RLO, CSI_C1, LRI, PDI)


@pytest.fixture
def tricky_conversation(isolated_home) -> str:  # type: ignore[no-untyped-def]
    store = open_store(load_settings())
    conversation = Conversation.new("tester", "claude-sonnet-4-6", name=f"name {RLO}gpj.exe")
    conversation.append("user", TRICKY, status="complete")
    conversation.append("assistant", TRICKY)
    store.save(conversation)
    store.close()
    return conversation.id


def test_show_json_escapes_c1_and_bidi_controls_and_stays_exact(cli, tricky_conversation) -> None:  # type: ignore[no-untyped-def]
    result = cli("show", tricky_conversation, "--json")
    assert result.returncode == 0, result.stderr
    assert not any(char in result.stdout for char in RAW)
    assert "\\u009b" in result.stdout and "\\u202e" in result.stdout
    assert content_text(json.loads(result.stdout)["messages"][0]["content"]) == TRICKY
    listed = cli("list", "--json")
    assert not any(char in listed.stdout for char in RAW)
    assert json.loads(listed.stdout)[0]["name"] == f"name {RLO}gpj.exe"


def test_show_and_list_neutralise_bidi_controls(cli, tricky_conversation) -> None:  # type: ignore[no-untyped-def]
    for args in (("show", tricky_conversation), ("show", tricky_conversation, "--markdown")):
        result = cli(*args)
        assert result.returncode == 0, result.stderr
        assert not any(char in result.stdout for char in RAW), args
        assert "<U+202E>txt.exe" in result.stdout
    listed = cli("list")
    assert not any(char in listed.stdout for char in RAW)


@pytest.mark.pty
def test_show_in_a_terminal_neutralises_bidi_controls(tricky_conversation) -> None:  # type: ignore[no-untyped-def]
    import os
    import sys

    env = {**os.environ, "TERM": "xterm-256color"}
    child = pexpect.spawn(
        sys.executable, ["-m", "claudechat", "show", tricky_conversation], env=env, timeout=20
    )
    child.expect(pexpect.EOF)
    screen = (child.before or b"").decode()
    assert "<U+202E>txt.exe" in screen
    assert not any(char in screen for char in RAW)


@pytest.mark.pty
def test_the_repl_and_its_error_lines_neutralise_bidi_controls(fake_api, cli) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(Reply(TRICKY), ErrorReply(400, "invalid_request_error", f"bad {RLO}evil"))
    child = spawn()
    say(child, "show me")
    child.expect_exact("<U+202E>txt.exe")
    child.expect_exact(PROMPT)
    say(child, "again")
    child.expect_exact("<U+202E>evil")
    child.expect_exact(PROMPT)
    seen = child.before
    leave(child)
    assert not any(char in seen for char in RAW)


def test_safe_text_and_json_safe() -> None:
    assert safe_text(f"a{RLO}b{LRI}c") == "a<U+202E>b<U+2066>c"
    escaped = json_safe(json.dumps({"t": TRICKY + "\x7f"}, ensure_ascii=False))
    assert re.fullmatch(r"[\x20-\x7e\u00a0-\u2029\u202f-\u2065\u206a-\uffff]*", escaped)
    assert json.loads(escaped) == {"t": TRICKY + "\x7f"}


def test_help_shows_whole_descriptions_and_plain_usage(cli) -> None:  # type: ignore[no-untyped-def]
    top = cli("--help", env={"COLUMNS": "80"})
    assert top.returncode == 0
    commands = top.stdout.split("Commands:")[1]
    assert "..." not in commands
    assert "one turn when input is piped or output redirected." in " ".join(commands.split())
    show = cli("show", "--help")
    assert "Usage: claudechat show [OPTIONS] ID" in show.stdout
    assert "{" not in show.stdout


def test_every_option_value_is_named_for_what_it_is() -> None:
    """--help said `--limit <int range>`, `--search <str>`, `--port <int range>`: a type where
    a name (N, TEXT, PORT) belongs."""
    import typer

    from claudechat.cli import app

    def commands(group: Any, path: str) -> list[tuple[str, Any]]:
        found = [(path, group)]
        for name, sub in getattr(group, "commands", {}).items():
            found += commands(sub, f"{path} {name}")
        return found

    unnamed = [
        f"{path} {' '.join(param.opts)}"
        for path, command in commands(typer.main.get_command(app), "claudechat")
        for param in command.params
        if param.param_type_name == "option" and not param.is_flag and not param.metavar
    ]
    assert unnamed == []
    assert len(commands(typer.main.get_command(app), "claudechat")) > 20  # all were seen


def test_a_non_hexadecimal_id_says_so(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("show", "zzzz")
    assert result.returncode == 2
    assert "hexadecimal" in result.stderr
    assert "at least 4" not in result.stderr
    short = cli("show", "ab")
    assert "at least 4" in short.stderr


@pytest.mark.pty
def test_an_api_error_in_the_repl_gives_one_instruction(fake_api) -> None:  # type: ignore[no-untyped-def]
    busy = ErrorReply(529, "overloaded_error", "busy", {"retry-after-ms": "1"})
    fake_api.queue(busy, busy, busy)
    child = spawn()
    say(child, "hello")
    # The waits between the attempts are said, then the last failure, each with the API's words.
    child.expect(r"overloaded \(529\): overloaded_error: busy; retrying in")
    child.expect(r"overloaded \(529\): overloaded_error: busy;(?! retrying)")
    child.expect_exact(PROMPT)
    rest = " ".join(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before).split())  # wrapped
    assert "/retry sends it again" in rest
    assert "try again" not in rest.replace("/retry sends it again", "")
    leave(child)


def test_an_api_error_in_pipe_mode_says_try_again_once(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    busy = ErrorReply(529, "overloaded_error", "busy", {"retry-after-ms": "1"})
    fake_api.queue(busy, busy, busy)
    result = cli("chat", input="hello")
    assert result.returncode == 3
    line = result.stderr.strip().splitlines()[-1]
    assert line.count("try again") == 1, line


def test_a_file_name_with_a_line_break_is_one_line_in_an_error_and_a_warning(  # type: ignore[no-untyped-def]
    cli, fake_api, tmp_path
) -> None:
    """`claudechat import $'nl\\nname.json'` said "claudechat: nl" / "name.json is not a
    claudechat JSON export"; ESC was shown as ^[, the line break went through."""
    not_json = tmp_path / "nl\nname.json"
    not_json.write_text("x")
    refused = cli("import", str(not_json))
    assert refused.returncode == 2
    assert refused.stderr == (
        f"claudechat: {tmp_path}/nl^Jname.json is not a claudechat JSON export (not JSON text)\n"
    )
    # A warning, its attachment in neither the export nor the store.
    older = tmp_path / "older\nexport.json"
    shutil.copyfile(Path(__file__).parent / "data" / "export1" / "with_attachment.json", older)
    imported = cli("import", str(older))
    assert imported.returncode == 0, imported.stderr
    (warning,) = [line for line in imported.stderr.splitlines() if "missing" in line]
    assert warning.startswith(f"{tmp_path}/older^Jexport.json: 1 attachment it references")
