"""One process keeps one journal entry per conversation, and serve's turns on one conversation
at once each save their own copy. Written one over the other, a turn whose push then failed
(a slow store, an outage) or never came (a kill) lost its messages, though it had been
answered; readers on this machine missed them meanwhile. Each save is now merged with what
the entry holds, and pushed so merged."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from claudechat.conversation import Conversation
from claudechat.storage.journal import Journal
from claudechat.storage.store import ConversationStore
from conftest import content_text

USER = "tester"


@pytest.fixture
def store() -> Iterator[ConversationStore]:
    from claudechat.settings import load_settings
    from claudechat.storage import open_store

    opened = open_store(load_settings())
    yield opened
    opened.close()


def _started(store: ConversationStore) -> Conversation:
    conversation = Conversation.new(USER, "claude-sonnet-4-6")
    conversation.append("user", "base")
    store.save(conversation)
    return conversation


def _texts(conversation: Conversation) -> list[str]:
    return sorted(content_text(m.content) for m in conversation.messages)


def _journaled(store: ConversationStore, conversation_id: str) -> list[str]:
    entries = store.journal.for_conversation(USER, conversation_id)
    assert len(entries) == 1  # this process's one entry
    return _texts(entries[0].conversation)


def test_two_turns_at_once_both_stay_in_the_entry_and_the_second_push_carries_both(
    store: ConversationStore,
) -> None:
    started = _started(store)
    first, second = store.load(USER, started.id), store.load(USER, started.id)
    first.append("user", "from the first turn")
    second.append("user", "from the second turn")

    first_push = store.begin_save(first)
    second_push = store.begin_save(second)  # wrote over the first's entry

    expected = ["base", "from the first turn", "from the second turn"]
    assert _journaled(store, started.id) == expected
    assert _texts(store.load(USER, started.id)) == expected  # a reader, before any push
    assert second_push().pushed  # the first turn's push never comes: the process is killed
    assert store.journal.for_conversation(USER, started.id) == []
    assert _texts(store.load(USER, started.id)) == expected
    assert first_push().pushed  # late, it changes nothing: each message once
    assert _texts(store.load(USER, started.id)) == expected


def test_many_threads_saving_one_conversation_lose_none_of_it(store: ConversationStore) -> None:
    started = _started(store)
    copies = [store.load(USER, started.id) for _ in range(12)]
    for index, copy in enumerate(copies):
        copy.append("user", f"turn {index}")
    barrier = threading.Barrier(len(copies))

    def save(copy: Conversation) -> None:
        barrier.wait()
        store.begin_save(copy)  # journaled; no push (as if every push failed)

    threads = [threading.Thread(target=save, args=(copy,)) for copy in copies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _journaled(store, started.id) == sorted(["base"] + [f"turn {i}" for i in range(12)])


def test_a_session_saving_again_writes_its_own_copy_unmerged(store: ConversationStore) -> None:
    """The usual case, one session's saves one after the other: nothing to merge, the copy is
    written as encoded (the same object pushed)."""
    conversation = _started(store)
    conversation.append("user", "pending")
    store.journal.write_merged(conversation.copy())
    conversation.append("assistant", "reply")
    again = conversation.copy()
    assert store.journal.write_merged(again).conversation is again


def test_an_entry_another_process_removed_is_neither_merged_back_nor_kept_in_memory(
    tmp_path: Path,
) -> None:
    """A delete (in another worker, or `claudechat delete`) discards every writer's entries of
    the conversation. This process still remembered its entry: the next save of that id (an
    import of an older export, say) merged the deleted messages back in."""
    journal, elsewhere = Journal(tmp_path), Journal(tmp_path)  # two processes' journals
    conversation = Conversation.new(USER, "claude-sonnet-4-6")
    conversation.append("user", "base")
    with_secret = conversation.copy()
    with_secret.append("user", "sent before the delete")
    first = journal.write_merged(with_secret)
    for entry in elsewhere.for_conversation(USER, conversation.id):
        elsewhere.discard(entry)  # the delete

    journal.make_durable(with_secret)  # its push failed: nothing left to keep, no error
    journal.remove(with_secret, first.etag)  # conflicts: the file is gone
    assert journal._written == {}  # a long-running serve forgets it
    again = journal.write_merged(conversation.copy())
    assert _texts(again.conversation) == ["base"]


def test_a_write_after_the_entry_vanished_writes_only_itself(tmp_path: Path) -> None:
    journal, elsewhere = Journal(tmp_path), Journal(tmp_path)
    conversation = Conversation.new(USER, "claude-sonnet-4-6")
    conversation.append("user", "base")
    with_secret = conversation.copy()
    with_secret.append("user", "sent before the delete")
    journal.write_merged(with_secret)
    for entry in elsewhere.for_conversation(USER, conversation.id):
        elsewhere.discard(entry)
    assert _texts(journal.write_merged(conversation.copy()).conversation) == ["base"]
