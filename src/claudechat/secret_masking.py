"""Secrets in text: credentials in URLs, API keys and bearer tokens masked wherever a value or
an error is shown, and a config file's values that hold one found (settings.py warns of a
config file others can read that does).
"""

from __future__ import annotations

import re
from typing import Any


def holds_secret(data: dict[str, Any]) -> bool:
    for name, value in data.items():
        if not isinstance(value, str) or not value:
            continue
        if _SECRET_NAME.search(name) and "kms" not in name.lower():
            return True
        if mask_url_password(value) != value:
            return True
    return False


# api_key, aws_secret_access_key, a token: a whole part of the name, not "monkey".
_SECRET_NAME = re.compile(r"(^|_)(key|secret|token|password)(_|$)", re.I)


_URL_START = re.compile(r"[a-z][a-z0-9+.-]*://", re.I)
# An Anthropic key anywhere, or whatever follows "Bearer " (Authorization's credentials).
_API_KEY = re.compile(r"(?P<prefix>\bsk-ant-|\bBearer\s+)[\w.~+/=-]+", re.I)
# Query parameters that carry credentials (libpq's ?password=, signed URLs, tokens).
_SECRET_PARAM = re.compile(
    r"(?P<name>[?&;](?:[a-z0-9_.-]*(?:password|passwd|pwd|secret|token|signature|credential)"
    r"[a-z0-9_.-]*)=)(?P<value>[^&;]*)",
    re.I,
)


def mask_url_password(text: str) -> str:
    """Every credential in URLs found in `text` masked:
    postgresql://user:secret@host/db?password=x -> postgresql://user:***@host/db?password=***
    and so are API keys and bearer tokens quoted in it (an HTTP library's error can quote
    the header it refused).

    A password may hold "/", "@", spaces or newlines, so the user info of each URL runs to
    the last "@" before the next URL; masking too much is harmless, too little is not."""
    text = _API_KEY.sub(lambda m: m.group("prefix") + "***", text)
    starts = [m.end() for m in _URL_START.finditer(text)]
    if not starts:
        return text
    pieces = [text[: starts[0]]]
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        pieces.append(_mask_one(text[start:end]))
    return "".join(pieces)


def _mask_one(rest: str) -> str:
    """`rest` is a URL after its scheme, up to the next URL (or the end of the text)."""
    user = re.match(r"[^/:@\s]*:", rest)
    at = rest.rfind("@")
    if user and at > user.end():
        rest = rest[: user.end()] + "***" + rest[at:]
    return _SECRET_PARAM.sub(lambda m: m.group("name") + "***", rest)
