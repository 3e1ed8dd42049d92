"""`claudechat usage`: tokens and money of the stored conversations, grouped by day, model or
conversation, priced with the same table as the dim line after each reply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from claudechat.errors import ConversationDeletedError, StorageError, UsageError
from claudechat.output import status
from claudechat.pricing import Spend, price_table, usd_figure

if TYPE_CHECKING:
    from datetime import datetime

    from claudechat.conversation import Conversation
    from claudechat.progress import Progress
    from claudechat.settings import Settings
    from claudechat.storage.metadata import ConversationRow
    from claudechat.storage.store import ConversationStore

GROUPINGS = ("day", "model", "conversation")


def grouping(by: str) -> str:
    """--by in any case, as -f and --since take theirs: `--by MODEL` was refused."""
    chosen = by.strip().lower()
    if chosen not in GROUPINGS:
        raise UsageError(f"--by takes one of {', '.join(GROUPINGS)}, not {by[:20]!r}")
    return chosen


def spend_rows(
    settings: Settings, store: ConversationStore, since: str, by: str
) -> tuple[list[dict[str, Any]], StorageError | None]:
    """The rows, grouped `by` (one of GROUPINGS: see grouping()), and what kept some
    conversations out (the database down: the copies on this machine are counted, and the
    caller says so)."""
    from claudechat.history_view import parse_since  # one --since for every command

    cutoff = parse_since(since)
    from claudechat.progress import Progress

    table = price_table(settings)
    groups: dict[str, Spend] = {}
    names: dict[str, tuple[str | None, str]] = {}  # the name, and the title list shows
    counted: set[str] = set()
    listing = store.list(settings.user)
    errors = [listing.error] if listing.error else []
    # Oldest created first (a fork is younger than its parent, however recently either was
    # updated): a fork copies its parent's messages, ids and all, and each reply was paid for
    # once, by the conversation it was made in.
    rows = sorted((r for r in listing.rows if r.updated_at >= cutoff), key=lambda r: r.created_at)
    # Every document is read: seconds on a long history, shown as a count in a terminal.
    with Progress("reading", len(rows)) as progress:
        for done, row in enumerate(rows):
            progress.step(done)
            conversation = _counted_document(store, row, progress, errors)
            if conversation is None:
                continue
            names[conversation.id] = (conversation.name, conversation.title)
            for message in conversation.messages:
                if message.role != "assistant" or message.usage is None or message.id in counted:
                    continue
                counted.add(message.id)
                if message.created_at < cutoff:
                    continue
                key = {
                    "day": _local_day(message.created_at),
                    "model": message.model or "?",
                    "conversation": conversation.id,  # names repeat; ids do not
                }[by]
                groups.setdefault(key, Spend()).add(message.usage, message.model, table)
    rows_out = [_row(by, key, spend, names) for key, spend in sorted(groups.items())]
    return rows_out, errors[0] if errors else None


def _local_day(moment: datetime) -> str:
    """The local date, as --since and show read times: the UTC one put a reply of the morning
    in Auckland under the day before, even with --since that morning's date."""
    try:
        return moment.astimezone().date().isoformat()
    except (OverflowError, ValueError):  # at the calendar's ends, as parse_since
        return moment.date().isoformat()


def _counted_document(
    store: ConversationStore, row: ConversationRow, progress: Progress, errors: list[StorageError]
) -> Conversation | None:
    """The row's document; None when it cannot be counted (said, unless it was deleted).
    While the blob store is down, this machine's copy, and the error kept in `errors`."""
    from claudechat.storage.documents import UNREADABLE

    try:
        return store.guarded(lambda: store.load_row(row))
    except UNREADABLE as exc:  # the rest adds up; doctor names it
        progress.clear()
        status(f"warning: not counted: {_unreadable(store, row, exc)}", "yellow")
    except ConversationDeletedError:
        pass  # deleted on another machine; its row outlived it
    except StorageError as exc:
        errors.append(exc)
        if store.cache is not None:
            return store.cache.get(row.user_id, row.conversation_id)
    return None


def _unreadable(store: ConversationStore, row: ConversationRow, exc: Exception) -> Exception:
    """A document the store lacks is said as `show` says it: "no document at ..." alone
    left out the copy this machine keeps, which `doctor` puts back."""
    from claudechat.storage.blobs import BlobNotFoundError

    if isinstance(exc, BlobNotFoundError):
        return store.missing_document(row.user_id, row.conversation_id, exc)
    return exc


def _row(
    by: str, key: str, spend: Spend, names: dict[str, tuple[str | None, str]]
) -> dict[str, Any]:
    """A row of figures; by conversation, its name (None: unnamed) and title, as in list.
    Replies of models with no price make the cost and savings unknown (None), as list's `?`,
    and are counted in `unpriced`: the cost of the others alone read as the whole ($0.0000)."""
    usage = spend.usage
    named = {"name": names[key][0], "title": names[key][1]} if by == "conversation" else {}
    return {
        by: key,
        **named,
        "input": usage.input_tokens,
        "cache_writes": usage.cache_creation_tokens,
        "cache_reads": usage.cache_read_tokens,
        "output": usage.output_tokens,
        "cost": usd_figure(spend.total_cost),
        "saved_by_cache": usd_figure(spend.total_saved),
        "unpriced": spend.unpriced,
    }
