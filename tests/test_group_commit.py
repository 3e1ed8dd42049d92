"""SQLite writes queued together are committed together (group_commit.py), each exactly once,
and one write's failure stays its own; the WAL is copied back out of the writers' way
(checkpoints.py) and does not grow without end."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from claudechat.errors import StorageError
from claudechat.storage import checkpoints
from claudechat.storage.metadata import MetadataStore


def _metadata(tmp_path: Path) -> MetadataStore:
    metadata = MetadataStore(f"sqlite:///{tmp_path / 'claudechat.db'}")
    with metadata.writing() as connection:
        connection.exec_driver_sql("CREATE TABLE items (name TEXT PRIMARY KEY, body TEXT)")
    return metadata


def _insert(name: str, body: str = "") -> object:
    def work(connection: object) -> None:
        connection.exec_driver_sql(  # type: ignore[attr-defined]
            "INSERT INTO items VALUES (?, ?)", (name, body)
        )

    return work


def _names(metadata: MetadataStore) -> list[str]:
    with metadata.engine.connect() as connection:
        return [row[0] for row in connection.exec_driver_sql("SELECT name FROM items")]


def _commits(metadata: MetadataStore) -> list[int]:
    from sqlalchemy import event

    counted = [0]
    event.listen(metadata.engine, "commit", lambda _conn: counted.__setitem__(0, counted[0] + 1))
    return counted


def _queued_behind_the_lock(metadata: MetadataStore, works: list[object]) -> list[object]:
    """Start a writer for each work while the test holds the writers' lock; release it once all
    are queued. Returns what each writer raised (None: nothing)."""
    outcomes: list[object] = [None] * len(works)

    def write(position: int) -> None:
        try:
            metadata.write_retrying(works[position], "the items")  # type: ignore[arg-type]
        except Exception as exc:
            outcomes[position] = exc

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(works))]
    with metadata._one_writer:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(metadata._group._queue) < len(works):  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the writers never queued"
            time.sleep(0.005)
    for thread in threads:
        thread.join(10)
    return outcomes


def test_writers_queued_together_share_one_transaction(tmp_path: Path) -> None:
    metadata = _metadata(tmp_path)
    commits = _commits(metadata)
    outcomes = _queued_behind_the_lock(metadata, [_insert(f"item {i}") for i in range(6)])
    assert outcomes == [None] * 6
    assert sorted(_names(metadata)) == [f"item {i}" for i in range(6)]
    # The first to arrive led alone (it took the lock after the test); the other five shared.
    assert commits[0] <= 2, commits


def test_one_failing_write_fails_alone(tmp_path: Path) -> None:
    metadata = _metadata(tmp_path)
    metadata.write_retrying(_insert("taken"), "the items")  # type: ignore[arg-type]
    works = [_insert("first"), _insert("second"), _insert("taken"), _insert("fourth")]
    outcomes = _queued_behind_the_lock(metadata, works)
    assert [type(outcome) for outcome in outcomes] == [type(None)] * 2 + [StorageError] + [
        type(None)
    ]
    assert "kept changing" in str(outcomes[2])
    assert isinstance(outcomes[2].__cause__, IntegrityError)  # type: ignore[union-attr]
    assert sorted(_names(metadata)) == ["first", "fourth", "second", "taken"]


def test_many_threads_every_write_exactly_once(tmp_path: Path) -> None:
    metadata = _metadata(tmp_path)

    def writer(number: int) -> None:
        for turn in range(40):
            metadata.write_retrying(_insert(f"{number}-{turn}"), "the items")  # type: ignore[arg-type]

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    names = _names(metadata)
    assert len(names) == len(set(names)) == 16 * 40


def test_a_lock_that_cannot_be_taken_fails_every_queued_writer(tmp_path: Path) -> None:
    metadata = _metadata(tmp_path)

    class Broken:
        def __enter__(self) -> None:
            raise StorageError("the lock is gone")

        def __exit__(self, *_exc: object) -> None:
            pass

    def in_a_thread(name: str) -> BaseException | None:  # the main thread writes alone
        raised: list[BaseException] = []

        def write() -> None:
            try:
                metadata.write_retrying(_insert(name), "the items")  # type: ignore[arg-type]
            except BaseException as exc:
                raised.append(exc)

        thread = threading.Thread(target=write)
        thread.start()
        thread.join(10)
        return raised[0] if raised else None

    metadata._group._writers = Broken()  # type: ignore[union-attr]
    failed = in_a_thread("never")
    assert isinstance(failed, StorageError) and "the lock is gone" in str(failed)
    metadata._group._writers = metadata._one_writer  # type: ignore[union-attr]
    assert in_a_thread("later") is None  # the next writer leads again
    assert _names(metadata) == ["later"]


def test_the_main_thread_writes_alone(tmp_path: Path) -> None:
    """Only the main thread gets Ctrl-C: it never waits in the queue or leads it."""
    metadata = _metadata(tmp_path)
    queued: list[int] = []
    original = metadata._group._queue  # type: ignore[union-attr]

    class Watched(list):  # type: ignore[type-arg]
        def append(self, item: object) -> None:
            queued.append(1)
            super().append(item)

    metadata._group._queue = Watched(original)  # type: ignore[union-attr]
    metadata.write_retrying(_insert("from main"), "the items")  # type: ignore[arg-type]
    assert queued == [] and _names(metadata) == ["from main"]


def _largest_wal(tmp_path: Path, commits: int) -> int:
    metadata = _metadata(tmp_path)
    wal = tmp_path / "claudechat.db-wal"
    largest = 0
    for number in range(commits):
        metadata.write_retrying(_insert(f"item {number}", "x" * 3000), "the items")  # type: ignore[arg-type]
        largest = max(largest, wal.stat().st_size)
        time.sleep(0.001)  # a writer that never pauses keeps the lock from the checkpoint
    assert len(_names(metadata)) == commits
    metadata.close()
    return largest


def test_checkpoints_keep_the_wal_small_and_lose_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits = 10 * checkpoints.COMMITS_BETWEEN
    (tmp_path / "ours").mkdir()
    (tmp_path / "none").mkdir()
    ours = _largest_wal(tmp_path / "ours", commits)
    monkeypatch.setattr(checkpoints.Checkpoints, "committed", lambda _self: None)
    without = _largest_wal(tmp_path / "none", commits)  # SQLite's backstop alone
    assert ours < without / 2, (ours, without)


def test_closing_the_store_ends_its_checkpoint_thread(tmp_path: Path) -> None:
    metadata = _metadata(tmp_path)
    for number in range(checkpoints.COMMITS_BETWEEN):
        metadata.write_retrying(_insert(f"item {number}"), "the items")  # type: ignore[arg-type]
    thread = metadata._checkpoints._thread  # type: ignore[union-attr]
    assert thread is not None and thread.name == "sqlite-checkpoints"
    metadata.close()
    thread.join(5)
    assert not thread.is_alive()


def test_closing_waits_for_a_checkpoint_under_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, finished = threading.Event(), threading.Event()

    def slow_checkpoint(_self: object) -> None:
        started.set()
        time.sleep(0.5)
        finished.set()

    monkeypatch.setattr(checkpoints.Checkpoints, "checkpoint", slow_checkpoint)
    metadata = _metadata(tmp_path)
    for number in range(checkpoints.COMMITS_BETWEEN):
        metadata.write_retrying(_insert(f"item {number}"), "the items")  # type: ignore[arg-type]
    assert started.wait(5)
    metadata.close()
    assert finished.is_set()  # not still running against a closed engine
