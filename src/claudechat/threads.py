"""Threads that leave SIGINT, SIGTERM and SIGHUP to the main thread.

Python runs signal handlers in the main thread whichever thread the kernel gave the signal to.
While the main thread blocks these signals (render.signals_held: a draw that must not be cut in
half by Ctrl-C), the kernel gives them to another thread that does not block them, and the
handler then runs in the main thread all the same, in the middle of the draw. Every thread
claudechat starts blocks them, so they wait for the main thread.
"""

from __future__ import annotations

import signal
import threading

MAIN_THREAD_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


class Thread(threading.Thread):
    def start(self) -> None:
        # A thread starts with its creator's signal mask.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, MAIN_THREAD_SIGNALS)
        try:
            super().start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
