"""A worker pushes its journal in the background: what it saved there while the store was
down reaches the store once it is back, whether or not that conversation is saved again."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Collection

from claudechat.errors import ClaudechatError
from claudechat.server.service import Service
from claudechat.storage.store import ConversationStore

log = logging.getLogger("claudechat.serve")

# A look at one empty folder while the store answers; once it is back, a turn saved during
# the outage reaches the other workers and hosts within this.
EVERY_SECONDS = 5.0


@contextlib.asynccontextmanager
async def draining(
    service: Service, busy: Callable[[], Collection[str]] = tuple, every: float = EVERY_SECONDS
) -> AsyncIterator[None]:
    """Push the journal every `every` seconds, but not the conversations `busy()` names: the
    turns of this worker under way, each of which pushes its own entry when it ends (a JSON
    turn's message waits in the journal for the whole reply). Pushed by the drain too, they
    were pushed twice, and said to have been "saved while the store was down". `busy` is
    asked on the drain's thread, once each user's journal is read: a turn that began after a
    read of its entry is named too."""
    task = asyncio.ensure_future(_drain(service, busy, every))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _drain(service: Service, busy: Callable[[], Collection[str]], every: float) -> None:
    import anyio.to_thread

    told: set[str] = set()  # the users whose journal could not be read, said once
    while True:
        await asyncio.sleep(every)
        try:
            # Abandoned at shutdown: a push given up midway is pushed again at the next start.
            push = functools.partial(push_journal, service.store, busy, told)
            await anyio.to_thread.run_sync(push, abandon_on_cancel=True)
        except Exception as exc:  # a store still down: the next round tries again
            log.debug("journal not pushed yet: %s", exc)


def push_journal(
    store: ConversationStore, busy: Callable[[], Collection[str]], told: set[str]
) -> list[str]:
    """Push what this worker saved to its journal while the store was down (and what gone
    workers left there), but for the conversations `busy()` names. A REPL pushes at its next
    save; a worker may never save that conversation again, and meanwhile other workers, hosts
    and the CLI do not see it."""
    pushed: list[str] = []
    for user in store.journal.users():
        try:
            pushed += store.sync(user, busy).pushed
        except ClaudechatError as exc:  # a folder not named as users are: the others go on
            if user not in told:  # once, not every round
                told.add(user)
                log.warning("journal of %r not pushed: %s", user, exc)
    if pushed:
        log.info("pushed %d conversation(s) saved while the store was down", len(pushed))
    return pushed
