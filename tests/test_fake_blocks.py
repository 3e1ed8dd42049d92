"""The fake Messages API refuses content blocks as the real one does, through the real SDK."""

from __future__ import annotations

import base64
from typing import Any

import anthropic
import pytest

from attachment_files import pdf_bytes, png_bytes
from conftest import API_KEY
from fakes.anthropic_api import FakeAnthropic


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def image(media_type: str, data: str) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def send(fake: FakeAnthropic, *blocks: dict[str, Any]) -> Any:
    client = anthropic.Anthropic(api_key=API_KEY, base_url=fake.base_url, max_retries=0)
    content = [*blocks, {"type": "text", "text": "what is this?"}]
    return client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=100,
        messages=[{"role": "user", "content": content}],
    )


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"type": "attachment", "sha256": "ab", "media_type": "image/png", "name": "x"}, "tag"),
        ({**image("image/png", b64(png_bytes())), "name": "x.png"}, "Extra inputs"),
        (image("image/bmp", b64(png_bytes())), "Input should be 'image/jpeg'"),
        (image("image/png", "not base64!"), "invalid base64"),
        (image("image/jpeg", b64(png_bytes())), "does not match the provided media type"),
        (
            {
                "type": "document",
                "source": {"type": "base64", "media_type": "text/plain", "data": "eA=="},
            },
            "Input should be 'application/pdf'",
        ),
        (
            {
                "type": "document",
                "source": {"type": "base64", "media_type": "application/pdf", "data": b64(b"no")},
            },
            "PDF specified was not valid",
        ),
    ],
)
def test_malformed_blocks_are_refused(fake_api, block, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(anthropic.BadRequestError, match=message):
        send(fake_api, block)


def test_good_blocks_are_answered_with_what_arrived(fake_api) -> None:  # type: ignore[no-untyped-def]
    document = {
        "type": "document",
        "source": {
            "type": "base64",
            "media_type": "application/pdf",
            "data": b64(pdf_bytes(["A", "B"])),
        },
        "title": "t.pdf",
        "citations": {"enabled": True},
    }
    reply = send(fake_api, image("image/png", b64(png_bytes())), document)
    assert reply.content[0].text == (
        f"echo: what is this? [image image/png {len(png_bytes())} bytes] "
        "[document 't.pdf' 2 pages citations: A | B]"
    )
