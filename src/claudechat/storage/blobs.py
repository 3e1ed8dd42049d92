"""The blob store interface and its local-folder implementation."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from claudechat.errors import StorageError


class BlobNotFoundError(StorageError):
    pass


class BlobStore(Protocol):
    """Whole documents by key. Keys are relative paths built from validated ids."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str = "") -> list[str]: ...

    def location(self, key: str) -> str:
        """The URI recorded as the document's location (file:///... or s3://...)."""
        ...


class LocalBlobStore:
    """A folder of files, written atomically (temp file, fsync, rename), private to the user."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        root = self.root.resolve()
        if root not in path.parents or key.startswith("/"):
            raise StorageError(f"refusing a storage key outside {self.root}: {key!r}")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        _make_private_dirs(path.parent)
        descriptor, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        _fsync_dir(path.parent)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFoundError(f"no document at {self.location(key)}") from exc
        except OSError as exc:
            raise StorageError(f"cannot read {self.location(key)}: {exc.strerror}") from exc

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def list(self, prefix: str = "") -> list[str]:
        if not self.root.exists():
            return []
        keys = (
            path.relative_to(self.root).as_posix()
            for path in self.root.rglob("*")
            if path.is_file() and not path.name.startswith(".")
        )
        return sorted(key for key in keys if key.startswith(prefix))

    def location(self, key: str) -> str:
        return (self.root / key).absolute().as_uri()


def _make_private_dirs(path: Path) -> None:
    """Create folders 0700, whatever the umask, from the store's root down."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current == current.parent:
            break
        current = current.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
            os.chmod(folder, 0o700)


def _fsync_dir(path: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
