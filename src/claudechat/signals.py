"""SIGTERM and SIGHUP end claudechat the way Ctrl-C does: the reply so far is kept and saved.

Python turns SIGINT into KeyboardInterrupt, and every turn already keeps a partial reply on
KeyboardInterrupt; these handlers raise a subclass of it that carries the exit code.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

from claudechat.errors import ExitCode, Terminated

_REASONS = {
    signal.SIGTERM: ("terminated (SIGTERM)", ExitCode.TERMINATED),
    signal.SIGHUP: ("the terminal closed (SIGHUP)", ExitCode.HANGUP),
}


# Which of stdout and stderr are the terminal, noted at start: after a hangup the terminal
# may no longer say it is one.
_terminal_fds: list[int] = []

# After SIGTERM or SIGHUP the process saves what it has and ends; what it may still do is
# bounded (the store's deadline, then the journal). Past this it exits anyway: once, after a
# hangup at the prompt, prompt-toolkit's event loop waited forever on a task that never ended,
# with the signals that could have ended it ignored (a second one must not cut the save).
EXIT_DEADLINE_SECONDS = 30
# A signal that came while the main thread ran Python's import machinery is raised this much
# later instead (see _raise).
DEFERRED_SECONDS = 0.01
DEFERRED_AT_MOST = 2.0  # seconds, from the signal: then it is raised wherever the process is


def install() -> None:
    _terminal_fds[:] = [fd for fd in (1, 2) if _isatty(fd)]
    for signum in _REASONS:
        if signal.getsignal(signum) is signal.SIG_IGN:
            continue  # nohup and the like asked for this signal to be ignored: keep it so
        signal.signal(signum, _raise)


def _raise(signum: int, frame: FrameType | None) -> None:
    first = _first_signal.setdefault("signum", signum)  # one ending: the first one's
    deferred_since = _deferred_since.setdefault("at", time.monotonic())
    # Bounded: a long import (or one stuck) must not keep the process from ending.
    if _in_import_machinery(frame) and time.monotonic() - deferred_since < DEFERRED_AT_MOST:
        # Raised there, the exception can be swallowed ("Exception ignored in ... cb"), the
        # import lock still held: the signal was lost, every later import in any thread
        # waited, and the process hung until its exit deadline. Tried again in a moment.
        signal.signal(signal.SIGALRM, lambda _signum, later: _raise(first, later))
        signal.setitimer(signal.ITIMER_REAL, DEFERRED_SECONDS)
        return
    reason, code = _REASONS[signal.Signals(first)]
    # One ending is enough: a second signal must not cut short the save of the first.
    for other in (*_REASONS, signal.SIGINT):
        signal.signal(other, signal.SIG_IGN)
    # An alarm, not a thread: a thread cannot be started safely from a signal handler.
    signal.signal(signal.SIGALRM, lambda _signum, _frame: os._exit(code))
    signal.alarm(EXIT_DEADLINE_SECONDS)
    if first == signal.SIGHUP:
        _leave_dead_terminal()
    raise Terminated(reason, code)


_first_signal: dict[str, int] = {}  # the signal that ends the process (a deferred one)
_deferred_since: dict[str, float] = {}  # when it first came

_HELD = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP wait for a few lines that must not be cut in two (an object
    built and kept), then take effect as they came. Only around quick work: meanwhile the
    process does not answer them. In the main thread only, where Python runs its handlers
    (a signal mask held nothing: the kernel gave the signal to another thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in _HELD}
    for signum, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(signum, lambda number, _frame: came.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if came:
            signal.raise_signal(came[0])  # now, to the handler it was meant for


def end_at_once() -> None:
    """Once a command's work is done and the process is leaving: a signal ends it there and
    then, with its exit code and line (raised as usual, it escaped the command's handling as
    a traceback, or was swallowed by an exit handler and the process ended with 0)."""
    for signum in (*_REASONS, signal.SIGINT):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _end)


def _end(signum: int, _frame: FrameType | None) -> None:
    reason, code = _REASONS.get(signal.Signals(signum), ("interrupted", ExitCode.INTERRUPTED))
    line = "; ".join([reason, *_left_behind])
    with contextlib.suppress(OSError):
        os.write(2, f"claudechat: {line}\n".encode())
    os._exit(code)


# What the work left behind, as a session's latest save found it: a signal while the process
# leaves (its store closing) said "terminated (SIGTERM)" alone, where the line of a signal
# during a turn says what is kept.
_left_behind: list[str] = []


def leaving_behind(what: str | None) -> None:
    _left_behind[:] = [what] if what else []


def left_behind() -> str | None:
    """What the latest note says is left: said by a signal that came with no turn under way
    (a chat still starting, its message not saved yet)."""
    return _left_behind[0] if _left_behind else None


def _in_import_machinery(frame: FrameType | None) -> bool:
    """Whether the main thread is in the import machinery's own code, or in the body of a
    module an import statement is loading. Raised in a class body's __set_name__ (the SDK's
    lazy imports), the exception came out as a RuntimeError ("Error calling __set_name__"),
    taken for a stream cut off and asked again, the signal lost and the process ending with 0.
    Only an import (`_find_and_load`): a file run by its loader alone, as Alembic runs its
    env.py for a migration, is no import, and a signal there ends the migration."""
    if frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
        return True
    while frame is not None:
        code = frame.f_code
        if code.co_name == "_find_and_load" and code.co_filename == "<frozen importlib._bootstrap>":
            return True
        frame = frame.f_back
    return False


def _leave_dead_terminal() -> None:
    """After a hangup, writing to the terminal fails (EIO) or blocks: what is left to say goes
    nowhere, so the save that follows cannot be stopped by an error about the screen."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in _terminal_fds:
        with contextlib.suppress(OSError):
            os.dup2(devnull, fd)
    os.close(devnull)


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False
