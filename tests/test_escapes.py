"""Escape sequences and control characters in stored messages and streamed replies: shown in a
form a person can read, never obeyed by the terminal, and stored exactly as they came."""

from __future__ import annotations

import io
import json
import sqlite3

import pexpect
import pytest

from claudechat.conversation import Conversation
from claudechat.output import safe_text
from conftest import content_text, conversation_id
from fakes.anthropic_api import Reply
from test_bad_input import PROMPT, USER, spawn, store  # noqa: F401  (store: a fixture)
from test_repl import leave

# What a stored message may hold and a terminal must never obey: a title change, a screen clear,
# a colour switch, a bell and a carriage return; and the forms safe_text shows them in instead.
DANGEROUS_TEXT = (
    "bidi \u202e c1 \x9b del \x7f title \x1b]0;pwned\x07 clear \x1b[2J red \x1b[31m bell \x07"
    " cr \rend of the line"
)
DANGEROUS_RAW = ("\x1b]0;pwned", "\x1b[2J", "\x07")
VISIBLE_FORMS = ("^[]0;pwned^G", "^[[2J", "^[[31m", "bell ^G", "cr ^Mend")


def assert_shown_not_obeyed(output: str) -> None:
    for raw in DANGEROUS_RAW:
        assert raw not in output, (raw, output)
    for visible in VISIBLE_FORMS:
        assert visible in output, (visible, output)


@pytest.fixture
def dangerous_conversation(store) -> Conversation:  # type: ignore[no-untyped-def]  # noqa: F811
    conversation = Conversation.new(
        USER, "claude\x1b[2J-model", name="name \x1b]0;pwned\x07", system="sys \x1b[2J"
    )
    conversation.append("user", "asked: " + DANGEROUS_TEXT)
    conversation.append("assistant", "answered: " + DANGEROUS_TEXT, tokens=20)
    store.save(conversation)
    return conversation


def test_show_in_a_terminal_shows_escapes_without_obeying_them(dangerous_conversation) -> None:  # type: ignore[no-untyped-def]
    child = spawn("show", dangerous_conversation.id)
    output = io.StringIO()
    child.logfile_read = output
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, output.getvalue()
    shown = output.getvalue()
    assert "\x1b[" in shown  # really the rich view: styled, in a terminal
    assert "asked:" in shown and "answered:" in shown
    assert_shown_not_obeyed(shown)

    # The list's table shows the name (which holds a title change) the same way.
    child = spawn("list")
    output = io.StringIO()
    child.logfile_read = output
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, output.getvalue()
    assert "name ^[]0;pwned^G" in output.getvalue()
    assert "\x1b]0;pwned" not in output.getvalue() and "\x07" not in output.getvalue()


def test_show_in_a_pipe_shows_escapes_as_plain_text(cli, dangerous_conversation) -> None:  # type: ignore[no-untyped-def]
    result = cli("show", dangerous_conversation.id)
    assert result.returncode == 0, result.stderr
    for control in ("\x1b", "\x07", "\r"):
        assert control not in result.stdout
    assert_shown_not_obeyed(result.stdout)
    as_json = cli("show", dangerous_conversation.id, "--json")
    assert "\x1b" not in as_json.stdout and "\x07" not in as_json.stdout
    messages = json.loads(as_json.stdout)["messages"]
    assert content_text(messages[1]["content"]) == "answered: " + DANGEROUS_TEXT
    # list and search too: the text itself, escaped by JSON (they gave the ^[ display form);
    # C1 controls, DEL and bidi overrides as well, which JSON itself would leave raw.
    raw = ("\x1b", "\x07", "\u202e", "\x9b", "\x7f")
    listed = cli("list", "--json")
    assert not [c for c in raw if c in listed.stdout]
    assert json.loads(listed.stdout)[0]["title"] == "name \x1b]0;pwned\x07"
    found = cli("search", "answered", "--json")
    assert not [c for c in raw if c in found.stdout]
    snippet = json.loads(found.stdout)[0]["snippet"]
    # The index keeps the words, escape sequences and controls as the breaks between them
    # (search_text.words_apart), so the excerpt holds the words alone.
    assert "clear" in snippet and "red" in snippet and "bell" in snippet
    assert not [c for c in ("\x1b", "\x07", "\x9b", "\x7f") if c in snippet]


