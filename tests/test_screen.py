"""What a person sees in the terminal: the program's output through a terminal emulator,
scrollback included. No line twice, nothing missing, for Ctrl-C, a second Ctrl-C, a resize
during a reply, a paste taller than the window and a message given on the command line."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from fakes.anthropic_api import Reply
from screen import Terminal
from test_faults import blobs_down  # noqa: F401  (a fixture)

pytestmark = pytest.mark.pty
CTRL_C, CTRL_D, CTRL_Z = "\x03", "\x04", "\x1a"


@pytest.fixture
def terminals(fake_api) -> Iterator[list[Terminal]]:  # type: ignore[no-untyped-def]
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


def start(terminals: list[Terminal], *args: str, **options: object) -> Terminal:
    terminal = Terminal(*args, **options)  # type: ignore[arg-type]
    terminals.append(terminal)
    terminal.wait_for("›")
    return terminal


def slow_words(count: int, delay: float = 0.02, per_line: int = 0) -> Reply:
    """A reply of numbered words, one event each; a newline every `per_line` words."""
    chunks = [
        f"w{n:03d}" + ("\n\n" if per_line and n % per_line == per_line - 1 else " ")
        for n in range(count)
    ]
    return Reply(chunks=chunks, delay=delay)


def words_on_screen(lines: list[str]) -> list[str]:
    return [word for line in lines for word in re.findall(r"\bw\d{3}\b", line)]


def assert_each_word_once_in_order(lines: list[str], last: int | None = None) -> list[str]:
    words = words_on_screen(lines)
    count = len(words) if last is None else last + 1
    assert words == [f"w{n:03d}" for n in range(count)], "\n".join(lines)
    return words


def text_of(content: str | list[dict[str, str]]) -> str:
    """A message's text, whether stored as a string or as content blocks."""
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if block.get("type") == "text")


def stored_reply(cli) -> dict:  # type: ignore[no-untyped-def, type-arg]
    import json

    listed = cli("list", "--json")
    conversation_id = json.loads(listed.stdout)[0]["id"]
    document = json.loads(cli("show", conversation_id, "--json").stdout)
    return document["messages"][-1]  # type: ignore[no-any-return]


def test_the_message_given_as_argument_shows_before_its_reply(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]
    # Without PROMPT_TOOLKIT_NO_CPR: the prompt asks the terminal where the cursor is.
    terminal = start(terminals, "what is a monad", cpr=True)
    terminal.wait_for("echo: what is a monad")
    terminal.wait_for("›", count=2)
    lines = terminal.lines()
    asked = [n for n, line in enumerate(lines) if line == "› what is a monad"]
    answered = [n for n, line in enumerate(lines) if "echo: what is a monad" in line]
    assert len(asked) == 1 and len(answered) == 1 and asked[0] < answered[0], terminal.dump()
    terminal.send("second question\r")
    terminal.wait_for("echo: second question")
    assert sum(line == "› second question" for line in terminal.lines()) == 1, terminal.dump()


def _interrupt(terminal: Terminal, presses: int) -> None:
    terminal.wait_for("w030")
    for _ in range(presses):
        terminal.send(CTRL_C)
        time.sleep(0.002)
    terminal.settled("interrupted", 2)


@pytest.mark.parametrize("presses", [1, 2], ids=["ctrl-c", "double-ctrl-c"])
def test_ctrl_c_shows_the_kept_reply_once(terminals, fake_api, cli, presses: int) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(slow_words(400, per_line=40))
    terminal = start(terminals)
    terminal.send("count slowly\r")
    _interrupt(terminal, presses)
    lines = terminal.lines()
    assert not any("^C" in line for line in lines), terminal.dump()
    shown = assert_each_word_once_in_order(lines)
    notice = next(n for n, line in enumerate(lines) if "interrupted" in line)
    assert not words_on_screen(lines[notice:]), "words after the notice\n" + terminal.dump()
    # What the screen shows is exactly what was kept.
    reply = stored_reply(cli)
    assert reply["status"] == "interrupted"
    assert re.findall(r"w\d{3}", text_of(reply["content"])) == shown
    terminal.send("/usage\r")  # still up
    terminal.wait_for("this conversation:")


