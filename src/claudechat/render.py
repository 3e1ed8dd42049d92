"""Live rendering of streamed replies.

Claude's replies arrive as small text deltas. Re-rendering the whole reply as
markdown on every delta is quadratic, so `MarkdownStreamRenderer` splits the text
into top-level markdown blocks: a finished block is printed once into normal
scrollback and never rendered again, and only the trailing unfinished block is
shown in a rich `Live` region, rebuilt only when that region actually refreshes.

rich is imported lazily: importing rich.markdown costs ~80 ms, which commands
like `--help` must not pay for.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from typing import Self

    from markdown_it.token import Token
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
    from rich.live import Live
    from rich.markdown import Markdown
    from rich.segment import Segment

__all__ = [
    "BlockSplitter",
    "MarkdownStreamRenderer",
    "PlainStreamRenderer",
    "split_finished_blocks",
]

# Any indentation counts: a fence inside a list item is indented, and treating an
# over-indented line as a fence only delays a split, while missing a real fence
# would split a code block in two.
_FENCE_OPENING = re.compile(r"([ \t]*)(`{3,}|~{3,})(.*)")
_LIST_ITEM_START = re.compile(r"(?:[-+*]|\d{1,9}[.)])(?:[ \t]|\r?\n|$)")


class _Fence:
    """An open fenced code block: only a run of the same character, at least as
    long and not indented too deeply, closes it (CommonMark's rule)."""

    __slots__ = ("char", "indent", "length")

    def __init__(self, char: str, length: int, indent: int) -> None:
        self.char = char
        self.length = length
        self.indent = indent

    @classmethod
    def opened_by(cls, line: str) -> _Fence | None:
        match = _FENCE_OPENING.match(line)
        if match is None:
            return None
        indent, run, info = match.groups()
        if run[0] == "`" and "`" in info:
            return None  # "```code```" is inline code, not a fence
        return cls(run[0], len(run), len(indent.expandtabs(4)))

    def is_closed_by(self, line: str) -> bool:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" \t"))
        return (
            len(stripped) >= self.length
            and stripped == self.char * len(stripped)
            and indent <= self.indent + 3
        )


class BlockSplitter:
    """Incremental form of `split_finished_blocks`: feed text in any chunks.

    A block ends at a blank line outside a fenced code block when the next line
    starts in column 0. Lines indented after a blank line (list continuations,
    indented code) stay with the block before. A new item of a list already open
    in the block also stays with it: rich numbers, aligns and spaces a list as a
    whole, so splitting a loose list would change its rendering. Work is done
    per complete line, so feeding costs O(len(chunk)) amortized.
    """

    def __init__(self) -> None:
        self._line_parts: list[str] = []  # pieces of the incomplete last line
        self._block_lines: list[str] = []  # complete lines of the unfinished block
        self._block_has_content = False
        self._after_blank_line = False
        self._in_list = False
        self._fence: _Fence | None = None
        self._fence_line_index = 0  # where the open fence's line is in _block_lines

    def feed(self, chunk: str) -> list[str]:
        """Add text; return the blocks it finished, oldest first."""
        finished: list[str] = []
        start = 0
        while (newline := chunk.find("\n", start)) != -1:
            self._line_parts.append(chunk[start : newline + 1])
            line = "".join(self._line_parts)
            self._line_parts.clear()
            block = self._accept_line(line)
            if block is not None:
                finished.append(block)
            start = newline + 1
        if start < len(chunk):
            self._line_parts.append(chunk[start:])
        return finished

    @property
    def remainder(self) -> str:
        """The unfinished block, including a trailing partial line."""
        return "".join(self._block_lines) + "".join(self._line_parts)

    def remainder_tail(self, max_code_lines: int) -> str:
        """The unfinished block, minus all but the last `max_code_lines` lines of
        an open code block.

        A live view shows only the bottom of a tall block, and highlighting a
        long code block is by far the costliest rendering; cutting lines from
        the middle of a fence leaves the markdown structure unchanged.
        """
        if self._fence is None:
            return self.remainder
        first_code_line = self._fence_line_index + 1
        hidden = len(self._block_lines) - first_code_line - max_code_lines
        if hidden <= 0:
            return self.remainder
        lines = self._block_lines
        return (
            "".join(lines[:first_code_line])
            + "".join(lines[first_code_line + hidden :])
            + "".join(self._line_parts)
        )

    def take_remainder(self) -> str:
        """Return the unfinished block and start afresh (the stream has ended)."""
        remainder = self.remainder
        self._line_parts = []
        self._take_block()
        self._block_has_content = self._after_blank_line = False
        self._fence = None
        return remainder

    def _accept_line(self, line: str) -> str | None:
        if self._fence is not None:
            if self._fence.is_closed_by(line):
                self._fence = None
            self._block_lines.append(line)
            return None
        if not line.strip():
            # Blank lines before any content stay with the block they precede.
            self._after_blank_line = self._block_has_content
            self._block_lines.append(line)
            return None
        finished = self._take_block() if self._starts_new_block(line) else None
        self._note_content_line(line)
        return finished

    def _starts_new_block(self, line: str) -> bool:
        if not self._after_blank_line or line[0] in " \t":
            return False
        return not (self._in_list and _LIST_ITEM_START.match(line))

    def _take_block(self) -> str:
        block = "".join(self._block_lines)
        self._block_lines = []
        self._in_list = False
        return block

    def _note_content_line(self, line: str) -> None:
        self._block_lines.append(line)
        self._block_has_content = True
        self._after_blank_line = False
        self._fence = _Fence.opened_by(line)
        self._fence_line_index = len(self._block_lines) - 1
        if not self._in_list and _LIST_ITEM_START.match(line):
            self._in_list = True


