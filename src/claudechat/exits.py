"""How the process ends: every way out of a command becomes one line and one exit code.

Typer (depending on its version) turns KeyboardInterrupt into its own exit 130 or an
"Aborted!", and a closed stdout into exit 1, before the application sees them. Commands are
therefore wrapped so that these leave the command inside an exception no framework catches.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import sys
from collections.abc import Callable
from typing import Any

from claudechat.errors import ApiError, ClaudechatError, ExitCode, Terminated

# What a write to our output can fail with; any other OSError without a file name is no
# output's fault, and is not to be reported as one.
OUTPUT_FAILURES = {errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EFBIG, errno.EBADF}


class Escaped(BaseException):
    """Carries an interruption or a closed stdout past the CLI framework to `ending()`."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(original)
        self.original = original


def guarded(command: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (KeyboardInterrupt, BrokenPipeError) as exc:
            raise Escaped(exc) from exc

    return wrapper


def ending(exc: BaseException) -> int:
    """The line to print (if any) and the exit code for an exception that ended a command."""
    from claudechat.output import error
    from claudechat.secret_masking import mask_url_password

    if isinstance(exc, Escaped):
        exc = exc.original
    if isinstance(exc, Terminated):
        from claudechat.signals import left_behind

        kept = exc.kept or left_behind()
        _say(f"{exc.reason}; {kept}" if kept else exc.reason)
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        _say("interrupted")
        return ExitCode.INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        # Whether a reader leaving early even shows depends on pipe buffer sizes, so it is
        # never a failure: one exit code, 0, however the race went.
        silence_stdout()
        return ExitCode.OK
    if isinstance(exc, ClaudechatError):
        message = mask_url_password(str(exc))
        if isinstance(exc, ApiError) and exc.retryable:
            message += "; try again"
        error(message)
        say_notes(exc)
        return exc.exit_code
    if isinstance(exc, OSError) and exc.filename:
        # A local file the environment will not let us use (owner, permissions, a full or
        # read-only disk): no bug of ours, so one line, as for any other store failure.
        error(f"cannot use {exc.filename}: {exc.strerror or exc}")
        return ExitCode.STORAGE
    if isinstance(exc, OSError) and exc.errno in OUTPUT_FAILURES:
        # Without a file name: our own output (`list > /dev/full`, a terminal gone).
        return output_failed(exc)
    raise exc


def say_notes(exc: BaseException) -> None:
    """What an error led to and what may help ("did you mean claude-sonnet-4-6?", "the
    conversation goes back to ..."), said after its line: said as they happened, they came
    above the error they follow from."""
    from claudechat.output import status

    for note in getattr(exc, "__notes__", ()):
        status(str(note))


def output_failed(exc: OSError) -> int:
    """Our own output could not be written: said in one line, and what is still buffered for
    it goes nowhere (it would fail again at exit)."""
    silence_stdout()
    _say(f"cannot write the output: {exc.strerror or exc}")
    return ExitCode.STORAGE


def _say(message: str) -> None:
    from claudechat.output import error

    with contextlib.suppress(OSError):  # the terminal is gone; the exit code still tells
        error(message)


def silence_stdout() -> None:
    """A reader that closed our stdout (`claudechat list | head -1`) wants no more; point
    stdout at /dev/null so the last flush at exit cannot complain about it."""
    _to_devnull(sys.stdout)


def _to_devnull(stream: Any) -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


class UnfailingStderr:
    """stderr for status lines and errors: one that is closed or cannot be written (`chat 2>&1 |
    head -1`, `2>/dev/full`) must decide neither the turn nor its exit code. A retry notice's
    failed write ended the turn before its retry, and the error line's hid the exit code (0).
    What cannot be written is dropped, and so is everything after it."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.failed = False

    def write(self, text: str) -> int:
        if not self.failed:
            try:
                return int(self._stream.write(text))
            except BlockingIOError:
                pass  # a non-blocking stderr that is full for now: this line only is lost
            except OSError:
                self._fail()
        return len(text)

    def flush(self) -> None:
        if not self.failed:
            try:
                self._stream.flush()
            except BlockingIOError:
                pass
            except OSError:
                self._fail()

    def _fail(self) -> None:
        self.failed = True
        _to_devnull(self._stream)  # what is still buffered would fail again, and complain

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding, buffer ...
        return getattr(self._stream, name)
