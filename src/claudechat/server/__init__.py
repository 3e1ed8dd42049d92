"""`claudechat serve`: the HTTP API over the same ChatSession and store as the REPL.

Nothing here is imported by the other commands; FastAPI and uvicorn come in only with `serve`.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
from dataclasses import asdict, dataclass

from claudechat.errors import UsageError

OPTIONS_ENV = "CLAUDECHAT_SERVE_OPTIONS"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# A body trickling in holds a connection and its buffer: a client gets this long to send it.
DEFAULT_BODY_SECONDS = 30.0
# On the embedded store, how long a conversation rests before its turns answered first are
# pushed from the journal to the store (server/deferred_pushes.py).
DEFAULT_PUSH_QUIET_SECONDS = 2.0
LONGEST_PUSH_QUIET_SECONDS = 3600.0


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    no_auth: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # How long SIGTERM waits for replies in flight before saving them as interrupted.
    graceful_seconds: int = 20
    body_seconds: float = DEFAULT_BODY_SECONDS
    push_quiet_seconds: float = DEFAULT_PUSH_QUIET_SECONDS

    def __post_init__(self) -> None:
        # "[::1]" as URLs write it; uvicorn binds the bare address.
        if self.host.startswith("[") and self.host.endswith("]"):
            object.__setattr__(self, "host", self.host[1:-1])

    def check(self) -> None:
        quiet = self.push_quiet_seconds
        if not math.isfinite(quiet) or not 0 <= quiet <= LONGEST_PUSH_QUIET_SECONDS:
            raise UsageError(
                f"--push-after must be from 0 to {LONGEST_PUSH_QUIET_SECONDS:.0f} seconds, "
                f"not {quiet}"
            )
        if self.no_auth and not is_loopback(self.host):
            raise UsageError(
                f"--no-auth serves anyone who can reach {self.host}; it is allowed only on a "
                "loopback address (127.0.0.1, ::1, localhost). Create tokens with "
                "`claudechat token create USER` instead"
            )

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeOptions:
        """Workers are separate processes started by uvicorn: they read the options here."""
        raw = os.environ.get(OPTIONS_ENV)
        return cls(**json.loads(raw)) if raw else cls()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
