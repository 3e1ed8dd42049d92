"""A worker pushes its journal in the background: what it saved there while the store was
down reaches the store once it is back, whether or not that conversation is saved again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from claudechat.server.service import Service

log = logging.getLogger("claudechat.serve")

# A look at one empty folder while the store answers; once it is back, a turn saved during
# the outage reaches the other workers and hosts within this.
EVERY_SECONDS = 5.0


@contextlib.asynccontextmanager
async def draining(service: Service, every: float = EVERY_SECONDS) -> AsyncIterator[None]:
    task = asyncio.ensure_future(_drain(service, every))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _drain(service: Service, every: float) -> None:
    import anyio.to_thread

    while True:
        await asyncio.sleep(every)
        try:
            # Abandoned at shutdown: a push given up midway is pushed again at the next start.
            await anyio.to_thread.run_sync(service.push_journal, abandon_on_cancel=True)
        except Exception as exc:  # a store still down: the next round tries again
            log.debug("journal not pushed yet: %s", exc)
