"""The streaming markdown renderer: what reaches the screen equals printing the reply once,
whatever the chunks, refreshes, height or interruptions; and the plain renderer for pipes."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap

import pytest
from rich.console import Console
from rich.markdown import Markdown

from claudechat.region import LiveRegion
from claudechat.render import (
    BlockSplitter,
    MarkdownStreamRenderer,
    PlainStreamRenderer,
    split_finished_blocks,
)
from renderkit import (
    DOCUMENTS,
    HEIGHT,
    WIDTH,
    CountingRenderer,
    TerminalEmulator,
    _normalised_lines,
    long_reply,
    make_console,
    one_shot_lines,
    random_chunks,
    screen_lines,
    stream,
)

# --------------------------------------------------------------------------- streamed output


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_streamed_output_matches_one_shot_render(name: str) -> None:
    text = DOCUMENTS[name]
    for seed in range(3):
        console = stream(text, random_chunks(text, seed))
        assert screen_lines(console) == one_shot_lines(text), f"seed {seed}"


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_blocks_finished_together_print_as_the_one_shot_render(name: str) -> None:
    """Blocks that finish between two draws are rendered as one document."""
    text = DOCUMENTS[name]
    for cut in (len(text) // 3, len(text) // 2, len(text)):
        console = stream(text, iter([text[:cut], text[cut:]]), refresh_every=1)
        assert screen_lines(console) == one_shot_lines(text), f"cut at {cut}"


@pytest.mark.parametrize("name", ["nested_lists", "code_with_blank_lines", "everything"])
def test_streamed_output_matches_with_one_character_chunks(name: str) -> None:
    text = DOCUMENTS[name]
    console = stream(text, iter(text), refresh_every=13)
    assert screen_lines(console) == one_shot_lines(text)


def test_streamed_output_matches_in_colour() -> None:
    text = DOCUMENTS["everything"]
    console = stream(text, random_chunks(text, 1), color_system="truecolor")
    assert screen_lines(console) == one_shot_lines(text, "truecolor")


def test_output_to_a_non_terminal_has_finished_blocks_only() -> None:
    text = DOCUMENTS["everything"]
    console = Console(file=io.StringIO(), width=WIDTH, color_system=None)
    with MarkdownStreamRenderer(console) as renderer:
        for chunk in random_chunks(text, 5):
            renderer.feed(chunk)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b" not in output
    assert _normalised_lines(output) == one_shot_lines(text)


def test_background_refresh_thread_does_not_disturb_output() -> None:
    text = DOCUMENTS["everything"]
    console = make_console()
    with MarkdownStreamRenderer(console, refresh_per_second=500) as renderer:
        for chunk in random_chunks(text, 9):
            renderer.feed(chunk)
    assert screen_lines(console) == one_shot_lines(text)


# --------------------------------------------------------------------------- tall replies


def _tall_code_reply(lines: int = 200) -> str:
    code = "\n".join(f"print('line {n:03d}')" for n in range(lines))
    return f"A long script:\n\n```python\n{code}\n```\n\nThat was long.\n"


@pytest.fixture
def live_heights(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Heights of every live region drawn."""
    heights: list[int] = []
    original = LiveRegion.draw

    def recording(self: LiveRegion, printed: list, live: list, width: int) -> None:  # type: ignore[type-arg]
        original(self, printed, live, width)
        heights.append(len(live))

    monkeypatch.setattr(LiveRegion, "draw", recording)
    return heights


def test_tall_code_block_appears_exactly_once(live_heights: list[int]) -> None:
    text = _tall_code_reply()
    console = stream(text, random_chunks(text, 3, 4), refresh_every=25)
    lines = screen_lines(console)
    assert lines == one_shot_lines(text)
    for n in range(200):
        assert sum(f"print('line {n:03d}')" in line for line in lines) == 1
    assert not any(line.strip() == "..." for line in lines)
    # The tail was shown, cut to fit below the screen's first row (see tmux in test_screen).
    assert max(live_heights) == HEIGHT - 2


def test_live_region_never_exceeds_terminal_height_minus_two(live_heights: list[int]) -> None:
    tall_paragraph = " ".join(f"word{n}" for n in range(2000)) + "\n"
    text = _tall_code_reply(60) + "\n" + tall_paragraph
    console = stream(text, random_chunks(text, 4), refresh_every=20)
    emulator = TerminalEmulator()
    emulator.feed(console.file.getvalue())  # type: ignore[attr-defined]
    assert emulator.transcript() == one_shot_lines(text)
    assert live_heights and max(live_heights) <= HEIGHT - 2
    # Redrawing a region of h lines moves the cursor up h - 1 lines.
    assert emulator.max_cursor_up_run <= HEIGHT - 3


