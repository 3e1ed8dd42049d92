"""Names for attached files that came without one of their own: piped stdin, `<(git diff)`."""

from __future__ import annotations

import itertools
import os
import re
import stat
from collections.abc import Container, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from claudechat.attachments import Attachment

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


def apart(name: str, taken: Container[str]) -> str:
    """`notes.txt`, or when that is taken `notes-2.txt`, `notes-3.txt`, ...: the first free."""
    if name not in taken:
        return name
    stem, extension = os.path.splitext(name)  # `.bashrc` has none: `.bashrc-2`
    numbered = (f"{stem}-{number}{extension}" for number in itertools.count(2))
    return next(candidate for candidate in numbered if candidate not in taken)


def named_apart(attachments: Sequence[Attachment]) -> list[Attachment]:
    """One message's files, each by a name of its own: `-a a/notes.txt -a b/notes.txt`, or
    `-a <(echo a) -a ./pipe`, were sent as two `File: notes.txt` (two `pipe`), and neither
    Claude nor `attachment get` could tell them apart. The later one is `notes-2.txt`; a name
    given once is kept, and a new one is none that another file of the message carries."""
    given = {attachment.name for attachment in attachments}
    used: set[str] = set()
    named: list[Attachment] = []
    for attachment in attachments:
        name = (
            attachment.name if attachment.name not in used else apart(attachment.name, given | used)
        )
        used.add(name)
        named.append(attachment if name == attachment.name else replace(attachment, name=name))
    return named


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