def test_a_streamed_reply_is_shown_escaped_in_the_repl_and_stored_raw(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    # Chunk boundaries fall inside the sequences, as they may on the wire.
    chunks = [
        "Reply: title ",
        "\x1b]0;pw",
        "ned\x07 clear ",
        "\x1b",
        "[2J red \x1b[31m",
        " bell \x07 cr \r",
        "end of the line",
    ]
    fake_api.queue(Reply(chunks=chunks))
    child = spawn("chat")
    child.expect_exact(PROMPT)
    output = io.StringIO()
    child.logfile_read = output
    child.send("tell me something odd\r")
    child.expect_exact("end of the line")
    child.expect_exact(PROMPT)
    assert_shown_not_obeyed(output.getvalue())
    conversation_id = leave(child)

    stored = json.loads(cli("show", conversation_id, "--json").stdout)
    assert content_text(stored["messages"][-1]["content"]) == "".join(chunks)


# A reply's deltas as the wire may split them: an ESC at the end of one, its sequence in the next.
SPLIT_REPLY = [
    "plain \x1b[31mRED\x1b[0m \x1b]0;pw",
    "ned\x07 and \x1b]52;c;aGVsbG8=\x07 csi \x9b31m c1 \u202e bidi \x1b",
    "[2J bell \x07 cr \rend of the line",
]
RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e", "\r")


def test_safe_text_maps_each_character_alone() -> None:
    """Pipe mode makes each delta safe as it comes: however a reply is split, the pieces made
    safe read as the whole made safe."""
    whole = "".join(SPLIT_REPLY)
    for cut in range(len(whole) + 1):
        assert safe_text(whole[:cut]) + safe_text(whole[cut:]) == safe_text(whole), cut


def test_a_piped_answer_and_an_export_show_escapes_without_obeying_them(  # type: ignore[no-untyped-def]
    cli, fake_api, tmp_path
) -> None:
    """`claudechat chat q | tee answer.md` and `claudechat export ID > c.md` are read on a
    terminal too: a reply's raw escapes set its title and wrote its clipboard (OSC 52)."""
    fake_api.queue(Reply(chunks=SPLIT_REPLY))
    answered = cli("chat", "q")
    assert answered.returncode == 0, answered.stderr
    assert not [c for c in RAW_CONTROLS if c in answered.stdout], repr(answered.stdout)
    assert answered.stdout == safe_text("".join(SPLIT_REPLY)) + "\n"
    assert "^[]52;c;aGVsbG8=^G" in answered.stdout and "<U+202E>" in answered.stdout
    cid = conversation_id(answered.stderr)
    for form in ("markdown", "html"):
        printed = cli("export", cid, "-f", form).stdout
        cli("export", cid, "-f", form, "-o", str(tmp_path / f"c.{form}"))
        written = (tmp_path / f"c.{form}").read_text()
        for text in (printed, written):
            assert not [c for c in RAW_CONTROLS if c in text], (form, text)
            assert "^[[31mRED^[[0m" in text and "^[]0;pwned^G" in text
    # The thinking --show-thinking writes to stderr is read on a terminal as often.
    fake_api.queue(Reply("ok", thinking="".join(SPLIT_REPLY)))
    thought = cli("chat", "--show-thinking", "q").stderr
    assert not [c for c in RAW_CONTROLS if c in thought], repr(thought)
    assert "^[]52;c;aGVsbG8=^G" in thought
    # JSON keeps the text exact: escaped by JSON, C1 and bidi controls too.
    as_json = cli("export", cid, "-f", "json").stdout
    assert not [c for c in RAW_CONTROLS if c in as_json]
    reply = json.loads(as_json)["messages"][-1]
    assert content_text(reply["content"]) == "".join(SPLIT_REPLY)


def test_a_parent_id_with_escapes_is_not_obeyed(fake_api, cli, isolated_home) -> None:  # type: ignore[no-untyped-def]
    """A row's parent id came from a document, maybe imported from someone else's export: list
    printed it raw, so an escape sequence in it cleared the screen."""
    assert cli("chat", "hi").returncode == 0
    with sqlite3.connect(isolated_home / "claudechat.db") as connection:
        connection.execute("UPDATE conversations SET parent_id = '\x1b[2J\x1b[H!'")
    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    assert "\x1b" not in listed.stdout
    assert "^[[2J" in listed.stdout
