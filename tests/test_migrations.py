"""Alembic migrations from an empty database and from the previous revision, both dialects."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from claudechat.errors import StorageError
from claudechat.storage import migrate
from claudechat.storage.metadata import MetadataStore

VERSIONS = Path(migrate.__file__).parent / "migrations" / "versions"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'm.db'}"
    return request.getfixturevalue("postgres").create_database(f"m_{uuid.uuid4().hex[:10]}")


def revision_of(url: str) -> str | None:
    engine = create_engine(url)
    with engine.connect() as connection:
        return migrate.current_revision(connection)


def test_head_constant_matches_the_newest_migration() -> None:
    newest = max(p.name for p in VERSIONS.glob("0*.py"))
    assert newest.startswith(migrate.HEAD_REVISION + "_")


def test_empty_database_to_head(database_url: str) -> None:
    store = MetadataStore(database_url)
    store.close()
    assert revision_of(database_url) == migrate.HEAD_REVISION
    indexes = {
        ix["name"] for ix in inspect(create_engine(database_url)).get_indexes("conversations")
    }
    assert {"ix_conversations_user_updated", "ix_conversations_user_id"} <= indexes


def test_previous_revision_to_head_keeps_rows(database_url: str) -> None:
    engine = create_engine(database_url)
    migrate.upgrade(engine, "0001")
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO conversations (conversation_id, user_id, conversation_name, "
                "s3_file_location, model, message_count, preview, created_at, updated_at) "
                "VALUES (:id, 'tester', 'old', 'file:///x', 'm', 2, 'hi', :now, :now)"
            ),
            {"id": "abcd0000-0000-4000-8000-000000000000", "now": now},
        )
    store = MetadataStore(database_url)
    (row,) = store.list_for_user("tester")
    assert (row.conversation_name, row.version, row.parent_id) == ("old", 1, None)
    assert [r.conversation_id for r in store.find_by_prefix("tester", "abcd")] == [
        row.conversation_id
    ]
    store.close()
    assert revision_of(database_url) == migrate.HEAD_REVISION


def test_without_auto_migrate_an_old_schema_is_an_error(database_url: str) -> None:
    with pytest.raises(StorageError, match=r"the database has no schema yet, .* db upgrade"):
        MetadataStore(database_url, auto_migrate=False)  # it said "the schema is at nothing"
    migrate.upgrade(create_engine(database_url), "0001")
    with pytest.raises(StorageError, match=r"the database is at schema 0001, .* db upgrade"):
        MetadataStore(database_url, auto_migrate=False)


def test_db_upgrade_command(cli, tmp_path, fake_api) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    migrate.upgrade(create_engine(url), "0001")
    env = {"CLAUDECHAT_DATABASE_URL": url, "CLAUDECHAT_AUTO_MIGRATE": "false"}
    refused = cli("list", env=env)
    assert refused.returncode == 2 and "claudechat db upgrade" in refused.stderr
    # A chat meanwhile is journaled; it said the turn waited for "the store is back".
    chatted = cli("chat", input="before the upgrade", env=env)
    assert chatted.returncode == 2, chatted.stderr  # no outage that passes: it exited 0
    assert "will be pushed once that is done" in chatted.stderr, chatted.stderr
    upgraded = cli("db", "upgrade", env=env)
    # It said "is up to date" whether it applied six migrations or none.
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded from schema 0001 to schema {migrate.HEAD_REVISION}" in upgraded.stderr
    again = cli("db", "upgrade", env=env)
    assert f"is up to date (schema {migrate.HEAD_REVISION})" in again.stderr
    fresh = cli("db", "upgrade", env={**env, "CLAUDECHAT_DATABASE_URL": f"{url}.new"})
    assert "upgraded from an empty database" in fresh.stderr, fresh.stderr
    assert cli("list", env=env).returncode == 0


def test_from_0007_deletes_are_recorded_and_a_save_of_a_deleted_id_is_refused(
    database_url: str,
) -> None:
    """Migration 0008's table, on a database the previous revision made and filled."""
    from claudechat.storage.deletions import mark_deleted, unmark, was_deleted

    engine = create_engine(database_url)
    migrate.upgrade(engine, "0007")
    kept, deleted = "abcd0000-0000-4000-8000-000000000000", "dcba0000-0000-4000-8000-000000000000"
    with engine.begin() as connection:
        for conversation_id in (kept, deleted):
            connection.execute(
                text(
                    "INSERT INTO conversations (conversation_id, user_id, s3_file_location, "
                    "model, message_count, created_at, updated_at) "
                    "VALUES (:id, 'tester', 'file:///x', 'm', 2, :now, :now)"
                ),
                {"id": conversation_id, "now": datetime.now(UTC)},
            )
    store = MetadataStore(database_url)
    assert revision_of(database_url) == migrate.HEAD_REVISION
    for _twice in range(2):  # deleted again after an import: recorded once
        with store.writing() as connection:
            mark_deleted(connection, "tester", deleted)
    with store.writing() as connection:
        assert was_deleted(connection, "tester", deleted)
        assert not was_deleted(connection, "tester", kept)
        assert not was_deleted(connection, "someone-else", deleted)
        unmark(connection, "tester", deleted)
        assert not was_deleted(connection, "tester", deleted)
    assert len(store.list_for_user("tester")) == 2  # the rows the upgrade found, kept
    store.close()
