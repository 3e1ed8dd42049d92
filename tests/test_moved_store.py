"""A data directory copied or moved, and a bucket changed: each conversation is read where the
current store keeps it. Rows record the absolute location their document was saved at, and
reads followed it: a moved home found no document ("doctor lists the conversations without
one", while doctor said all agreed), and a copy read the original's documents while the
original was still there, so the copy and the original were mixed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from claudechat.conversation import Conversation
from claudechat.settings import load_settings
from claudechat.storage import open_store
from claudechat.storage.ids import document_key
from conftest import content_text
from test_delete import saved


def shown_texts(cli, conversation: Conversation, home: Path) -> list[str]:  # type: ignore[no-untyped-def]
    shown = cli("show", "--json", conversation.id, env={"CLAUDECHAT_HOME": str(home)})
    assert shown.returncode == 0, shown.stderr
    assert shown.stderr == ""  # no "copy kept on this machine, which may be stale"
    return [content_text(m["content"]) for m in json.loads(shown.stdout)["messages"]]


def listed_locations(cli, home: Path) -> set[str]:  # type: ignore[no-untyped-def]
    listed = cli("list", "--json", env={"CLAUDECHAT_HOME": str(home)})
    assert listed.returncode == 0, listed.stderr
    return {row["location"] for row in json.loads(listed.stdout)}


@pytest.mark.parametrize("keep_cache", [False, True])
def test_a_moved_home_reads_its_own_documents_and_doctor_updates_the_rows(  # type: ignore[no-untyped-def]
    cli, isolated_home, tmp_path, keep_cache
) -> None:
    first, second = saved("first"), saved("second")
    moved = tmp_path / "moved-home"
    shutil.copytree(isolated_home, moved, symlinks=True)
    shutil.rmtree(isolated_home)
    if not keep_cache:
        shutil.rmtree(moved / "cache", ignore_errors=True)
    env = {"CLAUDECHAT_HOME": str(moved)}
    assert shown_texts(cli, first, moved) == ["first", "about first"]
    (tmp_path / "out").mkdir()
    exported = cli("export", "--all", "--format", "json", "-o", str(tmp_path / "out"), env=env)
    assert exported.returncode == 0, exported.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [f"{first.id}.json", f"{second.id}.json"]
    )
    # The rows still name the old home until doctor brings them to where the documents are.
    assert all(str(isolated_home) in location for location in listed_locations(cli, moved))
    doctor = cli("doctor", env=env)
    assert doctor.returncode == 0, doctor.stderr
    for conversation in (first, second):
        assert f"{conversation.id}\trow naming where its document was before" in doctor.stdout
    assert "repaired" in doctor.stderr
    assert listed_locations(cli, moved) == {
        (moved / "conversations" / document_key("tester", c.id)).as_uri() for c in (first, second)
    }
    again = cli("doctor", env=env)
    assert again.returncode == 0 and again.stdout == "", again.stdout
    assert "documents and rows agree" in again.stderr


def test_a_copied_home_never_reads_the_originals_documents(  # type: ignore[no-untyped-def]
    cli, isolated_home, tmp_path
) -> None:
    changed, broken, removed = saved("changed"), saved("broken"), saved("removed")
    copy = tmp_path / "copied-home"
    shutil.copytree(isolated_home, copy, symlinks=True)
    shutil.rmtree(copy / "cache", ignore_errors=True)
    env = {"CLAUDECHAT_HOME": str(copy)}
    folder = copy / "conversations"
    document = folder / document_key("tester", changed.id)
    edited = json.loads(document.read_text())
    edited["messages"][1]["content"] = "only in the copy"
    document.write_text(json.dumps(edited))
    (folder / document_key("tester", broken.id)).write_text('{"broken')
    (folder / document_key("tester", removed.id)).unlink()

    assert shown_texts(cli, changed, copy) == ["changed", "only in the copy"]
    corrupt = cli("show", broken.id, env=env)
    assert corrupt.returncode == 1 and "about broken" not in corrupt.stdout
    assert str(folder) in corrupt.stderr and "corrupt" in corrupt.stderr, corrupt.stderr
    missing = cli("show", removed.id, env=env)
    assert missing.returncode == 1 and "about removed" not in missing.stdout
    assert f"no document at {(folder / document_key('tester', removed.id)).as_uri()}" in (
        missing.stderr
    )
    doctor = cli("doctor", env=env)
    assert doctor.returncode == 1
    assert f"{changed.id}\trow naming where its document was before" in doctor.stdout
    assert f"{removed.id}\trow whose document is missing" in doctor.stdout
    assert f"{broken.id}\tdocument that cannot be read" in doctor.stdout
    # The original is untouched, and reads its own.
    assert shown_texts(cli, changed, isolated_home) == ["changed", "about changed"]
    assert str(copy) not in "".join(listed_locations(cli, isolated_home))


@pytest.mark.parametrize("backend", ["team"], indirect=True)
def test_a_row_naming_another_bucket_reads_the_current_buckets_document(  # type: ignore[no-untyped-def]
    cli, backend, s3
) -> None:
    """A team that copied its documents to a new bucket: the old one may be gone, or stale."""
    import uuid

    from test_recovery import rewrite_row

    conversation = saved("in the new bucket")
    store = open_store(load_settings())
    key = store.blob_key("tester", conversation.id)
    stale = json.loads(store.blobs.get(key))
    stale["messages"][1]["content"] = "left in the old bucket"
    old_bucket = f"claudechat-old-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(old_bucket)
    s3.client().put_object(Bucket=old_bucket, Key=f"chats/{key}", Body=json.dumps(stale))
    row = store.metadata.get("tester", conversation.id)
    assert row is not None
    row.s3_file_location = f"s3://{old_bucket}/chats/{key}"
    rewrite_row(store, row)
    store.close()
    shown = cli("show", "--json", conversation.id)
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr
    texts = [content_text(m["content"]) for m in json.loads(shown.stdout)["messages"]]
    assert texts == ["in the new bucket", "about in the new bucket"]
    doctor = cli("doctor")
    assert doctor.returncode == 0
    assert f"{conversation.id}\trow naming where its document was before" in doctor.stdout
    assert json.loads(cli("list", "--json").stdout)[0]["location"] == store.blobs.location(key)
