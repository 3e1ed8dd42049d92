"""The name an attachment without one of its own gets: `-a <(git diff)` is /dev/fd/63, and
Claude was shown `File: 63` and `show` listed `attachment 1: 63`."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from attachment_files import pdf_bytes, write
from claudechat.attachments import load_file
from conftest import conversation_id

DIFF = b"diff --git a/x.py b/x.py\n-old\n+new\n"


@pytest.fixture
def pipes() -> Iterator[list[int]]:
    """Read ends of pipes holding the given bytes, closed afterwards."""
    opened: list[int] = []
    yield opened
    for descriptor in opened:
        os.close(descriptor)


def piped(opened: list[int], data: bytes) -> int:
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    opened.append(read_end)
    return read_end


@pytest.mark.parametrize("folder", ["/dev/fd", "/proc/self/fd", "/proc/{pid}/fd"])
def test_a_pipe_behind_a_descriptor_path_is_named_pipe(pipes: list[int], folder: str) -> None:
    path = f"{folder.format(pid=os.getpid())}/{piped(pipes, DIFF)}"
    assert load_file(path).name == "pipe"


def test_a_piped_pdf_is_named_by_its_bytes_as_stdin_is(pipes: list[int]) -> None:
    attached = load_file(f"/dev/fd/{piped(pipes, pdf_bytes(['one']))}")
    assert (attached.name, attached.media_type) == ("pipe.pdf", "application/pdf")


def test_a_file_behind_a_descriptor_keeps_its_own_name(tmp_path: Path) -> None:
    descriptor = os.open(write(tmp_path / "notes.md", b"# notes\n"), os.O_RDONLY)
    try:
        assert load_file(f"/dev/fd/{descriptor}").name == "notes.md"
    finally:
        os.close(descriptor)


def fifo_read(path: Path, data: bytes) -> str:
    """load_file's name for a FIFO a thread writes `data` into."""
    os.mkfifo(path)
    writer = threading.Thread(target=path.write_bytes, args=(data,))
    writer.start()
    try:
        return load_file(path).name
    finally:
        writer.join()


def test_a_fifo_named_only_by_a_number_is_named_pipe(tmp_path: Path) -> None:
    assert fifo_read(tmp_path / "63", DIFF) == "pipe"


def test_a_named_fifo_and_a_regular_file_named_by_a_number_keep_their_names(
    tmp_path: Path,
) -> None:
    assert fifo_read(tmp_path / "review.diff", DIFF) == "review.diff"
    assert load_file(write(tmp_path / "63", DIFF)).name == "63"


def test_claude_and_show_see_pipe_for_a_descriptor_path(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """Through the program: `-a /dev/fd/0` is what `-a <(git diff)` is, a pipe's descriptor."""
    result = cli("chat", "-a", "/dev/fd/0", "review this", input=DIFF)
    assert result.returncode == 0, result.stderr
    (block, _) = fake_api.requests[-1].body["messages"][0]["content"]
    assert block["text"].startswith("File: pipe\n\n")
    shown = cli("show", conversation_id(result.stderr), "--markdown")
    assert f"- attachment 1: pipe · text/plain · {len(DIFF)} B" in shown.stdout


def test_the_unnamed_files_of_one_message_are_pipe_pipe_2_and_so_on(pipes: list[int]) -> None:
    """`-a <(a) -a <(b)` were both `pipe`: "compare pipe and pipe-2" named nothing."""
    from claudechat.commands_attachment import load_attachments

    paths = [f"/dev/fd/{piped(pipes, data)}" for data in (DIFF, pdf_bytes(["one"]), b"more\n")]
    assert [a.name for a in load_attachments(paths)] == ["pipe", "pipe-2.pdf", "pipe-3"]


def test_claude_sees_two_process_substitutions_as_pipe_and_pipe_2(fake_api) -> None:  # type: ignore[no-untyped-def]
    """Through bash's own `<(...)`, as a user types it (/dev/fd/63 and /dev/fd/62)."""
    command = '"$0" -m claudechat chat -a <(printf "old\\n") -a <(printf "new\\n") "compare"'
    result = subprocess.run(
        ["bash", "-c", command, sys.executable], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    blocks = fake_api.requests[-1].body["messages"][0]["content"]
    texts = [b["text"] for b in blocks if b["type"] == "text"]
    assert texts[:2] == ["File: pipe\n\nold\n", "File: pipe-2\n\nnew\n"], texts


def test_two_files_of_one_name_reach_claude_by_two_names(cli, fake_api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`-a a/notes.txt -a b/notes.txt` were both `File: notes.txt`: Claude could not tell
    which was which, nor could `attachment get`."""
    first, second = (
        write(tmp_path / "a" / "notes.txt", b"A\n"),
        write(tmp_path / "b" / "notes.txt", b"B\n"),
    )
    result = cli("chat", "-a", str(first), "-a", str(second), "compare them")
    assert result.returncode == 0, result.stderr
    assert "notes.txt: another file is attached by that name; sent as notes-2.txt" in result.stderr
    texts = [b["text"] for b in fake_api.requests[-1].body["messages"][0]["content"]]
    assert texts == ["File: notes.txt\n\nA\n", "File: notes-2.txt\n\nB\n", "compare them"]
    shown = cli("show", conversation_id(result.stderr), "--markdown")
    assert "- attachment 2: notes-2.txt · text/plain · 2 B" in shown.stdout


def test_a_file_named_pipe_and_a_pipe_reach_claude_by_two_names(cli, fake_api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`-a <(git diff) -a ./pipe`: the process substitution is `pipe`, and so was the file."""
    named_pipe = write(tmp_path / "pipe", b"a file\n")
    result = cli("chat", "-a", "/dev/fd/0", "-a", str(named_pipe), "compare", input=DIFF)
    assert result.returncode == 0, result.stderr
    blocks = fake_api.requests[-1].body["messages"][0]["content"]
    assert [b["text"].split("\n")[0] for b in blocks] == ["File: pipe", "File: pipe-2", "compare"]


def test_a_new_name_is_none_another_file_of_the_message_has() -> None:
    from claudechat.attachment_names import named_apart
    from claudechat.attachments import from_bytes

    given = [("pipe", b"1"), ("pipe", b"2"), ("pipe-2", b"3"), (".bashrc", b"4"), (".bashrc", b"5")]
    names = [a.name for a in named_apart([from_bytes(data, name) for name, data in given])]
    assert names == ["pipe", "pipe-3", "pipe-2", ".bashrc", ".bashrc-2"]
