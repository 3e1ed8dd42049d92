"""One worker's uvicorn, whose force quit (a second Ctrl-C) still saves and closes the store.

With several workers (workers.py) uvicorn's supervisor runs its own server in each worker, so
a force quit there is uvicorn's own, untouched by this module.

Imported only once uvicorn is known to be installed (serve's extras).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import Callable

import uvicorn
from uvicorn.main import STARTUP_FAILURE  # uvicorn.run's exit when the app did not start

from claudechat.errors import ExitCode, Terminated

# How long the handlers of replies already answered get to return once the app has shut down.
HANDLERS_ENDING_SECONDS = 1.0


class Server(uvicorn.Server):
    """A second Ctrl-C while shutdown waits for replies in flight ("CTRL+C to force quit")
    made uvicorn skip the app's shutdown: the replies were left to be cancelled as the event
    loop closed, KeyboardInterrupt and CancelledError tracebacks filled the log, and the store
    was never closed (an SQLite database kept its -wal and -shm files). Now it ends only the
    wait: the app's shutdown still stops the replies, saves what arrived of them, marked
    interrupted, tells their clients so, and closes the store."""

    # Set once forced to quit: how many requests still had no answer at the end.
    unanswered: int | None = None

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        if self.force_exit:
            # As when the grace period runs out: each request's handler stops its turn and
            # answers 503 shutting_down (left running, the turn was told its client had left).
            for task in self.server_state.tasks:
                task.cancel(msg="forced to quit")
            await self.lifespan.shutdown()
            self.unanswered = await _still_running(self.server_state.tasks)


async def _still_running(tasks: set[asyncio.Task[None]]) -> int:
    """The requests not done once their turns were stopped and saved (each answered request
    ends a moment after its answer is sent)."""
    if tasks:
        await asyncio.wait(list(tasks), timeout=HANDLERS_ENDING_SECONDS)
    return sum(not task.done() for task in tasks)


def serve(config: uvicorn.Config, listening: Callable[[], None]) -> None:
    """What uvicorn.run does with one worker, with Server in place of uvicorn's, and its
    sockets listening before `listening()` says so, as several workers' do (workers.py): one
    on each address the host stands for, as asyncio's server binds them. A name (localhost) was
    left to uvicorn, which listened only after the app's start-up, a second after "serving on",
    and refused connections meanwhile."""
    from claudechat.server.run import bound_sockets

    sockets = bound_sockets(config.host, config.port, config.backlog)
    listening()
    server = Server(config)
    # The signal that stopped it is raised again once it has stopped, as uvicorn.run has it.
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=sockets)
    if server.unanswered is not None:
        raise Terminated(_forced_line(server.unanswered), ExitCode.INTERRUPTED)
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _forced_line(unanswered: int) -> str:
    if not unanswered:
        return (
            "forced to quit; the replies in flight were stopped, and what arrived of them "
            "saved, marked interrupted"
        )
    return (
        f"forced to quit; {unanswered} request(s) in flight had no answer by then, and what "
        "arrived of their replies may not be saved"
    )
