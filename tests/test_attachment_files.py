"""Recognising files by their bytes, the limits, the capability seam, and the REPL's path
helpers (completion, dropped paths), on real files the tests write."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from prompt_toolkit.completion import Completion

from attachment_files import pdf_bytes, png_bytes, write
from claudechat.api_blocks import attachment_api_block
from claudechat.attachments import (
    check,
    fallback_capabilities,
    from_bytes,
    load_file,
    model_capabilities,
    pdf_pages,
    sniff,
)
from claudechat.errors import UsageError
from claudechat.repl_attach import dropped_path, path_completions


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (png_bytes(), "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (pdf_bytes(["x"]), "application/pdf"),
        (b"%PDX not a pdf", None),
        ("naïve text".encode(), None),
    ],
)
def test_files_are_recognised_by_their_bytes_not_their_names(data, media_type) -> None:  # type: ignore[no-untyped-def]
    assert sniff(data) == media_type
    assert from_bytes(data, "named.pdf").media_type == (media_type or "text/plain")


def test_pdf_pages_are_counted() -> None:
    assert pdf_pages(pdf_bytes(["a", "b", "c", "d"])) == 4
    # A page tree whose pages sit in compressed object streams still says /Count.
    assert pdf_pages(b"%PDF-1.7\n<< /Type /Pages /Kids [] /Count 12 >>") == 12


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"\xef\xbb\xbf", "the file is empty"),  # a byte-order mark alone
        (b"\x00\x01\x02binary", r"not an image \(PNG, JPEG, GIF, WebP\), a PDF or UTF-8 text"),
        (b"caf\xe9", "invalid UTF-8 at byte 3"),
    ],
)
def test_what_cannot_be_attached_says_which_file(data: bytes, message: str) -> None:
    with pytest.raises(UsageError, match=message) as raised:
        from_bytes(data, "thing.bin")
    assert str(raised.value).startswith("thing.bin: ")


def test_a_byte_order_mark_is_no_part_of_an_attached_text() -> None:
    """Stripped on stdin, it was kept in a file's text: U+FEFF went to Claude. (The stored
    bytes keep it: test_attachments_bom.py.)"""
    attached = from_bytes(b"\xef\xbb\xbfhello bom", "bom.txt")
    sent = attachment_api_block({**attached.block(), "data": attached.data})
    assert sent["text"] == "File: bom.txt\n\nhello bom"


@pytest.mark.parametrize("source", ["/dev/zero", "a pipe"])
def test_a_device_or_a_pipe_is_read_to_the_limit_and_no_further(source: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """They have no size to check before reading; /dev/urandom used to be read until the
    process was killed for its memory."""
    if source == "a pipe":
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        writer = subprocess.Popen(["sh", "-c", f"yes > {fifo}"], stderr=subprocess.DEVNULL)
        source = str(fifo)
    try:
        with pytest.raises(UsageError, match="larger than a whole request may be"):
            load_file(source)
    finally:
        if source != "/dev/zero":
            writer.kill()
            writer.wait()


@dataclass
class Described:
    """What the models work's ModelInfo answers (only the fields this seam reads)."""

    pdf_input: bool | None = None
    citations: bool | None = None


class SessionWithModels:
    def __init__(self, info: Described) -> None:
        self.info = info

    def model_info(self) -> Described:
        return self.info


def test_the_capability_seam_believes_the_models_description_then_the_table() -> None:
    assert model_capabilities(object(), "claude-sonnet-4-6") == {
        "image_input": True,
        "pdf_input": True,
        "citations": True,
    }
    assert fallback_capabilities("claude-3-haiku-20240307")["citations"] is False
    described = model_capabilities(SessionWithModels(Described(pdf_input=False)), "m")
    assert described == {"image_input": True, "pdf_input": False, "citations": True}
    pdf = from_bytes(pdf_bytes(["x"]), "a.pdf")
    with pytest.raises(UsageError, match=r"a\.pdf: model m does not take PDFs"):
        check([pdf], "m", described)


def texts(completions: list[Completion]) -> list[str]:
    return [c.text for c in completions]


def test_path_completion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "plain.txt", b"x")
    write(tmp_path / "two words.pdf", b"x")
    write(tmp_path / "dir" / "inner.png", b"x")
    write(tmp_path / ".hidden", b"x")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert texts(list(path_completions("pl"))) == ["plain.txt"]
    assert texts(list(path_completions("~/tw"))) == ["'~/two words.pdf'"]
    assert texts(list(path_completions('"~/two w'))) == ['"~/two words.pdf"']
    assert texts(list(path_completions("two\\ w"))) == ["'two words.pdf'"]
    assert texts(list(path_completions("plain.txt d"))) == ["dir/"]
    assert texts(list(path_completions("dir/"))) == ["dir/inner.png"]
    assert ".hidden" not in texts(list(path_completions("")))
    assert texts(list(path_completions("."))) == [".hidden"]
    (completion,) = path_completions("a.txt '~/two")
    assert completion.start_position == -len("'~/two")


def test_a_dropped_path_is_one_existing_file_and_nothing_else(tmp_path: Path) -> None:
    target = write(tmp_path / "my shot.png", png_bytes())
    assert dropped_path(f"'{target}'") == str(target)
    assert dropped_path(f'"{target}"  ') == str(target)
    assert dropped_path(str(target).replace(" ", "\\ ")) == str(target)
    assert dropped_path(target.as_uri()) == str(target)
    assert dropped_path(f"look at '{target}'") is None
    assert dropped_path(f"'{tmp_path / 'missing.png'}'") is None
    assert dropped_path(f"'{tmp_path}'") is None  # a folder
    assert dropped_path("/help") is None


@pytest.mark.parametrize("source", ["/dev/null", "a pipe"])
def test_the_repl_refuses_what_is_not_a_regular_file(source: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """/attach of a FIFO waited for a writer (and /dev/tty for a line typed), the REPL stuck."""
    if source == "a pipe":
        source = str(tmp_path / "fifo")
        os.mkfifo(source)
    with pytest.raises(UsageError, match="not a regular file"):
        load_file(source, regular_only=True)
