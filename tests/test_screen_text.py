"""What the REPL's own text looks like on a terminal: words whole, nothing shown twice.
Read through a terminal emulator (pyte), as test_screen.py reads it."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

from conftest import content_text
from fakes.anthropic_api import ErrorReply, Reply
from screen import Terminal
from test_screen import start, terminals  # noqa: F401  (a fixture)

pytestmark = pytest.mark.pty

WIDE_TABLE = (
    "| Feature | PostgreSQL | MySQL | SQLite | MongoDB | Redis | Cassandra | DynamoDB |\n"
    "|---|---|---|---|---|---|---|---|\n"
    "| Transactions | Full ACID, serializable | ACID with InnoDB | ACID, single writer"
    " | Multi-document since 4.0 | MULTI/EXEC | Lightweight transactions | TransactWriteItems |\n"
    "| Replication | Streaming, logical | Binlog based | None built in | Replica sets"
    " | Primary/replica | Masterless | Managed global tables |\n\nEND-MARK"
)


@pytest.mark.parametrize("cols", [80, 40])
def test_a_table_wider_than_the_window_shows_every_word(terminals, fake_api, cols: int) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Eight columns in 80 showed "Postgre…", "seriali…"; in 40, "val…"."""
    fake_api.queue(Reply(WIDE_TABLE))
    terminal = start(terminals, cols=cols)
    terminal.send("compare databases\r")
    terminal.wait_for("END-MARK")
    terminal.wait_for("›", count=2)
    lines = terminal.lines()
    table = lines[lines.index("› compare databases") + 1 : lines.index("END-MARK")]
    shown = [word for line in table for word in line.split() if "─" not in word]
    words = WIDE_TABLE.removesuffix("END-MARK").replace("|", " ").split()
    assert set(shown) == {word for word in words if word.strip("-")}, terminal.dump()


