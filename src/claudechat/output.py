"""Where output goes: the answer to stdout, everything else to stderr; rich only in a terminal."""

from __future__ import annotations

import functools
import os
import re
import sys
from typing import IO, TYPE_CHECKING, Any, TextIO

from claudechat.conversation import replace_lone_surrogates

if TYPE_CHECKING:
    from rich.console import Console


def no_color() -> bool:
    """NO_COLOR, or a terminal that says it takes no escape sequences (TERM=dumb: Emacs's
    shell and the like, where status lines showed their colour codes raw)."""
    return bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"


def is_rich(stream: TextIO) -> bool:
    """The terminal's layout (tables with their headings, rendered markdown) for a terminal,
    the plain one (tab-separated rows, the text as written) for a pipe or a file. Colour is
    apart (no_color): NO_COLOR gave the pipe's layout, rows without their column names.

    A dumb terminal (TERM=dumb) gets the terminal's layout too: aligned text needs no escape
    sequence, and rich draws it there without any, nor any live region (cursor movement)."""
    return stream.isatty()


def renders_live(stream: TextIO) -> bool:
    """Whether a streaming reply is drawn as markdown, redrawn as it grows: a terminal that
    takes cursor movement. A dumb one gets the reply's text as it streams, as a pipe does:
    drawn there, each block showed only once it had ended (a long paragraph or code block, a
    long wait with nothing on the screen)."""
    return is_rich(stream) and os.environ.get("TERM") != "dumb"


def is_coloured(stream: TextIO) -> bool:
    """Whether status lines get their colour: a terminal, without NO_COLOR or TERM=dumb."""
    return stream.isatty() and not no_color()


def console(stderr: bool = False, file: TextIO | None = None, **layout: Any) -> Console:
    """A console on stdout (or stderr), or on `file`, which stands for one of them (a buffer
    for the pager, say, with rich's `layout` options: force_terminal, width, height). Every
    console for what a person reads is made here, so NO_COLOR means no style in all of them:
    one made apart kept `show`'s bold, dim and underline."""
    stream = file or (sys.stderr if stderr else sys.stdout)
    # In a terminal its own size is the truth: an exported COLUMNS or LINES would freeze
    # rich's width, and a reply would be drawn for a width the terminal no longer has.
    environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return sized_console_class()(
        file=stream,
        highlight=False,
        # NO_COLOR (or a dumb terminal): no style at all. rich's own no_color left the
        # colours of a streamed reply, whose region writes its codes for the colour system.
        color_system=None if no_color() else "auto",
        soft_wrap=False,
        _environ=environ if stream.isatty() else None,
        **layout,
    )


@functools.cache
def sized_console_class() -> type[Console]:
    """rich's Console, but laid out for the size a dumb terminal (TERM=dumb) has. rich gives
    one 80x25 whatever its size, its COLUMNS too: in a 200-column window `list` cut names,
    `models` fell back to cards, and a pager came for 25 rows; with NO_COLOR, the full width."""
    from rich.console import Console, ConsoleDimensions

    class SizedConsole(Console):
        @property
        def size(self) -> ConsoleDimensions:
            fixed = self._width is not None and self._height is not None
            if fixed or not self.is_dumb_terminal:
                return super().size
            columns, lines = terminal_size(self.file)
            return ConsoleDimensions(self._width or columns, self._height or lines)

        @size.setter
        def size(self, new_size: tuple[int, int]) -> None:
            self._width, self._height = new_size

    return SizedConsole


def terminal_size(stream: IO[str]) -> tuple[int, int]:
    """The columns and rows of the terminal `stream` writes to, asked each time (it may be
    resized); where it has none or says 0x0, $COLUMNS and $LINES (Emacs sets them), or 80x25."""
    try:
        columns, lines = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        columns = lines = 0
    return columns or _number_in("COLUMNS", 80), lines or _number_in("LINES", 25)


def _number_in(variable: str, default: int) -> int:
    value = os.environ.get(variable, "")
    return int(value) if value.isdigit() and int(value) > 0 else default


def status(message: str, style: str = "dim", indent: int | None = None) -> None:
    """One line of status on stderr: dim in a terminal, plain text elsewhere. Messages can
    quote servers and documents, so their control characters are shown, not obeyed.

    In a terminal a line wider than it is wrapped between words, each continuation indented
    by `indent` (by default two more than the line's own indent): the terminal broke it
    anywhere ("Ctrl-C stops a r" / "eply"). A pipe gets the line whole.

    A line break in it is shown as ^J, as ESC is as ^[: a file name holding one (quoted in an
    error or a warning) made two lines of one, the second reading as a line of its own."""
    message = safe_text(message).replace("\n", "^J")
    if sys.stderr.isatty():
        message = wrapped(message, terminal_width(sys.stderr), indent)
    if is_coloured(sys.stderr):
        codes = {"dim": "2", "red": "31", "yellow": "33", "green": "32"}
        message = f"\x1b[{codes.get(style, '0')}m{message}\x1b[0m"
    # One write, the newline with it: print() writes them apart, and a signal between the two
    # ran the process's last line ("terminated ...") on after the unfinished one.
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, OSError, ValueError):  # replaced, or closed
        return False


def terminal_width(stream: TextIO) -> int:
    """The columns of the terminal `stream` writes to; where it has none, $COLUMNS or 80."""
    return terminal_size(stream)[0]


