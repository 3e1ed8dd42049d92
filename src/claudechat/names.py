"""The checks on a conversation's name and a model's name, typed by a user.

Shared by the chat session, `rename` and serve's requests, so each refuses the same input in
the same words before anything is saved; and light, so a command that only renames does not
import the chat session.
"""

from __future__ import annotations

import re

from claudechat.errors import UsageError

MAX_NAME_CHARS = 200

# The format characters (Unicode category Cf) a name keeps, though str.isprintable() refuses
# them all: the zero-width non-joiner and joiner, which Persian and Indic words need (می‌خواهم,
# क्‍ष) and which make one emoji of a family (👨‍👩‍👧); both were refused, and import turned
# them into spaces. They move nothing on a line. Every other one stays refused: the bidi marks,
# embeddings, overrides and isolates reorder what a terminal shows, and the rest are invisible.
_JOINERS = "\u200c\u200d"
_JOINER = re.compile(f"[{_JOINERS}]")

# A joiner at either end joins nothing: trimmed with the spaces, so a name of joiners is empty.
_BLANK_ENDS = re.compile(f"^[\\s{_JOINERS}]+|[\\s{_JOINERS}]+$")


def _trimmed(name: str) -> str:
    return _BLANK_ENDS.sub("", name)


def _printable(text: str) -> bool:
    return _JOINER.sub("", text).isprintable()


def valid_name(name: str) -> str:
    """A conversation name is one short line: it shows in tables, prompts and file listings."""
    name = _trimmed(name)
    if not name:
        raise UsageError("a conversation name cannot be empty")
    if len(name) > MAX_NAME_CHARS:
        raise UsageError(f"a conversation name has at most {MAX_NAME_CHARS} characters")
    if not _printable(name):
        raise UsageError("a conversation name is one line without control characters")
    return name


def cleaned_name(name: str) -> str | None:
    """A name from elsewhere (an imported export) made one `valid_name` takes: each control,
    separator or format character but a joiner (a newline, a tab, an escape, a bidi override) a
    space, the spaces run together, cut to the limit; None when nothing is left of it."""
    spaced = "".join(c if _printable(c) else " " for c in name)
    return _trimmed(" ".join(spaced.split())[:MAX_NAME_CHARS]) or None


MAX_MODEL_CHARS = 200


def valid_model(model: str) -> str:
    model = model.strip()
    if not model or len(model) > MAX_MODEL_CHARS or not model.isprintable() or " " in model:
        raise UsageError(f"not a model name: {model[:60]!r}")
    return model
