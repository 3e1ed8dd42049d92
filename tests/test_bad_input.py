"""Bad input of every kind: refused in one clear line with the documented exit code, and nothing
else touched (no conversation written, no document rewritten, no API request made)."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import pexpect
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from claudechat.conversation import Conversation, Message, Usage
from claudechat.errors import CorruptDocumentError, UsageError
from claudechat.pipe import compose_message, read_stdin
from claudechat.settings import load_settings
from claudechat.storage import open_store
from claudechat.storage.store import ConversationStore, decode_document, encode_document
from conftest import content_text
from fakes.anthropic_api import Reply
from test_repl import leave

USER = "tester"
FIRST_ID = "abcd1111-0000-4000-8000-000000000000"
SECOND_ID = "abcd2222-0000-4000-8000-000000000000"
PROMPT = "›"
ESC_ENTER = "\x1b\r"

# What a stored message may hold and a terminal must never obey: a title change, a screen clear,
# a colour switch, a bell and a carriage return; and the forms safe_text shows them in instead.
DANGEROUS_TEXT = "title \x1b]0;pwned\x07 clear \x1b[2J red \x1b[31m bell \x07 cr \rend of the line"
DANGEROUS_RAW = ("\x1b]0;pwned", "\x1b[2J", "\x07")
VISIBLE_FORMS = ("^[]0;pwned^G", "^[[2J", "^[[31m", "bell ^G", "cr ^Mend")


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
        ambiguous.stderr, "'abcd' matches more than one conversation", "abcd1111", "abcd2222"
    )

    for result in (malformed, unknown, ambiguous):
        assert result.stdout == ""
    assert fake_api.requests == []
    assert listed_ids(store) == before
    for conversation_id, data in documents.items():
        assert store.blobs.get(store.blob_key(USER, conversation_id)) == data


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
        # The budget is the model's window (1,000,000) minus its output limit (64,000).
        (HUGE_TEXT.encode(), ("context budget", "936,000", "--max-context-tokens")),
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


def test_a_prompt_with_empty_stdin_sends_just_the_prompt(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    result = cli("chat", "just the prompt", input="")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "echo: just the prompt\n"
    assert [content_text(m["content"]) for m in fake_api.requests[-1].body["messages"]] == [
        "just the prompt"
    ]


# -- 4. escape sequences and control characters in stored messages ----------------------------


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


def assert_shown_not_obeyed(output: str) -> None:
    for raw in DANGEROUS_RAW:
        assert raw not in output, (raw, output)
    for visible in VISIBLE_FORMS:
        assert visible in output, (visible, output)


@pytest.fixture
def dangerous_conversation(store) -> Conversation:  # type: ignore[no-untyped-def]
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
        (("frobnicate",), "No such command 'frobnicate'"),
        (("chat", "--frobnicate"), "No such option: --frobnicate"),
        (("show", "--bogus", "abcd"), "No such option: --bogus"),
        (("list", "--limit", "many"), "Invalid value for '--limit'"),
    ],
)
def test_unknown_options_and_commands_print_usage(cli, fake_api, store, args, expected) -> None:  # type: ignore[no-untyped-def]
    result = cli(*args, input="hello")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "Usage: claudechat" in result.stderr
    assert expected in result.stderr
    assert result.stdout == ""
    assert fake_api.requests == []
    assert listed_ids(store) == []


# -- 7. fuzzing --------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, database=None)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["user", "assistant", "complete", "pending", "2024-05-01T12:00:00+00:00"]),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)

VALID_DOCUMENT = Conversation(
    id=FIRST_ID,
    user_id=USER,
    model="claude-sonnet-4-6",
    name="a name",
    system="be brief",
    messages=[
        Message.of_text("user", "hello", id=FIRST_ID, tokens=3, tokens_exact=True),
        Message.of_text(
            "assistant",
            "hi",
            parent_id=FIRST_ID,
            tokens=1,
            model="claude-sonnet-4-6",
            usage=Usage(5, 1, 2, 0),
        ),
    ],
).to_document()
MESSAGE_KEYS = ("role", "content", "created_at", "tokens", "tokens_exact", "status", "model")
USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")
PATHS: list[tuple[Any, ...]] = [
    *[(key,) for key in VALID_DOCUMENT],
    ("messages", 0),
    *[("messages", index, key) for index in (0, 1) for key in MESSAGE_KEYS],
    ("messages", 1, "usage"),
    *[("messages", 1, "usage", key) for key in USAGE_KEYS],
]
DROP = object()


def mutate(document: dict[str, Any], changes: list[tuple[tuple[Any, ...], Any]]) -> Any:
    document = json.loads(json.dumps(document))
    for path, value in changes:
        parent: Any = document
        for step in path[:-1]:
            try:
                parent = parent[step]
            except (KeyError, IndexError, TypeError):
                parent = None
                break
        if not isinstance(parent, dict | list):
            continue
        last = path[-1]
        if isinstance(parent, list) and not (isinstance(last, int) and last < len(parent)):
            continue
        if isinstance(parent, dict) and not isinstance(last, str):
            continue
        if value is not DROP:
            parent[last] = value
        elif isinstance(parent, list):
            del parent[last]
        else:
            parent.pop(last, None)
    return document


def assert_decodes_or_is_corrupt(data: bytes) -> None:
    try:
        conversation = decode_document(data, "file:///fuzz.json")
    except CorruptDocumentError as exc:  # NewerFormatError is one
        assert str(exc).strip() and "\n" not in str(exc)
        return
    assert isinstance(conversation, Conversation)


@FUZZ
@given(st.binary(max_size=400))
@example(b"")
@example(b"\xff\xfe{}")
@example(b"[" * 100_000)
@example(b'{"format": 1, "messages": [' * 5000)
def test_decode_document_on_arbitrary_bytes(data: bytes) -> None:
    assert_decodes_or_is_corrupt(data)


@pytest.mark.parametrize(
    "data",
    [
        b"1" * 5000,
        json.dumps(VALID_DOCUMENT).replace('"tokens": 3', '"tokens": ' + "3" * 5000).encode(),
    ],
    ids=["bare", "in-a-message"],
)
def test_a_json_integer_too_long_for_python_is_a_corrupt_document(data: bytes) -> None:
    """Valid JSON, but beyond int()'s 4300-digit limit: "corrupt", never a bare ValueError."""
    assert '"tokens": 3' in json.dumps(VALID_DOCUMENT)
    assert_decodes_or_is_corrupt(data)


