"""What the store's calls report back: a save, a push of the journal, a listing.

Plain data, read by the session, the save beside the request and the commands; kept apart so
that store.py holds only how the store works.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from claudechat.conversation import Conversation
    from claudechat.errors import StorageError
    from claudechat.storage.metadata import ConversationRow


class PlacedNotice(str):
    """A notice that names the operator's places (a database's host and port, a bucket, a
    folder of the server's): said whole in a terminal and in serve's log, and as `for_callers`
    to an HTTP caller, who is not to learn where the store is (any token holder could)."""

    for_callers: str

    def __new__(cls, text: str, for_callers: str) -> PlacedNotice:
        notice = super().__new__(cls, text)
        notice.for_callers = for_callers
        return notice


@dataclass
class SaveResult:
    pushed: bool
    error: StorageError | None = None
    conversation: Conversation | None = None  # merged with the store's copy, when pushed
    journaled: bool = False  # not pushed, but in the local journal
    notices: list[str] = field(default_factory=list)


@dataclass
class PendingSave:
    """A save whose local half is done: the journal holds it (when `journaled`). Its store
    half, the push, runs when it is called."""

    push: Callable[[], SaveResult]
    journaled: bool
    # The journal's entry put on disk (it is left to the page cache); False: it could not be.
    make_durable: Callable[[], bool]
    # What the push stores (serve keeps the save that holds all the others do).
    conversation: Conversation | None = None

    def __call__(self) -> SaveResult:
        return self.push()


@dataclass
class SyncReport:
    pushed: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)  # journal entries moved aside
    error: StorageError | None = None  # the last entry that could not be pushed
    left_to_live_writers: int = 0  # processes still running, whose entries are theirs to push
    dropped: list[str] = field(default_factory=list)  # deleted meanwhile: not written back
    newer: int = 0  # entries a newer claudechat wrote: left for it

    def notices(self) -> list[str]:
        from claudechat.output import counted

        notices = [f"a journal entry could not be used; moved to {path}" for path in self.damaged]
        if self.newer:
            notices.append(
                f"{counted(self.newer, 'journal entry', 'journal entries')} written by a "
                "newer claudechat wait for it: upgrade claudechat to push them"
            )
        notices += [f"{c[:8]} was deleted; its unpushed turns were dropped" for c in self.dropped]
        return notices


@dataclass
class Listing:
    rows: list[ConversationRow]
    unsynced: set[str]
    error: StorageError | None = None
    unused_left_out: int = 0  # conversations started and never used (see unused), not listed