def split_finished_blocks(text: str) -> tuple[list[str], str]:
    """Split markdown into finished top-level blocks and the unfinished rest.

    The pieces partition the text: ``"".join(blocks) + remainder == text``; each
    block keeps the blank lines that end it.
    """
    splitter = BlockSplitter()
    blocks = splitter.feed(text)
    return blocks, splitter.remainder


# Tokens rich's Markdown handles without creating an element; they never touch
# its blank-line-between-elements flag.
_TOKENS_WITHOUT_ELEMENT = frozenset(
    {"text", "hardbreak", "softbreak", "link_open", "link_close", "html_inline"}
)


def _flatten_tokens(tokens: Sequence[Token]) -> Iterator[Token]:
    # Mirrors Markdown._flatten_tokens, which is private.
    for token in tokens:
        if token.children and not (token.type == "fence" or token.tag == "img"):
            yield from _flatten_tokens(token.children)
        else:
            yield token


def _blank_line_flags(markdown: Markdown) -> tuple[bool | None, bool | None]:
    """How rich's Markdown spaces this block: (flag before its first output, flag
    after its last element); None means the block inherits the previous flag.

    rich puts a blank line before an element when the element that closed before
    it asked for one (`new_line`). Rendering blocks separately resets that flag,
    so replaying rich's rule over the tokens tells whether the separating blank
    line must be printed by us. Containers (lists, quotes, tables) set the flag
    themselves when their first child closes, which is why a Markdown starting
    with a list renders its own leading blank line.
    """
    from rich.markdown import MarkdownElement, UnknownElement

    def element_class(token: Token) -> type[MarkdownElement]:
        return markdown.elements.get(token.type, UnknownElement)

    def renders_now(parents: list[type[MarkdownElement]]) -> bool:
        # A parent that overrides on_child_close renders its children itself, later.
        return not parents or parents[-1].on_child_close is MarkdownElement.on_child_close

    parents: list[type[MarkdownElement]] = []
    flag: bool | None = None
    leading: bool | None = None
    seen_output = False
    for token in _flatten_tokens(markdown.parsed):
        if token.type in _TOKENS_WITHOUT_ELEMENT or _is_inline_style(markdown, token):
            continue
        if token.nesting == 1:
            parents.append(element_class(token))
            continue
        closed = parents.pop() if token.nesting == -1 else element_class(token)
        if not seen_output and token.type != "inline" and renders_now(parents):
            leading, seen_output = flag, True
        flag = closed.new_line
    return leading, flag


def _is_inline_style(markdown: Markdown, token: Token) -> bool:
    return token.tag in markdown.inlines and token.type not in ("fence", "code_block")


