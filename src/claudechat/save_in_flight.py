"""A save that runs beside the request to Claude, so a turn waits for the store once, not twice.

The user's message is in the local journal before the request leaves (the store's
`begin_save`); pushing it to the store takes a few milliseconds, or up to the store's deadline
when the store is slow or silent, and none of that needs to hold up the request. The session
waits for the push before it touches the conversation again (the reply's own save, a partial
reply kept), so saves stay in order and the store's merged document is never overwritten by
an older one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from claudechat.reused_threads import run_soon

if TYPE_CHECKING:
    from claudechat.storage.results import SaveResult


class SaveInFlight:
    def __init__(self, push: Callable[[], SaveResult]) -> None:
        # A kept thread, not a daemon: a process on its way out still finishes the save.
        self._push = run_soon(push)

    def result(self) -> SaveResult:
        """Wait for the push (bounded by the store's deadline) and return what it did."""
        return self._push.result()
