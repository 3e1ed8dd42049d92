"""Stopping a reply that streams in another thread, at once.

A turn of `serve` is stopped from the event loop (its client left, the server is shutting
down), while its thread waits in a socket read for Claude's next event. Checked only when an
event arrives, a stop waited for the next one: seconds of thinking, or all of an upstream that
went silent (up to the stream's idle timeout), while shutdown waited too. Shutting the socket
down ends that read now; the stream then raises Stopped, which the session takes as Ctrl-C:
what arrived is kept, marked interrupted.

A stream belongs to the stop token (a threading.Event) of the work reading it, never to a
thread id: ids are reused, and a late stop for an ended turn must not end another's stream.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from claudechat.errors import Stopped

_owner = threading.local()  # .token: the stop token of the work this thread does now


class StreamHandle:
    def __init__(self, stops: StreamStops, token: threading.Event | None) -> None:
        self._stops, self._token = stops, token
        self.done = False

    def finished(self) -> None:
        """The stream's last event is read: its connection goes back to the pool next, and
        from then on is no longer this stream's to shut."""
        self.done = True
        if self._token is not None:
            self._stops.forget(self._token)


class StreamStops:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[threading.Event, Callable[[], None]] = {}  # token: how to end it

    @contextlib.contextmanager
    def owned_by(self, token: threading.Event) -> Iterator[None]:
        """The streams this thread reads meanwhile can be stopped with `token`."""
        _owner.token = token
        try:
            yield
        finally:
            _owner.token = None

    @contextlib.contextmanager
    def streaming(self, response: Any) -> Iterator[StreamHandle]:
        """Around the reading of one streamed response, in the thread that reads it."""
        token: threading.Event | None = getattr(_owner, "token", None)
        if token is not None:
            with self._lock:
                self._open[token] = lambda: _shut(response)
                if token.is_set():  # stopped before this stream began (a retry, say)
                    _shut(response)
        handle = StreamHandle(self, token)
        try:
            yield handle
        except Exception as exc:
            if token is not None and token.is_set():  # the read failed as it was ended
                raise Stopped("the reply was stopped") from exc
            raise
        finally:
            if token is not None:
                self.forget(token)
        if token is not None and token.is_set() and not handle.done:
            # A response that ends by closing its connection reads a shut socket as its end.
            raise Stopped("the reply was stopped")

    def pause(self, seconds: float) -> None:
        """Wait before asking again (a retry); a stop of the work this thread does ends the
        wait at once, as Stopped. Without a token (the REPL) Ctrl-C ends it."""
        token: threading.Event | None = getattr(_owner, "token", None)
        if token is None:
            time.sleep(seconds)
        elif token.wait(seconds):
            raise Stopped("the reply was stopped")

    def forget(self, token: threading.Event) -> None:
        with self._lock:
            self._open.pop(token, None)

    def stop(self, token: threading.Event) -> None:
        """`token` is set by its owner; end the stream it owns, if one is being read."""
        with self._lock:  # held while shutting: the stream cannot end and hand it back now
            end = self._open.get(token)
            if end is not None:
                end()


def _shut(response: Any) -> None:
    stream = response.extensions.get("network_stream")
    connection = stream.get_extra_info("socket") if stream is not None else None
    if connection is not None:
        with contextlib.suppress(OSError):  # closed already: nothing left to end
            connection.shutdown(socket.SHUT_RDWR)