def test_resizing_during_a_reply_leaves_no_stale_copy(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]
    # Long paragraphs: the live region holds several wrapped lines when the width shrinks.
    # A size exported by the shell is stale once the window is resized: the terminal's own
    # size must win.
    fake_api.queue(slow_words(240, delay=0.01, per_line=60))
    terminal = start(terminals, cols=100, env={"COLUMNS": "80", "LINES": "24"})
    terminal.send("talk\r")
    terminal.wait_for("w090")
    terminal.resize(24, 60)
    terminal.wait_for("w150")
    terminal.resize(24, 45)
    terminal.wait_for(" out · ")  # the dim line after the reply
    terminal.wait_for("›", count=2)
    assert_each_word_once_in_order(terminal.lines(), last=239)


def test_a_paste_taller_than_the_window_stays_whole(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]
    fake_api.queue(Reply("Received."))
    terminal = start(terminals, rows=12, cols=80, cpr=True)
    pasted = "\n".join(f"pasted line {n:02d}" for n in range(30))
    terminal.send(f"\x1b[200~{pasted}\x1b[201~")
    terminal.pump(0.3)
    terminal.send("\r")
    terminal.wait_for("Received.")
    terminal.wait_for("›", count=2)
    lines = terminal.lines()
    for n in range(30):
        assert sum(f"pasted line {n:02d}" in line for line in lines) == 1, terminal.dump()
    first = next(i for i, line in enumerate(lines) if "pasted line 00" in line)
    assert lines[first : first + 30] == ["› pasted line 00"] + [
        f"pasted line {n:02d}" for n in range(1, 30)
    ]
    assert text_of(fake_api.requests[-1].body["messages"][-1]["content"]) == pasted


def test_ctrl_z_mid_reply_hands_the_shell_its_terminal_and_fg_finishes_the_reply(  # type: ignore[no-untyped-def]
    terminals, fake_api
) -> None:
    """The job stops with the terminal as it was before the reply: dash does not reset it, and
    the commands typed into it were not echoed. `fg` goes on with the reply: every word once,
    then the prompt."""
    fake_api.queue(slow_words(150, delay=0.02, per_line=10))
    terminal = start(terminals, shell="dash")
    terminal.send("hello\r")
    terminal.wait_for("w030")
    terminal.send(CTRL_Z)
    terminal.wait_for("Stopped")
    terminal.send("echo $((6 * 7)) is the answer\r")
    terminal.wait_for("42 is the answer")
    assert any("echo $((6 * 7))" in line for line in terminal.lines()), terminal.dump()
    terminal.send("fg\r")
    terminal.wait_for("w149")
    terminal.wait_for("›", count=2)
    assert_each_word_once_in_order(terminal.lines(), last=149)


def test_ctrl_z_while_thinking_streams_leaves_no_copy_of_it(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]
    """The thinking's live region is off the screen while the job is stopped and comes back
    after `fg`; it then collapses to its one line as usual, no copy of it left above."""
    thought = "\n".join(f"step{i:02d} of the reasoning" for i in range(30))  # a line each
    fake_api.queue(Reply("The answer is 42.", thinking=thought, delay=0.02))
    terminal = start(terminals, shell="dash")
    terminal.send("think\r")
    terminal.wait_for("step10")  # the region holds several lines by now
    terminal.send(CTRL_Z)
    terminal.wait_for("Stopped")
    terminal.send("fg\r")
    terminal.wait_for("The answer is 42.")
    terminal.wait_for("›", count=2)
    lines = terminal.lines()
    assert not [line for line in lines if "step" in line], terminal.dump()
    assert sum(line.startswith("thought for") for line in lines) == 1, terminal.dump()
    for kept in ("› think", "Stopped", "$ fg"):  # none drawn over by the region
        assert sum(kept in line for line in lines) == 1, terminal.dump()


