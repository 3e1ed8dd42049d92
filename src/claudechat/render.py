"""Live rendering of streamed replies.

Claude's replies arrive as small text deltas. Re-rendering the whole reply as markdown on
every delta is quadratic, so `MarkdownStreamRenderer` splits the text into top-level markdown
blocks (mdblocks.py): a finished block is printed once into normal scrollback and never rendered
again, and only the trailing unfinished block is shown in ONE live region for the whole reply
(region.py), rebuilt only when that region actually refreshes.

Every write to the terminal happens with SIGINT, SIGTERM and SIGHUP held back, so a Ctrl-C
(or a second one) lands between two complete writes: what the screen shows is always what
was kept. rich is imported lazily: importing rich.markdown costs ~80 ms, which commands like
`--help` must not pay for.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from claudechat.markdown import DEFAULT_CODE_THEME
from claudechat.mdblocks import BlockSplitter, split_finished_blocks

if TYPE_CHECKING:
    from typing import Self

    from rich.console import Console, ConsoleOptions
    from rich.markdown import Markdown
    from rich.segment import Segment

    from claudechat.region import LiveRegion

__all__ = [
    "BlockSplitter",
    "MarkdownStreamRenderer",
    "PlainStreamRenderer",
    "split_finished_blocks",
]

# From the least serious (swapped first, put back last) to the most (raised again first).
_HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# How often the stream itself may redraw: text at 15 frames a second reads as smooth (rich's
# Live refreshes 4 times a second), and each draw lays out the unfinished block again.
MIN_DRAW_INTERVAL = 1 / 15


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Delay SIGINT/SIGTERM/SIGHUP until the block is done (main thread only: other threads
    never run Python signal handlers). Their handlers only note them meanwhile, and what
    arrived is raised again at the end, the most serious first (its handler may end the
    process, or raise: the others would then never be raised). Blocking them in this thread
    held nothing: the kernel gave them to another thread, and Python ran the handler here all
    the same."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: set[int] = set()

    def note(signum: int, _frame: object) -> None:
        arrived.add(signum)

    previous: list[tuple[int, Any]] = []
    try:
        for signum in _HELD_SIGNALS:
            handler = signal.getsignal(signum)
            if handler is None:
                continue  # a handler set from C, which Python cannot put back
            previous.append((signum, handler))  # before the swap: a signal between is put back
            signal.signal(signum, note)
        yield
    finally:
        _put_back(previous)
        for signum in reversed(_HELD_SIGNALS):
            if signum in arrived:
                signal.raise_signal(signum)


def _put_back(handlers: list[tuple[int, Any]]) -> None:
    """The handlers as they were, the last swapped first; each put back even if a signal's
    handler raises while the ones before it are (SIGINT, swapped first, is put back last)."""
    if handlers:
        signum, handler = handlers[-1]
        try:
            signal.signal(signum, handler)
        finally:
            _put_back(handlers[:-1])


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

    def paused(self) -> contextlib.AbstractContextManager[object]:
        """The screen as it should be while the job is stopped (Ctrl-Z): nothing live on it."""
        return contextlib.nullcontext()

    @property
    def text(self) -> str:
        """Everything fed so far."""
        if len(self._chunks) > 1:
            self._chunks[:] = ["".join(self._chunks)]
        return self._chunks[0] if self._chunks else ""


class MarkdownStreamRenderer(_StreamRenderer):
    """Renders a streamed markdown reply to a rich Console: finished blocks printed once,
    trailing block live.

    Scrollback receives every rendered line exactly once, identical to printing the reply's
    markdown in one go. `feed` does no markdown work except when a block completes; the live
    region is rendered by a refresh thread at most ``refresh_per_second`` times a second (or
    by `refresh`), and only when the trailing text or the terminal's size changed. With
    ``auto_refresh=False`` nothing refreshes by itself: call `refresh` (tests and benchmarks
    do, to be deterministic).
    """

    def __init__(
        self,
        console: Console,
        refresh_per_second: float = 4.0,
        code_theme: str = DEFAULT_CODE_THEME,
        *,
        auto_refresh: bool = True,
    ) -> None:
        from claudechat.region import LiveRegion

        self._console = console
        self._refresh_per_second = refresh_per_second
        self._code_theme = code_theme
        self._auto_refresh = auto_refresh
        self._chunks: list[str] = []
        self._splitter = BlockSplitter()
        self._unprinted: list[str] = []  # finished blocks not yet on screen
        self._blank_line_pending = False  # rich's new_line flag after the printed blocks
        self._lock = threading.RLock()  # the state and the terminal, shared with the thread
        self._region: LiveRegion = LiveRegion(console)
        self._live = False  # the live region has started
        self._live_key: tuple[str, bool, int, int] | None = None
        self._live_lines: list[list[Segment]] = []
        self._rendered_key: tuple[str, int, bool] | None = None
        self._rendered: tuple[list[list[Segment]], bool | None, bool | None] = ([], None, None)
        self._stop_refreshing = threading.Event()
        self._thread: threading.Thread | None = None
        self._finished = False
        self._drawn_at = 0.0

    def feed(self, chunk: str) -> None:
        """Add a text delta. Cheap unless it completes a block, which is printed."""
        if self._finished:
            raise RuntimeError("feed() after finish()")
        if not chunk:
            return
        self._chunks.append(chunk)
        if self._live and "\n" not in chunk:
            with self._lock:  # the common case: part of a line, nothing to draw until a refresh
                self._splitter.feed(chunk)
            return
        with signals_held(), self._lock:
            finished = self._splitter.feed(chunk)
            self._unprinted.extend(finished)
            if (finished or (not self._live and not chunk.isspace())) and not self._drew_lately():
                self._draw(live=True)  # the first words of a block show at once
                self._start_refreshing()

    def _drew_lately(self) -> bool:
        """Whether the screen was drawn less than MIN_DRAW_INTERVAL ago: a stream faster
        than the eye then waits for the refresh thread, which draws everything that came
        meanwhile at once, instead of drawing the start of every block (tables, code) that
        finishes a moment later."""
        if self._thread is None:
            return False  # nothing would draw it later: tests and non-terminals
        return time.monotonic() - self._drawn_at < MIN_DRAW_INTERVAL

    def refresh(self) -> None:
        """Redraw the live region now (it also refreshes by itself unless auto_refresh=False)."""
        with signals_held(), self._lock:
            if self._live and not self._finished:
                self._draw(live=True)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The live region erased while the job is stopped (the shell writes below the printed
        lines) and drawn anew when it goes on; no draw in between."""
        with self._lock:
            self._region.clear()
            yield
            if self._live and not self._finished:
                self._draw(live=True)

    def finish(self) -> None:
        """Print what is left once and end the live region. Idempotent, and safe after an
        exception or KeyboardInterrupt: whatever arrived stays on screen."""
        if self._finished:
            return
        with signals_held():
            self._stop_refreshing.set()
            if self._thread is not None:
                self._thread.join()
            with self._lock:
                remainder = self._splitter.take_remainder()
                if remainder:
                    self._unprinted.append(remainder)
                self._draw(live=False)
                self._region.clear()
                self._finished = True

    def make_markdown(self, text: str) -> Markdown:
        """Build the Markdown for a block (the only place that parses markdown;
        a subclass may override it, e.g. to count or restyle)."""
        from claudechat.markdown import make_markdown

        return make_markdown(text, self._code_theme)

    def _draw(self, live: bool) -> None:
        """Print the finished blocks and redraw the live region, in one write; the state
        changes only once it is written."""
        options = self._console.options.update(height=None)
        printed, pending = self._render_unprinted(options)
        shown = self._render_live(options, pending) if live and self._interactive else []
        self._region.draw(printed, shown, options.max_width)
        self._drawn_at = time.monotonic()
        self._unprinted.clear()
        self._blank_line_pending = pending
        self._live = self._live or live

    @property
    def _interactive(self) -> bool:
        return self._console.is_interactive

    def _render_unprinted(self, options: ConsoleOptions) -> tuple[list[list[Segment]], bool]:
        """The finished blocks' lines, and the blank-line flag after them. The blocks that
        finished since the last draw are rendered together, as one document: they split at
        block boundaries, so they read as they would in the whole reply, and one parse and
        one layout cost less than one per block."""
        pending = self._blank_line_pending
        text = "".join(block for block in self._unprinted if block.strip())
        if not text:
            return [], pending
        rendered, leading, trailing = self._render_block(options, text, live=False)
        lines = [[], *rendered] if leading is None and pending else list(rendered)
        return lines, pending if trailing is None else trailing

    def _render_live(self, options: ConsoleOptions, blank_line_before: bool) -> list[list[Segment]]:
        # A region taller than the terminal would scroll its top out of reach; the whole
        # block is printed once it completes, so the region shows only its tail. Its top
        # stays below the screen's first row: tmux (scroll-on-clear, its default) takes an
        # erase from the top-left corner for a cleared screen and keeps a copy in the
        # scrollback, once per redraw.
        max_lines = max(1, options.size.height - 2)
        # Room for the code block's padding rows, so the cut below never shifts the view.
        text = self._splitter.remainder_tail(max(1, max_lines - 3), step=max(1, max_lines // 2))
        if text.lstrip().startswith("|") and not text.endswith("\n"):
            # A table is laid out again as a whole for every change; half a row is not worth
            # it (a table was the costliest block to show live).
            text = text[: text.rfind("\n") + 1]
        key = (text, blank_line_before, options.max_width, max_lines)
        if key != self._live_key:  # an idle refresh must not re-render
            self._live_lines = self._render_tail(options, text, blank_line_before)[-max_lines:]
            self._live_key = key
        return self._live_lines

    def _render_tail(
        self, options: ConsoleOptions, text: str, blank_line_before: bool
    ) -> list[list[Segment]]:
        if not text.strip():
            return []
        lines, leading, _ = self._render_block(options, text, live=True)
        return [[], *lines] if leading is None and blank_line_before else lines

    def _render_block(
        self, options: ConsoleOptions, text: str, live: bool
    ) -> tuple[list[list[Segment]], bool | None, bool | None]:
        """A block's lines and blank-line flags. Without code, the live view and the printed
        block render alike: the block's last live view is then printed as it is."""
        from claudechat.markdown import blank_line_flags, live_elements

        has_code = "```" in text or "~~~" in text or "    " in text or "\t" in text
        key = (text if has_code else text.rstrip("\n"), options.max_width, live and has_code)
        if key != self._rendered_key:
            markdown = self.make_markdown(text)
            if live:
                # Per instance, so a make_markdown() override still applies.
                markdown.elements = live_elements()  # type: ignore[misc]
            lines = self._console.render_lines(markdown, options, pad=False)
            self._rendered = (lines, *blank_line_flags(markdown))
            self._rendered_key = key
        return self._rendered

    def _start_refreshing(self) -> None:
        if self._thread is not None or not self._auto_refresh or not self._interactive:
            return
        self._thread = threading.Thread(target=self._refresh_loop, name="live-region", daemon=True)
        self._thread.start()

    def _refresh_loop(self) -> None:
        interval = 1 / self._refresh_per_second
        while not self._stop_refreshing.wait(interval):
            self.refresh()


class PlainStreamRenderer(_StreamRenderer):
    """For a non-terminal stdout or a dumb one (TERM=dumb): writes chunks as they arrive to a
    text stream, no escape codes. The first chunk goes out at once, later ones together at most
    every `flush_interval` seconds (by a thread, so a stream that pauses is not held back): a write
    per token woke the reader for every four characters, which cost the process more than the
    SDK's own work on the token. The chunks wait in a list of this renderer's, not in the
    stream's buffer, which may be unbuffered (PYTHONUNBUFFERED, python -u)."""

    def __init__(self, stream: TextIO, flush_interval: float = 0.05) -> None:
        self._stream = stream
        self._chunks: list[str] = []
        self._ends_with_newline = True  # nothing written yet needs no newline
        self._interval = flush_interval
        self._lock = threading.Lock()  # the waiting chunks, shared with the flushing thread
        self._waiting: list[str] = []
        self._stop_flushing = threading.Event()
        self._flusher: threading.Thread | None = None
        self._failure: Exception | None = None  # of a write by the thread, for the caller

    def feed(self, chunk: str) -> None:
        if not chunk:
            return
        self._raise_failure()
        self._chunks.append(chunk)
        with self._lock:
            self._waiting.append(chunk)
        self._ends_with_newline = chunk.endswith("\n")
        if self._flusher is None:
            self._flush()  # the first words without delay
            self._flusher = threading.Thread(target=self._flush_loop, name="flush", daemon=True)
            self._flusher.start()

    def finish(self) -> None:
        """End the output with a newline, and flush (idempotent)."""
        self._stop_flushing.set()
        if self._flusher is not None:
            self._flusher.join()
        self._raise_failure()
        if not self._ends_with_newline:
            with self._lock:
                self._waiting.append("\n")
            self._ends_with_newline = True
        self._flush()

    def _flush_loop(self) -> None:
        # A write that fails (a reader that closed the pipe) is the caller's to handle, as a
        # failed write of its own would be: it is raised by the next feed() or finish().
        try:
            while not self._stop_flushing.wait(self._interval):
                self._flush()
        except Exception as exc:
            self._failure = exc

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def _flush(self) -> None:
        with self._lock:
            if not self._waiting:
                return
            text = "".join(self._waiting)
            self._waiting.clear()
            self._stream.write(text)
            self._stream.flush()
