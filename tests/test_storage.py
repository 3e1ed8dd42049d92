"""One contract for every storage implementation: the local folder and S3, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import stat
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claudechat.conversation import Conversation, utc_now
from claudechat.errors import (
    CorruptDocumentError,
    NewerFormatError,
    NotFoundError,
    StorageError,
    UsageError,
)
from claudechat.merging import merge
from claudechat.settings import load_settings
from claudechat.storage import cache as cache_module
from claudechat.storage import ids, open_blob_store, open_store
from claudechat.storage.blobs import BlobNotFoundError, LocalBlobStore
from claudechat.storage.store import ConversationStore
from claudechat.storage.versions import StoredVersions
from conftest import content_text


@pytest.fixture
def store(backend) -> ConversationStore:  # type: ignore[no-untyped-def]
    opened = open_store(load_settings())
    yield opened
    opened.close()


def conversation(user: str = "tester", text: str = "hello", **kwargs) -> Conversation:  # type: ignore[no-untyped-def]
    convo = Conversation.new(user, "claude-sonnet-4-6", **kwargs)
    convo.append("user", text)
    return convo


# -- blob stores ---------------------------------------------------------------------------


def test_blob_store_contract(backend) -> None:  # type: ignore[no-untyped-def]
    blobs = open_blob_store(load_settings())
    key = f"tester/{uuid.uuid4()}.json"
    blobs.put(key, b'{"a": 1}')
    assert blobs.get(key) == b'{"a": 1}'
    blobs.put(key, b'{"a": 2}')
    assert blobs.get(key) == b'{"a": 2}'
    other = f"testers/{uuid.uuid4()}.json"  # a user whose id starts like tester's
    blobs.put(other, b"{}")
    assert key in blobs.list("tester/") and other not in blobs.list("tester/")
    assert blobs.location(key).startswith("s3://" if backend.name == "team" else "file://")
    blobs.delete(key)
    with pytest.raises(BlobNotFoundError):
        blobs.get(key)
    assert key not in blobs.list("tester/")


def test_local_blobs_are_private_and_atomic(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "store")
    blobs.put("u/doc.json", b"x" * 1000)
    path = tmp_path / "store" / "u" / "doc.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "store").stat().st_mode) == 0o700
    # No temporary files are left beside the document.
    assert not list(path.parent.glob("*.tmp"))
    assert [p.name for p in path.parent.iterdir() if not p.name.startswith(".")] == ["doc.json"]


def test_local_blobs_refuse_keys_outside_the_root(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "store")
    for key in ("../escape.json", "/etc/passwd", "u/../../x.json"):
        with pytest.raises(StorageError):
            blobs.put(key, b"{}")
    assert not (tmp_path / "escape.json").exists()


# -- the conversation store ----------------------------------------------------------------


def test_save_then_load_round_trips(store: ConversationStore) -> None:
    convo = conversation(text="héllo 👋", name="greeting", system="be brief")
    store.save(convo)
    convo.append("assistant", "hi", tokens=1, tokens_exact=True)
    store.save(convo)
    loaded = store.load("tester", convo.id)
    assert loaded.to_document() == convo.to_document()


def test_metadata_row_describes_the_document(store: ConversationStore, backend) -> None:  # type: ignore[no-untyped-def]
    convo = conversation(text="what is a monad", name=None)
    store.save(convo)
    (row,) = store.list("tester").rows
    assert row.conversation_id == convo.id
    assert row.user_id == "tester"
    assert row.message_count == 1
    assert row.preview == "what is a monad"
    if backend.name == "team":
        assert row.s3_file_location == f"{backend.storage_url}/tester/{convo.id}.json"
    else:
        assert row.s3_file_location.endswith(f"/conversations/tester/{convo.id}.json")


def test_list_is_newest_first_and_limited(store: ConversationStore) -> None:
    saved = []
    for index in range(5):
        convo = conversation(text=f"message {index}")
        convo.updated_at = utc_now() + timedelta(minutes=index)
        store.save(convo)
        saved.append(convo.id)
    assert [r.conversation_id for r in store.list("tester").rows] == saved[::-1]
    assert [r.conversation_id for r in store.list("tester", limit=2).rows] == saved[::-1][:2]


def test_prefix_lookup_unknown_and_ambiguous(store: ConversationStore) -> None:
    first, second = conversation(), conversation()
    first.id = "abcd1111-0000-4000-8000-000000000000"
    second.id = "abcd2222-0000-4000-8000-000000000000"
    store.save(first)
    store.save(second)
    assert store.load("tester", "abcd1").id == first.id
    assert store.load("tester", "ABCD2222").id == second.id
    with pytest.raises(NotFoundError, match="matches 2 conversations"):
        store.load("tester", "abcd")
    with pytest.raises(NotFoundError, match="no conversation"):
        store.load("tester", "ffff")
    with pytest.raises(UsageError):
        store.load("tester", "../x")


def test_users_never_see_each_other(store: ConversationStore) -> None:
    mine, theirs = conversation("alice"), conversation("bob")
    store.save(mine)
    store.save(theirs)
    assert [r.conversation_id for r in store.list("alice").rows] == [mine.id]
    with pytest.raises(NotFoundError) as missing:
        store.load("alice", theirs.id)
    with pytest.raises(NotFoundError) as unknown:
        store.load("alice", str(uuid.uuid4()))
    # Another user's id answers exactly as a missing one, apart from the id itself.
    assert str(missing.value).replace(theirs.id, "X") == str(unknown.value).split("'")[0] + "'X'"


def test_corrupt_document_is_reported_with_its_location(store: ConversationStore) -> None:
    convo = conversation()
    store.save(convo)
    key = store.blob_key("tester", convo.id)
    store.blobs.put(key, b'{"format": 1, "id": ')
    with pytest.raises(CorruptDocumentError, match="invalid JSON") as raised:
        store.load("tester", convo.id)
    assert convo.id in str(raised.value)


def test_newer_format_is_refused_not_misread(store: ConversationStore) -> None:
    convo = conversation()
    store.save(convo)
    document = convo.to_document() | {"format": 99}
    store.blobs.put(store.blob_key("tester", convo.id), json.dumps(document).encode())
    with pytest.raises(NewerFormatError, match="upgrade claudechat"):
        store.load("tester", convo.id)


def test_document_owner_must_match_its_row(store: ConversationStore) -> None:
    convo = conversation()
    store.save(convo)
    forged = convo.to_document() | {"user_id": "mallory"}
    store.blobs.put(store.blob_key("tester", convo.id), json.dumps(forged).encode())
    with pytest.raises(CorruptDocumentError, match="owner"):
        store.load("tester", convo.id)


def test_document_carries_a_format_version(store: ConversationStore) -> None:
    convo = conversation()
    store.save(convo)
    stored = json.loads(store.blobs.get(store.blob_key("tester", convo.id)))
    assert stored["format"] == 2
    assert content_text(stored["messages"][0]["content"]) == "hello"


def test_the_local_copy_is_written_once_per_version(store: ConversationStore) -> None:
    """A turn loads what the previous one saved: the cache has that very version already."""
    assert store.cache is not None
    convo = conversation()
    store.save(convo)
    cached = store.cache.root / "tester" / f"{convo.id}.json"
    written = cached.stat().st_ino  # each write is a new file renamed into place
    loaded = store.load("tester", convo.id)
    assert cached.stat().st_ino == written
    loaded.append("assistant", "a new version")
    store.save(loaded)
    assert cached.stat().st_ino != written
    assert "a new version" in cached.read_text()
    cached.unlink()  # gone (trimmed, or removed by hand): written again on the next read
    store.load("tester", convo.id)
    assert "a new version" in cached.read_text()


def test_a_document_in_a_local_folder_is_linked_as_the_local_copy_and_kept_as_it_was(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded store's folder is on this disk: its file is linked, not written again,
    and the link keeps the version it was made of when another machine's session (a home
    of its own, the same folder) replaces the stored file."""
    shared = {"storage_url": (isolated_home / "conversations").as_uri()}
    shared["database_url"] = f"sqlite:///{isolated_home / 'claudechat.db'}"
    here = open_store(load_settings(shared))
    convo = conversation(text="the version linked here")
    here.save(convo)
    stored_file = isolated_home / "conversations" / "tester" / f"{convo.id}.json"
    copy = isolated_home / "cache" / "tester" / f"{convo.id}.json"
    assert copy.stat().st_ino == stored_file.stat().st_ino
    monkeypatch.setenv("CLAUDECHAT_HOME", str(isolated_home / "another-home"))
    there = open_store(load_settings(shared))
    theirs = there.load("tester", convo.id)
    theirs.append("assistant", "saved from the other home")
    there.save(theirs)
    assert "saved from the other home" in stored_file.read_text()
    kept = here.cache.get("tester", convo.id) if here.cache else None
    assert kept is not None and [m.text for m in kept.messages] == ["the version linked here"]
    here.close()
    there.close()


