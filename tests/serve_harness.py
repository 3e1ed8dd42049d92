"""`claudechat serve` as a real subprocess on a free loopback port, for tests and bench/.

The server gets its own data directory and environment (fake Messages API, storage), so a
module-scoped server can answer many tests; the fake's queue is shared, tests reset it.
"""

from __future__ import annotations

import atexit
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from fakes.anthropic_api import FakeAnthropic
from s3_server import S3Server, aws_test_env
from servers import PostgresServer, free_port

_OWN_PREFIXES = ("CLAUDECHAT_", "ANTHROPIC_", "AWS_")

# Where a Serve given no home makes one. The suite points it into pytest's temporary folder
# (conftest), which pytest prunes; left in /tmp, every run of the suite left a dozen behind.
HOMES_PARENT: Path | None = None

# Every Serve started and not yet stopped. One started in a test's body was stopped by nothing
# when an assertion failed before its stop(): conftest stops those as their test ends, and
# whatever is left is stopped as the test process exits.
_RUNNING: set[Serve] = set()


def running() -> set[Serve]:
    return set(_RUNNING)


def stop_all(servers: set[Serve]) -> None:
    for server in servers:
        server.stop()


atexit.register(lambda: stop_all(running()))


def clean_env(**extra: str) -> dict[str, str]:
    """The parent's environment without anything that would point claudechat elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", **extra)
    return env


def team_env(postgres: PostgresServer, s3: S3Server) -> dict[str, str]:
    """A fresh database and bucket: PostgreSQL + S3 as a team would run them."""
    unique = uuid.uuid4().hex[:12]
    bucket = f"serve-{unique}"
    s3.create_bucket(bucket)
    return {
        **aws_test_env(s3.endpoint_url),
        "CLAUDECHAT_DATABASE_URL": postgres.create_database(f"s_{unique}"),
        "CLAUDECHAT_STORAGE_URL": f"s3://{bucket}/chats",
    }


def wait_until(condition: Callable[[], object], what: str, timeout: float = 30) -> None:
    """Poll `condition` until it holds; fail saying `what` never happened."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.02)


class Serve:
    """One `claudechat serve` process; its stderr (the server log) goes to a file."""

    def __init__(self, env: dict[str, str], *args: str, home: Path | None = None) -> None:
        self.home = home or Path(tempfile.mkdtemp(prefix="serve-home-", dir=HOMES_PARENT))
        self.env = {"CLAUDECHAT_HOME": str(self.home), "CLAUDECHAT_USER": "tester", **env}
        self.port = free_port()
        self.args = args
        self.log_path = self.home / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Another claudechat command against the same store (token, show, list)."""
        return subprocess.run(
            [sys.executable, "-m", "claudechat", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def token(self, user: str) -> str:
        created = self.cli("token", "create", user)
        assert created.returncode == 0, created.stderr
        return created.stdout.strip()

    def start(self, timeout: float = 120, probe: str = "/health") -> Serve:
        """Started once `probe` answers 200 (/health: with the stores reachable)."""
        self.launch()
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.base_url + probe, timeout=1, trust_env=False).is_success:
                    self._probe_logged(probe)
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"serve did not come up:\n{self.log()}")

    def _probe_logged(self, probe: str) -> None:
        """The probe's access line is written after its answer: a test counting the lines
        from the start on would find it arrive late, and count it as its own."""
        deadline = time.monotonic() + 5
        while f'"GET {probe}" 200' not in self.log() and time.monotonic() < deadline:
            time.sleep(0.02)

    def launch(self) -> Serve:
        """The process started, not waited for."""
        self.home.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "claudechat", "serve", "--port", str(self.port)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*command, *self.args],
                env=self.env,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        _RUNNING.add(self)
        return self

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(
            base_url=self.base_url, headers=headers, timeout=30, trust_env=False, **kwargs
        )

    def settled(self, seconds: float = 15) -> None:
        """Wait until the journal holds no save: on the embedded store a JSON turn is answered
        before its push, which a test touching the stored files directly must not race."""
        journal = self.home / "journal"
        wait_until(lambda: not any(journal.glob("*/*.json")), "the saves pushed", seconds)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 30) -> int | None:
        if self.process is None:
            return None
        self.terminate()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
        finally:
            _RUNNING.discard(self)

    def __enter__(self) -> Serve:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def access_lines(serve: Serve, since: int, pattern: str, count: int = 1) -> list[str]:
    """The log's lines after `since` matching `pattern`, once there are `count` of them (an
    access line is written as its answer ends, perhaps after the client has read it)."""
    deadline = time.monotonic() + 10
    while True:
        found = re.findall(pattern, serve.log()[since:])
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def sse_events(lines: Any) -> list[tuple[str, str]]:
    """(event, data) pairs from an iterator of SSE lines."""
    events, name, data = [], "message", []
    for line in lines:
        if line == "":
            if data:
                events.append((name, "\n".join(data)))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
    return events


def text_of(content: Any) -> str:
    """The text of stored or sent message content: a string, or a list of content blocks."""
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if block.get("type") == "text")


def listed(http: httpx.Client) -> list[dict[str, Any]]:
    """GET /conversations less each row's `unsynced`: an earlier test's turn may still be on its
    way to the store, so the flag can change between two listings while nothing was saved."""
    rows = http.get("/conversations").json()["conversations"]
    return [{key: value for key, value in row.items() if key != "unsynced"} for row in rows]


def conversation_json(http: httpx.Client, conversation_id: str) -> dict[str, Any]:
    """The conversation as GET /get_conversation answers it, asserted found."""
    answer = http.get("/get_conversation", params={"conversation_id": conversation_id})
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def api_env(fake: FakeAnthropic) -> dict[str, str]:
    """A clean environment pointing the program at the fake Messages API."""
    from conftest import API_KEY  # here: conftest imports this module

    return clean_env(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake.base_url)
