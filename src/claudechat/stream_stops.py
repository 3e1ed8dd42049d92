"""Stopping a reply that streams in another thread, at once.

A turn of `serve` is stopped from the event loop (its client left, the server is shutting
down), while its thread waits in a socket read for Claude's next event. Checked only when an
event arrives, a stop waited for the next one: seconds of thinking, or all of an upstream that
went silent (up to the stream's idle timeout), while shutdown waited too. Shutting the socket
down ends that read now; the stream then raises Stopped, which the session takes as Ctrl-C:
what arrived is kept, marked interrupted.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from claudechat.errors import Stopped


class StreamStops:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[int, Callable[[], None]] = {}  # by thread: how to end its stream
        self._stopped: set[int] = set()

    @contextlib.contextmanager
    def streaming(self, response: Any) -> Iterator[None]:
        """Around the reading of one streamed response, in the thread that reads it."""
        reader = threading.get_ident()
        with self._lock:
            self._open[reader] = lambda: _shut(response)
        try:
            yield
        except Exception:
            with self._lock:
                stopped = reader in self._stopped
            if stopped:  # the read failed because it was ended on purpose
                raise Stopped("the reply was stopped") from None
            raise
        finally:
            with self._lock:
                self._open.pop(reader, None)
                self._stopped.discard(reader)

    def stop(self, reader: int | None) -> None:
        """End the stream `reader` (a thread; None: not started) is reading, if any now."""
        if reader is None:
            return
        with self._lock:
            end = self._open.get(reader)
            if end is None:
                return
            self._stopped.add(reader)
        end()


def _shut(response: Any) -> None:
    stream = response.extensions.get("network_stream")
    connection = stream.get_extra_info("socket") if stream is not None else None
    if connection is not None:
        with contextlib.suppress(OSError):  # closed already: nothing left to end
            connection.shutdown(socket.SHUT_RDWR)