def test_live_region_shows_the_bottom_of_a_tall_open_code_block() -> None:
    text = _tall_code_reply(150).split("```\n\nThat")[0]  # cut before the fence closes
    console = make_console()
    renderer = CountingRenderer(console, auto_refresh=False)
    for chunk in random_chunks(text, 6):
        renderer.feed(chunk)
    renderer.refresh()
    # Only the visible tail of the code is highlighted, not all 150 lines...
    assert len(renderer.parsed_texts[-1]) < len(text) / 3
    # ...and the screen's bottom lines are those of the whole block (the view's top moves
    # by half a screen at a time, so that a new line does not shift every row).
    visible = screen_lines(console)[-(HEIGHT // 2 - 3) :]
    assert visible == one_shot_lines(text)[-(HEIGHT // 2 - 3) :]
    renderer.finish()
    assert screen_lines(console) == one_shot_lines(text)


def test_remainder_tail_keeps_the_fence_and_the_last_code_lines() -> None:
    splitter = BlockSplitter()
    splitter.feed("Intro\n\n- item\n\n  ```py\n" + "".join(f"  x{n}\n" for n in range(10)) + "  x1")
    assert splitter.remainder_tail(3) == "- item\n\n  ```py\n  x7\n  x8\n  x9\n  x1"
    assert splitter.remainder_tail(50) == splitter.remainder
    splitter.feed("0\n  ```\n")
    assert splitter.remainder_tail(3) == splitter.remainder  # the fence is closed


# --------------------------------------------------------------------------- interruption


def test_ctrl_c_mid_stream_keeps_what_arrived_once() -> None:
    text = DOCUMENTS["everything"]
    cut = text.index("def f(x):") + 20  # in the middle of a code block
    console = make_console()
    with (
        pytest.raises(KeyboardInterrupt),
        MarkdownStreamRenderer(console, auto_refresh=False) as renderer,
    ):
        for index, chunk in enumerate(random_chunks(text[:cut], 2)):
            renderer.feed(chunk)
            if index % 5 == 0:
                renderer.refresh()
        raise KeyboardInterrupt
    assert screen_lines(console) == one_shot_lines(text[:cut])
    before = console.file.getvalue()  # type: ignore[attr-defined]
    renderer.finish()
    assert console.file.getvalue() == before  # type: ignore[attr-defined]


def test_a_pause_right_after_a_resize_erases_the_rows_the_terminal_reflowed() -> None:
    """A Ctrl-Z before the next refresh after the window narrowed went up as many rows as the
    region took at the old width: the rows the terminal had re-wrapped it over stayed above."""
    console = make_console()
    paragraph = " ".join(f"word{n}" for n in range(60))  # unfinished: shown in the region
    renderer = MarkdownStreamRenderer(console, auto_refresh=False)
    renderer.feed(paragraph)
    renderer.refresh()
    shown = screen_lines(console)
    assert len(shown) > 1 and any(len(line) > WIDTH // 2 for line in shown), shown
    console.width = WIDTH // 2  # the window narrowed; no refresh since
    drawn = len(console.file.getvalue())  # type: ignore[attr-defined]
    with renderer.paused():
        erase = console.file.getvalue()[drawn:]  # type: ignore[attr-defined]
    reflowed = sum(-(-len(line) // (WIDTH // 2)) for line in shown)
    assert f"\x1b[{reflowed}A" in erase, repr(erase)
    renderer.finish()


def test_interrupt_inside_the_renderer_is_recovered_by_finish() -> None:
    class InterruptedOnce(MarkdownStreamRenderer):
        interrupted = False

        def make_markdown(self, text: str) -> Markdown:
            if text.startswith("Para two") and not self.interrupted:
                self.interrupted = True
                raise KeyboardInterrupt
            return super().make_markdown(text)

    text = "Para one.\n\nPara two.\n\nPara three.\n"
    console = make_console()
    renderer = InterruptedOnce(console, auto_refresh=False)
    with pytest.raises(KeyboardInterrupt):
        for chunk in text:
            renderer.feed(chunk)
    renderer.finish()
    assert renderer.interrupted
    assert screen_lines(console) == one_shot_lines(renderer.text)
    assert renderer._thread is None or not renderer._thread.is_alive()


def test_feed_after_finish_is_an_error() -> None:
    renderer = MarkdownStreamRenderer(make_console())
    renderer.feed("hi")
    renderer.finish()
    renderer.finish()
    with pytest.raises(RuntimeError):
        renderer.feed("more")


def test_empty_reply_prints_nothing() -> None:
    console = make_console()
    with MarkdownStreamRenderer(console):
        pass
    assert console.file.getvalue() == ""  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- cost


def test_markdown_builds_scale_with_blocks_and_refreshes_not_chunks() -> None:
    text = long_reply(16_000)  # about 4k tokens
    chunks = [text[i : i + 4] for i in range(0, len(text), 4)]
    refresh_every = 25
    console = make_console()
    renderer = CountingRenderer(console, auto_refresh=False)
    for index, chunk in enumerate(chunks):
        renderer.feed(chunk)
        if index % refresh_every == 0:
            renderer.refresh()
    renderer.finish()
    blocks = len(split_finished_blocks(text)[0]) + 1
    refreshes = len(chunks) // refresh_every + 1
    # Each block is parsed once to print it and once when its live region starts.
    assert renderer.markdown_builds <= 2 * blocks + refreshes
    assert renderer.markdown_builds < len(chunks) / 5
    assert screen_lines(console) == one_shot_lines(text)


def test_idle_refreshes_do_not_rebuild_markdown() -> None:
    renderer = CountingRenderer(make_console(), auto_refresh=False)
    renderer.feed("Some text that is still")
    renderer.refresh()
    builds = renderer.markdown_builds
    for _ in range(20):
        renderer.refresh()
    assert renderer.markdown_builds == builds
    renderer.finish()


def test_importing_render_does_not_import_rich() -> None:
    # A fresh interpreter: this test process has imported rich already.
    code = "import sys, claudechat.render; print(any(m.startswith('rich') for m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# --------------------------------------------------------------------------- plain output


def test_plain_renderer_writes_chunks_verbatim_and_ends_with_newline() -> None:
    class RecordingStream(io.StringIO):
        writes = 0

        def write(self, text: str) -> int:
            self.writes += 1
            return super().write(text)

    text = textwrap.dedent(DOCUMENTS["everything"]).rstrip("\n")
    chunks = list(random_chunks(text, 8))
    out = RecordingStream()
    with PlainStreamRenderer(out, flush_interval=600) as renderer:
        for chunk in chunks:
            renderer.feed(chunk)
        assert out.getvalue() == chunks[0]  # the first words at once
    assert out.getvalue() == text + "\n"
    # The rest together: not one write (one wake-up of the reader) per token.
    assert out.writes == 2, out.writes
    assert "\x1b" not in out.getvalue()
    assert renderer.text == text
    renderer.finish()
    assert out.getvalue() == text + "\n"


class _FlushLog(io.StringIO):
    """What had been flushed, each time."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())  # written and flushed: what a reader has


def test_plain_renderer_flushes_a_paused_stream_without_waiting_for_more() -> None:
    import time

    out = _FlushLog()
    with PlainStreamRenderer(out, flush_interval=0.05) as renderer:
        renderer.feed("first ")
        assert out.flushed == ["first "]  # the first words are not held back
        renderer.feed("second")
        deadline = time.monotonic() + 5
        while out.flushed[-1] != "first second" and time.monotonic() < deadline:
            time.sleep(0.01)  # the stream pauses here: no further chunk comes
        assert out.flushed[-1] == "first second"
    assert out.flushed[-1] == "first second\n"


def test_a_write_failing_in_the_flushing_thread_is_raised_to_the_caller(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A reader that closed the pipe: the error reaches the code that handles closed pipes,
    instead of a traceback from the flushing thread."""
    import threading
    import time

    class ClosedAfterFirstWrite(io.StringIO):
        def write(self, text: str) -> int:
            if self.getvalue():
                raise BrokenPipeError("the reader is gone")
            return super().write(text)

    reported: list[object] = []
    monkeypatch.setattr(threading, "excepthook", reported.append)
    renderer = PlainStreamRenderer(ClosedAfterFirstWrite(), flush_interval=0.01)
    renderer.feed("first ")
    renderer.feed("second")  # written by the thread, which fails
    time.sleep(0.3)
    with pytest.raises(BrokenPipeError):
        renderer.finish()
    assert reported == []


def test_plain_renderer_adds_no_newline_when_not_needed() -> None:
    out = io.StringIO()
    with PlainStreamRenderer(out) as renderer:
        renderer.feed("line\n")
    assert out.getvalue() == "line\n"
    empty = io.StringIO()
    with PlainStreamRenderer(empty):
        pass
    assert empty.getvalue() == ""
