"""Where conversations live. `open_store` picks the backends the settings name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from claudechat.errors import ConfigError

if TYPE_CHECKING:
    from claudechat.settings import Settings
    from claudechat.storage.blobs import BlobStore
    from claudechat.storage.store import ConversationStore


def open_blob_store(settings: Settings) -> BlobStore:
    from urllib.parse import unquote, urlparse

    url = settings.storage_url
    # Said first: which variable or file to fix ("unsupported storage URL" named neither).
    source = f"{settings.sources['storage_url']}: " if "storage_url" in settings.sources else ""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        from pathlib import Path

        if parsed.netloc not in ("", "localhost") or not parsed.path.startswith("/"):
            raise ConfigError(f"{source}storage URL {url!r} must be an absolute path: file:///path")
        if "\x00" in unquote(parsed.path):
            raise ConfigError(f"{source}storage URL {url!r} holds a NUL character (%00)")

        from claudechat.storage.blobs import LocalBlobStore

        return LocalBlobStore(Path(unquote(parsed.path)))
    if parsed.scheme == "s3":
        from claudechat.storage.s3 import S3BlobStore

        return S3BlobStore.from_settings(settings)
    raise ConfigError(
        f"{source}unsupported storage URL {url!r}: use file:///path or s3://bucket/prefix"
    )


def open_store(settings: Settings) -> ConversationStore:
    from functools import partial

    from claudechat.storage.attachments import AttachmentStore
    from claudechat.storage.cache import DocumentCache
    from claudechat.storage.guard import Guard
    from claudechat.storage.journal import Journal
    from claudechat.storage.metadata import MetadataStore
    from claudechat.storage.store import ConversationStore

    blobs = open_blob_store(settings)
    return ConversationStore(
        blobs,
        partial(MetadataStore, settings.database_url, settings.auto_migrate),
        Journal(settings.data_dir / "journal"),
        DocumentCache(settings.data_dir / "cache"),
        Guard(settings.store_timeout),
        attachments=AttachmentStore(blobs, settings.data_dir / "attachments"),
    )


def close_within(store: Any, seconds: float) -> None:
    """`store` (or a MetadataStore) closed in a thread of its own, waited for `seconds` at
    most: a call given up on a hung store may still hold it (SQLite's busy wait, 30 s), and a
    process must not wait for that to end; the thread is one it does not wait for either."""
    import threading

    closing = threading.Thread(target=store.close, name="store-close", daemon=True)
    closing.start()
    closing.join(seconds)
