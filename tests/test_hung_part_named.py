"""A store call given up at its deadline names the part that did not answer: "the store did
not answer within 5 s" left the S3 bucket and the database to guess between, while other
lines name "S3 bucket 'team-chats'"."""

from __future__ import annotations

import threading

import pytest

from claudechat.storage.guard import Guard, StoreUnansweredError, waiting_on
from claudechat.storage.metadata import database_errors
from servers import Blackhole
from test_outages import blackhole_store

TIMEOUT = {"CLAUDECHAT_STORE_TIMEOUT": "2"}


def test_the_guard_names_the_part_its_call_waits_on() -> None:
    release = threading.Event()

    def hangs_in_s3() -> None:
        with waiting_on(lambda: "S3 bucket 'team-chats'"):
            release.wait()

    guard = Guard(timeout=0.2)
    try:
        with pytest.raises(StoreUnansweredError) as given_up:
            guard.call(hangs_in_s3)
    finally:
        release.set()
    assert str(given_up.value) == "S3 bucket 'team-chats' did not answer within 0.2 s"
    with pytest.raises(StoreUnansweredError, match=r"^S3 bucket 'team-chats' did not answer"):
        guard.call(lambda: None)  # the open breaker says it again


def test_a_call_that_names_no_part_is_the_stores() -> None:
    release = threading.Event()
    try:
        with pytest.raises(StoreUnansweredError, match=r"^the store did not answer within"):
            Guard(timeout=0.2).call(release.wait)
    finally:
        release.set()


def test_a_hung_blob_store_is_named_as_the_bucket(team, fake_api, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bucket = team.storage_url.removeprefix("s3://").partition("/")[0]
    with Blackhole() as blobs:
        blackhole_store("blobs", blobs, monkeypatch)
        result = cli("chat", input="while S3 hangs", env=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert f"S3 bucket {bucket!r} did not answer within 2 s" in result.stderr, result.stderr
    assert "the store did not answer" not in result.stderr


def test_a_database_call_names_the_database() -> None:
    """libpq's own timeout names it at connect; a call stuck later (a stopped PostgreSQL
    behind an open connection) is the guard's to name."""
    release = threading.Event()

    def hangs_in_the_database() -> None:
        with database_errors("postgresql://chat:secret@db.example:6432/team"):
            release.wait()

    try:
        with pytest.raises(StoreUnansweredError) as given_up:
            Guard(timeout=0.2).call(hangs_in_the_database)
    finally:
        release.set()
    assert str(given_up.value) == "database team on db.example:6432 did not answer within 0.2 s"
