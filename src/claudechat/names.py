"""The checks on a conversation's name and a model's name, typed by a user.

Shared by the chat session, `rename` and serve's requests, so each refuses the same input in
the same words before anything is saved; and light, so a command that only renames does not
import the chat session.
"""

from __future__ import annotations

from claudechat.errors import UsageError

MAX_NAME_CHARS = 200


def valid_name(name: str) -> str:
    """A conversation name is one short line: it shows in tables, prompts and file listings."""
    name = name.strip()
    if not name:
        raise UsageError("a conversation name cannot be empty")
    if len(name) > MAX_NAME_CHARS:
        raise UsageError(f"a conversation name has at most {MAX_NAME_CHARS} characters")
    if not name.isprintable():
        raise UsageError("a conversation name is one line without control characters")
    return name


def cleaned_name(name: str) -> str | None:
    """A name from elsewhere (an imported export) made one `valid_name` takes: each control,
    format or separator character (a newline, a tab, an escape, a bidi override) a space, the
    spaces run together, cut to the limit; None when nothing is left of it."""
    spaced = "".join(c if c.isprintable() else " " for c in name)
    return " ".join(spaced.split())[:MAX_NAME_CHARS].rstrip() or None


MAX_MODEL_CHARS = 200


def valid_model(model: str) -> str:
    model = model.strip()
    if not model or len(model) > MAX_MODEL_CHARS or not model.isprintable() or " " in model:
        raise UsageError(f"not a model name: {model[:60]!r}")
    return model
