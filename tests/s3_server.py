"""A real S3 for tests: moto's server on 127.0.0.1, over HTTP, and the environment that points
boto3 (in this process or a subprocess) at it.

moto keeps its state in module-level backends of *this* process: buckets and objects survive
``S3Server.pause()``/``resume()`` (and any stop/start of a ``ThreadedMotoServer``), and are shared
by every ``S3Server`` (and every ``moto.mock_aws``) in the process. Call ``reset()`` to wipe them.
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import threading
import urllib.request
from typing import Any

from servers import Started

# moto's server logs every request through werkzeug at INFO.
logging.getLogger("werkzeug").setLevel(logging.ERROR)


TEST_REGION = "us-east-1"
TEST_ACCESS_KEY = "testing"
TEST_SECRET_KEY = "testing"


def aws_test_env(endpoint_url: str) -> dict[str, str]:
    """Environment variables that point a subprocess's boto3 (default configuration) at moto.

    Merge into a copy of ``os.environ``; also drop ``AWS_PROFILE``/``AWS_SESSION_TOKEN`` and
    similar from it if the parent might have them, since a profile cannot be found in the
    empty config files set here.
    """
    return {
        "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET_KEY,
        "AWS_DEFAULT_REGION": TEST_REGION,
        "AWS_REGION": TEST_REGION,
        "AWS_ENDPOINT_URL_S3": endpoint_url,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


class AtomicWrites:
    """S3 applies a conditional write atomically. moto checks If-Match or If-None-Match, then
    writes, and its threaded server runs other requests in between: two writers expecting the
    same version could both succeed, and one's turns vanish. Writes, one at a time here, are
    atomic again; reads still run alongside them."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return self.app(environ, start_response)
        # The body first, outside the lock: a writer that stalls mid-upload holds up no other.
        environ["wsgi.input"] = io.BytesIO(_body(environ))
        with self.lock:  # the whole response made inside
            response = self.app(environ, start_response)
            try:
                return list(response)
            finally:
                if hasattr(response, "close"):
                    response.close()


class Hangable:
    """Requests held, unanswered, while `awake` is clear (S3Server.hang()): a store that
    accepts and never answers, until it wakes and answers them all."""

    def __init__(self, app: Any, awake: threading.Event) -> None:
        self.app = app
        self.awake = awake

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.awake.wait()
        return self.app(environ, start_response)


def _body(environ: dict[str, Any]) -> bytes:
    """The request's body: to its end when the server knows it (chunked), else its length
    (the connection stays open: reading on would wait for the client's next request)."""
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):
        return bytes(stream.read())
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return bytes(stream.read(length)) if length > 0 else b""


def _moto_server_class(awake: threading.Event) -> type:
    """ThreadedMotoServer with atomic writes (AtomicWrites), polling for shutdown every 50 ms
    instead of werkzeug's 500 ms (``stop()`` waits for ``serve_forever``'s poll: with the
    default that is about 0.45 s per stop or pause). Needs moto's internals as pinned."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    # Without it, writes would race (AtomicWrites): fail here rather than flake later.
    assert hasattr(ThreadedMotoServer, "_server_entry"), "moto's server moved: see s3_server.py"

    class FastStopMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = Hangable(AtomicWrites(DomainDispatcherApplication(create_backend_app)), awake)
            self._server = make_server(
                self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever(poll_interval=0.05)

    return FastStopMotoServer


class S3Server(Started):
    """moto's ThreadedMotoServer on 127.0.0.1 with an ephemeral port.

    moto's state lives in this process, not in the server: buckets and objects survive
    ``pause()``/``resume()``, and are shared with any other moto server or ``mock_aws`` in the
    process. ``reset()`` wipes everything.
    """

    host: str
    port: int
    endpoint_url: str

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.endpoint_url = ""
        self._server: Any = None
        self._awake = threading.Event()
        self._awake.set()

    def _serve(self, port: int) -> None:
        server = _moto_server_class(self._awake)(ip_address=self.host, port=port, verbose=False)
        server.start()
        self._server = server
        self.port = int(server.get_host_and_port()[1])
        self.endpoint_url = f"http://{self.host}:{self.port}"

    def start(self) -> S3Server:
        if self._server is None:
            self._serve(0)
            atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """Stop the server (within about 50 ms). Idempotent.

        moto's state is kept (it is process-wide); call ``reset()`` first to drop it.
        """
        self._awake.set()  # requests held by hang() answered, not left holding the stop
        server, self._server = self._server, None
        if server is not None:
            server.stop()  # shutdown() + join; serve_forever closes the listening socket
            atexit.unregister(self.stop)

    def pause(self) -> None:
        """Simulate an outage: stop listening; connections are refused until ``resume()``."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def resume(self) -> None:
        """Listen again on the same port. Buckets and objects from before the pause are there."""
        if self._server is None:
            if not self.port:
                raise RuntimeError("resume() needs a server that was started and paused")
            self._serve(self.port)

    def hang(self) -> None:
        """Simulate a hung store: connections are accepted, requests are not answered until
        ``wake()``."""
        self._awake.clear()

    def wake(self) -> None:
        """Answer again, the requests held meanwhile first."""
        self._awake.set()

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server; ``config`` adds botocore Config options
        (e.g. ``retries={"max_attempts": 1}``, ``connect_timeout=1``)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=TEST_REGION,
            aws_access_key_id=TEST_ACCESS_KEY,
            aws_secret_access_key=TEST_SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}, **config),
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def reset(self) -> None:
        """Wipe all moto state (every bucket and object, in every moto backend)."""
        req = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # ignore *_proxy
        with opener.open(req, timeout=10) as resp:
            resp.read()
