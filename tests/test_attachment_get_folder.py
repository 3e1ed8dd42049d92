"""`attachment get ID/N -o FOLDER` writes the file into the folder under its own name, as cp
does: it said "cannot write FOLDER: Is a directory" and exited 5."""

from __future__ import annotations

from pathlib import Path

import pytest

from attachment_files import write
from claudechat.commands_attachment import file_name
from claudechat.errors import UsageError
from conftest import conversation_id

SOURCE = b"def answer():\n    return 42\n"


def test_get_into_a_folder_writes_the_file_under_its_name(cli, fake_api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    attached = write(tmp_path / "answer.py", SOURCE)
    cid = conversation_id(cli("chat", "-a", str(attached), "read it").stderr)
    folder = tmp_path / "out"
    folder.mkdir()
    got = cli("attachment", "get", f"{cid[:8]}/1", "-o", str(folder))
    assert got.returncode == 0, got.stderr
    assert (folder / "answer.py").read_bytes() == SOURCE
    assert f"to {folder / 'answer.py'}" in got.stderr


def test_get_into_a_folder_never_writes_over_a_file_there(cli, fake_api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The person named the folder, not the file: one line, exit 2, and -o FILE replaces it."""
    attached = write(tmp_path / "answer.py", SOURCE)
    cid = conversation_id(cli("chat", "-a", str(attached), "read it").stderr)
    folder = tmp_path / "out"
    kept = write(folder / "answer.py", b"mine\n")
    got = cli("attachment", "get", f"{cid[:8]}/1", "-o", str(folder))
    assert got.returncode == 2
    assert got.stderr.splitlines() == [
        f"claudechat: {kept} exists already: give -o {kept} to replace it"
    ]
    assert kept.read_bytes() == b"mine\n"
    assert cli("attachment", "get", f"{cid[:8]}/1", "-o", str(kept)).returncode == 0
    assert kept.read_bytes() == SOURCE


def test_a_name_ending_in_a_slash_is_a_folder_only(cli, fake_api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The / was dropped: `-o newdir/` wrote a file named newdir, `-o notes.md/` wrote over
    notes.md. A missing folder is refused as one above a file is (exit 5)."""
    attached = write(tmp_path / "answer.py", SOURCE)
    reference = f"{conversation_id(cli('chat', '-a', str(attached), 'read it').stderr)[:8]}/1"
    folder = tmp_path / "out"
    folder.mkdir()
    got = cli("attachment", "get", reference, "-o", f"{folder}/")
    assert got.returncode == 0, got.stderr
    assert (folder / "answer.py").read_bytes() == SOURCE
    missing = cli("attachment", "get", reference, "-o", f"{tmp_path / 'newdir'}/")
    assert missing.returncode == 5
    assert missing.stderr.splitlines() == [f"claudechat: no folder {tmp_path / 'newdir'}/"]
    assert not (tmp_path / "newdir").exists()
    notes = write(tmp_path / "notes.md", b"mine\n")
    refused = cli("attachment", "get", reference, "-o", f"{notes}/")
    assert refused.returncode == 5
    assert refused.stderr.splitlines() == [f"claudechat: {notes}/ is not a folder"]
    assert notes.read_bytes() == b"mine\n"


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("report.pdf", "report.pdf"),
        ("../../.ssh/authorized_keys", "authorized_keys"),  # a name from an imported export
        ("C:\\Users\\me\\notes.md", "notes.md"),
        (".bashrc", "bashrc"),  # not hidden in the folder
        ("a\x1b]0;title\x07b.txt", "a_]0;title_b.txt"),
    ],
)
def test_a_file_in_a_folder_gets_the_last_part_of_the_name_made_safe(
    name: str, written: str
) -> None:
    assert file_name(name) == written


@pytest.mark.parametrize("name", ["..", ".", "dir/", "...", "  "])
def test_a_name_that_leaves_nothing_to_write_is_refused(name: str) -> None:
    with pytest.raises(UsageError, match="give -o FILE"):
        file_name(name)
