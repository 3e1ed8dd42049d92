"""Validation of everything that becomes part of a storage key or a path.

Keys and paths are built only from values that passed these checks, so no id or user name can
climb out of its folder or reach another user's keys.
"""

from __future__ import annotations

import re

from claudechat.errors import UsageError

_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")
_ID_PREFIX = re.compile(r"[0-9a-f-]{1,36}")
_ID_CHARACTERS = re.compile(r"[0-9a-f-]+")
# The canonical form of a UUID, as str(uuid.UUID(...)) writes it, in either case. A pattern,
# not uuid.UUID: ids are checked for every key and path a save builds.
_CONVERSATION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
MIN_PREFIX_LENGTH = 4
_DIGEST = re.compile(r"[0-9a-f]{64}")  # an attachment's sha256, as its key holds it


def is_conversation_id(value: str) -> bool:
    return isinstance(value, str) and _CONVERSATION_ID.fullmatch(value) is not None


def is_digest(value: str) -> bool:
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None


def conversation_id(value: str) -> str:
    """A full conversation id in canonical form (lower-case, hyphenated)."""
    if not is_conversation_id(value):
        raise UsageError(f"not a conversation id: {printable(value)}")
    return value.lower()


def id_prefix(value: str) -> str:
    """A full id or a unique-looking prefix of one, as typed by a user. Spaces around it are
    refused, not stripped, by every command alike: `delete --yes " 7707"` deleted 7707, and
    a delete should act on nothing but what is plainly an id."""
    lowered = value.lower()
    if not value:  # it was blamed on its digits: "ids are hexadecimal"
        raise UsageError("not a conversation id: '' (it is empty)")
    if len(lowered) > 36 and _ID_CHARACTERS.fullmatch(lowered):  # not blamed on its digits
        raise UsageError(
            f"not a conversation id: {printable(value)} (longer than a full id, 36 characters)"
        )
    if not _ID_PREFIX.fullmatch(lowered):
        raise UsageError(
            f"not a conversation id: {printable(value)} (ids are hexadecimal: 0-9, a-f and -)"
        )
    if len(lowered.replace("-", "")) < MIN_PREFIX_LENGTH:
        raise UsageError(
            f"not a conversation id: {printable(value)} "
            f"(give the full id or at least {MIN_PREFIX_LENGTH} of its first characters)"
        )
    return lowered


def user_id(value: str) -> str:
    if not _USER_ID.fullmatch(value) or ".." in value:
        raise UsageError(
            f"invalid user id {printable(value)}: use letters, digits and . _ @ + - "
            "(at most 128 characters)"
        )
    return value


def printable(value: object, limit: int = 60) -> str:
    """A value safe to echo in an error line: no control characters, bounded length."""
    text = str(value)
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text[:limit])
    return repr(cleaned + ("…" if len(text) > limit else ""))


def document_key(user: str, conversation: str) -> str:
    """The one way a conversation's storage key is built: {user_id}/{conversation_id}.json."""
    return f"{user_id(user)}/{conversation_id(conversation)}.json"