def wrapped(text: str, width: int, indent: int | None = None) -> str:
    """`text`'s lines wrapped between words to `width` terminal cells; a word wider than the
    width is left for the terminal to break. A command (claudechat chat --resume 1a2b3c4d, or
    anything in backticks) and a path are never broken, but moved whole to a line of their
    own: broken, "claudechat" / "  chat --resume 1a2b3c4d" could not be copied as one, nor
    ".../Application" / "  Support/claudechat"; the terminal's own wrap keeps them copyable."""
    return "\n".join(_wrap_line(line, width, indent) for line in text.split("\n"))


def _unbroken(words: list[str]) -> list[str]:
    """The words, with those of a command or a path joined into one."""
    units, start = [], 0
    while start < len(words):
        end = _unit_end(words, start)
        units.append(" ".join(words[start:end]))
        start = end
    return units


def _unit_end(words: list[str], start: int) -> int:
    word, rest = words[start], range(start + 1, len(words))
    if word.startswith("`") and word.count("`") == 1:  # `claudechat sync`
        return next((i + 1 for i in rest if "`" in words[i]), start + 1)
    if word == "claudechat" and _is_command_word(words[start + 1 : start + 2]):
        # To the end of its clause. Only before a subcommand or an option: the REPL's banner
        # (claudechat · MODEL · /help for commands) was kept whole and broken mid-word.
        return next((i + 1 for i in rest if words[i].endswith((";", ",", ")"))), len(words))
    if word.lstrip("('\"").startswith(("/", "~/", "./", "../")) and "/" in word[1:]:
        end = start + 1  # on through the names after a space with a folder below them
        while end < len(words) and "/" in words[end]:
            end += 1
        return end
    return start + 1


_COMMAND_WORD = re.compile(r"-{0,2}[a-z][a-z0-9-]*")


def _is_command_word(following: list[str]) -> bool:
    return bool(following) and _COMMAND_WORD.fullmatch(following[0]) is not None


def _wrap_line(line: str, width: int, indent: int | None) -> str:
    if len(line) <= width // 2:  # a character takes at most two cells
        return line
    from rich.cells import cell_len

    if cell_len(line) <= width:
        return line
    lead = len(line) - len(line.lstrip(" "))
    margin = " " * (lead + 2 if indent is None else indent)
    if len(margin) > width // 2:  # a continuation would have no room left
        margin = " " * 2
    lines, current = [], line[:lead]
    for word in _unbroken(line[lead:].split(" ")):
        fits = cell_len(current) + 1 + cell_len(word) <= width
        if current.strip() and not fits:
            lines.append(current.rstrip())
            current = margin + word
        else:
            current += (" " if current.strip() else "") + word
    lines.append(current.rstrip())
    return "\n".join(lines)


def quoted(text: str, limit: int | None = None) -> str:
    """A name or message quoted in a line, as one_line shows it: repr's quotes escaped one
    quote inside and showed a backslash the name did not hold ('it\\'s')."""
    return f"“{one_line(text, limit)}”"


def error(message: str) -> None:
    status(f"claudechat: {message}", style="red")


# CSI/OSC/other escape sequences, then any remaining C0/C1 control character but \n and \t.
_ESCAPE_SEQUENCE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


# Bidirectional embeddings, overrides and isolates: they reorder what a terminal shows (the
# "Trojan Source" characters), so a line could display differently from what it holds.
_BIDI_CONTROL = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


# Every control character, a tab and a line break too, and the bidi controls.
_ANY_CONTROL = re.compile(f"[\t\n]|{_CONTROL.pattern}|{_BIDI_CONTROL.pattern}")


def controls_replaced(text: str, replacement: str) -> str:
    """`text` with each control character in it (a tab or a line break too) and each bidi
    control as `replacement`: for a name that becomes a file's, where none of them belongs."""
    return _ANY_CONTROL.sub(replacement, text)


def safe_text(text: str) -> str:
    """Text from a conversation, made harmless for a terminal: escapes shown, not obeyed, bidi
    controls shown as <U+202E>, and lone surrogates (which no terminal encoding can print)
    replaced."""
    text = replace_lone_surrogates(text)
    text = _ESCAPE_SEQUENCE.sub(lambda m: "^[" + m.group(0)[1:], text)
    text = _BIDI_CONTROL.sub(lambda m: f"<U+{ord(m.group(0)):04X}>", text)
    return _CONTROL.sub(
        lambda m: f"^{chr(ord(m.group(0)) ^ 0x40)}" if m.group(0) < " " else "?", text
    )


# JSON text leaves control characters above ASCII raw; escaped, they mean the same to a JSON
# reader and nothing to a terminal the JSON is printed on.
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def json_safe(text: str) -> str:
    """JSON text (from json.dumps, where such characters can only be inside strings) with
    DEL, C1 controls and bidi controls written as \\u escapes."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def one_line(text: str, limit: int | None = None) -> str:
    """For a table cell or a TSV field: no tabs, newlines or control characters."""
    flat = " ".join(safe_text(text).split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return flat


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """`1 page`, `3 pages`: a count with its noun as English writes it ("1 pages" and
    "entr(ies)" were printed). `plural`: the whole plural, when it is no singular + s."""
    if count == 1:
        return f"{count} {singular}"
    return f"{count} {plural or singular + 's'}"
