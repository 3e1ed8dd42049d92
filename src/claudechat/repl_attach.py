"""Attachments in the REPL: /attach, /attachments, /detach, Tab completion of paths, the
`[2 files] ›` prompt, and a dropped file's path taken as an attachment.

Files wait here until the next message is sent; they are read and recognised when attached,
so a missing or unsupported file is refused at once, with one line naming it.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from claudechat.attachment_names import apart
from claudechat.attachments import Attachment, citation_lines, describe, load_file
from claudechat.errors import ClaudechatError, ContextTooLargeError, UsageError
from claudechat.output import quoted, status

if TYPE_CHECKING:
    from prompt_toolkit.completion import Completion

# (name, usage, help), made into the REPL's SlashCommands by slash_commands.py.
ATTACH_COMMANDS = (
    ("/attach", "/attach PATH...", "attach files to the next message (Tab completes paths)"),
    ("/attachments", "/attachments", "list the files the next message will carry"),
    ("/detach", "/detach N", "remove attachment N from the next message"),
)


class Attachments:
    """The files the next message carries."""

    def __init__(self) -> None:
        self.pending: list[Attachment] = []

    def handlers(self) -> dict[str, Callable[[str], None]]:
        return {"/attach": self.attach, "/attachments": self.show, "/detach": self.detach}

    def prompt(self) -> str:
        count = len(self.pending)
        if not count:
            return "› "
        return f"[{count} file{'s' if count > 1 else ''}] › "

    def add(self, attachments: list[Attachment]) -> int:
        """Returns how many were added: the same content twice is sent once."""
        added = 0
        for attachment in attachments:
            twin = next((a for a in self.pending if a.sha256 == attachment.sha256), None)
            if twin is not None:  # sent once: see once_each
                status(f"{attachment.name}: the same content as {twin.name} is attached already")
                continue
            self.pending.append(self._named_apart(attachment))
            added += 1
            status(f"attached {len(self.pending)}: {describe(self.pending[-1].block())}")
        return added

    def _named_apart(self, attachment: Attachment) -> Attachment:
        """Named apart from the files waiting (named_apart): `/attach a/notes.txt b/notes.txt`
        sent two `File: notes.txt`, and Claude could not tell which was which."""
        name = apart(attachment.name, {waiting.name for waiting in self.pending})
        if name == attachment.name:
            return attachment
        status(f"{attachment.name}: another file is attached by that name; sent as {name}")
        return replace(attachment, name=name)

    def attach(self, argument: str) -> None:
        paths = split_paths(argument)
        if not paths:
            status("usage: /attach PATH [PATH ...]")
            return
        # All or nothing: one bad path attaches none, so the list stays what the user thinks.
        self.add([load_file(path, regular_only=True) for path in paths])

    def show(self, _argument: str) -> None:
        if not self.pending:
            status("no attachments wait; /attach PATH adds one")
            return
        for number, attachment in enumerate(self.pending, start=1):
            status(f"  {number}. {describe(attachment.block())}", "")

    def detach(self, argument: str) -> None:
        if not self.pending:
            raise UsageError("nothing is attached; /attach PATH adds a file")
        if not argument.strip().isdigit() or not 1 <= int(argument) <= len(self.pending):
            raise UsageError(f"usage: /detach N, N from 1 to {len(self.pending)}")
        removed = self.pending.pop(int(argument) - 1)
        status(f"detached {quoted(removed.name, 60)}; {_waiting(len(self.pending))}")

    def refused(self, error: ClaudechatError) -> None:
        """After a message too large for the model's whole window: which of its files can go."""
        if isinstance(error, ContextTooLargeError) and error.beyond_window and self.pending:
            status("/detach N takes a file off it (/attachments lists them)")

    def dropped(self, text: str) -> bool:
        """A line that is only the path of an existing file (terminals paste a dragged file
        that way, often quoted) is attached rather than sent."""
        path = dropped_path(text)
        if path is None:
            return False
        try:
            added = self.add([load_file(path, regular_only=True)])
        except ClaudechatError as exc:
            status(str(exc), "red")
            return True
        if added:  # not said of a file attached already
            status("(a dropped file: attached to your next message; /detach removes it)")
        return True


