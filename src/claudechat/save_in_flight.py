"""A save that runs beside the request to Claude, so a turn waits for the store once, not twice.

The user's message is in the local journal before the request leaves (the store's
`begin_save`); pushing it to the store takes a few milliseconds, or up to the store's deadline
when the store is slow or silent, and none of that needs to hold up the request. The session
waits for the push before it touches the conversation again (the reply's own save, a partial
reply kept), so saves stay in order and the store's merged document is never overwritten by
an older one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from claudechat.storage.results import SaveResult


class SaveInFlight:
    def __init__(self, push: Callable[[], SaveResult]) -> None:
        self._push = push
        self._result: SaveResult | None = None
        self._error: BaseException | None = None
        # Not a daemon: a process on its way out still finishes (or journals) the save.
        self._thread = threading.Thread(target=self._run, name="save-beside-request")
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._push()
        except BaseException as exc:  # handed to whoever waits for the result
            self._error = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> SaveResult:
        """Wait for the push (bounded by the store's deadline) and return what it did."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result
