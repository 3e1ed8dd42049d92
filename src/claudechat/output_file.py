"""Files given with -o (export, attachment get): written whole or not at all, a name ending
in / a folder only."""

from __future__ import annotations

import errno
import os

from claudechat.output import one_line


def is_folder_given(path: str) -> bool:
    """Whether -o `path` names a folder to write into (as cp does): one that is there. A name
    ending in / names a folder only: a missing one or a file is refused (exit 5, as a missing
    folder above a file is). The / was dropped on the way, and `-o newdir/` wrote a file
    named newdir, `-o notes.md/` wrote over notes.md."""
    if os.path.isdir(path):
        return True
    if not path.endswith(("/", os.sep)):
        return False
    require_folder(path)
    return True  # not reached: require_folder refuses what is no folder


def require_folder(path: str) -> None:
    """-o naming a folder only (a name ending in /; `export --all`'s): a missing one or a file
    refused, exit 5. `export --all -o newdir` made it, parents and all, where one
    conversation's `-o newdir/` was refused."""
    from claudechat.errors import StorageError

    if os.path.isdir(path):
        return
    if os.path.lexists(path.rstrip("/" + os.sep) or path):
        raise StorageError(f"{one_line(path)} is not a folder")
    raise StorageError(f"no folder {one_line(path)}")


def write_file(path: str | os.PathLike[str], data: bytes, new: bool = False) -> None:
    """A file given with -o (export, attachment get); one that cannot be written is the
    output that could not be, exit 5 (attachment get said it as bad usage, exit 2). A `new`
    file is never written over one there: FileExistsError is the caller's to say.

    Written whole or not at all, as documents are: into a temp file beside it, fsynced, then
    renamed over it (with its mode), the temp removed if anything fails. Written in place, a
    disk that filled midway left the old export destroyed and 16 KB of the new one. Stdout,
    a pipe or a device is still written in place: a rename would put a file where it was."""
    from claudechat.errors import StorageError

    try:
        if _written_in_place(path):
            with open(path, "xb" if new else "wb") as handle:
                handle.write(data)
        elif new:
            _write_new(os.fspath(path), data)
        else:
            _write_over(os.fspath(path), data)
    except FileExistsError:
        raise
    except OSError as exc:
        raise StorageError(f"cannot write {os.fspath(path)}: {exc.strerror}") from exc


def _written_in_place(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is no file to replace: a pipe, a device, or a name for stdout. stat
    sees /dev/stdout (a link to /proc/self/fd/1) as the file the shell opened, which a
    rename would replace: what `>>` appended to was lost."""
    import stat

    hop = os.path.abspath(path)
    for _ in range(8):  # each link's own text: resolved, /proc/self/fd/1 leaves /proc
        if hop.startswith(("/dev/", "/proc/")):
            return True
        if not os.path.islink(hop):
            break
        hop = os.path.join(os.path.dirname(hop), os.readlink(hop))
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


def _write_new(path: str, data: bytes) -> None:
    """A file where there was none: the temp linked to its name, which fails if anything is
    there (a rename would replace it)."""
    if os.path.lexists(path):  # said before the temp is written
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)
    temp = _temp_file_beside(path, data, None)
    try:
        try:
            os.link(temp, path)
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links (FAT, some network mounts)
            # The name taken first, then replaced: only a file put there in between is lost.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            os.replace(temp, path)
    finally:
        _removed(temp)
    _sync_folder(path)


def _write_over(path: str, data: bytes) -> None:
    """The file at `path` (the file a link names: the link is kept) replaced whole."""
    target = os.path.realpath(path)
    try:
        old: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        old = None
    try:
        temp = _temp_file_beside(target, data, old)
    except PermissionError:
        if old is None:
            raise
        # A file one may write in a folder one may not: written in place, as cp does.
        with open(target, "wb") as handle:
            handle.write(data)
        return
    try:
        os.replace(temp, target)
    except OSError as exc:
        if exc.errno not in _CANNOT_REPLACE:
            raise
        # A file mounted on its own (Docker's -v ./out.md:/work/out.md) or one a sticky
        # folder keeps from being replaced: a rename cannot take its place, and the export
        # failed "Device or resource busy". Written in place, as it was before the rename.
        with open(target, "wb") as handle:
            handle.write(data)
        return
    finally:
        _removed(temp)
    _sync_folder(target)


# What a rename gives where only writing the file itself can change it: a mount point
# (EBUSY), another file system (EXDEV), another's file in a sticky folder (EPERM).
_CANNOT_REPLACE = frozenset({errno.EBUSY, errno.EXDEV, errno.EPERM})


def _temp_file_beside(path: str, data: bytes, old: os.stat_result | None) -> str:
    """`data` in a new hidden file in `path`'s folder, fsynced: the owner and mode of the
    file it replaces, or the umask's as open() gives. Nothing is left if it fails."""
    import secrets
    from contextlib import suppress

    folder, name = os.path.split(path)
    while True:
        temp = os.path.join(folder, f".{_shortened(name, 64)}.{secrets.token_hex(4)}.tmp")
        try:
            descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with open(descriptor, "wb") as handle:
            if old is not None:
                # Before the mode: a change of owner clears setuid bits. Another's file,
                # which only root may give back, becomes the writer's, as a copy would.
                with suppress(OSError):
                    os.fchown(descriptor, old.st_uid, old.st_gid)
                os.fchmod(descriptor, old.st_mode & 0o7777)
            handle.write(data)
            handle.flush()
            os.fsync(descriptor)
    except BaseException:
        _removed(temp)
        raise
    return temp


def _shortened(name: str, limit: int) -> str:
    """`name`'s first characters that take at most `limit` bytes as a file name: cut at 64
    characters, a long name of emoji (4 bytes each) made a temp name over the 255 bytes a
    name may take, and a valid -o was refused "File name too long"."""
    while len(os.fsencode(name)) > limit:
        name = name[:-1]
    return name


def _removed(path: str) -> None:
    """A temp file gone, if it is still there (not renamed, or linked as well)."""
    from contextlib import suppress

    with suppress(FileNotFoundError):
        os.unlink(path)


def _sync_folder(path: str) -> None:
    """The rename made durable; a folder that cannot be opened or fsynced is no error."""
    try:
        descriptor = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
