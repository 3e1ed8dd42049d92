"""SIGTERM and SIGHUP end claudechat the way Ctrl-C does: the reply so far is kept and saved.

Python turns SIGINT into KeyboardInterrupt, and every turn already keeps a partial reply on
KeyboardInterrupt; these handlers raise a subclass of it that carries the exit code.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from claudechat.errors import ExitCode, Terminated

_REASONS = {
    signal.SIGTERM: ("terminated (SIGTERM)", ExitCode.TERMINATED),
    signal.SIGHUP: ("the terminal closed (SIGHUP)", ExitCode.HANGUP),
}


def install() -> None:
    for signum in _REASONS:
        if signal.getsignal(signum) is signal.SIG_IGN:
            continue  # nohup and the like asked for this signal to be ignored: keep it so
        signal.signal(signum, _raise)


def _raise(signum: int, _frame: FrameType | None) -> None:
    reason, code = _REASONS[signal.Signals(signum)]
    # One ending is enough: a second signal must not cut short the save of the first.
    for other in (*_REASONS, signal.SIGINT):
        signal.signal(other, signal.SIG_IGN)
    if signum == signal.SIGHUP:
        _leave_dead_terminal()
    raise Terminated(reason, code)


def _leave_dead_terminal() -> None:
    """After a hangup, writing to the terminal fails (EIO) or blocks: what is left to say goes
    nowhere, so the save that follows cannot be stopped by an error about the screen."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream.isatty():
                os.dup2(devnull, stream.fileno())
        except (OSError, ValueError):
            continue
    os.close(devnull)
