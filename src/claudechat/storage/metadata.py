"""The metadata store: one row per conversation, in any database SQLAlchemy reaches."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claudechat.errors import StorageError, StoreRefusedError
from claudechat.settings import mask_url_password
from claudechat.storage.database_url import describe_database, parse_database_url
from claudechat.storage.guard import waiting_on

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from claudechat.storage.checkpoints import Checkpoints
    from claudechat.storage.group_commit import GroupCommit


# Ids whose neighbours one statement reads: 4 parameters each, well within SQLite's limit.
NEIGHBOURS_AT_ONCE = 100


@dataclass
class ConversationRow:
    conversation_id: str
    user_id: str
    conversation_name: str | None
    s3_file_location: str
    model: str
    message_count: int
    preview: str | None
    created_at: datetime
    updated_at: datetime
    version: int = 1
    parent_id: str | None = None
    cost_usd: float | None = None  # every branch's replies at list price; None: unknown


def unused(row: ConversationRow) -> bool:
    """Started and never used: no message and no name (a /new_chat of a bot that went no
    further, say). `list` leaves such rows out unless asked: hundreds of them pushed a
    person's conversations off its page."""
    return row.message_count == 0 and not row.conversation_name


class MetadataStore:
    def __init__(self, url: str, auto_migrate: bool = True) -> None:
        self.url = url
        from claudechat.storage.engine import create_engine

        self.engine = create_engine(url, auto_migrate)
        # PostgreSQL locks rows, not the database: writers need no queue of their own there.
        self._one_writer = _writer_lock(self.engine)
        self._checkpoints = _checkpoints(self.engine, self._one_writer)
        self._group = _group_commit(self._one_writer, self._transaction)
        from claudechat.storage.migrate import ensure_current

        with database_errors(url):
            # The schema's revision before this start (None: an empty database).
            self.found_at = ensure_current(self.engine, auto_migrate)

    @contextlib.contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction, committed at the end; driver errors become StorageError."""
        with self._one_writer, self._transaction() as connection:
            yield connection

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with database_errors(self.url), self.engine.begin() as connection:
            yield connection
        if self._checkpoints is not None:
            self._checkpoints.committed()

    def update_newest(self, connection: Connection, row: ConversationRow) -> bool | None:
        """Within a transaction. True: the stored row brought up to `row`. False: the stored
        row is newer (a slower writer of an older merge) and stays. None: no row is stored.
        The usual case, a row brought up to date, is one statement."""
        from claudechat.storage import prepared

        key = prepared.row_key(row.conversation_id, row.user_id)
        changes = {f"new_{name}": getattr(row, name) for name in prepared.row_changes()}
        if connection.execute(prepared.newest_row_update(), {**key, **changes}).rowcount == 1:
            return True
        stored = connection.execute(prepared.row_version(), key).first()
        return False if stored is not None else None

    def insert_row(self, connection: Connection, row: ConversationRow) -> None:
        """Within a transaction, where update_newest found no row. Another writer inserting
        it meanwhile raises IntegrityError: run again (`write_retrying`), it is then updated."""
        from claudechat.storage.schema import conversations

        connection.execute(conversations.insert(), asdict(row))

    def write_retrying(self, work: Callable[[Connection], None], what: str) -> None:
        """work(connection) in a transaction, run again when another writer's insert won a
        unique key meanwhile (IntegrityError): the next run sees what that writer added. On
        SQLite the transaction may be shared with other threads' (group_commit.py)."""
        if self._group is not None:
            self._group.run(work, lambda: self._retrying(work, what))
            return
        with self._one_writer:
            self._retrying(work, what)

    def _retrying(self, work: Callable[[Connection], None], what: str) -> None:
        from sqlalchemy.exc import IntegrityError

        for attempt in range(3):
            try:
                with self._transaction() as connection:
                    work(connection)
                return
            except IntegrityError as exc:
                if attempt == 2:
                    # The driver's first line: the rest is the SQL and its parameters (a
                    # message's preview among them), which the user was shown.
                    reason = _first_line(exc.orig)
                    raise StorageError(f"{what} kept changing under this save: {reason}") from exc

    def get(self, user_id: str, conversation_id: str) -> ConversationRow | None:
        from claudechat.storage import prepared

        rows = self._select(prepared.row(), prepared.row_key(conversation_id, user_id))
        return rows[0] if rows else None

    def owner(self, conversation_id: str) -> str | None:
        """The user whose conversation has this id (the table's key is the id alone)."""
        from sqlalchemy import select

        from claudechat.storage.schema import conversations

        table = conversations.c
        statement = select(table.user_id).where(table.conversation_id == conversation_id)
        with database_errors(self.url), self.engine.connect() as connection:
            return connection.execute(statement).scalar_one_or_none()

    def referenced_attachments(self, user_id: str, digests: set[str]) -> set[str]:
        """Those of the digests some conversation of the user still refers to."""
        from sqlalchemy import select

        from claudechat.storage.schema import attachment_refs

        table = attachment_refs.c
        statement = (
            select(table.sha256)
            .where(table.user_id == user_id)
            .where(table.sha256.in_(sorted(digests)))
        )
        with database_errors(self.url), self.engine.connect() as connection:
            return set(connection.execute(statement).scalars())

    def attachment_uses(self, user_id: str) -> list[tuple[str, str, str]]:
        """(conversation id, sha256, file name) of every attachment the user's conversations
        refer to: those with a row alone (a delete drops the row first, the references after)."""
        from sqlalchemy import select

        from claudechat.storage.schema import attachment_refs, conversations

        refs, rows = attachment_refs.c, conversations.c
        statement = (
            select(refs.conversation_id, refs.sha256, refs.name)
            .join(
                conversations,
                (rows.user_id == refs.user_id) & (rows.conversation_id == refs.conversation_id),
            )
            .where(refs.user_id == user_id)
            .order_by(refs.conversation_id, refs.name)
        )
        with database_errors(self.url), self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(statement)]

    def warm_up(self) -> None:
        """The statements every request reads with, compiled now (prepared.run_reads_once)."""
        from claudechat.storage import prepared

        with database_errors(self.url), self.engine.connect() as connection:
            prepared.run_reads_once(connection)

    def find_by_prefix(self, user_id: str, prefix: str, limit: int = 2) -> list[ConversationRow]:
        from claudechat.storage.schema import conversations

        table = conversations.c
        # A range instead of LIKE: indexable, and ids hold only [0-9a-f-], all below "~".
        return self._select(
            conversations.select()
            .where(table.user_id == user_id)
            .where(table.conversation_id >= prefix)
            .where(table.conversation_id < prefix + "~")
            .order_by(table.conversation_id)
            .limit(limit)
        )

    def neighbour_ids(self, user_id: str, conversation_ids: Iterable[str]) -> set[str]:
        """The user's ids next to each of these in id order, the one before and the one after
        (short_ids.py: only they can share more of an id's beginning than any other): each one
        step of the (user_id, conversation_id) index, a statement of scalar subqueries reading
        them all. For more ids than that holds, every id of the user's instead, a single scan
        of the same index: `list --all` of 10,000 took 1.6 s in batches, 20 ms so."""
        from sqlalchemy import select

        from claudechat.storage.schema import conversations

        table = conversations.c
        mine = select(table.conversation_id).where(table.user_id == user_id)
        wanted = sorted(set(conversation_ids))
        if not wanted:
            return set()
        with database_errors(self.url), self.engine.connect() as connection:
            if len(wanted) > NEIGHBOURS_AT_ONCE:
                return set(connection.execute(mine).scalars())
            nearest = mine.limit(1)
            sides = [
                side.scalar_subquery()
                for conversation_id in wanted
                for side in (
                    nearest.where(table.conversation_id < conversation_id).order_by(
                        table.conversation_id.desc()
                    ),
                    nearest.where(table.conversation_id > conversation_id).order_by(
                        table.conversation_id
                    ),
                )
            ]
            return {value for value in connection.execute(select(*sides)).one() if value}

    def list_for_user(
        self, user_id: str, limit: int | None = None, with_unused: bool = True
    ) -> list[ConversationRow]:
        from sqlalchemy import not_

        from claudechat.storage.schema import conversations

        table = conversations.c
        statement = conversations.select().where(table.user_id == user_id)
        if not with_unused:  # in SQL: `limit` counts the rows listed
            statement = statement.where(not_(_unused_in_sql(table)))
        statement = (
            statement
            # Ties in the order reading.list sorts rows in: `list -n 1` and `chat -c` took the
            # last of tied rows where `list` showed them first.
            .order_by(table.updated_at.desc(), table.conversation_id.desc())
        )
        if limit is not None:
            statement = statement.limit(limit)
        return self._select(statement)

    def unused_ids(self, user_id: str) -> set[str]:
        """The ids of the user's rows that `unused` is true of."""
        from sqlalchemy import select

        from claudechat.storage.schema import conversations

        table = conversations.c
        statement = select(table.conversation_id).where(
            table.user_id == user_id, _unused_in_sql(table)
        )
        with database_errors(self.url), self.engine.connect() as connection:
            return set(connection.execute(statement).scalars())

    def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.close()
        self.engine.dispose()
        closing = getattr(self._one_writer, "close", None)
        if closing is not None:
            closing()

    def _select(self, statement: Any, parameters: Any = None) -> list[ConversationRow]:
        with database_errors(self.url), self.engine.connect() as connection:
            result = connection.execute(statement, parameters)
            return [_to_row(mapping) for mapping in result.mappings()]


