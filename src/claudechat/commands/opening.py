"""What every command does before its work: settings (with their warnings said), the store
(a database URL that can never work refused first), and the journal pushed."""

from __future__ import annotations

import atexit
import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claudechat.errors import ConfigError
from claudechat.output import counted

if TYPE_CHECKING:
    from claudechat.settings import Settings
    from claudechat.storage.store import ConversationStore


def settings(**overrides: Any) -> Settings:
    from claudechat.output import status
    from claudechat.settings import load_settings

    settings = load_settings(overrides)
    for warning in settings.warnings:
        status(f"warning: {warning}", "yellow")
    return settings


def store(settings: Settings) -> ConversationStore:
    from claudechat.storage import open_store
    from claudechat.storage.database_url import check_database_url

    # The database itself is reached on first use; a URL that can never work is refused now.
    check_database_url(settings.database_url, settings.sources.get("database_url"))
    from claudechat.output import status

    store = open_store(settings)
    store.notify = lambda message: status(message, "yellow")  # e.g. a possibly stale copy
    store.waiting_to_open = lambda: _said_while_waiting(settings.database_url)
    close_at_exit(store)
    return store


# How long opening the database may take before the wait is said.
WAIT_SAID_AFTER = 1.0


def _said_while_waiting(database_url: str) -> contextlib.AbstractContextManager[None]:
    """A wait to open the database said once it has lasted WAIT_SAID_AFTER. A database to
    migrate while another process wrote to it kept `list` silent for up to 30 s."""
    from claudechat.progress import said_while_waiting

    label, short = waiting_label(database_url)
    return said_while_waiting(label, short, WAIT_SAID_AFTER)


def waiting_label(database_url: str) -> tuple[str, str]:
    """What a long wait to open the database is, said as it starts (and its short form). Any
    slow SQLite open was "another process is writing to it", a new user's first `list` on a
    loaded machine too, where the wait was this process creating the database."""
    short = "waiting for the database"
    if not database_url.startswith("sqlite"):
        return f"{short} to answer", short  # a server may be slow, or down
    from claudechat.storage.database_url import parse_database_url
    from claudechat.storage.sqlite_lock_holder import held_by_another_process

    name = parse_database_url(database_url).database
    if name in (None, "", ":memory:"):
        return short, short
    database = Path(name)
    if not database.exists():
        return "preparing the database", "preparing the database"
    if held_by_another_process(database):  # a chat saving, another start migrating
        return f"{short}: another process is writing to it", short
    return "opening the database", "opening the database"


def quiet_waiting(store: ConversationStore) -> None:
    """No line for a wait to open the database from here on: the REPL's prompt and a turn's
    lines hold the terminal, and a save beside a request opens it from a thread of its own."""
    store.waiting_to_open = contextlib.nullcontext


# What a store's closing may take at exit; past it the process leaves it unfinished.
CLOSING_AT_EXIT_SECONDS = 1.0


def close_at_exit(store: Any) -> None:
    """Closed at exit, which no longer tears down every object (cli._exit): an SQLite database
    closed by its last connection is checkpointed, and its -wal and -shm files go."""
    from claudechat.storage import close_within

    atexit.register(close_within, store, CLOSING_AT_EXIT_SECONDS)


def push_journal(store: ConversationStore, settings: Settings) -> None:
    """Every start pushes what an earlier outage or crash left in the journal."""
    from claudechat.output import status

    store.journal.clear_gone_writers()
    report = store.sync(settings.user)
    for notice in report.notices():
        status(notice)
    if report.error:
        # Conversations, not entries: several processes may each hold one of the same.
        waiting = len({e.conversation.id for e in store.journal.entries(settings.user)})
        waits = f"{counted(waiting, 'conversation')} {'waits' if waiting == 1 else 'wait'}"
        status(f"warning: {report.error}; {waits} to be pushed", "yellow")
    if report.damaged:
        status(
            f"warning: {counted(len(report.damaged), 'journal entry', 'journal entries')} "
            "cannot be read; run `claudechat doctor`",
            "yellow",
        )


def check_writable(path: Path) -> None:
    """The REPL's history is read and appended in the background, where a failure would stop
    the prompt with a traceback: a data directory someone else owns is reported here."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600))  # private
        os.close(os.open(path, os.O_RDONLY))
    except OSError as exc:
        raise ConfigError(
            f"cannot use the history file {path}: {exc.strerror or exc}; check who owns "
            f"{path.parent} and its permissions (or set CLAUDECHAT_HOME)"
        ) from exc
