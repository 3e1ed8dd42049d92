"""The fork server: runs of the program forked from an interpreter that has imported it.

Nearly all of a one-shot command's CPU is the interpreter's start and its imports (the SDK
alone costs 1.3 to 2.5 s of CPU on these machines), and the suite runs the program hundreds of
times. A fork server (one per test process) imports the program and its libraries once, then
forks a child for each run. The child takes the run's argv, environment, working directory,
umask and standard streams, runs `python -m claudechat` (or a script) through runpy as a fresh
interpreter would, and exits through the interpreter's own shutdown (atexit, thread joins,
flushing), so its exit code and output are the program's own.

What a fork does not repeat is the interpreter's start and the imports. Tests of those
(start-up cost, what gets imported, signals during start-up, the terminal) start the program
for real. The test side (forked.py) starts a run fresh when its environment changes what an
interpreter reads once at start (PYTHON*, the locale, TZ, ...), and every run under
CLAUDECHAT_TEST_FRESH_PROCESSES=1 (but the fork server's own tests).

Server: `python forkserver.py SOCKET`, its standard input a pipe from the test process (it
exits when that closes). For each connection: the child's three standard streams as file
descriptors (SCM_RIGHTS), then one JSON line {module, argv, env, cwd, umask}; it answers
"pid N" once forked and "exit CODE" (the subprocess convention: -N for signal N) when reaped.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import runpy
import selectors
import shutil
import socket
import sys
import threading
import time
from typing import Any

# What the program imports lazily, at the point of use; the fork server takes the cost once.
PRELOAD = (
    "anthropic",
    "httpx",
    "boto3",
    "botocore.session",
    "sqlalchemy",
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.postgresql",
    "psycopg2",
    "alembic.command",
    "rich.console",
    "rich.markdown",
    "prompt_toolkit",
)
# -- the server ------------------------------------------------------------------------------


def preload() -> None:
    import importlib
    import pkgutil

    import claudechat

    for name in PRELOAD:
        importlib.import_module(name)
    for module in pkgutil.walk_packages(claudechat.__path__, "claudechat."):
        # __main__ runs the program; the migrations' env.py runs Alembic when imported.
        if module.name != "claudechat.__main__" and ".migrations" not in module.name:
            importlib.import_module(module.name)


class Server:
    """Forks a child per connection; watches its children (pidfds) and its test process."""

    def __init__(self, path: str) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.path = path
        self.listener.bind(path)
        self.listener.listen(64)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, self.fork)
        # Standard input is a pipe from the test process: at its end, that process is gone.
        self.selector.register(0, selectors.EVENT_READ, self.stop_if_orphaned)
        self.running: dict[int, tuple[int, socket.socket]] = {}  # pidfd: (pid, connection)

    def serve(self) -> tuple[dict[str, Any], list[int]]:
        """Returns only in a forked child, with its request and standard streams."""
        print("ready", flush=True)
        while True:
            for key, _ in self.selector.select():
                child: tuple[dict[str, Any], list[int]] | None = key.data(key.fd)
                if child is not None:
                    return child

    def fork(self, _fd: int) -> tuple[dict[str, Any], list[int]] | None:
        connection, _ = self.listener.accept()
        connection.settimeout(10)
        try:
            request, fds = receive(connection)
        except (OSError, ValueError):
            connection.close()  # a test process that died while asking
            return None
        assert threading.active_count() == 1  # a fork keeps only the calling thread
        pid = os.fork()
        if pid == 0:
            self.selector.close()
            self.listener.close()
            for pidfd, (_, other) in self.running.items():
                os.close(pidfd)
                other.close()
            connection.close()
            return request, fds
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        self.running[pidfd] = (pid, connection)
        self.selector.register(pidfd, selectors.EVENT_READ, self.reap)
        answer(connection, f"pid {pid}")
        return None

    def reap(self, pidfd: int) -> None:
        pid, connection = self.running.pop(pidfd)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        answer(connection, f"exit {os.waitstatus_to_exitcode(status)}")
        connection.close()

    def stop_if_orphaned(self, fd: int) -> None:
        if not os.read(fd, 1):
            # The test process may have ended without its atexit (pytest-xdist's workers do):
            # the server's folder (socket and log) goes with it here.
            shutil.rmtree(os.path.dirname(self.path), ignore_errors=True)
            sys.exit(0)  # running children go on, as a killed test's subprocesses would


def receive(connection: socket.socket) -> tuple[dict[str, Any], list[int]]:
    _, fds, _, _ = socket.recv_fds(connection, 1, 3)
    try:
        if len(fds) != 3:
            raise ConnectionError(f"{len(fds)} standard streams sent, not 3")
        line = b""
        while not line.endswith(b"\n"):
            chunk = connection.recv(65536)
            if not chunk:
                raise ConnectionError("the request was cut off")
            line += chunk
        return json.loads(line), fds
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise


def answer(connection: socket.socket, line: str) -> None:
    # If the test went away, the child runs on as an orphaned subprocess would.
    with contextlib.suppress(OSError):
        connection.sendall(line.encode() + b"\n")


def become(request: dict[str, Any], fds: list[int]) -> None:
    """Turn the forked child into the process a fresh `python` would have been."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.umask(request["umask"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()  # as a fresh start reads TZ
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        stream = standard_stream(fd, getattr(sys, name))
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
    sys.argv = list(request["argv"])


def standard_stream(fd: int, like: Any) -> io.TextIOWrapper:
    """A stream on fd made as the interpreter makes its own (the server's were made from the
    same start-up settings): the buffer sized by io.open, none for output under -u, then
    line-buffered on a terminal and for stderr."""
    name, mode = ("<stdin>", "r") if fd == 0 else ("<stdout>" if fd == 1 else "<stderr>", "w")
    unbuffered = isinstance(like.buffer, io.FileIO)
    # Kept open for the process's life, as the interpreter's own streams are.
    buffer: Any = open(fd, mode + "b", 0 if unbuffered else -1, closefd=False)  # noqa: SIM115
    raw = buffer if unbuffered else buffer.raw
    raw.name = name
    stream = io.TextIOWrapper(
        buffer,
        encoding=like.encoding,
        errors=like.errors,
        newline="\n",
        line_buffering=not unbuffered and (fd == 2 or raw.isatty()),
        write_through=like.write_through,
    )
    stream.mode = mode  # type: ignore[misc]
    return stream


def run(request: dict[str, Any]) -> None:
    if request["module"]:
        sys.path.insert(0, request["cwd"])
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    else:
        sys.path.insert(0, os.path.dirname(os.path.realpath(request["argv"][0])))
        runpy.run_path(request["argv"][0], run_name="__main__")


if __name__ == "__main__":
    sys.path.pop(0)  # this file's folder: the children set their own
    preload()
    # Out of the collector's sight: else a child's first full collection walks (and, writing
    # their reference counts, copies) every object the imports made.
    gc.freeze()
    child_request, child_fds = Server(sys.argv[1]).serve()
    become(child_request, child_fds)
    del child_request["env"]
    run(child_request)