_LIVE_ELEMENTS: dict[str, Any] = {}


def _live_elements() -> dict[str, Any]:
    """Markdown elements for the live region: code in an unfinished block keeps its theme
    and layout but not its token colours, which it gets once, when the block is printed.
    Re-highlighting the open code block on every refresh was half the renderer's CPU."""
    if not _LIVE_ELEMENTS:
        from rich.markdown import CodeBlock, Markdown

        class UncolouredCodeBlock(CodeBlock):
            @classmethod
            def create(cls, markdown: Markdown, token: Token) -> CodeBlock:
                return cls("text", markdown.code_theme)

        _LIVE_ELEMENTS.update(Markdown.elements)
        _LIVE_ELEMENTS.update(fence=UncolouredCodeBlock, code_block=UncolouredCodeBlock)
    return _LIVE_ELEMENTS


class _TrailingBlockView:
    """The Live region's renderable: markdown of the text not yet printed, built
    only when rich renders the region, cut to the lines that fit the terminal."""

    def __init__(self, renderer: MarkdownStreamRenderer) -> None:
        self._renderer = renderer
        self.hidden = False
        self._cache_key: tuple[str, bool, int, int] | None = None
        self._cached_lines: list[list[Segment]] = []

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.hidden:
            return
        from rich.segment import Segment

        new_line = Segment.line()
        for line in self._visible_lines(console, options):
            yield from line
            yield new_line

    def _visible_lines(self, console: Console, options: ConsoleOptions) -> list[list[Segment]]:
        # A taller region makes rich either crop it with "..." or, when it
        # overflows, repeat lines in scrollback; the whole block is printed
        # once it completes, so the live region shows only its tail.
        max_lines = max(1, options.size.height - 1)
        text, blank_line_before = self._renderer._live_snapshot(max_lines)
        key = (text, blank_line_before, options.max_width, max_lines)
        if key != self._cache_key:  # an idle refresh must not re-render
            lines = self._render(console, options, text, blank_line_before)
            self._cached_lines = lines[-max_lines:]
            self._cache_key = key
        return self._cached_lines

    def _render(
        self, console: Console, options: ConsoleOptions, text: str, blank_line_before: bool
    ) -> list[list[Segment]]:
        if not text.strip():
            return []
        markdown = self._renderer.make_markdown(text)
        # Per instance, so a make_markdown() override (counting, restyling) still applies.
        markdown.elements = _live_elements()  # type: ignore[misc]
        leading, _ = _blank_line_flags(markdown)
        lines = console.render_lines(markdown, options.update(height=None), pad=False)
        return [[], *lines] if leading is None and blank_line_before else lines


class _StreamRenderer:
    """What both renderers share: the fed text, and finish() on leaving a `with` block."""

    _chunks: list[str]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.finish()

    def finish(self) -> None:
        raise NotImplementedError

    @property
    def text(self) -> str:
        """Everything fed so far."""
        if len(self._chunks) > 1:
            self._chunks[:] = ["".join(self._chunks)]
        return self._chunks[0] if self._chunks else ""


