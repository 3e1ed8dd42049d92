"""A full id's row and document are read in one store call (reading.py, _read_at_once): each
call is a hand-over to a store thread and back, and every turn of serve's bare /chat loads its
conversation by full id. Anything but a plain read takes the steps it took before."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from claudechat.conversation import Conversation
from claudechat.errors import NotFoundError
from claudechat.settings import load_settings
from claudechat.storage import open_store
from claudechat.storage.store import ConversationStore
from conftest import save_conversation

FULL_ID = "5e1f0c2a-1111-4000-8000-000000000000"


@pytest.fixture
def store(backend: Any) -> Iterator[ConversationStore]:  # either store answers alike
    opened = open_store(load_settings())
    yield opened
    opened.close()


def counted_store_calls(store: ConversationStore) -> list[str]:
    """The guard's calls from here on, one entry each (the guard is the store's own)."""
    calls: list[str] = []
    call = store.guard.call

    def counting(operation: Callable[[], Any], timeout: float | None = None) -> Any:
        calls.append(getattr(operation, "__qualname__", "?"))
        return call(operation, timeout)

    store.guard.call = counting  # type: ignore[method-assign]
    return calls


def saved(text: str) -> Conversation:
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.id = FULL_ID
    conversation.append("user", text)
    save_conversation(conversation)
    return conversation


def test_a_full_id_is_read_in_one_store_call(store: ConversationStore) -> None:
    saved("a talk about ferns")
    store.load_checked("tester", FULL_ID)  # connected, as a server's store is by its turns
    calls = counted_store_calls(store)
    document, kept = store.load_checked("tester", FULL_ID.upper())
    assert [m.text for m in document.messages] == ["a talk about ferns"]
    assert kept is None
    assert len(calls) == 1, calls


def test_a_prefix_takes_the_steps_it_took(store: ConversationStore) -> None:
    saved("a talk about moss")
    store.load_checked("tester", FULL_ID)
    calls = counted_store_calls(store)
    document, _ = store.load_checked("tester", FULL_ID[:8])
    assert [m.text for m in document.messages] == ["a talk about moss"]
    assert len(calls) == 2, calls  # the rows the prefix matches, then the document


def test_the_journal_is_merged_in_as_before(store: ConversationStore) -> None:
    conversation = saved("first")
    conversation.append("user", "second, not pushed yet")
    store.journal.write(conversation)
    document, _ = store.load_checked("tester", FULL_ID)
    assert [m.text for m in document.messages] == ["first", "second, not pushed yet"]


def test_a_conversation_only_in_the_journal_is_found_by_the_steps(
    store: ConversationStore,
) -> None:
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.id = FULL_ID
    conversation.append("user", "never pushed")
    store.journal.write(conversation)
    assert store.metadata  # connected, as a server's store is
    calls = counted_store_calls(store)
    document, _ = store.load_checked("tester", FULL_ID)
    assert [m.text for m in document.messages] == ["never pushed"]
    assert len(calls) == 3, calls  # no row at once; then the rows, then the document again
    with pytest.raises(NotFoundError, match="no conversation '5e1f0c2a-2222"):
        store.load_checked("tester", "5e1f0c2a-2222-4000-8000-000000000000")
