"""The test side of the fork server (forkserver.py): runs used as subprocess.Popen is.

ForkServer.popen forks a run from this test process's fork server when the server can run it
as it is (the program as `python -m MODULE` or a script, with an environment that starts
Python alike), else starts it fresh with subprocess.Popen; either way the caller gets pipes,
communicate(), wait(), kill() and returncode.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SERVER = Path(__file__).with_name("forkserver.py")
# What an interpreter (or a library, as it is imported) reads once at start: a run whose
# environment differs from the server's in any of these is started fresh.
STARTUP_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "ANTHROPIC_LOG", "TYPER_USE_RICH")
# The tests' own settings, which change from test to test: not the server's to keep.
OWN_SETTINGS = ("CLAUDECHAT_", "ANTHROPIC_", "AWS_", "PYTEST_")


def starts_alike(env: dict[str, str], server_env: dict[str, str]) -> bool:
    def startup(e: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in e.items() if k.startswith("PYTHON") or k in STARTUP_ENV}

    return startup(env) == startup(server_env)


def current_umask() -> int:
    """Read, not set and restored: other threads may be starting runs meanwhile."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    raise RuntimeError("no Umask in /proc/self/status")


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
        self._pidfd: int | None = None
        stdin_read, self._stdin = os.pipe()
        self._stdout, stdout_write = os.pipe()
        self._stderr, stderr_write = os.pipe()
        self._collected: dict[int, list[bytes]] = {self._stdout: [], self._stderr: []}
        self._threads: list[threading.Thread] = []
        self._pipes_taken = False  # by communicate's threads, or closed
        child_ends = [stdin_read, stdout_write, stderr_write]
        try:
            socket.send_fds(connection, [b"F"], child_ends)
            connection.sendall(json.dumps(request).encode() + b"\n")
            self.pid = int(self._line(timeout=60).split()[1])
        except BaseException:
            self.close()
            raise
        finally:
            for fd in child_ends:
                os.close(fd)
        # The server reaps the child, so its pid could be reused: signals go to the pidfd.
        with contextlib.suppress(ProcessLookupError):  # ended already
            self._pidfd = os.pidfd_open(self.pid)

    def communicate(self, input: bytes | str | None = None, timeout: float | None = None) -> Any:
        if not self._pipes_taken:
            self._pipes_taken = True
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
            thread.join(_left(deadline))
            if thread.is_alive():
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
        self.wait(_left(deadline))
        out, err = (b"".join(self._collected[fd]) for fd in (self._stdout, self._stderr))
        return (_as_text(out), _as_text(err)) if self._text else (out, err)

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = int(self._line(timeout).split()[1])
            self.close()
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None and self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError):  # ended meanwhile
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)

    def close(self) -> None:
        """What this side still holds: the connection, the pidfd, and the pipes' ends when
        communicate() never ran (closing stdin tells a child waiting for input that none
        comes, as a collected Popen does)."""
        self._connection.close()
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        if not self._pipes_taken:
            self._pipes_taken = True
            for fd in (self._stdin, self._stdout, self._stderr):
                os.close(fd)

    def __del__(self) -> None:
        if self.returncode is None:
            self.close()

    def _line(self, timeout: float | None) -> str:
        # Never 0: that would make the socket non-blocking, and recv raise BlockingIOError.
        self._connection.settimeout(None if timeout is None else max(timeout, 0.001))
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


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _as_text(data: bytes) -> str:
    """As Popen(text=True) decodes: the locale's encoding, universal newlines."""
    return io.TextIOWrapper(io.BytesIO(data)).read()


class ForkServer:
    """The fork server of this test process, started at its first run. `env`: the server's
    environment, taken when the suite starts (tests change their own as they go)."""

    def __init__(self, env: dict[str, str], fresh: bool = False) -> None:
        self.fresh = fresh  # every run a fresh interpreter: the fork server is not used
        self._env = {k: v for k, v in env.items() if not k.startswith(OWN_SETTINGS)}
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._socket = ""

    def popen(self, args: list[str], env: dict[str, str], text: bool = False) -> Any:
        """`args` forked when the server can run them as they are, else a fresh process."""
        target = self._target(args, env)
        if target is None:
            return subprocess.Popen(
                args,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                text=text,
            )
        module, argv = target
        self._start()
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(self._socket)
        request = {
            "module": module,
            "argv": argv,
            "env": env,
            "cwd": os.getcwd(),
            "umask": current_umask(),
        }
        return Forked(connection, request, args, text)

    def _target(self, args: list[str], env: dict[str, str]) -> tuple[str | None, list[str]] | None:
        if self.fresh or args[0] != sys.executable or not starts_alike(env, self._env):
            return None
        if args[1] == "-m" and len(args) > 2:
            return args[2], ["-m", *args[3:]]  # runpy sets argv[0] to the module's path
        if args[1].endswith(".py"):
            return None, args[1:]
        return None

    def _start(self) -> None:
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                return
            folder = tempfile.mkdtemp(prefix="claudechat-forkserver-")
            self._socket = os.path.join(folder, "socket")
            with open(os.path.join(folder, "log"), "wb") as log:
                self._process = subprocess.Popen(
                    [sys.executable, str(SERVER), self._socket],
                    stdin=subprocess.PIPE,  # closed when this process ends: the server ends
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
