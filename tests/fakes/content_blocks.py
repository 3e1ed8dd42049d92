"""What the fake Messages API checks in content blocks, and how it says what it received.

The checks are the real API's: known block types only, no extra keys, image and document
sources with their media types, valid base64 whose bytes match the media type, the size
limits. The echo names every image and document it got, with the text of each PDF page
(the `(...) Tj` strings of the simple PDFs tests write), so a test sees the bytes arrived.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_PDF_PAGES = 100
ALLOWED_KEYS = {
    "text": {"type", "text", "cache_control", "citations"},
    "image": {"type", "source", "cache_control"},
    "document": {"type", "source", "title", "context", "citations", "cache_control"},
    "thinking": {"type", "thinking", "signature"},
    "redacted_thinking": {"type", "data"},
    "tool_use": {"type", "id", "name", "input", "cache_control"},
    "tool_result": {"type", "tool_use_id", "content", "is_error", "cache_control"},
}
_MAGIC = {
    "image/png": lambda d: d.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/jpeg": lambda d: d.startswith(b"\xff\xd8\xff"),
    "image/gif": lambda d: d.startswith((b"GIF87a", b"GIF89a")),
    "image/webp": lambda d: d[:4] == b"RIFF" and d[8:12] == b"WEBP",
}


class BlockError(Exception):
    pass


def validate_blocks(content: Any, where: str) -> None:
    if isinstance(content, str):
        return
    for j, block in enumerate(content):
        path = f"{where}.content.{j}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in ALLOWED_KEYS:
            raise BlockError(
                f"{path}: Input tag {kind!r} found using 'type' does not match any of the "
                f"expected tags: {', '.join(repr(k) for k in ALLOWED_KEYS)}"
            )
        extra = set(block) - ALLOWED_KEYS[kind]
        if extra:
            raise BlockError(f"{path}.{kind}.{sorted(extra)[0]}: Extra inputs are not permitted")
        if kind == "image":
            _image(block, f"{path}.image")
        elif kind == "document":
            _document(block, f"{path}.document")


def _decoded(source: dict[str, Any], path: str) -> bytes:
    data = source.get("data")
    if not isinstance(data, str) or not data:
        raise BlockError(f"{path}.source.base64.data: Field required")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BlockError(f"{path}.source.base64.data: invalid base64 data") from exc


def _image(block: dict[str, Any], path: str) -> None:
    source = block.get("source")
    if not isinstance(source, dict) or source.get("type") != "base64":
        raise BlockError(f"{path}.source: Input tag does not match 'base64', 'url' or 'file'")
    media_type = source.get("media_type")
    if media_type not in IMAGE_TYPES:
        raise BlockError(
            f"{path}.source.base64.media_type: Input should be 'image/jpeg', 'image/png', "
            "'image/gif' or 'image/webp'"
        )
    data = _decoded(source, path)
    if len(data) > MAX_IMAGE_BYTES:
        raise BlockError(f"{path}.source.base64: image exceeds 5 MB maximum")
    if not _MAGIC[media_type](data):
        raise BlockError(f"{path}: Image does not match the provided media type {media_type}")


def _document(block: dict[str, Any], path: str) -> None:
    source = block.get("source")
    if not isinstance(source, dict):
        raise BlockError(f"{path}.source: Field required")
    citations = block.get("citations")
    if citations is not None and not (
        isinstance(citations, dict) and isinstance(citations.get("enabled"), bool)
    ):
        raise BlockError(f"{path}.citations.enabled: Input should be a valid boolean")
    if source.get("type") == "text":
        if source.get("media_type") != "text/plain" or not isinstance(source.get("data"), str):
            raise BlockError(f"{path}.source.text: media_type 'text/plain' and data required")
        return
    if source.get("type") != "base64" or source.get("media_type") != "application/pdf":
        raise BlockError(f"{path}.source.base64.media_type: Input should be 'application/pdf'")
    data = _decoded(source, path)
    if not data.startswith(b"%PDF-"):
        raise BlockError(f"{path}: The PDF specified was not valid.")
    if len(pdf_page_texts(data)) > MAX_PDF_PAGES:
        raise BlockError(f"{path}: A maximum of {MAX_PDF_PAGES} PDF pages may be provided.")


def pdf_page_texts(data: bytes) -> list[str]:
    """The text shown on each page of a simple PDF (one content stream per page object)."""
    pages = re.split(rb"/Type\s*/Page(?![A-Za-z])", data)[1:]
    texts = [b" ".join(re.findall(rb"\(([^)]*)\)\s*Tj", page)) for page in pages]
    # Content streams follow their page objects in the files tests write; fall back to all.
    strings = re.findall(rb"\(([^)]*)\)\s*Tj", data)
    if len(strings) == len(pages) and not any(texts):
        texts = strings
    return [t.decode("latin-1") for t in texts]


def received(content: Any) -> str:
    """What a user message carried besides text: ` [image image/png 68 bytes]` and the like."""
    if not isinstance(content, list):
        return ""
    parts = []
    for block in content:
        kind = block.get("type")
        if kind == "image":
            size = len(base64.b64decode(block["source"]["data"]))
            parts.append(f"[image {block['source']['media_type']} {size} bytes]")
        elif kind == "document" and block["source"].get("type") == "base64":
            pages = pdf_page_texts(base64.b64decode(block["source"]["data"]))
            cited = " citations" if (block.get("citations") or {}).get("enabled") else ""
            parts.append(
                f"[document {block.get('title')!r} {len(pages)} pages{cited}: "
                + " | ".join(pages)
                + "]"
            )
    return (" " + " ".join(parts)) if parts else ""


def citations_for(content: Any) -> list[dict[str, Any]]:
    """A page_location citation of each page of each citable PDF, as the real API shapes one."""
    found: list[dict[str, Any]] = []
    if not isinstance(content, list):
        return found
    documents = [b for b in content if b.get("type") == "document"]
    for index, block in enumerate(documents):
        if not (block.get("citations") or {}).get("enabled"):
            continue
        pages = pdf_page_texts(base64.b64decode(block["source"]["data"]))
        for number, text in enumerate(pages, start=1):
            found.append(
                {
                    "type": "page_location",
                    "cited_text": text,
                    "document_index": index,
                    "document_title": block.get("title"),
                    "start_page_number": number,
                    "end_page_number": number + 1,
                }
            )
    return found


def cache_key(system: Any, messages: list[Any]) -> str:
    """A prefix as the cache sees it: cache_control markers do not change the content."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "cache_control"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json.dumps([strip(system), strip(messages)], sort_keys=True)
