"""A store call that finishes after the store was closed (one its deadline gave up on, serve's
journal drain at shutdown) does not reopen the database: it did, and SQLite's -wal and -shm
files stayed behind the program's end. Its save stays in the journal, for the next start."""

from __future__ import annotations

from pathlib import Path

from claudechat.conversation import Conversation


def test_a_save_after_the_store_closed_stays_in_the_journal(isolated_home: Path) -> None:
    from claudechat.settings import load_settings
    from claudechat.storage import open_store

    store = open_store(load_settings())
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.append("user", "before closing")
    assert store.save(conversation).pushed
    assert list(isolated_home.glob("*-wal"))  # open, as SQLite keeps it
    store.close()
    assert not list(isolated_home.glob("*-wal"))

    conversation.append("assistant", "after closing")
    late = store.save(conversation)
    assert not late.pushed and late.journaled
    assert late.error is not None and "closed" in str(late.error)
    assert not list(isolated_home.glob("*-wal")), "reopened after closing"
    store.journal.release()  # as the process's end does

    again = open_store(load_settings())  # the next start
    try:
        assert again.sync("tester").pushed == [conversation.id]
        texts = [m.content for m in again.load("tester", conversation.id).messages]
        assert [t if isinstance(t, str) else t[0]["text"] for t in texts] == [
            "before closing",
            "after closing",
        ]
    finally:
        again.close()
