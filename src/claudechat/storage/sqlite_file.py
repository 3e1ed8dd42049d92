"""The embedded database's file, made whole before any process opens it."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path


def create_wal_database(path: Path) -> None:
    """A new database is made in WAL mode before it takes its name. Made empty, each of
    several first starts at once switched it to WAL itself; two that had read it in rollback
    mode could deadlock, and SQLite then answers one "database is locked" at once, without
    waiting (its busy handler is skipped where waiting could deadlock)."""
    path = Path(os.path.realpath(path))  # a symlink's target is made, private, like a file
    if path.exists():
        return
    import sqlite3
    import tempfile

    from claudechat.storage.blobs import make_private_dirs

    make_private_dirs(path.parent)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".new")
    os.close(descriptor)  # mkstemp: 0600, a name no other process has
    draft = Path(name)
    try:
        connection = sqlite3.connect(draft)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
        finally:
            connection.close()
        _link_unless_there(draft, path)
    except sqlite3.Error as exc:  # a full disk, say: reported as the file's creation failing
        raise OSError(str(exc)) from exc
    finally:
        for leftover in (draft, *(Path(f"{draft}{end}") for end in ("-journal", "-wal", "-shm"))):
            with contextlib.suppress(OSError):
                leftover.unlink()


def _link_unless_there(draft: Path, path: Path) -> None:
    """Give the draft the database's name unless another process did first (atomically)."""
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # another first start made it: theirs is everyone's
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS):
            raise
        # A filesystem without hard links: an empty file, switched to WAL on first use.
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
