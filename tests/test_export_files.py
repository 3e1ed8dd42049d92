"""Files given with -o (export, attachment get) are written whole or not at all: written in
place, a disk that filled midway left the old export destroyed and half of the new one."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from claudechat.conversation import Conversation
from conftest import save_conversation
from test_local_disk import fill, small_tmpfs


def long_conversation(*texts: str) -> Conversation:
    conversation = Conversation.new("tester", "claude-sonnet-4-6")
    for text in texts:
        conversation.append("user", text)
    return conversation


def leave_room(folder: Path, room: int) -> Path:
    """`folder`'s disk filled but for about `room` bytes."""
    filler = fill(folder)
    os.truncate(filler, max(0, filler.stat().st_size - room))
    return filler


def left_behind(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("."))


def test_an_export_a_full_disk_cannot_take_leaves_the_old_file_as_it_was(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path
) -> None:
    conversation = long_conversation("a" * 1_000_000)
    save_conversation(conversation)
    with small_tmpfs(tmp_path / "full") as full:
        backup = full / "backup.json"
        assert cli("export", "-f", "json", "-o", str(backup), conversation.id).returncode == 0
        backup.chmod(0o640)
        good = backup.read_bytes()
        conversation.append("user", "b" * 1_000_000)  # larger than the room left, and the old
        save_conversation(conversation)
        leave_room(full, 200_000)
        failed = cli("export", "-f", "json", "-o", str(backup), conversation.id)
        assert failed.returncode == 5, failed.stderr
        assert f"cannot write {backup}: No space left on device" in failed.stderr
        assert backup.read_bytes() == good and json.loads(good)["id"] == conversation.id
        assert left_behind(full) == []
        (full / "filler").unlink()
        replaced = cli("export", "-f", "json", "-o", str(backup), conversation.id)
        assert replaced.returncode == 0, replaced.stderr
        assert len(json.loads(backup.read_bytes())["messages"]) == 2
        assert stat.S_IMODE(backup.stat().st_mode) == 0o640  # the mode it had
        assert left_behind(full) == []


def test_a_new_file_gets_the_mode_open_gives_and_a_link_stays_a_link(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path
) -> None:
    conversation = long_conversation("hello")
    save_conversation(conversation)
    fresh = tmp_path / "fresh.md"
    assert cli("export", conversation.id, "-o", str(fresh)).returncode == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask
    link = tmp_path / "latest.md"
    link.symlink_to(fresh)
    fresh.write_text("old")
    assert cli("export", conversation.id, "-o", str(link)).returncode == 0
    assert link.is_symlink() and "hello" in fresh.read_text()


