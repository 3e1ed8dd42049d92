"""The blob store interface and its local-folder implementation."""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final, Protocol

from claudechat.errors import StorageError


class BlobNotFoundError(StorageError):
    pass


class BlobConflictError(StorageError):
    """A conditional write found the blob not in the state the writer expected."""


class AnyVersion:
    def __repr__(self) -> str:
        return "ANY"


# `expect` for put(): ANY writes unconditionally, None only if the key does not exist yet, an
# etag only if the blob still has it (optimistic concurrency, S3's IfNoneMatch / IfMatch).
ANY: Final = AnyVersion()
Expectation = str | None | AnyVersion
JSON = "application/json"


class BlobStore(Protocol):
    """Whole documents by key. Keys are relative paths built from validated ids."""

    def put(
        self, key: str, data: bytes, expect: Expectation = ANY, content_type: str = JSON
    ) -> str:
        """Store data under key and return its new etag."""
        ...

    def get(self, key: str) -> bytes: ...

    def get_with_etag(self, key: str) -> tuple[bytes, str]: ...

    def get_location(self, location: str) -> tuple[bytes, str]:
        """A document by its recorded location (as location() gave it, under any prefix)."""
        ...

    def holds(self, location: str) -> bool:
        """Whether a recorded location is inside this store (its folder; its bucket)."""
        ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str = "") -> list[str]: ...

    def location(self, key: str) -> str:
        """The URI recorded as the document's location (file:///... or s3://...)."""
        ...


class UnwritableError(StorageError):
    """The folder answers, but would take no document: a read-only or full disk."""


# Less free space than this takes no document but the smallest: "full".
MIN_FREE_BYTES = 1024 * 1024


def ping(blobs: BlobStore) -> None:
    """Raise StorageError unless the blob store answers (a key it lacks is an answer)."""
    with contextlib.suppress(BlobNotFoundError):
        blobs.get("health-check/absent.json")


def ping_writable(blobs: BlobStore) -> None:
    """ping(), and UnwritableError when a folder answers but would take no document (serve's
    /health). An S3 bucket says so only to a write."""
    ping(blobs)
    if isinstance(blobs, LocalBlobStore):
        blobs.check_writable()


class LocalBlobStore:
    """A folder of files, written atomically (temp file, fsync, rename), private to the user."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def check_writable(self) -> None:
        """/health said "ok" of a folder on a read-only or full disk, where every save
        failed: the reads it tried succeed there."""
        folder = self.root
        while not folder.exists() and folder != folder.parent:  # made by the first save
            folder = folder.parent
        try:
            disk = os.statvfs(folder)
        except OSError as exc:
            raise StorageError(f"cannot read {folder}: {exc.strerror}") from exc
        if disk.f_flag & os.ST_RDONLY or not os.access(folder, os.W_OK):
            raise UnwritableError(f"cannot write {self.root}: it is read-only")
        if disk.f_bavail * disk.f_frsize < MIN_FREE_BYTES:
            raise UnwritableError(f"cannot write {self.root}: its disk is full")

    def file(self, key: str) -> Path:
        """Where the key's file is (or would be)."""
        return self._path(key)

    def _path(self, key: str) -> Path:
        # Checked by its parts, not Path.resolve(): that is a system call per folder on every
        # read and write, and the keys are made here, of validated ids, not found on disk.
        parts = key.split("/")
        if key.startswith("/") or "\x00" in key or any(p in ("", ".", "..") for p in parts):
            raise StorageError(f"refusing a storage key outside {self.root}: {key!r}")
        return self.root.joinpath(*parts)

    def put(
        self,
        key: str,
        data: bytes,
        expect: Expectation = ANY,
        content_type: str = JSON,
        durable: bool = True,
    ) -> str:
        """durable=False leaves the file to the page cache: it survives the process, not the
        machine (the journal and the cache; see make_durable)."""
        # A folder has no content types: attachments keep theirs in their references.
        path = self._path(key)
        try:
            make_private_dirs(path.parent)
            with self._locked(path):
                if not isinstance(expect, AnyVersion):
                    current = _etag_of_file(path)
                    if current != expect:
                        raise BlobConflictError(f"{self.location(key)} was changed elsewhere")
                write_atomically(path, data, durable)
        except OSError as exc:
            raise StorageError(f"cannot write {self.location(key)}: {exc.strerror}") from exc
        return _etag(data)

    def make_durable(self, key: str) -> None:
        """Put a file written with durable=False, and its name, on disk."""
        path = self._path(key)
        try:
            descriptor = os.open(path, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            _fsync_dir(path.parent)
        except OSError as exc:
            raise StorageError(f"cannot write {self.location(key)}: {exc.strerror}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def get(self, key: str) -> bytes:
        return self.get_with_etag(key)[0]

    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFoundError(f"no document at {self.location(key)}") from exc
        except OSError as exc:
            raise StorageError(f"cannot read {self.location(key)}: {exc.strerror}") from exc
        return data, _etag(data)

    def get_location(self, location: str) -> tuple[bytes, str]:
        from urllib.parse import unquote, urlparse

        parsed = urlparse(location)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            raise StorageError(f"not a local document location: {location!r}")
        try:
            data = Path(unquote(parsed.path)).read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFoundError(f"no document at {location}") from exc
        except OSError as exc:
            raise StorageError(f"cannot read {location}: {exc.strerror}") from exc
        return data, _etag(data)

    def holds(self, location: str) -> bool:
        from urllib.parse import unquote, urlparse

        parsed = urlparse(location)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            return False
        return Path(unquote(parsed.path)).is_relative_to(self.root.absolute())

    @contextlib.contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        """Serialise check-and-write between processes; readers never need the lock."""
        # One lock per folder (per user): writers of one user's documents are few.
        descriptor = os.open(path.parent / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)

    def delete(self, key: str, expect: Expectation = ANY) -> None:
        """Remove the blob; with an etag, only if it still has it (else BlobConflictError)."""
        path = self._path(key)
        if not path.parent.is_dir():
            if isinstance(expect, AnyVersion) or expect is None:
                return  # nothing there to delete
            raise BlobConflictError(f"{self.location(key)} was changed elsewhere")
        with self._locked(path):
            if not isinstance(expect, AnyVersion) and _etag_of_file(path) != expect:
                raise BlobConflictError(f"{self.location(key)} was changed elsewhere")
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def list(self, prefix: str = "") -> list[str]:
        # Only the prefix's own folder is walked: one user's keys, not every user's; and of
        # it only the names the prefix starts (one conversation's, not all of the user's).
        folder_part, _, name = prefix.rpartition("/")
        folder = self.root / folder_part
        if not folder.is_dir():
            return []
        found = folder.glob(f"{glob.escape(name)}*") if name else [folder]
        paths = (p for match in found for p in ([match] if match.is_file() else match.rglob("*")))
        keys = (
            path.relative_to(self.root).as_posix()
            for path in paths
            if path.is_file() and not path.name.startswith(".")
        )
        return sorted(key for key in keys if key.startswith(prefix))

    def location(self, key: str) -> str:
        return (self.root / key).absolute().as_uri()


def _etag(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _etag_of_file(path: Path) -> str | None:
    try:
        return _etag(path.read_bytes())
    except FileNotFoundError:
        return None


def write_atomically(path: Path, data: bytes, durable: bool = True) -> None:
    """Temp file, fsync, rename: a reader sees the old document or the new one, never half."""
    descriptor, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    if durable:
        _fsync_dir(path.parent)


def make_private_dirs(path: Path) -> None:
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