@FUZZ
@given(json_values)
@example({"format": 99})
@example({"format": True, "messages": []})
@example({"format": 1.0, "messages": []})
@example({"format": -1, "messages": []})
def test_decode_document_on_arbitrary_json(value: Any) -> None:
    assert_decodes_or_is_corrupt(json.dumps(value).encode())


@FUZZ
@given(
    st.lists(
        st.tuples(st.sampled_from(PATHS), st.one_of(st.just(DROP), json_values)),
        min_size=1,
        max_size=4,
    )
)
@example([(("messages", 0, "created_at"), "2024-13-45T99:99:99")])
@example([(("created_at",), "2024-05-01T12:00:00+99:00")])
@example([(("messages", 1, "usage", "input_tokens"), True)])
@example([(("messages", 0, "role"), ["user"])])
@example([(("messages", 0, "status"), {"complete": 1})])
def test_decode_document_on_mutations_of_a_valid_document(changes: Any) -> None:
    data = json.dumps(mutate(VALID_DOCUMENT, changes)).encode()
    assert_decodes_or_is_corrupt(data)


TEXT_PATHS = [
    ("name",),
    ("system",),
    ("model",),
    ("messages", 0, "content"),
    ("messages", 1, "content"),
    ("messages", 1, "model"),
]


@FUZZ
@given(
    st.sampled_from(TEXT_PATHS),
    st.text(st.characters(categories=["Cs", "Ll", "Cc", "So"]), max_size=10),
)
@example(("messages", 0, "content"), "\ud800")  # a lone surrogate, "\\ud800" in the JSON
def test_a_document_that_decodes_can_be_saved_again(path: tuple[Any, ...], text: str) -> None:
    """What `show` prints and `chat --resume` saves again must survive being written out."""
    data = json.dumps(mutate(VALID_DOCUMENT, [(path, text)])).encode()
    try:
        conversation = decode_document(data)
    except CorruptDocumentError:
        return
    again = decode_document(encode_document(conversation))
    assert again.to_document() == conversation.to_document()


def test_a_valid_document_decodes_and_round_trips() -> None:
    data = json.dumps(VALID_DOCUMENT).encode()
    conversation = decode_document(data)
    assert conversation.to_document() == VALID_DOCUMENT
    assert decode_document(encode_document(conversation)).to_document() == VALID_DOCUMENT


def message_or_usage_error(prompt: str | None, data: bytes) -> str | None:
    try:
        message = compose_message(prompt, read_stdin(io.BytesIO(data)))
    except UsageError as exc:
        assert str(exc).strip() and "\n" not in str(exc)
        return None
    assert isinstance(message, str)
    assert message.strip(), repr(message)
    return message


@FUZZ
@given(st.one_of(st.none(), st.text(max_size=40)), st.binary(max_size=300))
@example(None, b"")
@example(None, b"\n\n\n")
@example("  ", b" \t ")
@example(None, "\u2028\u3000\x1c".encode())
@example(None, b"\xef\xbb\xbf")
@example("x", b"\x00")
@example(None, b"\xed\xa0\x80")  # a UTF-8-encoded surrogate is not valid UTF-8
def test_read_stdin_and_compose_message_on_arbitrary_bytes(prompt: str | None, data: bytes) -> None:
    message = message_or_usage_error(prompt, data)
    if message is not None and prompt and prompt.strip():
        assert message.startswith(prompt.strip())


@FUZZ
@given(st.one_of(st.none(), st.text(max_size=40)), st.text(max_size=300))
def test_compose_message_on_arbitrary_text(prompt: str | None, text: str) -> None:
    try:
        message = compose_message(prompt, text)
    except UsageError:
        assert not (prompt or "").strip() and not text.strip()
        return
    assert isinstance(message, str) and message.strip()
    if text.strip():
        assert text.strip("\n") in message


@settings(
    max_examples=8,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.one_of(st.binary(max_size=200), st.text(max_size=100).map(str.encode)))
@example(data=b"\x00binary")
@example(data=b"plain text")
def test_the_cli_on_random_stdin_answers_or_refuses(cli, fake_api, data: bytes) -> None:  # type: ignore[no-untyped-def]
    before = len(fake_api.requests)
    result = cli("chat", input=data)
    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 2), result.stderr
    if result.returncode == 2:
        assert_one_clear_line(result.stderr)
        assert len(fake_api.requests) == before
    else:
        assert len(fake_api.requests) == before + 1
        assert result.stdout.startswith("echo: ")