def _to_row(mapping: Any) -> ConversationRow:
    values = dict(mapping)
    for column in ("created_at", "updated_at"):
        values[column] = _as_utc(values[column])
    return ConversationRow(**values)


def _unused_in_sql(table: Any) -> Any:
    """`unused` as a condition on the conversations table (no NULL: a name may be one)."""
    from sqlalchemy import and_, func

    return and_(table.message_count == 0, func.coalesce(table.conversation_name, "") == "")


def _as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything claudechat stores is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _writer_lock(engine: Engine) -> contextlib.AbstractContextManager[Any]:
    from claudechat.storage.writer_lock import SqliteWriterLock

    if engine.dialect.name != "sqlite":
        return contextlib.nullcontext()
    database = engine.url.database
    if not database or database == ":memory:":
        return threading.Lock()  # one process's own database: its threads are all there is
    return SqliteWriterLock(Path(database))


def _checkpoints(
    engine: Engine, writers: contextlib.AbstractContextManager[Any]
) -> Checkpoints | None:
    from claudechat.storage.checkpoints import Checkpoints
    from claudechat.storage.writer_lock import SqliteWriterLock

    if not isinstance(writers, SqliteWriterLock):
        return None  # PostgreSQL, or a database in memory: no WAL to copy
    return Checkpoints(engine, writers)


