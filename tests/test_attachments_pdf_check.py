"""A file that starts like a PDF but does not end like one (cut short in a download, or junk
after `%PDF-`) is refused in one line before anything is sent or saved: it went to Claude and
the API refused it, after the message was saved. Real PDFs, trailing bytes after their
%%EOF included, still go."""

from __future__ import annotations

from pathlib import Path

import pytest

from attachment_files import pdf_bytes, write
from claudechat.attachments import from_bytes
from claudechat.errors import UsageError

WHOLE = pdf_bytes(["Page one", "Page two"])


@pytest.mark.parametrize(
    "data",
    [
        WHOLE,
        WHOLE + b"\r\n\r\n",  # white space after the marker, as many writers leave it
        WHOLE + b"\x00" * 900,  # padding some tools add: readers look in the last 1024 bytes
        WHOLE.replace(b"%%EOF\n", b"%%EOF"),  # no newline after it at all
    ],
)
def test_a_whole_pdf_is_attached(data: bytes) -> None:
    attached = from_bytes(data, "report.pdf")
    assert (attached.media_type, attached.pages, attached.data) == ("application/pdf", 2, data)


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7 and then nothing a reader could use",
        b"%PDF-" + bytes(range(256)) * 8,
        WHOLE[: len(WHOLE) // 2],  # a download cut short
        WHOLE + b"\x00" * 2048,  # the marker too far from the end to be the file's
    ],
)
def test_what_only_starts_like_a_pdf_is_refused(data: bytes) -> None:
    with pytest.raises(UsageError) as raised:
        from_bytes(data, "report.pdf")
    assert str(raised.value) == (
        "report.pdf: not a whole PDF (no %%EOF at its end: damaged or cut short)"
    )


def assert_refused_and_nothing_kept(result, fake_api, cli, isolated_home: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr
        == f"claudechat: {name}: not a whole PDF (no %%EOF at its end: damaged or cut short)\n"
    )
    assert fake_api.requests == []
    assert cli("list", "--json").stdout.strip() in ("", "[]")
    attachments = isolated_home / "attachments"
    assert not attachments.exists() or not any(p.is_file() for p in attachments.rglob("*"))


def test_a_broken_pdf_on_stdin_is_exit_2_and_nothing_is_sent_or_saved(  # type: ignore[no-untyped-def]
    cli, fake_api, isolated_home
) -> None:
    result = cli("chat", "summarise", input=b"%PDF-1.4\n" + b"\xde\xad\xbe\xef" * 100)
    assert_refused_and_nothing_kept(result, fake_api, cli, isolated_home, "stdin.pdf")


def test_a_broken_pdf_file_is_exit_2_and_nothing_is_sent_or_saved(  # type: ignore[no-untyped-def]
    cli, fake_api, isolated_home, tmp_path
) -> None:
    cut = write(tmp_path / "cut.pdf", WHOLE[:200])
    result = cli("chat", "-a", str(cut), "summarise")
    assert_refused_and_nothing_kept(result, fake_api, cli, isolated_home, "cut.pdf")


def test_a_whole_pdf_with_trailing_bytes_is_sent(cli, fake_api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    padded = write(tmp_path / "padded.pdf", WHOLE + b"\n" + b" " * 500)
    result = cli("chat", "-a", str(padded), "summarise")
    assert result.returncode == 0, result.stderr
    (document, _) = fake_api.requests[-1].body["messages"][0]["content"]
    assert (document["type"], document["title"]) == ("document", "padded.pdf")
