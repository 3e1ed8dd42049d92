"""Runs of the program forked from an interpreter that has already imported it.

Nearly all of a one-shot command's CPU is the interpreter's start and its imports (the SDK
alone costs 1.3 to 2.5 s of CPU on these machines), and the suite runs the program hundreds of
times. A fork server (one per test process) imports the program and its libraries once, then
forks a child for each run. The child takes the run's argv, environment, working directory,
umask and standard streams, runs `python -m claudechat` (or a script) through runpy as a fresh
interpreter would, and exits through the interpreter's own shutdown (atexit, thread joins,
flushing), so its exit code and output are the program's own.

What a fork does not repeat is the interpreter's start and the imports. Tests of those
(start-up cost, what gets imported, signals during start-up, the terminal) start the program
for real, and so does every run when CLAUDECHAT_TEST_FRESH_PROCESSES=1. A run whose
environment changes how Python itself starts (PYTHON*, the locale) is started fresh too.

Server: `python forkserver.py SOCKET`, its standard input a pipe from the test process (it
exits when that closes). For each connection: the child's three standard streams as file
descriptors (SCM_RIGHTS), then one JSON line {module, argv, env, cwd, umask}; it answers
"pid N" once forked and "exit CODE" (the subprocess convention: -N for signal N) when reaped.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import io
import json
import os
import runpy
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
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
# Settings read once when the interpreter starts: a child must be started with the server's.
STARTUP_ENV = ("LANG", "LC_ALL", "LC_CTYPE")
# The tests' own settings, which change from test to test: not the server's to keep.
OWN_SETTINGS = ("CLAUDECHAT_", "ANTHROPIC_", "AWS_", "PYTEST_")


def starts_like_the_server(env: dict[str, str], server_env: dict[str, str]) -> bool:
    def startup(e: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in e.items() if k.startswith("PYTHON") or k in STARTUP_ENV}

    return startup(env) == startup(server_env)


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
            sys.exit(0)  # running children go on, as a killed test's subprocesses would


def receive(connection: socket.socket) -> tuple[dict[str, Any], list[int]]:
    _, fds, _, _ = socket.recv_fds(connection, 1, 3)
    line = b""
    while not line.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("the request was cut off")
        line += chunk
    return json.loads(line), fds


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
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        stream = standard_stream(fd, getattr(sys, name))
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
    sys.argv = list(request["argv"])


def standard_stream(fd: int, like: Any) -> io.TextIOWrapper:
    """A stream on fd made as the interpreter makes its own (the server's were made from the
    same start-up settings): buffered unless -u, then line-buffered on a terminal and stderr."""
    unbuffered = isinstance(like.buffer, io.FileIO)
    raw = io.FileIO(fd, "rb" if fd == 0 else "wb", closefd=False)
    buffer: Any = raw
    if not unbuffered:
        buffer = io.BufferedReader(raw) if fd == 0 else io.BufferedWriter(raw)
    return io.TextIOWrapper(
        buffer,
        encoding=like.encoding,
        errors=like.errors,
        newline="\n",
        line_buffering=not unbuffered and (fd == 2 or raw.isatty()),
        write_through=like.write_through,
    )


def run(request: dict[str, Any]) -> None:
    if request["module"]:
        sys.path.insert(0, request["cwd"])
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(request["argv"][0])))
        runpy.run_path(request["argv"][0], run_name="__main__")


# -- the client, in the test process -----------------------------------------------------------


class Forked:
    """A run in a child of the fork server, used as a subprocess.Popen with pipes is."""

    def __init__(
        self, connection: socket.socket, request: dict[str, Any], args: list[str], text: bool
    ) -> None:
        self.args = args
        self.returncode: int | None = None
        self._connection = connection
        self._text = text
        self._pending = b""
        stdin_read, self._stdin = os.pipe()
        self._stdout, stdout_write = os.pipe()
        self._stderr, stderr_write = os.pipe()
        child_ends = [stdin_read, stdout_write, stderr_write]
        try:
            socket.send_fds(connection, [b"F"], child_ends)
            connection.sendall(json.dumps(request).encode() + b"\n")
        finally:
            for fd in child_ends:
                os.close(fd)
        self.pid = int(self._line(timeout=60).split()[1])
        self._collected: dict[int, list[bytes]] = {self._stdout: [], self._stderr: []}
        self._threads: list[threading.Thread] = []

    def communicate(self, input: bytes | str | None = None, timeout: float | None = None) -> Any:
        if not self._threads:
            data = input.encode() if isinstance(input, str) else input or b""
            self._threads = [threading.Thread(target=self._write, args=(data,), daemon=True)]
            self._threads += [
                threading.Thread(target=self._read, args=(fd,), daemon=True)
                for fd in self._collected
            ]
            for thread in self._threads:
                thread.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
        self.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        out, err = (b"".join(self._collected[fd]) for fd in (self._stdout, self._stderr))
        return (out.decode(), err.decode()) if self._text else (out, err)

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = int(self._line(timeout).split()[1])
            self._connection.close()
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            os.kill(self.pid, signal.SIGKILL)

    def _line(self, timeout: float | None) -> str:
        self._connection.settimeout(timeout)
        while b"\n" not in self._pending:
            try:
                chunk = self._connection.recv(4096)
            except TimeoutError:
                raise subprocess.TimeoutExpired(self.args, timeout or 0) from None
            if not chunk:
                raise ConnectionError("the fork server went away")
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return line.decode()

    def _write(self, data: bytes) -> None:
        try:
            with open(self._stdin, "wb", closefd=True) as pipe:
                pipe.write(data)
        except BrokenPipeError:
            pass  # the program did not read it all, as with subprocess

    def _read(self, fd: int) -> None:
        with open(fd, "rb", closefd=True) as pipe:
            self._collected[fd].append(pipe.read())


class ForkServer:
    """The fork server of this test process, started at its first run."""

    def __init__(self, fresh: bool = False) -> None:
        self.fresh = fresh  # every run a fresh interpreter: the fork server is not used
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._env: dict[str, str] = {}
        self._socket = ""

    def popen(self, args: list[str], env: dict[str, str], text: bool = False) -> Any:
        """`args` forked when the server can run them as they are, else a fresh process."""
        target = self._target(args, env)
        if target is None or not starts_like_the_server(env, self._env):
            return subprocess.Popen(
                args,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                text=text,
            )
        module, argv = target
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(self._socket)
        umask = os.umask(0o022)
        os.umask(umask)
        request = {"module": module, "argv": argv, "env": env, "cwd": os.getcwd(), "umask": umask}
        return Forked(connection, request, args, text)

    def _target(self, args: list[str], env: dict[str, str]) -> tuple[str | None, list[str]] | None:
        if self.fresh or args[0] != sys.executable:
            return None
        self._start()
        if args[1] == "-m" and len(args) > 2:
            return args[2], ["-m", *args[3:]]  # runpy sets argv[0] to the module's path
        if args[1].endswith(".py"):
            return None, args[1:]
        return None

    def _server_env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith(OWN_SETTINGS)}

    def _start(self) -> None:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                folder = tempfile.mkdtemp(prefix="claudechat-forkserver-")
                self._socket = os.path.join(folder, "socket")
                self._env = self._server_env()
                with open(os.path.join(folder, "log"), "wb") as log:
                    self._process = subprocess.Popen(
                        [sys.executable, __file__, self._socket],
                        stdin=subprocess.PIPE,  # closed when this process ends
                        stdout=subprocess.PIPE,
                        stderr=log,
                        env=self._env,
                        cwd=folder,
                    )
                assert self._process.stdout is not None
                if self._process.stdout.readline() != b"ready\n":
                    raise RuntimeError(f"the fork server did not start: see {folder}/log")
                atexit.register(self._process.kill)
                atexit.register(shutil.rmtree, folder, True)


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
