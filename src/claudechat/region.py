"""The live region at the bottom of the terminal, redrawn by rewriting only what changed.

rich's Live redraws its whole region on every refresh, counts its rows at the width it drew
them (after a resize, a terminal that reflows leaves stale copies above), and is stopped and
restarted around anything printed above it. This region is one object for a whole reply (the
answer's; RefreshedRegion draws the thinking and the waiting line in one as well):

- `draw(printed, live)` writes `printed` lines for good (they scroll into the scrollback) and
  shows `live` lines below them, in ONE write: only the rows from the first one that differs
  from what is on screen are erased and rewritten, so a paragraph growing word by word costs
  its last line, not the whole paragraph.
- the cursor rests at the start of the row below the region, so moving to the region's top
  is one cursor-up of as many rows as the region takes;
- after the width changed, those rows are counted again: the terminals that reflow (tmux,
  kitty, iTerm2, VTE, Windows Terminal...) have re-wrapped each old line over
  ceil(width / new width) rows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.segment import Segment

__all__ = ["LiveRegion", "RefreshedRegion"]

HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"
ERASE_BELOW = "\x1b[J"


class LiveRegion:
    def __init__(self, console: Console) -> None:
        self._console = console
        self._rows: list[str] = []  # the region's lines as written, without their newline
        self._cells: list[int] = []  # their widths in cells
        self._width = 0  # the terminal's width when they were written
        self._cursor_hidden = False
        self._color_system = _color_system(console)
        # Highlighted code changes look every few characters, between few distinct looks.
        self._sgr_memo: dict[tuple[Any, Any], str] = {}

    def draw(self, printed: list[list[Segment]], live: list[list[Segment]], width: int) -> None:
        """Print `printed` above the region for good and show `live` in it, in one write;
        `width` is the terminal's width the lines were rendered for."""
        trimmed = [_without_trailing_blanks(line) for line in printed + live]
        lines = [self._ansi(line) for line in trimmed]
        cells = [sum(segment.cell_length for segment in line) for line in trimmed]
        same = 0
        if width == self._width:
            for old, new in zip(self._rows, lines, strict=False):
                if old != new:
                    break
                same += 1
        if not printed and same == len(self._rows) == len(lines) and width == self._width:
            return  # nothing changed
        up = self._rows_above_cursor(width) - self._rows_below(same, width)
        parts = [self._move_up(up), ERASE_BELOW] if up or self._rows else []
        if live and not self._cursor_hidden:
            parts.insert(0, HIDE_CURSOR)  # a cursor blinking inside the reply distracts
            self._cursor_hidden = True
        # A changed line is written whole, never patched: a transcript of the terminal
        # (script, a screen reader, pexpect) then holds every line as it reads.
        rewritten = lines[same:]
        parts.extend(line + "\n" for line in rewritten)
        self._write("".join(parts))
        kept = len(printed)
        self._rows, self._cells, self._width = lines[kept:], cells[kept:], width

    def clear(self) -> None:
        """Erase the region and give the cursor back (what was printed stays). Its rows are
        counted at the width now: a terminal resized since the last draw has re-wrapped them,
        and a Ctrl-Z right after a resize left the reflowed rows of the answer on the screen."""
        if self._rows:
            self.draw([], [], self._console.width)
        if self._cursor_hidden:
            self._write(SHOW_CURSOR)
            self._cursor_hidden = False

    def _rows_above_cursor(self, width: int) -> int:
        return self._rows_below(len(self._rows), width)

    def _rows_below(self, count: int, width: int) -> int:
        """Screen rows taken by the region's first `count` lines at this width."""
        if width == self._width or width <= 0:
            return count
        return sum(max(1, -(-cells // width)) for cells in self._cells[:count])

    @staticmethod
    def _move_up(rows: int) -> str:
        return f"\r\x1b[{rows}A" if rows > 0 else "\r"

    def _ansi(self, line: list[Segment]) -> str:
        """The line with as few escape codes as it needs: a code is written only where the
        look changes (rich writes a full set and a reset around every segment, which made
        highlighted code five times its size), and blanks keep the look before them when
        it differs only in foreground."""
        if self._color_system is None:
            return "".join(segment.text for segment in line if not segment.control)
        parts: list[str] = []
        current: Any = None  # the style in effect; None is the terminal's default
        for segment in line:
            if segment.control or not segment.text:
                continue
            style = segment.style or None
            if style != current and not (segment.text.isspace() and _blanks_alike(style, current)):
                change = self._sgr_memo.get((current, style))
                if change is None:
                    change = self._sgr_memo[current, style] = self._sgr(current, style)
                parts.append(change)
                current = style
            parts.append(segment.text)
        if current is not None:
            parts.append("\x1b[0m")
        return "".join(parts)

    def _sgr(self, before: Any, after: Any) -> str:
        """The codes that turn the look `before` into `after`: only what is added or changed
        when nothing has to be switched off, otherwise a reset and the whole look."""
        system = self._color_system
        if after is None or not after._make_ansi_codes(system):
            return "\x1b[0m"
        codes = _sgr_parts(after, system)
        if before is not None:
            old = _sgr_parts(before, system)
            if set(old[0]) <= set(codes[0]) and all(
                new or not was for was, new in zip(old[1:], codes[1:], strict=True)
            ):
                changed = [c for c in codes[0] if c not in old[0]]
                changed += [new for was, new in zip(old[1:], codes[1:], strict=True) if new != was]
                return f"\x1b[{';'.join(changed)}m" if changed else ""
        return "\x1b[0;" + ";".join(filter(None, [*codes[0], *codes[1:]])) + "m"

    def _write(self, text: str) -> None:
        if text:
            file = self._console.file
            file.write(text)
            file.flush()


class RefreshedRegion:
    """A LiveRegion showing what `render` returns, drawn again by a thread `per_second` times
    a second until stopped, and erased then. The thinking and the waiting line were drawn by
    rich's Live: after a resize, the rows the terminal had re-wrapped them over stayed on the
    screen for good ("waiting for Cla" above the answer)."""

    def __init__(self, console: Console, render: Callable[[], Any], per_second: float) -> None:
        self._console = console
        self._render = render
        self._interval = 1 / per_second
        self._region = LiveRegion(console)
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._refresh()
        self._thread = threading.Thread(target=self._refresh_loop, name="region", daemon=True)
        self._thread.start()

    def _refresh(self) -> None:
        """Draw the region again: only start() calls it, before the thread exists, and the
        thread, which stop() joins before it erases; so no two draws ever overlap."""
        from claudechat.render import signals_held

        with signals_held():
            options = self._console.options.update(height=None)
            lines = self._console.render_lines(self._render(), options, pad=False)
            self._region.draw([], lines, options.max_width)

    def stop(self) -> None:
        """Erase the region, in the rows it takes at the width now (idempotent)."""
        from claudechat.render import signals_held

        self._stopped.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()  # no draw after the erase, none during it
        with signals_held():
            self._region.clear()

    def _refresh_loop(self) -> None:
        while not self._stopped.wait(self._interval):
            self._refresh()


def _sgr_parts(style: Any, system: Any) -> tuple[list[str], str, str]:
    """(attribute codes, foreground code, background code) of a style; "" for no colour."""
    attributes = style.without_color._make_ansi_codes(system)
    foreground = background = ""
    if style.color is not None:
        foreground = ";".join(style.color.downgrade(system).get_ansi_codes(foreground=True))
    if style.bgcolor is not None:
        background = ";".join(style.bgcolor.downgrade(system).get_ansi_codes(foreground=False))
    return (attributes.split(";") if attributes else []), foreground, background


def _without_trailing_blanks(line: list[Segment]) -> list[Segment]:
    """The line without the blanks rich pads it with, coloured or not (a code block's
    background stops at its text): they cost bytes, and a line that fills the terminal takes
    two rows once a narrower terminal reflows it. Underlined or struck blanks stay."""
    from rich.segment import Segment

    line = list(line)
    while line:
        last = line[-1]
        if last.control or (last.style is not None and _shows_lines(last.style)):
            break
        text = last.text.rstrip(" ")
        if text:
            line[-1] = Segment(text, last.style)
            break
        line.pop()
    return line


def _blanks_alike(style: Any, current: Any) -> bool:
    """Whether blanks look the same in both styles: only background, reverse and lines show."""
    return _blank_look(style) == _blank_look(current)


def _blank_look(style: Any) -> tuple[Any, ...]:
    if style is None:
        return (None, False, False, False)
    return (style.bgcolor, bool(style.reverse), bool(style.underline), bool(style.strike))


def _shows_lines(style: Any) -> bool:
    return bool(style.underline or style.strike or style.reverse)


def _color_system(console: Console) -> Any:
    from rich.color import ColorSystem

    names = {
        "standard": ColorSystem.STANDARD,
        "256": ColorSystem.EIGHT_BIT,
        "truecolor": ColorSystem.TRUECOLOR,
        "windows": ColorSystem.WINDOWS,
    }
    return names.get(console.color_system or "")
