"""A serve worker keeps the tokens it checked (storage/checked_tokens.py): forgotten all at
once when a token is revoked, each after REVALIDATE_SECONDS, and never kept where a revocation
came during its lookup or where the database is not an SQLite file."""

from __future__ import annotations

import os
from pathlib import Path

from claudechat.storage.checked_tokens import REVALIDATE_SECONDS, CheckedTokens


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _revoke(mark: Path) -> None:
    """As `token revoke` marks it, a moment later than the last time."""
    mark.touch()
    stat = mark.stat()
    os.utime(mark, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


def test_a_checked_token_is_kept_until_a_revocation(tmp_path: Path) -> None:
    mark = tmp_path / "claudechat.db.revoked"
    checked = CheckedTokens(mark, Clock())
    assert checked.user("h-alice") is None
    checked.keep("h-alice", "alice", checked.mark_state())
    assert checked.user("h-alice") == "alice"
    _revoke(mark)  # the first revocation creates the mark: a change too
    assert checked.user("h-alice") is None
    checked.keep("h-alice", "alice", checked.mark_state())
    assert checked.user("h-alice") == "alice"
    _revoke(mark)
    assert checked.user("h-alice") is None


def test_a_checked_token_is_asked_again_after_a_while(tmp_path: Path) -> None:
    clock = Clock()
    checked = CheckedTokens(tmp_path / "db.revoked", clock)
    checked.keep("h-bob", "bob", checked.mark_state())
    clock.now += REVALIDATE_SECONDS - 1
    assert checked.user("h-bob") == "bob"
    clock.now += 2
    assert checked.user("h-bob") is None  # deleted by hand, say: the database is asked


def test_a_lookup_that_a_revocation_overtook_is_not_kept(tmp_path: Path) -> None:
    mark = tmp_path / "db.revoked"
    checked = CheckedTokens(mark, Clock())
    before = checked.mark_state()
    _revoke(mark)  # while the database was being asked: the answer may be the revoked token
    checked.keep("h-carol", "carol", before)
    assert checked.user("h-carol") is None


def test_nothing_is_kept_without_a_mark_to_watch() -> None:
    """PostgreSQL: no folder every host shares, so every request asks the database."""
    checked = CheckedTokens(None, Clock())
    checked.keep("h-dan", "dan", checked.mark_state())
    assert checked.user("h-dan") is None


def test_a_revocation_that_cannot_mark_says_how_long_a_serve_may_accept_the_token(
    cli,  # type: ignore[no-untyped-def]
    isolated_home: Path,
) -> None:
    """The row is deleted all the same; running workers are not told at once, and say so."""
    created = cli("token", "create", "carol")
    assert created.returncode == 0, created.stderr
    token_id = next(
        line.split("\t")[0] for line in cli("token", "list").stdout.splitlines() if "carol" in line
    )
    # Where the mark goes, a link into a folder that does not exist: it cannot be written
    # (permissions would not stop root, which the suite may run as).
    mark = isolated_home / "claudechat.db.revoked"
    mark.symlink_to(isolated_home / "gone" / "mark")

    revoked = cli("token", "revoke", token_id)

    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stderr.splitlines() == [
        f"token {token_id} revoked",
        "warning: the mark beside the database cannot be written: a running serve accepts "
        f"the token for up to {REVALIDATE_SECONDS:g} s more",
    ]
    assert "carol" not in cli("token", "list").stdout
