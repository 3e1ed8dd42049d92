"""Attachments: files, images and PDFs a person brings to a message.

A file is recognised by its bytes, never by its name: images (PNG, JPEG, GIF, WebP) and PDFs
by their magic numbers, anything else that is valid UTF-8 as text. The conversation keeps an
`attachment` block (sha256, media type, name, size); the bytes live in the blob store (see
storage/attachments.py) and are put back into the request by the session just before the
adapter turns the blocks into the API's image, document and text blocks.

Limits and the model capability table are package data (data/attachments.json).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from claudechat.attachment_names import attached_name
from claudechat.blocks import Block
from claudechat.errors import UsageError

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
PDF_TYPE = "application/pdf"
TEXT_TYPE = "text/plain"
BYTE_ORDER_MARK = b"\xef\xbb\xbf"
# Tokens per PDF page (its text plus the page as an image): the docs give 1,500-3,000; the
# lower figure, so a long PDF is not refused on a guess (the API's count replaces it after
# the first reply).
TOKENS_PER_PAGE = 1500
# An image is scaled to at most ~1.15 megapixels, about 1,600 tokens.
TOKENS_PER_IMAGE = 1600


@dataclass(frozen=True)
class Attachment:
    name: str
    media_type: str
    data: bytes
    pages: int | None = None  # PDFs only; None when the page count cannot be read

    @functools.cached_property
    def sha256(self) -> str:  # asked often (each one attached next is compared): hashed once
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def kind(self) -> str:
        return kind_of(self.media_type)

    def block(self) -> Block:
        """The reference the conversation document keeps: never the bytes."""
        block: Block = {
            "type": "attachment",
            "sha256": self.sha256,
            "media_type": self.media_type,
            "name": self.name,
            "size": self.size,
        }
        if self.pages is not None:
            block["pages"] = self.pages
        return block


def kind_of(media_type: str) -> str:
    if media_type in IMAGE_TYPES:
        return "image"
    if media_type == PDF_TYPE:
        return "pdf"
    return "text"


@cache
def _data() -> dict[str, Any]:
    text = resources.files("claudechat").joinpath("data/attachments.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def limits() -> dict[str, int]:
    return dict(_data()["limits"])


def fallback_capabilities(model: str) -> dict[str, bool]:
    """What a model takes, from the shipped table; used until the Models API says more."""
    table = _data()["capabilities"]
    return dict(table.get(model, table["_default"]))


# -- recognising files --------------------------------------------------------------------


def sniff(data: bytes) -> str | None:
    """The media type of an image or PDF, from its first bytes; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return PDF_TYPE
    return None


def from_bytes(data: bytes, name: str) -> Attachment:
    """An attachment of the given bytes, or UsageError naming the file when it is none of an
    image, a PDF or UTF-8 text."""
    media_type = sniff(data)
    if media_type == PDF_TYPE:
        check_pdf_end(data, name)
        return Attachment(name, media_type, data, pdf_pages(data))
    if media_type is not None:
        return Attachment(name, media_type, data)
    # A byte-order mark (some Windows editors write one) is no text, as on stdin: it is left
    # out of what is sent (api_blocks.py), not of the bytes. Stripped here, the digest was no
    # longer the file's: one file was stored twice, and `attachment get` gave back another.
    text = data.removeprefix(BYTE_ORDER_MARK)
    if not text.strip():
        raise UsageError(f"{name}: the file is empty")
    if b"\x00" in text:
        raise UsageError(f"{name}: not an image (PNG, JPEG, GIF, WebP), a PDF or UTF-8 text")
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{name}: not an image, a PDF or UTF-8 text (invalid UTF-8 at byte {exc.start})"
        ) from exc
    return Attachment(name, TEXT_TYPE, data)


