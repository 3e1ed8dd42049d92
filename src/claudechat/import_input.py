"""What `import` reads and checks of each file before anything is written."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from claudechat.errors import StorageError, UsageError

if TYPE_CHECKING:
    from claudechat.conversation import Conversation
    from claudechat.storage.store import ConversationStore


def export_bytes(path: str) -> bytes:
    """The file's bytes; "-" is stdin, as `export -o -` is stdout (it was a file named -)."""
    if not path:  # read as ".": "cannot read : Is a directory"
        raise UsageError("an empty file name: give the export's path, or - for stdin")
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc


def id_taken(store: ConversationStore, user: str, conversation_id: str, path: str) -> bool:
    """Whether another user's conversation has this id (an export edited to say it is yours):
    its row clashed with theirs on every save, from the journal on every later command."""
    from claudechat.output import status

    try:
        owner = store.guarded(lambda: store.metadata.owner(conversation_id))
    except StorageError:
        return False  # the store is down: the journal takes the import, as it takes any save
    if owner in (None, user):
        return False
    status(f"{path}: its id is already used in this store; imported with new ids", "yellow")
    return True


def named_as_rename_allows(conversation: Conversation, path: str) -> Conversation:
    """A name `rename` would refuse (lines, control characters, bidi overrides, too long) is
    cleaned, and stderr says so: an import stored it as it was, and printed it raw."""
    from dataclasses import replace

    from claudechat.names import MAX_NAME_CHARS, cleaned_name, valid_name
    from claudechat.output import quoted, status

    if conversation.name is None:
        return conversation
    try:
        valid_name(conversation.name)
    except UsageError:
        cleaned = cleaned_name(conversation.name)
    else:
        return conversation
    done = f"imported as {quoted(cleaned)}" if cleaned else "imported without a name"
    status(
        f"{path}: its name is not one line of at most {MAX_NAME_CHARS} printable characters; "
        + done,
        "yellow",
    )
    return replace(conversation, name=cleaned)