def test_a_dumb_terminal_shows_each_message_once(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """With TERM=dumb prompt-toolkit's plain prompt leaves the typed line on screen, and the
    echo printed it again: "› md" twice, "› /help" twice."""
    fake_api.queue(Reply("first answer"))
    terminal = start(terminals, env={"TERM": "dumb"})
    terminal.send("md\r")
    terminal.wait_for("first answer")
    terminal.send("/help\r")
    terminal.wait_for("/exit")
    terminal.wait_for("›", count=3)
    lines = terminal.lines()
    assert sum(line.endswith("› md") for line in lines) == 1, terminal.dump()
    assert sum(line.endswith("› /help") for line in lines) == 1, terminal.dump()


@pytest.mark.parametrize("cols", [80, 40])
def test_help_wraps_between_words_under_its_own_column(terminals, fake_api, cols: int) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The terminal broke /help's lines anywhere: "Ctrl-C stops a r" / "eply" at 80 columns,
    almost every line at 40."""
    from claudechat.slash_commands import KEY_HELP, SLASH_COMMANDS

    terminal = start(terminals, cols=cols)
    terminal.send("/help\r")
    terminal.wait_for("›", count=2)
    lines = terminal.lines()
    shown = lines[lines.index("› /help") + 1 : -1]
    said = " ".join([*(f"{c.usage} {c.help}" for c in SLASH_COMMANDS), KEY_HELP])
    assert " ".join(" ".join(shown).split()) == " ".join(said.split()), terminal.dump()
    words = set(said.split())
    assert all(word in words for line in shown for word in line.split()), terminal.dump()
    items = [line for line in shown if line.startswith("  /")]
    assert len(items) == len(SLASH_COMMANDS), terminal.dump()  # continuations are indented


def test_thinking_a_ctrl_c_stopped_is_one_thinking_away(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The thinking collapsed to its one line, and /thinking said "no thinking in this
    conversation yet": what had streamed was gone."""
    thought = " ".join(f"step{i} of the reasoning." for i in range(40))
    fake_api.queue(Reply("never shown", thinking=thought, delay=0.1))
    terminal = start(terminals)
    terminal.send("think hard\r")
    terminal.wait_for("step2")
    terminal.send("\x03")
    terminal.wait_for("interrupted before any answer")
    terminal.wait_for("›", count=2)
    terminal.send("/thinking\r")
    terminal.wait_for("cut short by Ctrl-C")
    lines = terminal.lines()
    shown = " ".join(lines[lines.index("› /thinking") + 1 :])
    assert "step0 of the reasoning. step1 of the reasoning. step2" in shown, terminal.dump()
    assert "no thinking" not in shown, terminal.dump()


def test_a_dumb_terminal_shows_a_message_from_history_once(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """prompt-toolkit's dumb prompt writes only the character before the cursor: a message
    recalled with Up showed as its last letter alone, and nothing showed what was sent."""
    fake_api.queue(Reply("first answer"), Reply("second answer"))
    terminal = start(terminals, env={"TERM": "dumb"})
    terminal.send("recalled\r")
    terminal.wait_for("first answer")
    terminal.wait_for("›", count=2)
    terminal.send("\x1b[A")  # Up: the line before
    terminal.send("\r")
    terminal.wait_for("second answer")
    lines = terminal.lines()
    assert sum(line.endswith("› recalled") for line in lines) == 2, terminal.dump()


def test_the_resume_command_on_leaving_is_one_line_at_80_columns(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The goodbye line broke its command: "... resume with: claudechat" / "  chat --resume
    1a2b3c4d", copied as two. The whole id: 8 characters named another conversation too
    where two began alike."""
    fake_api.queue(Reply("answer"))
    terminal = start(terminals, cols=80)
    terminal.send("hello\r")
    terminal.wait_for("answer")
    terminal.wait_for("›", count=2)
    terminal.send("/exit\r")
    terminal.wait_for("--resume")
    (line,) = [line for line in terminal.lines() if "--resume" in line]
    assert re.fullmatch(r"\s*claudechat chat --resume [0-9a-f-]{36}", line), terminal.dump()


def test_a_slow_reply_says_it_is_waited_for_and_leaves_no_trace(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Nothing showed between Enter and the first word: seconds of a still screen, a hung
    program and a busy one alike."""
    held, release = _held("the answer at last")
    fake_api.queue(held)
    terminal = start(terminals)
    terminal.send("slow question\r")
    terminal.wait_for("waiting for Claude · 2 s")
    release.set()
    lines = terminal.settled("the answer at last", 2)
    assert not any("waiting for Claude" in line for line in lines), terminal.dump()
    asked = lines.index("› slow question")
    assert lines[asked + 1 :].count("the answer at last") == 1, terminal.dump()


def _held(text: str) -> tuple[Reply, threading.Event]:
    """A reply held before its first word until the event is set."""
    release = threading.Event()
    return Reply(chunks=[text], held_after=0, release=release), release


def _after_a_first_turn(terminals, fake_api, *replies: object) -> Terminal:  # type: ignore[no-untyped-def]  # noqa: F811
    """The REPL once its first turn is answered (its set-up, the SDK's import, is over), with
    `replies` queued for the next turns."""
    fake_api.queue(Reply("ready"), *replies)
    terminal = start(terminals)
    terminal.send("first\r")
    terminal.wait_for("ready")
    terminal.wait_for("›", count=2)
    return terminal


def test_ctrl_c_while_waiting_takes_the_waiting_line_away(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    held, release = _held("never shown")
    terminal = _after_a_first_turn(terminals, fake_api, held)
    try:
        terminal.send("slow question\r")
        terminal.wait_for("waiting for Claude")
        terminal.send("\x03")
        terminal.settled("interrupted before any answer", 3)
    finally:
        release.set()
    lines = terminal.lines()
    assert not any("waiting for Claude" in line for line in lines), terminal.dump()


def test_ctrl_c_before_the_message_is_sent_puts_it_back_at_the_prompt(  # type: ignore[no-untyped-def]
    terminals,  # noqa: F811
    fake_api,
    cli,
) -> None:
    """Stopped while the first turn looked up the model's limits, the message was in no
    conversation, and the REPL said "what arrived is kept": what was typed was gone."""
    fake_api.models_silent_seconds = 5
    terminal = start(terminals)
    terminal.send("my precious words\r")
    terminal.wait_for("waiting for Claude")
    terminal.send("\x03")
    terminal.wait_for("it is back at the prompt")
    terminal.wait_for("› my precious words", count=2)  # as sent, and in the new prompt
    assert "kept" not in terminal.dump()
    terminal.send("\r")
    terminal.wait_for("echo: my precious words")
    terminal.wait_for("›", count=3)
    assert terminal.lines().count("› my precious words") == 2, terminal.dump()
    (row,) = json.loads(cli("list", "--json").stdout)
    shown = json.loads(cli("show", row["id"], "--json").stdout)
    assert [m["status"] for m in shown["messages"]] == ["complete", "complete"]
    assert shown["messages"][0]["content"][0]["text"] == "my precious words"


@pytest.mark.parametrize("given", ["typed", "argument"])
def test_on_a_dumb_terminal_a_message_stopped_before_sending_is_one_up_away(  # type: ignore[no-untyped-def]
    terminals,  # noqa: F811
    fake_api,
    given: str,
) -> None:
    """Its prompt shows no starting text: "it is back at the prompt" over an empty prompt,
    and what was typed next was sent after it ("my wordsmy words"). One given on the command
    line was in no history for Up to bring back."""
    fake_api.models_silent_seconds = 5
    if given == "typed":
        terminal = start(terminals, env={"TERM": "dumb"})
        terminal.send("my words\r")
    else:
        terminal = Terminal("my words", env={"TERM": "dumb"})
        terminals.append(terminal)
        terminal.wait_for("› my words")
    deadline = time.monotonic() + 20
    while not fake_api.model_requests and time.monotonic() < deadline:
        time.sleep(0.05)  # until the first turn waits on the models list: set-up, not sent
    assert fake_api.model_requests, terminal.dump()
    terminal.send("\x03")
    terminal.wait_for("Up brings it back")
    terminal.wait_for("›", count=2)
    terminal.send("\x1b[A\r")  # Up, Enter
    terminal.wait_for("echo: my words")
    assert "echo: my wordsmy words" not in terminal.dump()


def test_narrowing_the_window_while_waiting_leaves_no_copy_of_the_waiting_line(  # type: ignore[no-untyped-def]
    terminals,  # noqa: F811
    fake_api,
) -> None:
    held, release = _held("the answer")
    terminal = _after_a_first_turn(terminals, fake_api, held)
    try:
        terminal.send("slow\r")
        terminal.wait_for("waiting for Claude · 1 s")
        terminal.resize(24, 30)
        terminal.pump(0.5)
    finally:
        release.set()
    terminal.settled("the answer", 3)
    assert not any("waiting" in line for line in terminal.lines()), terminal.dump()


def test_the_waiting_line_comes_back_after_a_retry(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    busy = ErrorReply(529, "overloaded_error", "busy", {"retry-after": "1"})
    held, release = _held("finally")
    terminal = _after_a_first_turn(terminals, fake_api, busy, held)
    try:
        terminal.send("slow\r")
        terminal.wait_for("retrying in")
        terminal.wait_for("waiting for Claude · 1 s")
    finally:
        release.set()
    lines = terminal.settled("finally", 3)
    assert not any("waiting" in line for line in lines), terminal.dump()
    assert sum("retrying in" in line for line in lines) == 1, terminal.dump()
    assert lines.count("finally") == 1, terminal.dump()


def test_a_narrow_window_shows_the_waiting_lines_seconds(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """In 20 columns the line was cut at them: "waiting for Claude ·", its seconds gone."""
    held, release = _held("the answer")
    fake_api.queue(held)
    terminal = start(terminals, cols=20)
    try:
        terminal.send("slow\r")
        terminal.wait_for("waiting · 2 s")
    finally:
        release.set()
    terminal.settled("the answer", 2)
    assert not any("waiting" in line for line in terminal.lines()), terminal.dump()


def test_on_a_dumb_terminal_a_notice_before_the_first_word_is_said_at_once(  # type: ignore[no-untyped-def]
    terminals,  # noqa: F811
    fake_api,
) -> None:
    """Held until the reply's end, as under the waiting line, which a dumb terminal does not
    draw: the notice that the model takes no effort level came after the answer it was about."""
    held, release = _held("the answer")
    fake_api.queue(held)
    terminal = start(terminals, "-m", "claude-haiku-4-5", "--effort", "high", env={"TERM": "dumb"})
    try:
        terminal.send("question\r")
        terminal.wait_for("takes no effort level; sent without one")
    finally:
        release.set()
    terminal.wait_for("the answer")
    terminal.wait_for("›", count=2)
    lines = terminal.lines()
    notice = [n for n, line in enumerate(lines) if "sent without one" in line]
    assert len(notice) == 1 and notice[0] < lines.index("the answer"), terminal.dump()


def test_html_in_a_reply_shows_as_written(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The REPL showed "Use the  element, and a  type param: List x; if ad." and no <div>
    block: rich's Markdown drops what markdown-it reads as HTML."""
    reply = (
        "Press <kbd>Ctrl</kbd>+<kbd>C</kbd>. Use the <br> element, and a <T> type param:"
        " List<String> x; if a<b and c>d.\n\n<div>\nblock html here\n</div>\n\nEND-MARK"
    )
    fake_api.queue(Reply(chunks=[reply[i : i + 7] for i in range(0, len(reply), 7)]))
    terminal = start(terminals, cols=120)
    terminal.send("html\r")
    terminal.wait_for("END-MARK")
    terminal.wait_for("›", count=2)
    lines = terminal.lines()
    shown = lines[lines.index("› html") + 1 : lines.index("END-MARK")]
    written = reply.removesuffix("\n\nEND-MARK").split("\n")
    assert [line for line in shown if line] == [line for line in written if line], terminal.dump()


def test_on_a_dumb_terminal_edit_shows_the_message_and_takes_it_anew(terminals, fake_api) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Its prompt shows no starting text: an empty `edit›` held the message unseen, what was
    typed went after it, and "original questionbetter question" was sent and kept."""
    terminal = start(terminals, env={"TERM": "dumb"})
    terminal.send("original question\r")
    terminal.wait_for("echo: original question")
    terminal.wait_for("›", count=2)
    terminal.send("/edit\r")
    terminal.wait_for("edit›")
    assert any("“original question”" in line for line in terminal.lines()), terminal.dump()
    terminal.send("better question\r")
    terminal.wait_for("echo: better question")
    sent = [content_text(m["content"]) for m in fake_api.requests[-1].body["messages"]]
    assert sent == ["better question"], terminal.dump()