def load_file(
    path: str | Path, regular_only: bool = False, pipes: Iterator[str] | None = None
) -> Attachment:
    """Read one file to attach; every failure is a UsageError naming it. With regular_only
    (the REPL's /attach) a pipe, a device or a terminal is refused at once: /attach of a
    FIFO waited for a writer, the REPL stuck in the read. The command line's -a takes them,
    for `-a <(git diff)`; `pipes` names those of one message apart (pipe, pipe-2)."""
    from claudechat.user_paths import expanded

    shown = str(path)
    if not shown:  # read as ".", the current folder: ": is a folder, not a file"
        raise UsageError("no file named: give the path of the file to attach")
    target = expanded(path)
    if target is None:
        raise UsageError(f"{shown}: no such file (no user {shown[1:].split('/')[0]!r} here)")
    try:
        if target.is_dir():
            raise UsageError(f"{shown}: is a folder, not a file")
        # Opened without waiting (a FIFO's open waits for a writer), then looked at: what
        # was looked at is what is read, whatever the path names by then.
        flags = os.O_RDONLY | os.O_NOCTTY | (os.O_NONBLOCK if regular_only else 0)
        with open(target, "rb", opener=lambda name, _: os.open(name, flags)) as handle:
            found = os.fstat(handle.fileno())
            regular, most = stat.S_ISREG(found.st_mode), limits()["request_bytes"]
            if regular_only and not regular:
                raise UsageError(f"{shown}: not a regular file (a pipe, a device or a terminal)")
            if regular and found.st_size > most:
                too_large = human_size(found.st_size)
                raise UsageError(f"{shown}: {too_large} is larger than a whole request may be")
            # Read to the limit, no further: a device or a pipe (/dev/urandom, <(yes)) has no
            # size to check first, and would be read until memory runs out.
            data = handle.read(most + 1)
        if len(data) > most:
            raise UsageError(f"{shown}: larger than a whole request may be")
    except FileNotFoundError as exc:
        raise UsageError(f"{shown}: no such file") from exc
    except PermissionError as exc:
        raise UsageError(f"{shown}: cannot read it (permission denied)") from exc
    except OSError as exc:
        raise UsageError(f"{shown}: cannot read it ({exc.strerror})") from exc
    return from_bytes(data, attached_name(target, found, sniff(data), pipes))


# How far before the end a PDF's last %%EOF may sit: readers allow trailing bytes (a newline,
# padding some tools add), and look for the marker within the last 1024.
PDF_END_WINDOW = 1024


def check_pdf_end(data: bytes, name: str) -> None:
    """A PDF ends with an %%EOF marker: one without it (cut short in a download, or only
    starting like a PDF) went to Claude and the API refused it, after the message was saved."""
    if b"%%EOF" not in data[-PDF_END_WINDOW:]:
        raise UsageError(f"{name}: not a whole PDF (no %%EOF at its end: damaged or cut short)")


_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_COUNT = re.compile(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)|/Count\s+(\d+)[^>]*?/Type\s*/Pages\b")


def pdf_pages(data: bytes) -> int | None:
    """Page count: the page objects, or the page tree's /Count when they are compressed."""
    objects = len(_PAGE.findall(data))
    counts = [int(a or b) for a, b in _COUNT.findall(data)]
    found = max([objects, *counts])
    return found or None


# -- limits -------------------------------------------------------------------------------


# Per kind of binary attachment: the model capability it needs, its size limit, its name.
_MEDIA_RULES = {
    "image": ("image_input", "image_bytes", "images"),
    "pdf": ("pdf_input", "pdf_bytes", "PDFs"),
}


def check(attachments: list[Attachment], model: str, capabilities: dict[str, bool]) -> None:
    """Refuse, before anything is sent or saved, what the API or the model would refuse."""
    limit = limits()
    for item in attachments:
        rule = _MEDIA_RULES.get(item.kind)
        if rule is None:
            if item.size > limit["text_bytes"]:
                most = human_size(limit["text_bytes"])
                raise UsageError(f"{item.name}: text files may be at most {most}")
            continue
        capability, size_key, plural = rule
        if not capabilities.get(capability, True):
            raise UsageError(f"{item.name}: model {model} does not take {plural}")
        if item.size > limit[size_key]:
            raise UsageError(
                f"{item.name}: {plural} may be at most {human_size(limit[size_key])} "
                f"({human_size(item.size)})"
            )
        if item.kind == "pdf" and (item.pages or 0) > limit["pages_per_request"]:
            raise UsageError(
                f"{item.name}: {item.pages} pages, more than the "
                f"{limit['pages_per_request']} a request may carry"
            )


def check_request(blocks: list[Block]) -> None:
    """Limits on the whole request: every attachment in the context, as sent (base64)."""
    limit = limits()
    attached = [b for b in blocks if b.get("type") == "attachment"]
    pages = sum(int(b.get("pages") or 0) for b in attached if b["media_type"] == PDF_TYPE)
    if pages > limit["pages_per_request"]:
        raise UsageError(
            f"{attached[-1]['name']}: the PDFs in this conversation have {pages} pages, more "
            f"than the {limit['pages_per_request']} a request may carry; start a new one (/new)"
        )
    images = sum(1 for b in attached if b["media_type"] in IMAGE_TYPES)
    if images > limit["images_per_request"]:
        raise UsageError(
            f"{attached[-1]['name']}: more than {limit['images_per_request']} images in one request"
        )
    sent = sum(_wire_size(b) for b in attached)
    if sent > limit["request_bytes"]:
        raise UsageError(
            f"{attached[-1]['name']}: the attachments in this request come to {human_size(sent)} "
            f"as sent, more than the {human_size(limit['request_bytes'])} a request may be"
        )