def _waiting(count: int) -> str:
    """How many files still wait: it said "detached a b.txt; 1 wait"."""
    if count == 0:
        return "no file waits"
    return f"{count} file{'s wait' if count > 1 else ' waits'}"


def show_citations(message: Any) -> None:
    lines = citation_lines(message)
    if lines:
        status("cited passages:", "")
        for line in lines:
            status(f"  {line}", "")


def split_paths(argument: str) -> list[str]:
    try:
        return shlex.split(argument)
    except ValueError as exc:  # an unclosed quote
        raise UsageError(f"cannot read the paths ({exc}); quote each path whole") from exc


def dropped_path(text: str) -> str | None:
    line = text.strip()
    if not line or "\n" in line:
        return None
    quoted = len(line) > 1 and line[0] in "'\"" and line[-1] == line[0]
    if not (quoted or line.startswith(("/", "~/", "file://"))):
        return None
    try:
        parts = shlex.split(line)
    except ValueError:
        return None
    if len(parts) != 1:
        return None
    path = parts[0]
    if path.startswith("file://"):
        path = unquote(path.removeprefix("file://"))
    return path if os.path.isfile(os.path.expanduser(path)) else None


# -- Tab completion -----------------------------------------------------------------------


def path_completions(argument: str) -> Iterator[Completion]:
    """Completions for the path being typed at the end of `/attach ...`: ~ expanded, quoted
    or not; a name with spaces is offered quoted, one holding ' in double quotes (wrapped in
    '…' as it was, "it's.txt" read as an unclosed quote and /attach refused it)."""
    from prompt_toolkit.completion import Completion

    start, quote = _current_argument(argument)
    raw = argument[start:]
    typed = _typed_path(raw, quote)
    head, sep, prefix = os.path.expanduser(typed).rpartition("/")
    folder = (head + sep) or "."
    typed_folder = typed[: len(typed) - len(prefix)]
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return
    for name in names:
        if not name.startswith(prefix) or (name.startswith(".") and not prefix.startswith(".")):
            continue
        is_dir = os.path.isdir(os.path.join(folder, name))
        path = typed_folder + name + ("/" if is_dir else "")
        # A folder's quote stays open, for the name that follows in it.
        text = _quoted_path(path, quote, closed=not is_dir)
        yield Completion(text, -len(raw), display=name + ("/" if is_dir else ""))


def _typed_path(raw: str, quote: str) -> str:
    """The path split_paths reads in what is typed so far, its closing quote yet to come."""
    if quote == "'":  # nothing is escaped inside '…'
        return raw[1:]
    # Inside "…" a backslash escapes only " and itself; outside quotes, any character.
    body, escapable = (raw[1:], '"\\') if quote else (raw, "")
    path, escaped = [], False
    for char in body:
        if escaped:
            path.append(char if not escapable or char in escapable else "\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            path.append(char)
    return "".join(path)


def _quoted_path(path: str, quote: str, closed: bool) -> str:
    """`path` as split_paths reads it back: as typed, in '…' (in "…" if it holds ')."""
    if not quote and not _needs_quotes(path):
        return path
    if quote != '"' and "'" not in path:
        return "'" + path + ("'" if closed else "")
    escaped = path.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped + ('"' if closed else "")


def _needs_quotes(path: str) -> bool:
    return any(ch.isspace() or ch in "'\"\\$`;&|<>()*?[]#!" for ch in path)


def _current_argument(argument: str) -> tuple[int, str]:
    """Where the argument under the cursor starts, and the quote it opened (or "")."""
    start, quote, escaped = 0, "", False
    for index, char in enumerate(argument):
        if escaped:
            escaped = False
        elif quote:
            if char == quote:
                quote = ""
            elif char == "\\" and quote == '"':  # \" does not close "…"
                escaped = True
        elif char == "\\":
            escaped = True
        elif char in "'\"" and index == start:
            quote = char
        elif char.isspace():
            start = index + 1
    return start, (argument[start] if quote else "")
