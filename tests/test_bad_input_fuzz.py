"""Fuzzing what the program reads: documents (arbitrary bytes, JSON and mutations of a valid
one) are read or refused as corrupt, never crash; standard input is sent or refused in one line."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from claudechat.conversation import Conversation, Message, Usage
from claudechat.errors import CorruptDocumentError, UsageError
from claudechat.pipe import compose_message, read_stdin
from claudechat.storage.store import decode_document, encode_document
from test_bad_input import FIRST_ID, USER, assert_one_clear_line

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
