"""Bad input of every kind: refused in one clear line with the documented exit code, and nothing
else touched (no conversation written, no document rewritten, no API request made)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import pexpect
import pytest

from claudechat.conversation import Conversation
from claudechat.settings import load_settings
from claudechat.storage import open_store
from claudechat.storage.store import ConversationStore
from conftest import content_text
from test_repl import leave

USER = "tester"
FIRST_ID = "abcd1111-0000-4000-8000-000000000000"
SECOND_ID = "abcd2222-0000-4000-8000-000000000000"
PROMPT = "›"
ESC_ENTER = "\x1b\r"


# -- helpers --------------------------------------------------------------------------------


@pytest.fixture
def store() -> Iterator[ConversationStore]:
    """The store the program itself opens, from the same environment (either backend)."""
    opened = open_store(load_settings())
    yield opened
    opened.close()


def save_conversation(
    store: ConversationStore, conversation_id: str | None = None, **kwargs: Any
) -> Conversation:
    conversation = Conversation.new(USER, "claude-sonnet-4-6", **kwargs)
    if conversation_id:
        conversation.id = conversation_id
    conversation.append("user", "what is a monad?", status="complete")
    conversation.append("assistant", "A monoid in the category of endofunctors.", tokens=9)
    store.save(conversation)
    return conversation


def listed_ids(store: ConversationStore) -> list[str]:
    return [row.conversation_id for row in store.list(USER).rows]


def assert_one_clear_line(stderr: str, *expected: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("claudechat: "), stderr
    for text in expected:
        assert text in lines[0], stderr


def run_command(cli, command: str, reference: str):  # type: ignore[no-untyped-def]
    """`show REF`, or one `chat --resume REF` turn in pipe mode."""
    if command == "show":
        return cli("show", reference)
    return cli("chat", "--resume", reference, input="please continue")


# -- 1. ids: malformed, unknown, ambiguous ----------------------------------------------------


@pytest.mark.parametrize("command", ["show", "resume"])
def test_malformed_unknown_and_ambiguous_ids(cli, fake_api, backend, store, command) -> None:  # type: ignore[no-untyped-def]
    first = save_conversation(store, FIRST_ID)
    second = save_conversation(store, SECOND_ID)
    before = listed_ids(store)
    documents = {c.id: store.blobs.get(store.blob_key(USER, c.id)) for c in (first, second)}

    malformed = run_command(cli, command, "zz-not-an-id!")
    assert malformed.returncode == 2
    assert_one_clear_line(malformed.stderr, "not a conversation id", "'zz-not-an-id!'")

    unknown = run_command(cli, command, "ffff0000")
    assert unknown.returncode == 1
    assert_one_clear_line(unknown.stderr, "no conversation 'ffff0000'")

    ambiguous = run_command(cli, command, "abcd")
    assert ambiguous.returncode == 1
    assert_one_clear_line(
        ambiguous.stderr, "'abcd' matches 2 conversations", "abcd1111", "abcd2222"
    )

    for result in (malformed, unknown, ambiguous):
        assert result.stdout == ""
    assert fake_api.requests == []
    assert listed_ids(store) == before
    for conversation_id, data in documents.items():
        assert store.blobs.get(store.blob_key(USER, conversation_id)) == data


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("chat", "--resume", "", "q"), "not a conversation id: ''"),
        (("chat", "-r", "", "-c", "x"), "use --continue or --resume, not both"),
    ],
    ids=["resume", "resume-and-continue"],
)
def test_an_empty_resume_is_refused(cli, fake_api, store, args, expected) -> None:  # type: ignore[no-untyped-def]
    """`--resume "$ID"` with an empty variable chatted in a new conversation (or, with -c,
    said there was none to continue): an empty id is no id, as every other command says."""
    save_conversation(store, FIRST_ID)
    before = listed_ids(store)

    result = cli(*args, input="please continue")

    assert result.returncode == 2
    assert_one_clear_line(result.stderr, expected)
    assert result.stdout == ""
    assert fake_api.requests == []
    assert listed_ids(store) == before


# -- 2. damaged documents --------------------------------------------------------------------


def garbage(_document: bytes) -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\xff\xfe not a conversation \x9c\x00"


def truncated(document: bytes) -> bytes:
    return document[: len(document) // 2]


def newer_format(document: bytes) -> bytes:
    return json.dumps(json.loads(document) | {"format": 99}).encode()


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (garbage, ("conversation document is corrupt", "not UTF-8")),
        (truncated, ("conversation document is corrupt", "invalid JSON")),
        (newer_format, ("format 99", "upgrade claudechat")),
    ],
    ids=["garbage", "truncated", "newer-format"],
)
def test_a_damaged_document_is_reported_and_left_alone(  # type: ignore[no-untyped-def]
    cli, fake_api, backend, store, damage, expected
) -> None:
    conversation = save_conversation(store)
    key = store.blob_key(USER, conversation.id)
    damaged = damage(store.blobs.get(key))
    store.blobs.put(key, damaged)
    before = listed_ids(store)

    shown = cli("show", conversation.id)
    assert shown.returncode == 1
    assert shown.stdout == ""
    assert_one_clear_line(shown.stderr, *expected)

    resumed = cli("chat", "--resume", conversation.id[:8], input="are you there?")
    assert resumed.returncode == 1
    assert resumed.stdout == ""
    assert_one_clear_line(resumed.stderr, *expected)

    if damage is not newer_format:  # a corrupt document is named by its location
        assert conversation.id in shown.stderr and conversation.id in resumed.stderr
    assert fake_api.requests == []
    assert store.blobs.get(key) == damaged  # not "repaired" by overwriting it
    assert listed_ids(store) == before


@pytest.mark.parametrize(
    "replace",
    [
        # Valid JSON, but an integer beyond Python's int-from-string limit.
        ('"tokens": 9', '"tokens": ' + "9" * 5000),
        # Valid JSON, but a lone surrogate: no UTF-8 encoding exists for it.
        ("endofunctors.", "endofunctors \\ud800."),
    ],
    ids=["huge-integer", "lone-surrogate"],
)
def test_a_strange_but_valid_json_document_never_crashes(  # type: ignore[no-untyped-def]
    cli, fake_api, store, replace
) -> None:
    conversation = save_conversation(store)
    key = store.blob_key(USER, conversation.id)
    old, new = replace
    document = store.blobs.get(key).decode()
    assert old in document
    strange = document.replace(old, new).encode()
    store.blobs.put(key, strange)

    problems = []
    for args, stdin in (
        (("show", conversation.id), ""),
        (("show", conversation.id, "--json"), ""),
        (("chat", "--resume", conversation.id, "--name", "renamed"), "go on"),
        (("list",), ""),  # and nothing a failed command left behind breaks the next one
    ):
        result = cli(*args, input=stdin)
        label = " ".join(args).replace(conversation.id, "ID")
        last_line = (result.stderr.strip().splitlines() or [""])[-1]
        # Either shown (with the odd part made harmless) or refused in one line as corrupt.
        if "Traceback" in result.stderr:
            problems.append(f"{label}: exit {result.returncode}, {last_line}")
        elif result.returncode == 1:
            assert_one_clear_line(result.stderr, "corrupt")
        elif result.returncode != 0:
            problems.append(f"{label}: exit {result.returncode}, {last_line}")
    assert not problems, "\n".join(problems)


# -- 3. standard input -------------------------------------------------------------------------

HUGE_TEXT = ("All work and no play makes Jack a dull boy.\n" * 250_000)[: 10 * 2**20]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", ("nothing to send",)),
        (b" \n\t\n  \n", ("nothing to send",)),
        # Larger than the model's whole window (1,000,000): no budget could take it.
        (HUGE_TEXT.encode(), ("whole context window", "1,000,000", "send less")),
        (b"looks like text\x00\x01\x02 but is not", ("binary", "NUL")),
        (b"caf\xe9 au lait, latin-1 encoded", ("not valid UTF-8", "byte 3")),
    ],
    ids=["empty", "whitespace", "huge", "binary", "latin-1"],
)
def test_stdin_that_cannot_be_sent_is_refused_before_any_api_call(  # type: ignore[no-untyped-def]
    cli, fake_api, store, data, expected
) -> None:
    result = cli("chat", input=data)
    assert result.returncode == 2
    assert result.stdout == ""
    assert_one_clear_line(result.stderr, *expected)
    assert fake_api.requests == []
    assert listed_ids(store) == []


@pytest.mark.parametrize("option", [None, "--system", "--name"])
def test_an_argument_that_is_not_utf8_is_refused_as_stdin_is(cli, fake_api, store, option) -> None:  # type: ignore[no-untyped-def]
    """Its bytes reached Python as lone surrogates: Claude was sent U+FFFD for them, and the
    document kept them (exit 0, without a word)."""
    latin1 = "caf\udce9 au lait"  # b"caf\xe9 au lait" on the command line
    args = ["chat", latin1] if option is None else ["chat", option, latin1, "hello"]
    result = cli(*args, input="")
    assert result.returncode == 2
    assert result.stdout == ""
    assert_one_clear_line(result.stderr, "not valid UTF-8", option or "the message")
    assert fake_api.requests == []
    assert listed_ids(store) == []


def test_a_prompt_with_empty_stdin_sends_just_the_prompt(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    result = cli("chat", "just the prompt", input="")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "echo: just the prompt\n"
    assert [content_text(m["content"]) for m in fake_api.requests[-1].body["messages"]] == [
        "just the prompt"
    ]


def test_a_byte_order_mark_on_stdin_is_not_sent(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """Files saved by some Windows editors start with one; it was sent and stored."""
    result = cli("chat", input="\ufeffhello bom".encode())
    assert result.returncode == 0, result.stderr
    sent = [content_text(m["content"]) for m in fake_api.requests[-1].body["messages"]]
    assert sent == ["hello bom"]


# -- a terminal ------------------------------------------------------------------------------


def terminal_env() -> dict[str, str]:
    return {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm-256color"}


def spawn(*args: str) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["-m", "claudechat", *args],
        env=terminal_env(),
        encoding="utf-8",
        dimensions=(40, 200),
        timeout=20,
    )


# -- 5. conversation names -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("n" * 10_000, "at most 200 characters"),
        ("first line\nsecond line", "one line without control characters"),
        ("bell\x07name", "one line without control characters"),
    ],
    ids=["10000-chars", "newline", "control-char"],
)
def test_a_bad_name_is_refused_before_anything_is_saved_or_sent(  # type: ignore[no-untyped-def]
    cli, fake_api, store, name, expected
) -> None:
    result = cli("chat", "--name", name, input="hello")
    assert result.returncode == 2
    assert result.stdout == ""
    assert_one_clear_line(result.stderr, expected)
    assert name not in result.stderr
    assert fake_api.requests == []
    assert listed_ids(store) == []


def test_a_bad_name_in_the_repl_is_an_error_and_the_repl_stays_up(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    child = spawn("chat")
    child.expect_exact(PROMPT)
    child.send("hello\r")
    child.expect_exact("echo: hello")
    child.expect_exact(PROMPT)

    # Esc Enter puts a newline into the line: the name is refused, not stored over two lines.
    child.send("/name first line" + ESC_ENTER + "second line\r")
    child.expect_exact("one line without control characters")
    child.expect_exact(PROMPT)

    # A 10,000-character name, pasted.
    child.send("\x1b[200~/name " + "n" * 10_000 + "\x1b[201~\r")
    child.expect_exact("at most 200 characters", timeout=60)
    child.expect_exact(PROMPT)

    child.send("still here?\r")
    child.expect_exact("echo: still here?")
    child.expect_exact(PROMPT)
    conversation_id = leave(child)

    stored = json.loads(cli("show", conversation_id, "--json").stdout)
    assert stored["name"] is None
    assert [content_text(m["content"]) for m in stored["messages"]] == [
        "hello",
        "echo: hello",
        "still here?",
        "echo: still here?",
    ]


# -- 6. unknown options and commands ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("frobnicate",), "no such command 'frobnicate' (see claudechat --help)"),
        (("chat", "--frobnicate"), "no such option: --frobnicate (see claudechat chat --help)"),
        (("show", "--bogus", "abcd"), "no such option: --bogus (see claudechat show --help)"),
        (("list", "--limit", "many"), "invalid value for '--limit'"),
        (("list", "-n", "0"), "0 is not in the range 1<=x<=1000000 (see claudechat list --help)"),
        (("show",), "missing argument 'ID' (see claudechat show --help)"),
        (("rename", "abcd"), "missing argument 'NAME' (see claudechat rename --help)"),
        (("export", "abcd", "abce"), "got unexpected extra argument(s) (abce)"),
        (("search", "--"), "missing argument 'QUERY...'"),
        # An excluded word after the first, taken for an option: the way to search it is said.
        (
            ("search", "zebra", "-yak", "--json"),
            "no such option: -y; if -yak is a word of the query, the query follows --: "
            "claudechat search --json -- zebra -yak",
        ),
        # Read as `-n ote`, a limit that is no number: it was refused as that.
        (
            ("search", "msg", "-n", "5", "-note"),
            "'ote' is not a valid int range; if -note is a word of the query, the query follows "
            "--: claudechat search -n 5 -- msg -note",
        ),
        (("search", "release", "-rc1"), "claudechat search -- release -rc1"),
        # A misspelt option is one: the usual hint, not the -word's.
        (("search", "zebra", "--limt", "5"), "(see claudechat search --help)"),
        (("attachment", "get"), "missing argument 'ID/N' (see claudechat attachment get --help)"),
        (("db",), "missing command (see claudechat db --help)"),
        # Refused before the command's context exists: the hint was left out.
        (("chat", "-m"), "option '-m' requires an argument (see claudechat chat --help)"),
        (
            ("attachment", "get", "abcd/1", "-o"),
            "option '-o' requires an argument (see claudechat attachment get --help)",
        ),
    ],
)
def test_unknown_options_and_commands_are_one_line(cli, fake_api, store, args, expected) -> None:  # type: ignore[no-untyped-def]
    """Refused by the framework, a command line got four lines (Usage:, Try ..., a blank one
    and Error: ...) where all other bad input gets one."""
    result = cli(*args, input="hello")
    assert result.returncode == 2
    assert_one_clear_line(result.stderr, expected)
    assert result.stdout == ""
    assert fake_api.requests == []
    assert listed_ids(store) == []
