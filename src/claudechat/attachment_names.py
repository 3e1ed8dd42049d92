"""Names for attached files that came without one of their own: piped stdin, `<(git diff)`."""

from __future__ import annotations

import itertools
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

# The name a file with none of its own gets, by what its bytes are: `stdin.pdf`, `pipe.png`.
EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
}
# A descriptor's path, as `<(git diff)` gives it (bash /dev/fd/63, zsh /proc/self/fd/12).
_DESCRIPTOR_PATH = re.compile(r"/(dev/fd|proc/(self|thread-self|\d+)(/task/\d+)?/fd)/\d+")


def unnamed(stem: str, media_type: str | None) -> str:
    """`stdin`, `pipe.pdf`: a name for bytes that came with none, by what they are."""
    return stem + EXTENSIONS.get(media_type or "", "")


def pipe_names() -> Iterator[str]:
    """`pipe`, `pipe-2`, `pipe-3`, ...: the names of one message's unnamed files, in order.
    `-a <(a) -a <(b)` were both `pipe`, and "compare pipe and pipe-2" named nothing."""
    yield "pipe"
    for number in itertools.count(2):
        yield f"pipe-{number}"


def attached_name(
    target: Path,
    found: os.stat_result,
    media_type: str | None,
    pipes: Iterator[str] | None = None,
) -> str:
    """The file's own name; for `-a <(git diff)` (/dev/fd/63, a FIFO named 63) `pipe`, as
    piped stdin is `stdin`: Claude was shown `File: 63` and `show` listed `63`. A named FIFO
    (mkfifo review.diff) keeps its name, and so does a file behind a descriptor (3<notes.md).
    `pipes`: the names left for the unnamed files of the same message (pipe_names)."""
    regular = stat.S_ISREG(found.st_mode)
    if _DESCRIPTOR_PATH.fullmatch(os.path.abspath(target)):
        behind = _linked_path(target) if regular else None
        return Path(behind).name if behind else _pipe_name(pipes, media_type)
    if not regular and target.name.isdigit():
        return _pipe_name(pipes, media_type)
    return target.name


def _pipe_name(pipes: Iterator[str] | None, media_type: str | None) -> str:
    return unnamed(next(pipes) if pipes is not None else "pipe", media_type)


def _linked_path(target: Path) -> str | None:
    """The path a descriptor's link names (Linux), when it is one: not `pipe:[123]`."""
    try:
        linked = os.readlink(target)
    except OSError:
        return None
    return linked if linked.startswith("/") and not linked.endswith(" (deleted)") else None
