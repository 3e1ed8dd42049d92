"""Migration 0004 on both configurations: conversations saved before it are found by search."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, inspect

from claudechat.conversation import Conversation
from claudechat.settings import load_settings
from claudechat.storage import migrate, open_store


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    engine = create_engine(url)
    with engine.begin() as connection:
        command.downgrade(migrate.alembic_config(connection), revision)
    engine.dispose()


def test_conversations_from_before_search_are_found_after_the_upgrade(cli, backend) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings()
    store = open_store(settings)
    for user, text in (("tester", "the old lighthouse keeper"), ("alice", "lighthouse plans")):
        conversation = Conversation.new(user, "claude-sonnet-4-6")
        conversation.append("user", text)
        assert store.save(conversation).pushed
        if user == "tester":
            mine = conversation
    store.close()
    downgrade(settings.database_url, "0002")  # as a database from before search looks
    assert "search_messages" not in inspect(create_engine(settings.database_url)).get_table_names()

    result = cli("search", "lighthouse", "--json")  # migrates, then indexes my conversations
    assert result.returncode == 0, result.stderr
    assert [hit["id"] for hit in json.loads(result.stdout)] == [mine.id]
    assert cli("list", "--search", "keeper").stdout.startswith(mine.id[:8])
    # Alice's conversations wait for her own first search (or `db reindex`), then are hers.
    alice = cli("search", "lighthouse", "--json", env={"CLAUDECHAT_USER": "alice"})
    assert [hit["role"] for hit in json.loads(alice.stdout)] == ["user"]
    assert json.loads(alice.stdout)[0]["id"] != mine.id


@pytest.mark.fresh_store
def test_an_empty_database_gets_the_search_tables(backend) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings()
    open_store(settings).metadata.close()
    tables = set(inspect(create_engine(settings.database_url)).get_table_names())
    assert {"conversations", "search_messages", "search_backfill"} <= tables


def test_a_first_search_the_store_fails_leaves_the_backfill_for_the_next_one(  # type: ignore[no-untyped-def]
    cli, isolated_home
) -> None:
    """The backfill was marked done with the documents unread: "no message matches", exit 0,
    and those conversations were never found again (until `db reindex`)."""
    settings = load_settings()
    store = open_store(settings)
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    conversation.append("user", "the gnu migrates")
    assert store.save(conversation).pushed
    store.close()
    downgrade(settings.database_url, "0002")
    documents = isolated_home / "conversations"
    documents.rename(isolated_home / "away")
    documents.touch()  # the folder of documents cannot be read: a store that fails

    failed = cli("search", "gnu")
    assert failed.returncode == 5, failed.stderr  # the store's failure, not "no match"
    assert "no message matches" not in failed.stderr

    documents.unlink()
    (isolated_home / "away").rename(documents)
    found = cli("search", "gnu", "--json")
    assert found.returncode == 0, found.stderr
    assert [hit["id"] for hit in json.loads(found.stdout)] == [conversation.id]


def test_a_document_that_alone_cannot_be_read_does_not_fail_every_search(  # type: ignore[no-untyped-def]
    cli, isolated_home
) -> None:
    """Taken for an outage, it left the backfill pending: every search read every document
    again and exited 5, and `db reindex` did not end it."""
    settings = load_settings()
    store = open_store(settings)
    kept, lost = (Conversation.new("tester", "claude-sonnet-4-6") for _ in range(2))
    kept.append("user", "the gnu migrates")
    lost.append("user", "the gnu sleeps")
    assert store.save(kept).pushed and store.save(lost).pushed
    store.close()
    downgrade(settings.database_url, "0002")
    document = isolated_home / "conversations" / "tester" / f"{lost.id}.json"
    document.unlink()
    document.mkdir()  # this document alone cannot be read

    for _search in range(2):
        found = cli("search", "gnu", "--json")
        assert found.returncode == 0, found.stderr
        assert [hit["id"] for hit in json.loads(found.stdout)] == [kept.id]
