"""Real servers for tests: a throwaway PostgreSQL 15 cluster and a blackholed listener (moto's
S3 server: s3_server.py).

Standard library + psycopg2 only, so any test module (or a benchmark) can import it without
pytest.

PostgreSQL refuses to run as root. When the tests run as root, every PostgreSQL binary is run
as the ``postgres`` user through ``runuser``, in a directory made by ``tempfile.mkdtemp`` (outside
pytest's 0700 root-owned tmp tree) and chowned to ``postgres``. Each cluster gets a fresh
ephemeral port, so a server left behind by a crashed run cannot block a later one.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

import psycopg2

POSTGRES_BIN = Path(os.environ.get("CLAUDECHAT_PG_BIN", "/usr/lib/postgresql/15/bin"))

_PG_USER = "postgres"
_READY_TIMEOUT = 20.0
_LOG_TAIL_LINES = 30


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago: bind port 0, read it, close the socket."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no server log at {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(server log is empty)"


class Started:
    """A server as a context manager: started on entry, stopped on exit."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class PostgresServer(Started):
    """A throwaway PostgreSQL 15 cluster on 127.0.0.1, run as the postgres user, fsync off.

    ``start()`` creates it; ``stop()`` kills it and deletes its directory. ``pause()`` stops the
    server but keeps the data, ``resume()`` starts it again on the same port and data directory
    (``restart()`` is both), to simulate an outage.
    """

    host: str
    port: int

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.base_dir: Path | None = None  # mkdtemp dir: socket, log, data/
        self._running = False
        self._as_root = os.geteuid() == 0

    # -- paths --------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        assert self.base_dir is not None, "call start() first"
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        assert self.base_dir is not None, "call start() first"
        return self.base_dir / "server.log"

    # -- running binaries ---------------------------------------------------------------

    def _run(
        self, *args: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess:
        """Run a PostgreSQL binary (as ``postgres`` when we are root), cwd "/"."""
        cmd = [str(POSTGRES_BIN / args[0]), *args[1:]]
        if self._as_root:
            cmd = ["runuser", "-u", _PG_USER, "--", *cmd]
        env = dict(os.environ, LC_ALL="C", LANG="C")
        for var in ("PGDATA", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD"):
            env.pop(var, None)
        proc = subprocess.run(
            cmd,
            cwd="/",
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
                + (f"\nserver log tail:\n{_tail(self.log_path)}" if self.base_dir else "")
            )
        return proc

    def _make_base_dir(self) -> Path:
        parent = os.environ.get("CLAUDECHAT_PG_TMPDIR") or tempfile.gettempdir()
        if self._as_root and not _traversable_by_others(Path(parent)):
            parent = "/tmp"  # e.g. TMPDIR points into a 0700 root-owned tree
        base = Path(tempfile.mkdtemp(prefix="claudechat-pg-", dir=parent))
        if self._as_root:
            pw = pwd.getpwnam(_PG_USER)
            os.chown(base, pw.pw_uid, pw.pw_gid)
        base.chmod(0o700)
        return base

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> PostgresServer:
        """Create a fresh cluster on a free port and wait until it accepts connections.

        On a paused server this is ``resume()``; on a running one it does nothing.
        """
        if self._running:
            return self
        if self.base_dir is not None:
            self.resume()
            return self
        if not (POSTGRES_BIN / "initdb").exists():
            raise RuntimeError(
                f"PostgreSQL binaries not found in {POSTGRES_BIN} "
                "(set CLAUDECHAT_PG_BIN, or apt-get install postgresql)"
            )
        self.base_dir = self._make_base_dir()
        atexit.register(self.stop)
        try:
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                _PG_USER,
                "-A",
                "trust",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C",
            )
            # The port can be taken between free_port() and the bind; try a few.
            for attempt in range(3):
                self.port = free_port(self.host)
                try:
                    self._pg_start()
                    break
                except RuntimeError:
                    if attempt == 2 or "could not bind" not in _tail(self.log_path, 200):
                        raise
        except BaseException:
            self.stop()
            raise
        return self

    def _pg_start(self) -> None:
        assert self.base_dir is not None
        options = (
            f"-h {self.host} -p {self.port} -k {self.base_dir} -F"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "start",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            str(int(_READY_TIMEOUT)),
            "-o",
            options,
        )
        self._running = True
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                psycopg2.connect(self.dsn(), connect_timeout=2).close()
                return
            except psycopg2.OperationalError as exc:
                last = exc
                time.sleep(0.05)
        raise RuntimeError(
            f"PostgreSQL on {self.host}:{self.port} did not accept connections within "
            f"{_READY_TIMEOUT:.0f} s (last error: {last})\n"
            f"server log tail:\n{_tail(self.log_path)}"
        )

    def pause(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``) but keep its data directory and port."""
        if not self._running:
            return
        self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w")
        self._running = False

    def resume(self) -> None:
        """Start the paused server again on the same port and data directory."""
        if self._running:
            return
        if self.base_dir is None:
            raise RuntimeError("resume() needs a server that was started and paused, not stopped")
        self._pg_start()

    def restart(self) -> None:
        """Stop the server process and start it again on the same port and data directory."""
        self.pause()
        self.resume()

    def stop(self) -> None:
        """Kill the server (``pg_ctl stop -m immediate``) and delete its directory. Idempotent."""
        base = self.base_dir
        if base is None:
            return
        if self._running or (base / "data" / "postmaster.pid").exists():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                self._run(
                    "pg_ctl",
                    "stop",
                    "-D",
                    str(base / "data"),
                    "-m",
                    "immediate",
                    "-w",
                    check=False,
                    timeout=30,
                )
            _kill_postmaster(base / "data")
        self._running = False
        shutil.rmtree(base, ignore_errors=True)
        self.base_dir = None
        atexit.unregister(self.stop)

    # -- connecting -----------------------------------------------------------------------

    def dsn(self, dbname: str = "postgres") -> str:
        """A libpq connection string for ``psycopg2.connect``."""
        return f"host={self.host} port={self.port} user={_PG_USER} dbname={dbname}"

    def url(self, dbname: str = "postgres") -> str:
        """A SQLAlchemy URL for the database ``dbname``."""
        return f"postgresql+psycopg2://{_PG_USER}@{self.host}:{self.port}/{dbname}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """CREATE DATABASE ``name`` (a copy of ``template``); return its SQLAlchemy URL."""
        from psycopg2 import sql

        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn = psycopg2.connect(self.dsn(), connect_timeout=5)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(statement)
        finally:
            conn.close()
        return self.url(name)


def _traversable_by_others(path: Path) -> bool:
    """Whether a non-root user can reach ``path`` (every component has o+x)."""
    try:
        path = path.resolve()
        return all(p.stat().st_mode & 0o001 for p in [path, *path.parents])
    except OSError:
        return False


def _kill_postmaster(data_dir: Path) -> None:
    """Last resort if pg_ctl could not stop it: SIGQUIT the postmaster named in postmaster.pid."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGQUIT)


# ---------------------------------------------------------------------------------------
# A blackholed server
# ---------------------------------------------------------------------------------------


class Blackhole:
    """A listener on 127.0.0.1 that accepts connections and never reads or answers: unlike a
    closed port, it makes a client wait for its own timeouts (a hung server, a dropped route).
    """

    def __init__(self) -> None:
        import threading

        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port = int(self._listener.getsockname()[1])
        self._held: list[socket.socket] = []
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(connection)  # held open, never read

    @property
    def accepted(self) -> int:
        return len(self._held)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for connection in self._held:
            connection.close()

    def __enter__(self) -> Blackhole:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
