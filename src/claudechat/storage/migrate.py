"""Schema migrations: a cheap check on every start, Alembic only when something must change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from claudechat.errors import StorageError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

# Kept in step with the newest file in migrations/versions (a test checks it), so that an
# up-to-date database costs one SELECT at start instead of importing Alembic.
HEAD_REVISION = "0004"
KNOWN_REVISIONS = (None, "0001", "0002", HEAD_REVISION)


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


def ensure_current(engine: Engine, auto_migrate: bool) -> None:
    with engine.connect() as connection:
        revision = current_revision(connection)
    if revision == HEAD_REVISION:
        return
    if revision not in KNOWN_REVISIONS:
        raise StorageError(
            f"the database schema is at {revision}, newer than this claudechat knows "
            f"({HEAD_REVISION}): upgrade claudechat"
        )
    if not auto_migrate:
        raise StorageError(
            f"the database schema is at {revision or 'nothing'}, this claudechat needs "
            f"{HEAD_REVISION}: run `claudechat db upgrade`"
        )
    upgrade(engine)
