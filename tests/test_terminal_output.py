"""What a person sees in a terminal, and what stays out of the way: styled tables and markdown
in a terminal, without colour under NO_COLOR, and no heavy imports for the quick commands."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pexpect
import pytest

from conftest import content_text
from fakes.anthropic_api import ErrorReply, Reply


def run_in_terminal(*args: str, env: dict[str, str] | None = None, columns: int = 120) -> str:
    return _spawned(sys.executable, ["-m", "claudechat", *args], env, columns)


def _spawned(program: str, args: list[str], env: dict[str, str] | None, columns: int = 120) -> str:
    """What `program ARGS` printed to its terminal; it must exit 0."""
    child = pexpect.spawn(
        program,
        args,
        env={**os.environ, "TERM": "xterm-256color", **(env or {})},
        encoding="utf-8",
        dimensions=(40, columns),
        timeout=20,
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    return child.before  # type: ignore[no-any-return]


@pytest.fixture
def two_conversations(cli, fake_api) -> str:  # type: ignore[no-untyped-def]
    cli("chat", "--name", "release notes", input="draft them")
    fake_api.queue(Reply("# Heading\n\n- **bold** item\n\n```python\nprint('hi')\n```\n"))
    result = cli("chat", input="format something")
    return result.stderr.split()[-1]


def test_list_in_a_terminal_is_a_table(two_conversations) -> None:  # type: ignore[no-untyped-def]
    screen = run_in_terminal("list")
    header = next(line for line in screen.splitlines() if "Name" in line)
    for column in ("ID", "Name", "Model", "Msgs", "Updated"):
        assert column in header
    assert "release notes" in screen and "format something" in screen
    assert "\x1b[" in screen  # styled
    assert "\t" not in screen  # a table, not the pipe format


def test_an_80_column_list_gives_names_the_room_and_keeps_rows_on_one_line(cli) -> None:  # type: ignore[no-untyped-def]
    """The Name column was squeezed to 8 columns, wrapping a name over many lines, while the
    mostly empty "Forked from" kept 11 for its heading."""
    from claudechat.conversation import Conversation
    from claudechat.settings import load_settings
    from claudechat.storage import open_store

    store = open_store(load_settings())
    parent = Conversation.new("tester", "claude-sonnet-4-6")
    parent.set("name", "a conversation with a long name that no eighty-column table can hold")
    parent.append("user", "hello")
    fork = Conversation.new("tester", "claude-sonnet-4-6")
    fork.parent_id = parent.id
    fork.append("user", "a fork of it, with a first message long enough to be cut short too")
    for conversation in (parent, fork):
        assert store.save(conversation).pushed
    store.close()
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", run_in_terminal("list", columns=80))
    lines = screen.splitlines()
    assert all(len(line) <= 80 for line in lines), screen
    (parent_line,) = [line for line in lines if line.startswith(parent.id[:8])]
    (fork_line,) = [line for line in lines if line.startswith(fork.id[:8])]
    assert "a conversation" in parent_line and "…" in parent_line, screen
    assert "a fork of it" in fork_line and "…" in fork_line, screen
    assert fork_line.rstrip().endswith(parent.id[:8]), screen  # its "Forked from", whole
    assert len([line for line in lines if line.strip()]) == 4, screen  # a heading of 2 lines
    # At 60 columns the name was a lone "…" on every row.
    narrow = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", run_in_terminal("list", columns=60))
    (parent_line,) = [line for line in narrow.splitlines() if line.startswith(parent.id[:8])]
    assert "a conversat" in parent_line, narrow
    assert "claude-sonnet" not in narrow, narrow  # the model gave the name its room
    # Narrower still, a block a row has a line for each field: the model was left out there
    # too, though it had room.
    blocks = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", run_in_terminal("list", columns=40))
    assert blocks.count("Model") == 2 and blocks.count("claude-sonnet-4-6") == 2, blocks


def test_show_in_a_terminal_renders_markdown(two_conversations) -> None:  # type: ignore[no-untyped-def]
    styled = run_in_terminal("show", two_conversations[:8])
    assert "\x1b[" in styled
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", styled)  # what the eye reads
    assert "You · " in screen and "Claude · " in screen
    assert "# Heading" not in screen and "Heading" in screen  # rendered, not source
    assert "**bold**" not in screen and "bold item" in screen
    assert "```" not in screen and "print('hi')" in screen


def test_no_color_keeps_the_terminal_layout_without_colour(two_conversations) -> None:  # type: ignore[no-untyped-def]
    """NO_COLOR takes the colours away, not the layout: `list` printed tab-separated rows
    without their column names, and `show` the markdown source, as in a pipe."""
    listed = run_in_terminal("list", env={"NO_COLOR": "1"})
    assert colour_codes(listed) == []
    header = next(line for line in listed.splitlines() if "Name" in line)
    assert all(column in header for column in ("ID", "Name", "Model", "Msgs", "Updated"))
    assert "\t" not in listed
    shown = run_in_terminal("show", two_conversations, env={"NO_COLOR": "1"})
    assert colour_codes(shown) == []
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)
    assert "# Heading" not in screen and "Heading" in screen and "print('hi')" in screen


def colour_codes(output: str) -> list[str]:
    """The SGR parameters in `output` that set a colour (30-49, 90-107: 38 and 48 too)."""
    return [
        code
        for params in re.findall(r"\x1b\[([0-9;]*)m", output)
        for code in params.split(";")
        if code and (30 <= int(code) <= 49 or 90 <= int(code) <= 107)
    ]


MARKDOWN_REPLY = "# Heading\n\n- **bold** item\n\n```python\nprint('hi')\n```\n"


def _piped_into(args: str, env: dict[str, str] | None = None) -> str:
    """`echo material | claudechat chat ARGS` with stdout a terminal."""
    command = f"echo material | {sys.executable} -m claudechat chat {args}"
    return _spawned("/bin/sh", ["-c", command], env)


def test_pipe_mode_renders_the_reply_when_stdout_is_a_terminal(fake_api) -> None:  # type: ignore[no-untyped-def]
    """README: plain text only when stdout is not a terminal or NO_COLOR is set; pipe mode
    printed the markdown source to the terminal too."""
    fake_api.queue(Reply(MARKDOWN_REPLY), Reply(MARKDOWN_REPLY))
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", _piped_into("review"))
    assert "# Heading" not in screen and "Heading" in screen
    assert "**bold**" not in screen and "bold item" in screen
    assert "```" not in screen and "print('hi')" in screen
    # NO_COLOR: rendered all the same, without colour (it printed the markdown source).
    plain = _piped_into("review", env={"NO_COLOR": "1"})
    assert colour_codes(plain) == [], plain
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", plain)
    assert "# Heading" not in screen and "```" not in screen and "print('hi')" in screen


@pytest.mark.parametrize("command", [["--help"], ["list"], ["show", "0000"]])
def test_quick_commands_do_not_import_the_heavy_libraries(cli, command: list[str]) -> None:  # type: ignore[no-untyped-def]
    cli("list")  # not the first start: on an empty home that one migrates the database
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "claudechat", *command],
        capture_output=True,
        text=True,
        env=os.environ,
    )
    imported = {line.split("|")[-1].strip() for line in completed.stderr.splitlines()}
    for heavy in ("anthropic", "boto3", "botocore", "psycopg2", "prompt_toolkit", "alembic"):
        assert heavy not in imported, f"{command} imported {heavy}"
    if command == ["--help"]:
        assert "sqlalchemy" not in imported and "rich" not in imported
    else:  # opening the store imported a reply's view for its waiting line (5 ms)
        assert "claudechat.reply_view" not in imported, f"{command} imported reply_view"
        assert "claudechat.events" not in imported, f"{command} imported events"


def test_pipe_mode_keeps_the_reply_when_its_terminal_goes_away(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """Rendered straight to the terminal, a write failing mid-reply (EIO: the terminal is
    gone, with no SIGHUP for a process it does not control) ended the turn unsaved."""
    words = [f"w{n} " for n in range(80)]
    fake_api.queue(Reply(chunks=words, delay=0.03))
    leader, follower = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "claudechat", "chat", "review"],
        stdin=subprocess.PIPE,
        stdout=follower,
        stderr=subprocess.PIPE,
        env={**os.environ, "TERM": "xterm-256color"},
        start_new_session=True,  # the pty is not its controlling terminal: no SIGHUP
    )
    os.close(follower)
    assert process.stdin is not None
    process.stdin.write(b"material")
    process.stdin.close()
    process.stdin = None  # sent: communicate() has nothing more to send
    os.read(leader, 1024)  # the reply has begun
    os.close(leader)
    _out, stderr = process.communicate(timeout=30)
    assert process.returncode == 5, stderr
    assert b"it is saved" in stderr
    (row,) = json.loads(cli("list", "--json").stdout)
    shown = json.loads(cli("show", "--json", row["id"]).stdout)
    assert shown["messages"][-1]["status"] == "complete"
    assert content_text(shown["messages"][-1]["content"]) == "".join(words)


def test_a_dumb_terminal_gets_no_escape_sequences(fake_api) -> None:  # type: ignore[no-untyped-def]
    """TERM=dumb (Emacs's shell): stdout was plain, but the status lines on stderr carried
    their colour codes raw."""
    shown = _piped_into("say", env={"TERM": "dumb"})  # stdout and stderr: the terminal
    assert "echo:" in shown and "conversation " in shown
    assert "\x1b" not in shown, shown


def test_a_dumb_terminal_gets_the_reply_as_it_streams(fake_api) -> None:  # type: ignore[no-untyped-def]
    """Drawn as markdown there, each block showed only once it had ended: a long paragraph
    or code block was a long wait with nothing on the screen. Its text streams as written."""
    fake_api.queue(Reply(MARKDOWN_REPLY))
    shown = _piped_into("review", env={"TERM": "dumb"})
    assert "# Heading" in shown and "**bold** item" in shown
    assert "\x1b" not in shown, shown


@pytest.mark.parametrize("width", [40, 80])
def test_a_status_line_wraps_around_its_commands_and_paths(width: int) -> None:
    """The wrapper broke a path at its space ("…/Application" / "  Support/…") and a command
    between its words, so neither could be copied whole."""
    from claudechat.output import wrapped

    path = "/Users/jo/Library/Application Support/claudechat/claudechat.db"
    line = (
        f"cannot use {path}: No space left on device; the conversation is saved locally and "
        "will be pushed when the store is back (or run `claudechat sync --all`)"
    )
    lines = wrapped(line, width).split("\n")
    assert len(lines) > 1
    assert any(path in shown for shown in lines), lines
    assert any("`claudechat sync --all`" in shown for shown in lines), lines
    assert " ".join(" ".join(lines).split()) == line  # nothing else changed


@pytest.mark.parametrize("width", [20, 21, 22, 23, 24, 40, 41])
def test_the_repl_banner_wraps_between_words(width: int) -> None:
    """The banner's first word, claudechat, was taken for a command and the line kept whole,
    so the terminal broke it: "... /help f" / "or commands", "claude-sonn" / "et-4-6"."""
    from claudechat.output import wrapped

    banner = "claudechat · claude-sonnet-4-6 · /help for commands"
    lines = wrapped(banner, width).split("\n")
    assert all(len(shown) <= width for shown in lines), lines
    assert " ".join(" ".join(lines).split()) == banner
    assert all(shown.split() for shown in lines)  # no line of blanks alone
    assert any("claude-sonnet-4-6" in shown for shown in lines)
    # A command after claudechat is still kept whole.
    command = "resume it with claudechat chat --resume 1a2b3c4d, or start anew"
    assert any(
        "claudechat chat --resume 1a2b3c4d," in shown for shown in wrapped(command, 30).split("\n")
    )


def counting(label: str) -> Callable[[str], bool]:
    """Whether a screen has shown `label · N s` as a line of its own, and then the same line
    with more seconds: the wait counted. Not a given second: on a busy machine the thinking
    that makes "Claude is thinking" may start seconds into the wait, past any one count."""
    line = re.compile(rf"^{re.escape(label)} · (\d+) s$", re.MULTILINE)
    first: list[int] = []

    def has_counted(screen: str) -> bool:
        found = line.search(screen)
        if found is None:
            return False
        if not first:
            first.append(int(found[1]))
        return int(found[1]) > first[0]

    return has_counted


def _asked_for_replies(fake_api) -> list[Any]:  # type: ignore[no-untyped-def]
    return [request for request in fake_api.requests if request.path == "/v1/messages"]


def _piped_on_a_screen(  # type: ignore[no-untyped-def]
    fake_api,
    replies: list[Any],
    shown: list[str | Callable[[str], bool]],
    stdout: str = "",
    held: float = 0.0,
    cols: int = 80,
    thinking: str | None = "hm",
) -> tuple[list[str], bytes]:
    """`echo diff | claudechat chat 'review this'` on a terminal (pyte) `cols` wide, `stdout`
    after it (`| cat`), while the last reply is held; released once each of `shown` (a text,
    or a test of the screen) has shown, in order, and `held` seconds have passed since the
    held reply was asked for. The screen's lines at the end, and all written."""
    import threading
    import time

    import pyte

    release = threading.Event()
    held_reply = Reply(chunks=["the answer"], held_after=0, release=release, thinking=thinking)
    fake_api.queue(*replies, held_reply)
    command = f"echo diff | {sys.executable} -m claudechat chat 'review this' {stdout}"
    child = pexpect.spawn(
        "sh", ["-c", command], env={**os.environ, "TERM": "xterm-256color"}, dimensions=(24, cols)
    )
    screen = pyte.Screen(cols, 24)
    stream = pyte.ByteStream(screen)
    written = bytearray()

    def read() -> None:
        data = child.read_nonblocking(4096, timeout=20)
        written.extend(data)
        stream.feed(data)

    def on_screen() -> str:
        return "\n".join(line.rstrip() for line in screen.display)

    try:
        for text in shown:
            while not (text(on_screen()) if callable(text) else text in on_screen()):
                try:
                    read()
                except pexpect.EOF:
                    raise AssertionError(f"never shown: {text}\n{written!r}") from None
        if held:
            # From the request on: the program is waiting for its first word for all of it.
            while len(_asked_for_replies(fake_api)) <= len(replies):
                time.sleep(0.05)
            time.sleep(held)
    finally:
        release.set()
    while True:
        try:
            read()
        except pexpect.EOF:
            break
    child.close()
    assert child.exitstatus == 0, on_screen()
    return [line for line in on_screen().splitlines() if line], bytes(written)


def test_pipe_mode_counts_the_wait_on_a_terminal_and_leaves_no_trace(fake_api) -> None:  # type: ignore[no-untyped-def]
    """`git diff | claudechat chat "review"` sat silent until the first word: seconds of
    thinking looked like a hang."""
    lines, _ = _piped_on_a_screen(fake_api, [], [counting("Claude is thinking")])
    assert lines[0] == "the answer", lines
    assert not any("waiting" in line or "thinking" in line for line in lines), lines


def test_pipe_mode_says_it_waits_for_claude_until_claude_thinks(fake_api) -> None:  # type: ignore[no-untyped-def]
    """The README showed only "Claude is thinking · 4 s": before any thinking (or for a model
    that does not think) the line says what it waits for."""
    lines, _ = _piped_on_a_screen(fake_api, [], [counting("waiting for Claude")], thinking=None)
    assert lines[0] == "the answer", lines
    assert not any("waiting" in line for line in lines), lines


def test_pipe_mode_keeps_the_waits_seconds_in_a_narrow_window(fake_api) -> None:  # type: ignore[no-untyped-def]
    """In 20 columns the line was cut before its seconds: "Claude is thinking "."""
    lines, _ = _piped_on_a_screen(fake_api, [], [counting("thinking")], cols=20)
    assert lines[0] == "the answer", lines
    assert not any("thinking" in line for line in lines), lines


def test_pipe_mode_counts_the_wait_again_after_a_retry(fake_api) -> None:  # type: ignore[no-untyped-def]
    """A retry's notice stopped the counting for good: silence again until the answer."""
    busy = ErrorReply(529, "overloaded_error", "busy", {"retry-after": "1"})
    lines, _ = _piped_on_a_screen(fake_api, [busy], ["retrying in 1 s", "Claude is thinking · "])
    assert sum("retrying in 1 s" in line for line in lines) == 1, lines
    assert "the answer" in lines, lines
    assert not any("waiting" in line or "thinking ·" in line for line in lines), lines


def test_pipe_mode_counts_nothing_over_a_pager_but_counts_with_stdout_in_a_file(  # type: ignore[no-untyped-def]
    fake_api, tmp_path
) -> None:
    """Under `claudechat chat q | less` the count was written over the pager."""
    _, written = _piped_on_a_screen(fake_api, [], [], stdout="| cat", held=2.0)
    assert b"the answer" in written and b"waiting" not in written and b"thinking" not in written
    answer = tmp_path / "answer.md"
    lines, _ = _piped_on_a_screen(fake_api, [], ["Claude is thinking · "], f"> {answer}")
    assert answer.read_text().strip() == "the answer"
    assert not any("thinking" in line for line in lines), lines
