"""Several workers' uvicorn, whose socket listens before the workers start.

uvicorn's supervisor binds the socket and logs "Uvicorn running on"; each worker calls
listen() only once its start-up is done (claudechat warms up there: warm.py), 8 to 13 s later.
Until then every connection was refused, though both "serving on" and uvicorn's line had been
printed: a service manager or load balancer that trusted them got refused connections. Here
the supervisor listens first, and only then are the lines printed: a connection made meanwhile
waits in the backlog until a worker accepts it. One worker listens first too (force_quit.py),
on each address its host stands for (run.bound_sockets).

Imported only once uvicorn is known to be installed (serve's extras).
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Callable

import uvicorn
from uvicorn.supervisors import Multiprocess

from claudechat.errors import UsageError


def serve(config: uvicorn.Config, listening: Callable[[], None]) -> None:
    """What uvicorn.run does with several workers, with the socket listening before
    `listening()` (which says so) and before any worker starts."""
    sock = listening_socket(config)
    listening()
    scheme = "https" if config.is_ssl else "http"
    host = f"[{config.host}]" if ":" in config.host else config.host
    logging.getLogger("uvicorn.error").info(
        "Uvicorn running on %s://%s:%d (Press CTRL+C to quit)", scheme, host, config.port
    )
    # The signal that stopped it is raised again once it has stopped, as uvicorn.run has it.
    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(config, sockets=[sock]).run()


def listening_socket(config: uvicorn.Config) -> socket.socket:
    """The socket as uvicorn's config.bind_socket() makes it (one address, inherited by the
    workers), and listening."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
        sock.listen(config.backlog)
    except OSError as exc:  # taken since _check_address looked (run.py)
        sock.close()
        from claudechat.server.run import url_host

        message = f"cannot listen on {url_host(config.host)}:{config.port}: {exc.strerror or exc}"
        raise UsageError(message) from exc
    sock.set_inheritable(True)
    return sock
