"""Schema migrations: a cheap check on every start, Alembic only when something must change."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from claudechat.errors import StoreRefusedError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

# Kept in step with the newest file in migrations/versions (a test checks it), so that an
# up-to-date database costs one SELECT at start instead of importing Alembic.
HEAD_REVISION = "0008"
KNOWN_REVISIONS = (None, "0001", "0002", "0003", "0004", "0005", "0006", "0007", HEAD_REVISION)
# pg_advisory_xact_lock key of the migration lock: "claudech" as a 64-bit integer.
LOCK_KEY = int.from_bytes(b"claudech", "big") - 2**63


def current_revision(connection: Connection) -> str | None:
    from sqlalchemy import inspect, text

    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def alembic_config(connection: Connection | None = None):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "claudechat.storage:migrations")
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def ensure_current(engine: Engine, auto_migrate: bool) -> str | None:
    """Migrate to the head when needed (and allowed); returns the revision found before, the
    head when there was nothing to do (None: an empty database)."""
    with engine.connect() as connection:
        revision = current_revision(connection)
    if revision == HEAD_REVISION:
        return revision
    check_allowed(revision, auto_migrate)
    with _migration_lock(engine) as connection:
        # Another process may have migrated while this one waited for the lock.
        revision = current_revision(connection)
        if revision != HEAD_REVISION:
            check_allowed(revision, auto_migrate)
            command_upgrade(connection)
    return revision


def command_upgrade(connection: Connection, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), revision)


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """One migrating process at a time, so many can start at once on a fresh database: a
    transaction-scoped advisory lock on PostgreSQL (DDL is transactional there), an
    exclusive transaction on SQLite."""
    from sqlalchemy import text

    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            yield connection
        return
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            # pysqlite's own transaction handling would begin lazily; take the lock now.
            connection.exec_driver_sql("BEGIN EXCLUSIVE")
            try:
                yield connection
            except BaseException:
                connection.exec_driver_sql("ROLLBACK")
                raise
            connection.exec_driver_sql("COMMIT")
        return
    with engine.begin() as connection:
        yield connection


class SchemaError(StoreRefusedError):
    """The database answers, but its schema is not the one this claudechat needs: what fixes
    it is `db upgrade` or a newer claudechat, not waiting for the store to come back. So it
    ends a command as a refused configuration does (exit 2): a pipe chat exited 0 as after an
    outage, while list, search and the others exited 5."""


def check_allowed(revision: str | None, auto_migrate: bool) -> None:
    """SchemaError unless a database at this revision may be migrated to the head."""
    if revision not in KNOWN_REVISIONS:
        raise SchemaError(
            f"the database schema is at {revision}, newer than this claudechat knows "
            f"({HEAD_REVISION}): upgrade claudechat"
        )
    if not auto_migrate:
        found = f"is at schema {revision}" if revision else "has no schema yet"
        raise SchemaError(
            f"the database {found}, this claudechat needs schema {HEAD_REVISION}: run "
            "`claudechat db upgrade`"
        )
