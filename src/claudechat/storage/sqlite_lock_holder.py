"""Whether another process holds an SQLite database's write lock, asked without taking it:
the wait to open a database was said to be another process writing to it whatever kept it
(this process's own first migration, on a loaded machine, took more than the second too)."""

from __future__ import annotations

import fcntl
import os
import struct
import sys
from pathlib import Path

# Where SQLite's unix VFS locks (os_unix.c): a WAL database's writer holds byte 120 of the
# -shm file (WAL_WRITE_LOCK); a rollback journal's holds RESERVED_BYTE, PENDING_BYTE + 1.
# Readers lock neither.
_WAL_WRITE_LOCK = 120
_RESERVED_BYTE = 0x40000001

# struct flock, as fcntl(F_GETLK) reads and writes it: Linux and macOS on 64 bits.
_FLOCK_FIELDS = {"linux": "hhqqi4x", "darwin": "qqihh"}

# Descriptors kept open for the life of the process: closing one drops every POSIX lock this
# process holds on the file, SQLite's own among them.
_descriptors: dict[Path, int] = {}


def held_by_another_process(database: Path) -> bool | None:
    """True when another process holds the write lock, False when none does; None when this
    platform cannot tell. Locks of this process's own (its migration) never count: F_GETLK
    reports only locks that would stop this process."""
    fields = _FLOCK_FIELDS.get(sys.platform)
    if fields is None or struct.calcsize("P") != 8:
        return None
    from claudechat.storage.sqlite_file import sidecars

    shared_index = sidecars(database)[1]  # WAL mode's write lock is a byte of the -shm
    try:
        return _write_locked(shared_index, _WAL_WRITE_LOCK, fields) or _write_locked(
            database, _RESERVED_BYTE, fields
        )
    except OSError:
        return None  # a filesystem without locks: nothing known either way


def _write_locked(path: Path, offset: int, fields: str) -> bool:
    descriptor = _descriptor(path)
    if descriptor is None:
        return False  # no file yet: nobody locks it
    query = _flock(fields, fcntl.F_WRLCK, offset)
    answer = fcntl.fcntl(descriptor, fcntl.F_GETLK, query)
    return _lock_type(fields, answer) != fcntl.F_UNLCK


def _descriptor(path: Path) -> int | None:
    if path not in _descriptors:
        try:
            _descriptors[path] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
    return _descriptors[path]


def _flock(fields: str, kind: int, offset: int) -> bytes:
    if fields.startswith("hh"):  # type, whence, start, length, pid
        return struct.pack(fields, kind, os.SEEK_SET, offset, 1, 0)
    return struct.pack(fields, offset, 1, 0, kind, os.SEEK_SET)  # start, length, pid, type, whence


def _lock_type(fields: str, answer: bytes) -> int:
    values = struct.unpack(fields, answer)
    return int(values[0] if fields.startswith("hh") else values[3])
