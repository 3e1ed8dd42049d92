"""Starting the server: checks first, then uvicorn with claudechat's logging."""

from __future__ import annotations

import logging
import os
import signal
from typing import TYPE_CHECKING, Any

from claudechat.errors import UsageError
from claudechat.server import OPTIONS_ENV, ServeOptions

if TYPE_CHECKING:
    import socket

    from claudechat.settings import Settings
    from claudechat.storage.accounts import Tokens

LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


def tokens(settings: Settings | None = None) -> Tokens:
    from claudechat.commands import opening
    from claudechat.storage.accounts import Tokens
    from claudechat.storage.metadata import MetadataStore

    # Its warnings said (a misspelt variable), as every command's.
    settings = settings or opening.settings()
    metadata = MetadataStore(settings.database_url, settings.auto_migrate)
    opening.close_at_exit(metadata)
    return Tokens(metadata)


def run(options: ServeOptions) -> None:
    options.check()
    from claudechat.claude_setup import check_credentials
    from claudechat.commands import opening
    from claudechat.output import status

    settings = opening.settings()
    check_credentials(settings)
    if options.no_auth:
        settings.user  # noqa: B018  (its check: requests act as this user, refused later)
    known = _known_tokens(settings)
    _check_blob_store(settings)
    if not options.no_auth and known == 0:
        status("warning: no tokens yet; create one with `claudechat token create USER`", "yellow")
    try:
        import uvicorn
    except ImportError as exc:
        # Installed from a checkout, the package's name finds nothing: both are said.
        raise UsageError(
            "serve needs its extras: pip install 'claudechat[serve]' "
            "(from a checkout: pip install '.[serve]')"
        ) from exc
    os.environ[OPTIONS_ENV] = options.to_env()
    _check_address(options.host, options.port)
    _hangup_stops_as_sigterm()
    app = "claudechat.server.app:create_app"
    config = uvicorn.Config(
        app,
        factory=True,
        host=options.host,
        port=options.port,
        workers=options.workers,
        log_config=log_config(),
        access_log=False,  # ours names user and conversation and leaves out the query
        timeout_graceful_shutdown=options.graceful_seconds,
        server_header=False,
    )
    serving = f"serving on http://{url_host(options.host)}:{options.port} (Ctrl-C to stop)"
    if options.workers > 1:
        from claudechat.server import workers

        workers.serve(config, lambda: status(serving))
    else:
        from claudechat.server import force_quit

        force_quit.serve(config, lambda: status(serving))


def _known_tokens(settings: Settings) -> int | None:
    """How many tokens there are, migrating the database once here, not in several workers at
    the same moment. A database that refuses the configuration (a wrong password, a schema to
    upgrade) stops the start (exit 2). One that does not answer is an outage, said as the blob
    store's is, and the server starts: a database still booting beside it (both started at
    boot by a service manager) made serve exit 5 at once, again and again. Its requests
    answer 503 until the database is back, then run, a token checked as each comes (None:
    the tokens could not be counted; every request needs one all the same)."""
    from claudechat.errors import StorageError, StoreRefusedError
    from claudechat.output import status

    try:
        return len(tokens(settings).list())
    except StoreRefusedError:
        raise
    except StorageError as exc:
        status(f"warning: the database did not answer at start: {exc}", "yellow")
        return None


def _check_blob_store(settings: Settings) -> None:
    """A bucket that does not exist, or S3 credentials it rejects, refused at start as a wrong
    database password is: the server started without a word, and every turn went to the
    journal for good. A store that does not answer is an outage: said, and the server starts
    (its turns wait in the journal until the store is back)."""
    from claudechat.errors import StorageError, StoreRefusedError
    from claudechat.output import status
    from claudechat.storage import open_blob_store
    from claudechat.storage.blobs import ping
    from claudechat.storage.guard import Guard

    blobs = open_blob_store(settings)
    try:
        Guard(settings.store_timeout).call(lambda: ping(blobs))
    except StoreRefusedError:
        raise
    except StorageError as exc:
        status(f"warning: the blob store did not answer at start: {exc}", "yellow")


def _hangup_stops_as_sigterm() -> None:
    """One worker's uvicorn handles SIGINT and SIGTERM only, so a SIGHUP met the CLI's own
    handler (raise, as Ctrl-C) inside its event loop: a traceback, no grace period, exit 0.
    Now it stops the server as SIGTERM does. With several workers uvicorn's supervisor takes
    SIGHUP over and restarts them, as it documents."""
    if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
        return  # nohup: ignored, as asked
    signal.signal(signal.SIGHUP, lambda _signum, _frame: os.kill(os.getpid(), signal.SIGTERM))


def _check_address(host: str, port: int) -> None:
    """A port taken by another program, or an address not on this machine, in one line (exit 2)
    before "serving on" is printed: uvicorn found out only after starting, and exited 3."""
    for sock in bound_sockets(host, port):
        sock.close()


def bound_sockets(host: str, port: int, backlog: int | None = None) -> list[socket.socket]:
    """A socket bound to each address the host stands for, as asyncio's server binds them (a
    name such as localhost may stand for 127.0.0.1 and ::1), and listening with a `backlog`.
    An IPv6 socket is IPv6-only beside others only: `::` alone still takes IPv4 too, as the
    workers' socket does (uvicorn's bind_socket)."""
    import socket

    sockets: list[socket.socket] = []
    try:
        found = dict.fromkeys(
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        )
        for family, kind, proto, _name, address in found:
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and len(found) > 1:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            if backlog is not None:
                sock.listen(backlog)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        message = f"cannot listen on {url_host(host)}:{port}: {exc.strerror or exc}"
        raise UsageError(message) from exc
    return sockets


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class GraceRanOut(logging.Filter):
    """uvicorn logs the end of the grace period at ERROR ("Cancel 1 running task(s), timeout
    graceful shutdown exceeded"); it is the documented way a SIGTERM ends replies still in
    flight (saved, their clients told), and every such stop tripped log alerting. A warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and "graceful shutdown exceeded" in str(record.msg):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def log_config() -> dict[str, Any]:
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "plain",
        "stream": "ext://sys.stderr",
        "filters": ["grace_ran_out"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": LOG_FORMAT}},
        # Named, not the class itself: the configuration goes to every worker process.
        "filters": {"grace_ran_out": {"()": "claudechat.server.run.GraceRanOut"}},
        "handlers": {"stderr": handler},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "claudechat": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
    }
