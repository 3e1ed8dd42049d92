"""Conversation ids as every command takes them, and the line a bad command line gets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from claudechat.conversation import Conversation
from claudechat.settings import load_settings
from claudechat.storage import open_store
from claudechat.storage.store import ConversationStore

CONVERSATION = "abcd1111-0000-4000-8000-000000000000"


@pytest.fixture
def stored() -> Iterator[ConversationStore]:
    """One conversation with an attachment-free exchange, in the store the program opens."""
    store = open_store(load_settings())
    conversation = Conversation.new(store_user(), "claude-sonnet-4-6")
    conversation.id = CONVERSATION
    conversation.append("user", "what is a monad?", status="complete")
    conversation.append("assistant", "A monoid.", tokens=3)
    store.save(conversation)
    yield store
    store.close()


def store_user() -> str:
    return load_settings().user


@pytest.mark.parametrize(
    "args",
    [
        ("show", " abcd1111"),
        ("export", "abcd1111 "),
        ("rename", " abcd1111", "renamed"),
        ("delete", "--yes", " abcd1111"),
        ("chat", "--resume", " abcd1111", "q"),
        ("attachment", "get", " abcd1111/1"),
    ],
    ids=["show", "export", "rename", "delete", "resume", "attachment-get"],
)
def test_an_id_with_spaces_around_it_is_refused_by_every_command(  # type: ignore[no-untyped-def]
    cli, fake_api, stored, args
) -> None:
    """show, export, rename and delete took " abcd1111" for abcd1111 (delete --yes deleted
    it); now no command strips an id, and each says so as for any other malformed one."""
    result = cli(*args, input="")

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("claudechat: not a conversation id: '"), result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert fake_api.requests == []
    assert [row.conversation_id for row in stored.list(store_user()).rows] == [CONVERSATION]
    assert stored.load(store_user(), CONVERSATION).name is None


@pytest.mark.parametrize("command", [("show",), ("chat", "--resume")])
def test_an_id_one_character_too_long_is_said_to_be_too_long(  # type: ignore[no-untyped-def]
    cli, fake_api, stored, command
) -> None:
    """Every character of it is hexadecimal, yet it was refused as "ids are hexadecimal"."""
    result = cli(*command, CONVERSATION + "0", input="")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"claudechat: not a conversation id: '{CONVERSATION}0' "
        "(longer than a full id, 36 characters)"
    )
