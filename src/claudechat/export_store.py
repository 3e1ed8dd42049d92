"""What `export` and `import` need from the store besides the document: the bytes of the
attachments a JSON export carries, read on export and put back on import.

An export used to hold only the attachments' references: imported into a store without them
(a fresh home, a team store, or after `delete` removed them), the conversation's files were
"missing from the store" for `attachment get` and for `chat -r`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from claudechat.errors import CorruptDocumentError, NotFoundError, StorageError

if TYPE_CHECKING:
    from claudechat.conversation import Conversation
    from claudechat.export import Export
    from claudechat.storage.store import ConversationStore


def attachment_bytes(
    store: ConversationStore, user: str, conversation: Conversation
) -> dict[str, bytes]:
    """The bytes of each attachment the conversation references, by sha256. One the store
    lacks (or holds damaged) is left out and said: the rest of the export is still worth
    having. A store that is down fails the export (exit 5) rather than leave them all out."""
    from claudechat.export import referenced_attachments
    from claudechat.output import status

    attachments = store.attachments
    referenced = referenced_attachments(conversation)
    if attachments is None:
        return {}
    found = {}
    for sha in referenced:
        try:
            found[sha] = store.guarded(lambda sha=sha: attachments.get(user, sha))  # type: ignore[misc]
        except (NotFoundError, CorruptDocumentError):
            continue
    if len(found) < len(referenced):
        missing = missing_attachments(len(referenced) - len(found))
        warning = f"warning: conversation {conversation.id[:8]}: {missing}"
        status(f"{warning}; exported by reference only", "yellow")
    return found


def keep_attachments(store: ConversationStore, user: str, export: Export) -> int:
    """The export's attachment bytes, kept where the next save pushes them from (just before
    its document, or with its journal entry during an outage). Returns how many attachments
    the conversation references that neither the export nor this store holds."""
    from claudechat.attachments import Attachment
    from claudechat.export import referenced_attachments

    attachments = store.attachments
    if attachments is None:
        return 0
    missing = 0
    for sha, block in referenced_attachments(export.conversation).items():
        data = export.attachments.get(sha)
        if data is not None:
            attachments.keep(user, Attachment(block["name"], block["media_type"], data))
            continue
        try:
            store.guarded(lambda sha=sha: attachments.get(user, sha))  # type: ignore[misc]
        except (NotFoundError, CorruptDocumentError):
            missing += 1
        except StorageError:
            pass  # the store is down: whether it holds them cannot be told now
    return missing


def missing_attachments(count: int) -> str:
    if count == 1:
        return "1 attachment it references is missing from the store"
    return f"{count} attachments it references are missing from the store"
