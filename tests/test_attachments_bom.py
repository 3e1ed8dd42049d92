"""A text file that starts with a byte-order mark is stored as it is, by the digest of its own
bytes, and only what is sent leaves the mark out. Stored without it, its digest was no
longer the file's: the same file attached before and after the mark was first left out was
two blobs, and `attachment get` gave back bytes other than the file's."""

from __future__ import annotations

import hashlib
from pathlib import Path

from attachment_files import write
from claudechat.api_blocks import attachment_api_block
from claudechat.attachments import from_bytes
from conftest import conversation_id

BOM = b"\xef\xbb\xbf"
FILE = BOM + "naïve notes\n".encode()


def test_the_mark_is_kept_in_the_bytes_and_left_out_of_what_is_sent() -> None:
    attached = from_bytes(FILE, "notes.txt")
    assert attached.data == FILE
    assert attached.sha256 == hashlib.sha256(FILE).hexdigest()
    sent = attachment_api_block({**attached.block(), "data": attached.data})
    assert sent == {"type": "text", "text": "File: notes.txt\n\nnaïve notes\n"}


def test_one_file_with_a_mark_attached_twice_is_stored_once_as_it_is(  # type: ignore[no-untyped-def]
    cli, fake_api, isolated_home: Path, tmp_path: Path
) -> None:
    notes = write(tmp_path / "notes.txt", FILE)
    first = cli("chat", "-a", str(notes), "first")
    second = cli("chat", "-a", str(notes), "second")
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    for request in fake_api.requests:
        attached, _ = request.body["messages"][0]["content"]
        assert attached == {"type": "text", "text": "File: notes.txt\n\nnaïve notes\n"}
    # One blob, under the digest of the file's own bytes: the key a claudechat that kept the
    # mark stored it under too.
    stored = isolated_home / "conversations" / "tester" / "attachments"
    blobs = [p.name for p in stored.iterdir() if not p.name.startswith(".")]
    assert blobs == [hashlib.sha256(FILE).hexdigest()]
    back = tmp_path / "back.txt"
    got = cli("attachment", "get", f"{conversation_id(first.stderr)[:8]}/1", "-o", str(back))
    assert got.returncode == 0, got.stderr
    assert back.read_bytes() == FILE
