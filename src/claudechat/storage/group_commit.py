"""Saves that reach SQLite together are committed together.

SQLite takes one writer at a time, so under serve's load the saves' transactions queue for the
writers' lock (writer_lock.py). Every hand-over of that lock wakes another thread, which must
then win the GIL from all the process's other threads before it runs a line of its transaction:
with fifty turns in flight, one save in ten waited over 100 ms for a lock that each transaction
held for a few. So the writer that gets the lock runs every transaction queued meanwhile, in one
transaction of its own, and the others find theirs done when the lock reaches them. When that
shared transaction fails, each runs again alone, so one save's failure is never another's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import contextlib

    from sqlalchemy.engine import Connection

Work = Callable[["Connection"], None]


class _Ticket:
    def __init__(self, work: Work, alone: Callable[[], None]) -> None:
        self.work = work
        self.alone = alone  # the same work in a transaction of its own, retried as it needs
        self.leads = False  # this ticket's writer commits the next batch
        self.done = False
        self.error: BaseException | None = None
        self.woken = threading.Event()


class GroupCommit:
    """One writer at a time leads: it takes the writers' lock, commits every ticket queued by
    then, and hands the lead to the first ticket that arrived meanwhile. The others sleep until
    their ticket is done, so the lock changes hands once a batch, not once a save."""

    def __init__(
        self,
        writers: contextlib.AbstractContextManager[Any],
        transaction: Callable[[], contextlib.AbstractContextManager[Connection]],
    ) -> None:
        self._writers = writers
        self._transaction = transaction
        self._queue: list[_Ticket] = []
        self._leading = False
        self._mutex = threading.Lock()

    def run(self, work: Work, alone: Callable[[], None]) -> None:
        """work(connection) committed, alone or with the others queued now; `alone` runs it in
        a transaction of its own (under the writers' lock, which is held then)."""
        if threading.current_thread() is threading.main_thread():
            # Only the main thread gets Ctrl-C and signals: one interrupted while it waited
            # or led would leave the others' tickets without a leader. It writes alone.
            with self._writers:
                alone()
            return
        ticket = _Ticket(work, alone)
        with self._mutex:
            self._queue.append(ticket)
            if not self._leading:
                self._leading = ticket.leads = True
        if not ticket.leads:
            ticket.woken.wait()
        if ticket.leads and not ticket.done:
            self._lead()
        if ticket.error is not None:
            raise ticket.error

    def _lead(self) -> None:
        batch: list[_Ticket] = []
        try:
            with self._writers:
                batch = self._take()
                self._commit(batch)
        except BaseException as exc:  # the lock or the commit failed: every ticket's error
            batch = batch or self._take()
            for ticket in batch:
                if not ticket.done:
                    ticket.error, ticket.done = exc, True
        finally:
            self._pass_on(batch)

    def _take(self) -> list[_Ticket]:
        with self._mutex:
            batch, self._queue = self._queue, []
        return batch

    def _pass_on(self, batch: list[_Ticket]) -> None:
        with self._mutex:
            successor = self._queue[0] if self._queue else None
            if successor is None:
                self._leading = False
            else:
                successor.leads = True
        for ticket in batch:
            ticket.woken.set()
        if successor is not None:
            successor.woken.set()

    def _commit(self, batch: list[_Ticket]) -> None:
        if len(batch) == 1:  # nobody to share with: as if there were no group
            self._alone(batch)
            return
        try:
            with self._transaction() as connection:
                for ticket in batch:
                    ticket.work(connection)
        except Exception:
            self._alone(batch)
            return
        for ticket in batch:
            ticket.done = True

    @staticmethod
    def _alone(batch: list[_Ticket]) -> None:
        for ticket in batch:
            try:
                ticket.alone()
            except Exception as exc:  # this ticket's own failure, handed to its writer
                ticket.error = exc
            ticket.done = True
