"""The tokens a `serve` worker has checked, kept so that a request need not ask the database.

Every authenticated request looked its token up: a database read and a hand-over to a store
thread, about 1.2 ms of CPU a request under load and 4 to 5 ms of the added p99 latency
(`bench_serve.py --what-if cached-tokens`). A token's user never changes; a token only ends.
So a worker keeps the tokens it found, each for REVALIDATE_SECONDS, and forgets them all at
once when the revocation mark beside an SQLite database changes: `token revoke` touches it
after its commit, so a revoked token is refused by the very next request, as before. The time
limit covers a token ended some other way (a row deleted by hand, a database restored).
PostgreSQL has no folder every host shares: there each request asks the database.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from claudechat.storage.metadata import MetadataStore

REVALIDATE_SECONDS = 30.0
MarkState = tuple[int, int] | None  # the mark's (inode, mtime in ns); None: no mark yet


def revocation_mark(metadata: MetadataStore) -> Path | None:
    """Beside an SQLite database file; None for any other database."""
    database = metadata.engine.url.database
    if metadata.engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    path = Path(database)
    return path.with_name(path.name + ".revoked")


def mark_revoked(metadata: MetadataStore) -> bool:
    """After a token's row is gone: running workers forget the tokens they checked. False when
    the mark cannot be written (a read-only folder): they find out within REVALIDATE_SECONDS."""
    mark = revocation_mark(metadata)
    if mark is None:
        return True
    try:
        mark.touch(mode=0o600)  # an existing file's time set to now, to the nanosecond
    except OSError:
        return False
    return True


class CheckedTokens:
    """Token hashes and their users, for one worker's event loop (no lock: one thread)."""

    def __init__(self, mark: Path | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._mark = mark
        self._clock = clock
        self._users: dict[str, tuple[str, float]] = {}
        self._seen = self.mark_state()

    def mark_state(self) -> MarkState:
        if self._mark is None:
            return None
        with contextlib.suppress(OSError):
            found = os.stat(self._mark)
            return found.st_ino, found.st_mtime_ns
        return None

    def user(self, token_hash: str) -> str | None:
        """The user of a token checked lately, unless a token was revoked since."""
        if self._mark is None:
            return None
        state = self.mark_state()
        if state != self._seen:
            self._users.clear()
            self._seen = state
            return None
        found = self._users.get(token_hash)
        if found is None or self._clock() - found[1] > REVALIDATE_SECONDS:
            return None
        return found[0]

    def keep(self, token_hash: str, user: str, state_before: MarkState) -> None:
        """A token the database just gave `user` for, looked up when the mark was in
        `state_before`: not kept if a revocation came meanwhile (it may be this token's)."""
        if self._mark is None or state_before != self._seen or self.mark_state() != state_before:
            return
        self._users[token_hash] = (user, self._clock())