def test_a_linked_copy_counts_as_used_now_when_the_copies_are_trimmed(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link has the stored file's mtime: an old conversation just read was the first one
    trimmed, so it was not there to show during an outage."""
    monkeypatch.setattr(cache_module, "MAX_DOCUMENTS", 3)
    store = open_store(load_settings())
    old = conversation(text="from long ago")
    store.save(old)
    long_ago = time.time() - 90 * 86400
    os.utime(isolated_home / "conversations" / "tester" / f"{old.id}.json", (long_ago, long_ago))
    for number in range(3):
        store.save(conversation(text=f"newer {number}"))
    copy = isolated_home / "cache" / "tester" / f"{old.id}.json"
    assert not copy.exists()  # the least recently used, trimmed
    open_store(load_settings()).load("tester", old.id)  # read again (show, --resume)
    assert copy.exists()


def behind_a_save(store: ConversationStore, text: str) -> tuple[Conversation, Conversation]:
    """A session that loaded "opening", and the conversation: another session of the same
    process loaded it too, added `text` and saved it since."""
    convo = conversation(text="opening")
    store.save(convo)
    behind = store.load("tester", convo.id)
    other = store.load("tester", convo.id)
    other.append("user", text)
    store.save(other)
    return behind, convo


def test_two_sessions_of_one_process_on_one_conversation_keep_both_turns(
    store: ConversationStore,
) -> None:
    """As two requests to one conversation in one `serve` worker: both load the same version,
    one saves, then the other. The second save must merge the first's turn, not write over it
    (the store knows the version the first save made, which the second did not start from)."""
    first, convo = behind_a_save(store, "second's turn")
    first.append("user", "first's turn")
    store.save(first)
    third = store.load("tester", convo.id)
    third.append("user", "third's turn")
    store.save(third)  # starts from a version the store made itself: still nothing lost
    texts = [content_text(m.content) for m in store.load("tester", convo.id).messages]
    assert sorted(texts) == sorted(["opening", "second's turn", "first's turn", "third's turn"])


# Sessions 0-2 share one conversation, session 3 has another; a step is (session, action).
STEPS = st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["add", "save", "reload"])))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS, limits=st.sampled_from([(1, 2**25), (256, 2**25), (256, 1)]))
def test_sessions_of_one_process_lose_nothing_in_any_order(
    store: ConversationStore, steps: list[tuple[int, str]], limits: tuple[int, int]
) -> None:
    """Like serve's requests: sessions of one store load, add and save in any interleaving,
    each taking in what its saves return (as ChatSession does). With one version remembered,
    or one byte's worth, versions push each other out and saves read first."""
    store._versions = StoredVersions(*limits)
    shared, other = conversation(text="opening"), conversation(text="elsewhere")
    store.save(shared)
    store.save(other)
    sessions = [store.load("tester", c.id) for c in (shared, shared, shared, other)]
    unsaved: list[list[str]] = [[], [], [], []]
    sent = {shared.id: ["opening"], other.id: ["elsewhere"]}
    for number, (who, action) in enumerate(steps):
        if action == "add":
            text = f"s{who} m{number}"
            sessions[who].append("user", text)
            unsaved[who].append(text)
            sent[sessions[who].id].append(text)
        elif action == "save" or unsaved[who]:  # a reload would drop what is not saved
            stored = store.save(sessions[who]).conversation
            assert stored is not None
            sessions[who] = merge(sessions[who], stored)
            unsaved[who].clear()
        else:
            sessions[who] = store.load("tester", sessions[who].id)
    for session in sessions:
        store.save(session)
    for conversation_id, texts in sent.items():
        stored_texts = [
            content_text(m.content) for m in store.load("tester", conversation_id).messages
        ]
        assert sorted(stored_texts) == sorted(texts)


def test_a_session_saving_after_a_delete_does_not_bring_the_conversation_back(
    store: ConversationStore,
) -> None:
    """A session still saving after a delete wrote the conversation back as a new one (from
    its own document): a deleted conversation came back whole. The save is refused now, and
    nothing of it is left to push later."""
    from claudechat.errors import ConversationDeletedError
    from claudechat.storage.removal import delete_conversation

    late, convo = behind_a_save(store, "said before the delete")
    delete_conversation(store, "tester", convo.id)
    late.append("user", "saved after the delete")
    with pytest.raises(ConversationDeletedError):
        store.save(late)
    with pytest.raises(NotFoundError):
        store.load("tester", convo.id)
    assert store.journal.entries("tester") == []


def test_the_local_copy_keeps_the_documents_used_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past its bound the copy drops the document used longest ago; a document read again (a
    turn loading what the last one saved) counts as used, not only one written."""
    monkeypatch.setattr(cache_module, "MAX_DOCUMENTS", 3)
    copy = cache_module.DocumentCache(tmp_path)
    first, second, third, fourth = (Conversation.new("tester", "m") for _ in range(4))
    for age, conversation in zip((300, 200, 100), (first, second, third), strict=True):
        copy.put(conversation, b"{}")
        path = tmp_path / ids.document_key("tester", conversation.id)
        os.utime(path, (time.time() - age, time.time() - age))
    copy.put(first, b"{}", missing_only=True)  # read again: the oldest is now the newest
    copy.put(fourth, b"{}")
    kept = sorted(p.name for p in (tmp_path / ids.user_id("tester")).glob("*.json"))
    expected = sorted(f"{c.id}.json" for c in (first, third, fourth))
    assert kept == expected


def test_ids_that_share_a_prefix_are_told_apart_in_the_message() -> None:
    from claudechat.storage.reading import _told_apart

    twins = ["457127a4-0000-4000-8000-000000000001", "457127a4-0000-4000-8000-000000000002"]
    assert _told_apart(twins) == ", ".join(twins)  # 36 characters: the last one differs
    assert _told_apart(["abcd1111-x", "abcd2222-x"]) == "abcd1111, abcd2222"  # no "..."
    many = [f"{n}0000000-rest" for n in range(5)]
    assert _told_apart(many) == "00000000, 10000000, 20000000, ..."


def test_a_corrupt_document_says_where_once() -> None:
    from claudechat.storage.documents import decode_document

    with pytest.raises(CorruptDocumentError) as raised:
        decode_document(b'{"id": "abc')
    assert "starting at char 7" in str(raised.value) and "at at" not in str(raised.value)