def test_stdout_by_name_and_a_pipe_are_still_written_in_place(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A rename over /dev/stdout (seen as the file the shell opened) would put a new file in
    its place, and what the shell wrote after it went to the old one, no longer in the folder;
    over a named pipe it would put a file where the pipe was."""
    conversation = long_conversation("hello")
    save_conversation(conversation)
    log = tmp_path / "log.md"
    command = [sys.executable, "-m", "claudechat", "export", conversation.id, "-o", "/dev/stdout"]
    with log.open("ab") as shells_output:  # >>, so its own offset follows the export
        assert subprocess.run(command, stdout=shells_output, timeout=60).returncode == 0
        shells_output.write(b"written after it\n")
    assert "hello" in log.read_text() and log.read_text().endswith("written after it\n")

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    read: list[bytes] = []
    reader = threading.Thread(target=lambda: read.append(fifo.read_bytes()), daemon=True)
    reader.start()
    written = cli("export", conversation.id, "-o", str(fifo))
    reader.join(30)
    assert not reader.is_alive(), "the pipe was never written: replaced by a file?"
    assert written.returncode == 0, written.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode) and b"hello" in read[0]


def test_export_all_that_fills_the_disk_leaves_whole_files_and_says_how_many(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path
) -> None:
    """It said only the file it could not write, and left that one half written (4 KB of
    invalid JSON), among the whole ones."""
    conversations = [long_conversation(letter * 300_000) for letter in "abcde"]
    for conversation in conversations:
        save_conversation(conversation)
    with small_tmpfs(tmp_path / "full") as full:
        leave_room(full, 700_000)  # two exports and some, not five
        folder = full / "all"
        folder.mkdir()
        failed = cli("export", "--all", "-f", "json", "-o", str(folder))
        assert failed.returncode == 5, failed.stderr
        assert "No space left on device" in failed.stderr and "Traceback" not in failed.stderr
        written = sorted(folder.iterdir())
        assert 0 < len(written) < 5 and left_behind(folder) == []
        ids = {conversation.id for conversation in conversations}
        for path in written:
            assert path.name == f"{json.loads(path.read_bytes())['id']}.json"
            assert path.stem in ids
        assert f"; {len(written)} of 5 conversations were exported to {folder}" in failed.stderr


@contextlib.contextmanager
def bind_mounted(source: Path, target: Path) -> Iterator[Path]:
    """`source` mounted over the file `target`, as Docker's -v ./out.md:/work/out.md does."""
    if os.geteuid() != 0:
        pytest.skip("a bind mount needs root")
    target.touch()
    mounted = subprocess.run(["mount", "--bind", source, target], capture_output=True, check=False)
    assert mounted.returncode == 0, mounted.stderr  # as root: a refusal is no reason to skip
    try:
        yield target
    finally:
        subprocess.run(["umount", target], check=False)


def test_an_export_to_a_file_mounted_on_its_own_writes_it_in_place(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path
) -> None:
    """A rename cannot replace a mount point: it failed "Device or resource busy", exit 5."""
    conversation = long_conversation("hello")
    save_conversation(conversation)
    source = tmp_path / "bsrc.md"
    source.write_text("old")
    with bind_mounted(source, tmp_path / "btgt.md") as target:
        written = cli("export", conversation.id, "-o", str(target))
        assert written.returncode == 0, written.stderr
        assert "hello" in target.read_text()
    assert "hello" in source.read_text()
    assert left_behind(tmp_path) == []


def test_a_long_name_of_wide_characters_is_written(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """251 bytes, a name the file system takes: the temp file beside it, named after its
    first 64 characters (256 bytes of them), was refused "File name too long", exit 5."""
    conversation = long_conversation("hello")
    save_conversation(conversation)
    for name in ("😀" * 62 + ".md", "é" * 125 + ".md", "😀" * 63 + "abc"):
        target = tmp_path / name
        written = cli("export", conversation.id, "-f", "md", "-o", str(target))
        assert written.returncode == 0, written.stderr
        assert "hello" in target.read_text() and left_behind(tmp_path) == []


def test_an_export_to_a_name_ending_in_a_slash_goes_into_a_folder_only(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path
) -> None:
    """Path() dropped the /: `-o newdir/` wrote a file named newdir, `-o notes.md/` wrote
    over notes.md. A missing folder is refused as one above a file is (exit 5)."""
    conversation = long_conversation("hello")
    save_conversation(conversation)
    folder = tmp_path / "out"
    folder.mkdir()
    into = cli("export", conversation.id, "-o", f"{folder}/")
    assert into.returncode == 0, into.stderr
    assert "hello" in (folder / f"{conversation.id}.md").read_text()
    missing = cli("export", conversation.id, "-o", f"{tmp_path / 'newdir'}/")
    assert missing.returncode == 5
    assert missing.stderr.splitlines() == [f"claudechat: no folder {tmp_path / 'newdir'}/"]
    assert not (tmp_path / "newdir").exists()
    notes = tmp_path / "notes.md"
    notes.write_text("mine")
    refused = cli("export", conversation.id, "-o", f"{notes}/")
    assert refused.returncode == 5
    assert refused.stderr.splitlines() == [f"claudechat: {notes}/ is not a folder"]
    assert notes.read_text() == "mine"


def test_export_all_refuses_a_missing_folder_as_one_conversation_does(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path
) -> None:
    """`export ID -o newdir/` was refused while `export --all -o newdir/` made it, parents
    and all (0755), even with no conversation to write: a typo made a tree."""
    save_conversation(long_conversation("hello"))
    for target in (f"{tmp_path / 'new' / 'dir'}/", str(tmp_path / "newdir")):
        missing = cli("export", "--all", "-o", target)
        assert missing.returncode == 5, missing.stderr
        assert missing.stderr.splitlines() == [f"claudechat: no folder {target}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]
    notes = tmp_path / "notes.md"
    notes.write_text("mine")
    refused = cli("export", "--all", "-o", str(notes))
    assert refused.returncode == 5
    assert refused.stderr.splitlines() == [f"claudechat: {notes} is not a folder"]
    assert notes.read_text() == "mine"