def test_a_retry_after_a_cut_during_thinking_takes_that_thinking_back(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]
    """The failed attempt's thinking stayed on screen, the retry notice glued to its end,
    and its tokens were counted in the next attempt's "thought for" line."""
    from claudechat.reply_view import thought_tokens

    first = " ".join(f"lost{i}" for i in range(12))
    fake_api.queue(
        Reply("never shown", thinking=first, cut_after=6, delay=0.1),
        Reply("second attempt answer", thinking="second thoughts here", delay=0.02),
    )
    terminal = start(terminals)
    terminal.send("think\r")
    terminal.wait_for("second attempt answer")
    terminal.wait_for("›", count=2)
    lines = terminal.lines()
    assert not [line for line in lines if "lost" in line], terminal.dump()
    notices = [line for line in lines if "retrying in" in line]
    assert len(notices) == 1 and notices[0].startswith("the reply was cut off"), terminal.dump()
    [thought] = [line for line in lines if line.startswith("thought for")]
    assert thought.endswith(f"· {thought_tokens('second thoughts here')} tokens"), thought


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
def test_a_storage_notice_during_a_reply_waits_for_its_end_whole(  # type: ignore[no-untyped-def]
    terminals,
    fake_api,
    backend,
    blobs_down,  # noqa: F811  (the fixture imported above)
) -> None:
    """The notice was written under the reply's live region, whose next redraw cut it mid-
    word and drew over its end; the "reachable again" one vanished altogether."""
    terminal = start(terminals, cols=100)
    with blobs_down():
        fake_api.queue(slow_words(40, per_line=8))
        terminal.send("during the outage\r")
        terminal.wait_for("w039")
        terminal.wait_for("›", count=2)
    fake_api.queue(slow_words(40, per_line=8))
    terminal.send("after it\r")
    terminal.wait_for("reachable again")
    terminal.wait_for("›", count=3)
    lines = terminal.lines()
    text = " ".join(" ".join(lines).split())  # the notices wrap at the window's width
    assert "will be pushed when the store is back (or run `claudechat sync`)" in text, text
    assert text.count("the store is reachable again; local changes were pushed") == 1, text
    for word in (f"w{n:03d}" for n in range(40)):
        assert sum(line.count(word) for line in lines) == 2, terminal.dump()  # one a reply
    notice = next(n for n, line in enumerate(lines) if "saved locally" in line or "cannot" in line)
    last_word = max(n for n, line in enumerate(lines[: notice + 3]) if "w039" in line)
    assert last_word < notice, terminal.dump()  # after the reply, not inside it


def test_one_paragraph_of_thinking_taller_than_the_window_collapses(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]
    """Six lines of the thinking were kept in view, counted in its own lines: one long
    paragraph wrapped taller than the window, and what scrolled out of it stayed."""
    thought = " ".join(f"thought{i}" for i in range(700))
    fake_api.queue(Reply("Short answer.", thinking=thought, delay=0.005))
    terminal = start(terminals)
    terminal.send("think\r")
    terminal.wait_for("Short answer.")
    terminal.wait_for("›", count=2)
    lines = terminal.lines()
    assert not [line for line in lines if re.search(r"thought\d", line)], terminal.dump()
    assert sum(line.startswith("thought for") for line in lines) == 1, terminal.dump()


@pytest.mark.parametrize("kind", ["table", "list"])
def test_a_table_taller_than_a_tmux_window_is_shown_once(fake_api, kind: str) -> None:  # type: ignore[no-untyped-def]
    """tmux (scroll-on-clear, its default) pushes the screen into the scrollback when it is
    erased from its top-left corner: a live region as tall as the window redrew from there,
    and each redraw left a copy of the rows on screen (226 rows for a table of 60)."""
    from tmux_screen import Tmux

    rows = [f"| row{n:02d} | {n} |\n" if kind == "table" else f"- row{n:02d}\n" for n in range(60)]
    text = ("| col | val |\n|---|---|\n" if kind == "table" else "") + "".join(rows) + "\nDONE"
    fake_api.queue(Reply(chunks=[text[i : i + 12] for i in range(0, len(text), 12)], delay=0.01))
    tmux = Tmux(rows=30, cols=100)
    try:
        tmux.wait_for("›")
        tmux.send("show me")
        tmux.wait_for("DONE")
        time.sleep(0.3)
        shown = re.findall(r"\brow\d\d\b", "\n".join(tmux.lines()))
    finally:
        tmux.close()
    assert shown == [f"row{n:02d}" for n in range(60)]
