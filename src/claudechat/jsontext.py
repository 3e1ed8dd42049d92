"""JSON text as claudechat writes it: always valid UTF-8, and canonical where order matters."""

from __future__ import annotations

import json
import re
from typing import Any


def dumps_json(data: Any, indent: int | None = None) -> str:
    """JSON text that always encodes as UTF-8: readable non-ASCII where possible, and escapes
    where the text holds lone surrogates (valid JSON, e.g. from an API reply, but not UTF-8)."""
    text = json.dumps(data, ensure_ascii=False, indent=indent)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(data, ensure_ascii=True, indent=indent)
    return text


def canonical_json(data: Any) -> str:
    """One text per value whatever the key order: for deterministic tie-breaks."""
    return json.dumps(data, sort_keys=True, ensure_ascii=True, default=str)


_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def replace_lone_surrogates(text: str) -> str:
    """Lone surrogates are valid in JSON text but have no UTF-8 form: nothing can print or
    send them, so where text leaves claudechat they become U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def storable_text(text: str) -> str:
    """Text for a database column (a row's preview, the search index): SQLite takes only UTF-8,
    so no lone surrogates, and PostgreSQL's text takes no NUL. The document keeps the exact
    text; what is derived from it for SQL gets U+FFFD for either."""
    return replace_lone_surrogates(text).replace("\x00", "\ufffd")


def check_utf8_argument(text: str | None, what: str) -> None:
    """A command-line argument's bytes that are not UTF-8 reach Python as lone surrogates:
    Claude was sent U+FFFD for them while the document kept them. Refused, as stdin is."""
    if text is not None and _LONE_SURROGATE.search(text):
        from claudechat.errors import UsageError

        raise UsageError(f"{what} is not valid UTF-8; convert it first, e.g. with iconv")
