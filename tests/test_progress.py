"""The count long work shows on stderr (export --all, db reindex, usage): in a terminal
only, only once the work has taken a moment, and erased at the end."""

from __future__ import annotations

import io
import os
import time

from claudechat.progress import Progress, WaitingLine


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_count_in_a_terminal_rewritten_in_place_and_erased() -> None:
    out = Terminal()
    with Progress("exporting", 1200, stream=out, after=0, output=Terminal()) as progress:
        progress.step(0)
        progress.step(1)  # within a tenth of a second of the last: not written
        progress.clear()  # before a warning line
        progress.step(2)
    assert out.getvalue() == (
        "\rexporting 0 of 1,200\x1b[K" + "\r\x1b[K" + "\rexporting 2 of 1,200\x1b[K" + "\r\x1b[K"
    )


def test_nothing_in_a_pipe_and_nothing_for_quick_work() -> None:
    piped = io.StringIO()
    with Progress("exporting", 3, stream=piped, after=0, output=Terminal()) as progress:
        progress.step(0)
    assert piped.getvalue() == ""
    quick = Terminal()
    # The default: shown after half a second.
    with Progress("exporting", 3, stream=quick, output=Terminal()) as progress:
        progress.step(0)
    assert quick.getvalue() == ""


def test_nothing_when_stdout_goes_to_a_pipe() -> None:
    """`usage | less`: the count was written over the pager's screen."""
    err = Terminal()
    reading, writing = os.pipe()
    with os.fdopen(reading), open(writing, "w") as pipe:
        progress = Progress("reading", 3, stream=err, after=0, output=pipe)
        progress.step(0)
    assert err.getvalue() == ""


def test_nothing_in_a_dumb_terminal(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Under TERM=dumb (Emacs's shell) the count was drawn all the same, its "\r" and
    "\x1b[K" shown raw, where the wait for a reply (WaitingLine) drew nothing."""
    monkeypatch.setenv("TERM", "dumb")
    err = Terminal()
    with Progress("exporting", 3, stream=err, after=0, output=Terminal()) as progress:
        progress.step(0)
    assert err.getvalue() == ""


def test_a_total_known_only_once_the_work_began() -> None:
    out = Terminal()
    with Progress("indexing", 0, stream=out, after=0, output=Terminal()) as progress:
        progress.step_of(5, 3010)
    assert "indexing 5 of 3,010" in out.getvalue()


def test_the_count_fits_in_one_row_of_a_narrow_terminal(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Wrapped onto a second row, it was never erased: stale counts piled up."""
    monkeypatch.setenv("COLUMNS", "12")
    out = Terminal()
    with Progress("indexing", 400, stream=out, after=0, output=Terminal()) as progress:
        progress.step(119)
    assert out.getvalue().startswith("\rindexing 11\x1b[K")


def test_a_notice_written_slowly_is_not_run_on_after_the_waiting_line() -> None:
    """Pipe mode erases the wait for a notice (a retry's). A writer that stalled past the
    moment the line stays off found it drawn again, and the notice ran on after it."""
    err = Terminal()
    line = WaitingLine(err, after=0)
    line.start()
    while "waiting" not in err.getvalue():
        time.sleep(0.01)
    with line.hidden():
        time.sleep(1.0)  # the writer stalls: a busy machine, a slow terminal
        err.write("the API is overloaded; retrying\n")
    line.stop()
    before_notice = err.getvalue().partition("the API is overloaded")[0]
    assert before_notice.endswith("\r\x1b[K")  # erased, and nothing drawn since
