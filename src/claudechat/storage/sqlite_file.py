"""The embedded database's file, made whole before any process opens it."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
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


def sidecars(path: Path) -> tuple[Path, Path]:
    """The files SQLite keeps beside a database in WAL mode: the log and its shared index."""
    return Path(f"{path}-wal"), Path(f"{path}-shm")


def repair_sidecars(path: Path) -> None:
    """Give this user's -wal and -shm back the database's own mode when they lost it. SQLite
    makes them with the database file's mode: opened while that file was read-only (0400),
    they stayed 0400 after it was made writable again, and every write then failed with
    "attempt to write a readonly database" until the -shm was changed by hand. Files of
    another user, or beside a database this user cannot write, are left as they are."""
    path = Path(os.path.realpath(path))
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        return
    try:
        mode = (path.stat().st_mode & 0o777) | 0o600
    except OSError:
        return
    for sidecar in sidecars(path):
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to change
            if _ours(sidecar) and not os.access(sidecar, os.W_OK):
                os.chmod(sidecar, mode)


def read_only_files(path: Path) -> list[Path]:
    """What keeps SQLite from writing the database at `path`, to be named: its folder, when
    that is read-only (which makes its files so too), else the database file if it is
    read-only, and a read-only -wal or -shm that repair_sidecars does not mend once the
    database is writable again (another user's, or one it failed to change)."""
    path = Path(os.path.realpath(path))
    if not os.access(path.parent, os.W_OK):
        return [path.parent]
    database_writable = not path.exists() or os.access(path, os.W_OK)
    files = [] if database_writable else [path]
    for sidecar in sidecars(path):
        read_only = sidecar.exists() and not os.access(sidecar, os.W_OK)
        if read_only and (database_writable or not _ours(sidecar)):
            files.append(sidecar)
    return files


def _ours(file: Path) -> bool:
    try:
        found = file.lstat()
    except OSError:
        return False
    return stat.S_ISREG(found.st_mode) and found.st_uid == os.geteuid()