def _wire_size(block: Block) -> int:
    size = int(block.get("size") or 0)
    return size if kind_of(block["media_type"]) == "text" else math.ceil(size / 3) * 4


def estimated_tokens(block: Block) -> int:
    """What an attachment costs in the context, estimated generously before the API counts."""
    kind = kind_of(block["media_type"])
    if kind == "image":
        return TOKENS_PER_IMAGE
    if kind == "pdf":
        return TOKENS_PER_PAGE * int(block.get("pages") or 1)
    return math.ceil(int(block.get("size") or 0) / 3) + 20


def describe(block: Block) -> str:
    """`report.pdf · application/pdf · 12.3 KB · 3 pages`, for lists and `show`."""
    parts = [str(block["name"]), str(block["media_type"]), human_size(int(block.get("size") or 0))]
    if block.get("pages"):
        from claudechat.output import counted

        parts.append(counted(int(block["pages"]), "page"))
    return " · ".join(parts)


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def attachment_blocks(blocks: list[Block]) -> list[Block]:
    return [b for b in blocks if b.get("type") == "attachment"]


# -- the session's side -------------------------------------------------------------------


def model_capabilities(session: Any, model: str) -> dict[str, bool]:
    """What the model takes: image_input, pdf_input, citations.

    The one place that asks: a session offering `model_info()` (the Models API's description,
    from the models work) whose answer carries those three booleans is believed; for
    anything it leaves out, the shipped table answers (every current model takes all three)."""
    known = fallback_capabilities(model)
    describe_model = getattr(session, "model_info", None)
    info = describe_model() if callable(describe_model) else None
    for name in known:
        value = getattr(info, name, None)
        if isinstance(value, bool):
            known[name] = value
    return known


def with_bytes(context: list[Any], fetch: Callable[[str], bytes], citations: bool) -> list[Any]:
    """The context with each attachment's bytes in its block, ready for the adapter; the
    conversation's own blocks stay references."""

    def resolved(block: Block) -> Block:
        if block.get("type") != "attachment":
            return block
        cite = citations and block["media_type"] == PDF_TYPE
        return {**block, "data": fetch(block["sha256"]), "citations": cite}

    return [replace(m, content=tuple(resolved(b) for b in m.content)) for m in context]


def has_attachments(context: list[Any]) -> bool:
    return any(b.get("type") == "attachment" for m in context for b in m.content)


def citation_lines(message: Any) -> list[str]:
    """The passages a reply cited, one line each, to show after the answer."""
    lines: list[str] = []
    for block in message.content:
        for number, cited in enumerate(block.get("citations") or [], start=len(lines) + 1):
            where = cited.get("document_title") or "document"
            start, end = cited.get("start_page"), cited.get("end_page")
            if start is not None:
                # The API's end page is exclusive.
                last = (end - 1) if isinstance(end, int) and end - 1 > start else start
                where += f", p. {start}" if last == start else f", pp. {start}-{last}"
            passage = " ".join(str(cited.get("cited_text", "")).split())
            lines.append(f"[{number}] {where}: “{passage}”")
    return lines


def print_citations(message: Any, stream: Any) -> None:
    from claudechat.output import safe_text

    lines = citation_lines(message)
    if lines:
        stream.write("\nCited passages:\n" + "".join(safe_text(x) + "\n" for x in lines))
        stream.flush()


def numbered(conversation: Any) -> list[Block]:
    """Every attachment of the conversation, first use first, each digest once: `show`
    numbers them from 1 and `attachment get ID/N` takes that number."""
    seen: dict[str, Block] = {}
    for message in sorted(conversation.messages, key=lambda m: m.created_at):
        for block in attachment_blocks(message.content):
            seen.setdefault(block["sha256"], block)
    return list(seen.values())


def attachment_lines(message: Any, numbers: dict[str, int]) -> list[str]:
    """`attachment 2: report.pdf · application/pdf · 1.2 KB · 3 pages`, one per file."""
    return [
        f"attachment {numbers.get(block['sha256'], '?')}: {describe(block)}"
        for block in attachment_blocks(message.content)
    ]


def attachment_numbers(conversation: Any) -> dict[str, int]:
    return {block["sha256"]: n for n, block in enumerate(numbered(conversation), start=1)}
