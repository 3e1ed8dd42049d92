"""How the metadata database is connected: SQLite's file made in WAL mode and its pragmas on
every connection; PostgreSQL's time limits on every call."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from claudechat.errors import StorageError
from claudechat.storage.database_url import parse_database_url

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def create_engine(url: str, auto_migrate: bool = True) -> Engine:
    from sqlalchemy import create_engine as sqlalchemy_engine
    from sqlalchemy import event

    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        from claudechat.storage.migrate import check_allowed
        from claudechat.storage.sqlite_file import create_wal_database, repair_sidecars

        if not auto_migrate and not Path(parsed.database).exists():
            # Refused before it is made: made only to be refused (it has no schema), an empty
            # database file was left behind by every start that said so.
            check_allowed(None, auto_migrate)
        try:
            create_wal_database(Path(parsed.database))
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            reason = getattr(exc, "strerror", None) or str(exc)
            raise StorageError(f"cannot create {parsed.database}: {reason}") from exc
        repair_sidecars(Path(parsed.database))
    if parsed.get_backend_name() == "sqlite":
        engine = sqlalchemy_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sqlalchemy_engine(parsed, pool_pre_ping=True, connect_args=_connect_args(parsed))


def _connect_args(parsed: Any) -> dict[str, Any]:
    """Time limits on every PostgreSQL call: connecting, each statement, and keepalives that
    notice a peer gone mid-call. A URL's own query arguments (e.g. ?connect_timeout=) win."""
    if parsed.get_backend_name() != "postgresql":
        return {}
    limits: dict[str, Any] = {
        "connect_timeout": 3,
        "options": "-c statement_timeout=5000 -c lock_timeout=5000",
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 2,
    }
    return {k: v for k, v in limits.items() if k not in parsed.query}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets a reader (list, show) run while a chat in another terminal writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    from claudechat.storage.checkpoints import BACKSTOP_PAGES

    cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")  # see checkpoints.py
    cursor.close()