def _group_commit(
    writers: contextlib.AbstractContextManager[Any],
    transaction: Callable[[], contextlib.AbstractContextManager[Connection]],
) -> GroupCommit | None:
    from claudechat.storage.group_commit import GroupCommit

    if isinstance(writers, contextlib.nullcontext):
        return None  # PostgreSQL locks rows: its writers do not queue
    return GroupCommit(writers, transaction)


class database_errors:
    """Turn driver errors into one line naming host and database, never the password."""

    def __init__(self, url: str) -> None:
        self.url = url
        # Named by the guard's line if the call waits here past its deadline.
        self.waiting = waiting_on(lambda: f"database {describe_database(url)}")

    def __enter__(self) -> None:
        self.waiting.__enter__()

    def __exit__(self, kind: Any, error: BaseException | None, _tb: Any) -> None:
        self.waiting.__exit__()
        from sqlalchemy.exc import DBAPIError, IntegrityError

        # IntegrityError means a conflicting insert, which the caller handles itself.
        if isinstance(error, DBAPIError) and not isinstance(error, IntegrityError):
            reason = _first_line(error.orig)
            where = describe_database(self.url)
            # The whole text: libpq says a line per address it tried (::1, then 127.0.0.1).
            if refuses_configuration(mask_url_password(str(error.orig))):
                raise StoreRefusedError(
                    f"the store refused the configuration: database {where}: {reason}; fix "
                    "the database URL (CLAUDECHAT_DATABASE_URL or database_url)"
                ) from error
            reason += _read_only_hint(self.url)
            raise StorageError(f"database {where} failed: {reason}") from error


# What PostgreSQL (or libpq, before it connects) says of a configuration it will never accept:
# the same answer however long one waits. Said in words only: libpq gives a failed
# connection no SQLSTATE.
def refuses_configuration(message: str) -> bool:
    return _REFUSED_CONFIGURATION.search(message) is not None


_REFUSED_CONFIGURATION = re.compile(
    r"password authentication failed|no password supplied|no pg_hba\.conf entry"
    r'|(database|role) "[^"]*" does not exist|is not permitted to log in'
    r"|permission denied for database|invalid dsn|invalid connection option"
)


def _read_only_hint(url: str) -> str:
    """Why SQLite failed, when a file or folder it writes cannot be written: it says only
    "unable to open database file" or "attempt to write a readonly database", and the file
    at fault may be the -shm beside the database rather than the database itself."""
    from claudechat.storage.sqlite_file import read_only_files

    parsed = parse_database_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return ""
    files = read_only_files(Path(parsed.database))
    if not files:
        return ""
    if len(files) == 1:
        return (
            f" ({files[0]} is read-only to you: check its owner, its permissions and the "
            "disk's mount, or set CLAUDECHAT_HOME)"
        )
    named = ", ".join(str(file) for file in files[:-1]) + f" and {files[-1]}"
    return (
        f" ({named} are read-only to you: check their owners, their permissions and the "
        "disk's mount, or set CLAUDECHAT_HOME)"
    )


def _first_line(error: object) -> str:
    text = mask_url_password(str(error)).strip()
    return text.splitlines()[0] if text else type(error).__name__