class MarkdownStreamRenderer(_StreamRenderer):
    """Renders a streamed markdown reply to a rich Console: finished blocks printed once,
    trailing block live.

    Scrollback receives every rendered line exactly once, identical to printing
    ``Markdown(text)`` in one go. `feed` does no markdown work except when a block
    completes; the live region is rendered by rich's refresh thread at most
    ``refresh_per_second`` times a second (or by `refresh`), and only when the
    trailing text changed. With ``auto_refresh=False`` nothing refreshes by
    itself: call `refresh` (tests and benchmarks do, to be deterministic).
    """

    def __init__(
        self,
        console: Console,
        refresh_per_second: float = 4.0,
        code_theme: str = "monokai",
        *,
        auto_refresh: bool = True,
    ) -> None:
        self._console = console
        self._refresh_per_second = refresh_per_second
        self._code_theme = code_theme
        self._auto_refresh = auto_refresh
        self._chunks: list[str] = []
        self._splitter = BlockSplitter()
        # Finished blocks stay in the live view until printed, so a refresh
        # between splitting and printing never blanks them out.
        self._unprinted: list[str] = []
        self._blank_line_pending = False  # rich's new_line flag after the printed blocks
        self._state_lock = threading.Lock()  # shared with the Live refresh thread
        self._view = _TrailingBlockView(self)
        self._live: Live | None = None
        self._finished = False

    def feed(self, chunk: str) -> None:
        """Add a text delta. Cheap unless it completes a block, which is printed."""
        if self._finished:
            raise RuntimeError("feed() after finish()")
        if not chunk:
            return
        self._chunks.append(chunk)
        with self._state_lock:
            finished = self._splitter.feed(chunk)
            self._unprinted.extend(finished)
        if finished:
            self._print_unprinted_blocks()
            self._start_live()
        elif self._live is None and not chunk.isspace():
            self._start_live()

    def refresh(self) -> None:
        """Redraw the live region now (it also refreshes by itself unless auto_refresh=False)."""
        if self._live is not None:
            self._live.refresh()

    def finish(self) -> None:
        """Print what is left once and stop the live region.

        Idempotent, and safe after an exception or KeyboardInterrupt: whatever
        arrived stays on screen. If interrupted itself, calling it again resumes.
        """
        if self._finished:
            return
        self._stop_live()
        with self._state_lock:
            remainder = self._splitter.take_remainder()
            if remainder:
                self._unprinted.append(remainder)
        self._print_unprinted_blocks()
        self._finished = True

    def make_markdown(self, text: str) -> Markdown:
        """Build the Markdown for a block (the only place that parses markdown;
        a subclass may override it, e.g. to count or restyle)."""
        from rich.markdown import Markdown

        return Markdown(text, code_theme=self._code_theme)

    def _live_snapshot(self, max_lines: int) -> tuple[str, bool]:
        with self._state_lock:
            text = "".join(self._unprinted) + self._splitter.remainder_tail(max_lines)
            return text, self._blank_line_pending

    def _print_unprinted_blocks(self) -> None:
        self._stop_live()
        while self._unprinted:
            self._print_block(self._unprinted[0])
            # Dropped only once printed: a KeyboardInterrupt while rendering
            # leaves it for finish() to print.
            with self._state_lock:
                del self._unprinted[0]

    def _print_block(self, text: str) -> None:
        if not text.strip():
            return
        from rich.console import NewLine

        markdown = self.make_markdown(text)
        leading, trailing = _blank_line_flags(markdown)
        renderables: list[RenderableType] = [markdown]
        if leading is None and self._blank_line_pending:
            renderables.insert(0, NewLine())
        self._console.print(*renderables)
        if trailing is not None:
            self._blank_line_pending = trailing

    def _start_live(self) -> None:
        if self._live is not None or not self._console.is_interactive:
            return
        from rich.live import Live

        live = Live(
            self._view,
            console=self._console,
            auto_refresh=self._auto_refresh,
            refresh_per_second=self._refresh_per_second,
            transient=True,
            # The view never exceeds the terminal; "visible" just avoids a
            # stray "..." should the terminal shrink between render and draw.
            vertical_overflow="visible",
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live = live  # before start(): an interrupted start must still be stopped
        live.start(refresh=True)  # show the first words of a block at once

    def _stop_live(self) -> None:
        live = self._live
        if live is None:
            return
        # Live.stop() redraws once before clearing the region; hiding the view
        # makes that redraw empty instead of rendering markdown to be erased.
        self._view.hidden = True
        try:
            live.stop()
        finally:
            self._view.hidden = False
            self._live = None


class PlainStreamRenderer(_StreamRenderer):
    """For a non-terminal stdout or NO_COLOR: writes chunks as they arrive to a text stream,
    no escape codes, flushes per chunk."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._chunks: list[str] = []
        self._ends_with_newline = True  # nothing written yet needs no newline

    def feed(self, chunk: str) -> None:
        if not chunk:
            return
        self._chunks.append(chunk)
        self._stream.write(chunk)
        self._stream.flush()
        self._ends_with_newline = chunk.endswith("\n")

    def finish(self) -> None:
        """End the output with a newline (idempotent)."""
        if not self._ends_with_newline:
            self._stream.write("\n")
            self._stream.flush()
            self._ends_with_newline = True
