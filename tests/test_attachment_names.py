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
