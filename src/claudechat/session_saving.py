"""How a chat session saves its conversation, apart from the turns that change it.

A mixin of ChatSession (chat.py), kept in a module of its own so that the rules of saving can
be read in one place: every save lands somewhere (the store, else the local journal, else
memory), a push beside the request is waited for before the conversation is saved again, what
the store merged in is taken back without dropping what the session added meanwhile, and the
user hears once when saves fall back and once when they recover.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from claudechat.conversation import utc_now
from claudechat.errors import ConversationDeletedError, StorageError, StoreRefusedError
from claudechat.merging import merge
from claudechat.save_in_flight import SaveInFlight
from claudechat.storage.results import PlacedNotice

# What a signal once the work is done says of the conversation (see leave_note).
_WHERE_SAVED = {
    "stored": "the conversation is saved",
    "memory": "the conversation could not be saved",
}
_DELETED = "the conversation was deleted elsewhere; not saved"

if TYPE_CHECKING:
    from claudechat.conversation import Conversation
    from claudechat.settings import Settings
    from claudechat.storage.results import PendingSave, SaveResult
    from claudechat.storage.store import ConversationStore


class SessionSaving:
    # Declared for the type checker: ChatSession.__init__ sets them.
    settings: Settings
    store: ConversationStore
    conversation: Conversation
    notify: Callable[[str], None]
    saved_in: str
    offline: bool
    _saving: SaveInFlight | None  # the push beside the request, while it runs
    deleted: bool  # a save found the conversation deleted (elsewhere): nothing more is saved
    pushed_here: bool  # this session's saves reached the store (it has a row)
    # Pipe mode: the process ends after its one turn, so no later save can keep a conversation
    # held in memory; it ends with why it could not be saved (unsaved_because) instead.
    one_turn: bool = False
    unsaved_because: StorageError | None = None
    # Why the latest save went to the journal (None: it did not): it says when the journal is
    # pushed, and a store refusing the configuration makes pipe mode exit 2, not 0.
    journaled_because: StorageError | None = None
    # Where each save's outcome is noted for a signal that ends the process as it leaves
    # (signals.leaving_behind): the CLI's session sets it; serve's answer each request instead.
    leave_note: Callable[[str], None]
    # serve's JSON turns on a store of this machine's: a save's push may wait until the turn
    # is answered (see _can_answer_first), as `deferred`; else each save waits for its push.
    answer_first: bool = False
    # The push put off until the turn is answered: the newest save's, which holds everything
    # the saves before it did (the user's message, a partial reply).
    deferred: PendingSave | None = None

    @property
    def refused(self) -> StoreRefusedError | None:
        reason = self.journaled_because
        return reason if isinstance(reason, StoreRefusedError) else None

    def pushed_when(self) -> str:
        """When what the journal holds reaches the store, said on its own (/new, a signal)."""
        return _pushed_when(self.journaled_because)[1]

    def save(self) -> None:
        """Save, come what may: to the store if it answers, else to the local journal. The
        store merges this session's document with what other sessions saved meanwhile."""
        if not self.conversation.messages:
            self._finish_saving()
            return  # an empty conversation is not worth a row in `list`
        self.conversation.updated_at = utc_now()
        # The store merges into the version the earlier push stored, so this save holds
        # everything that version held even before its result is taken in. Journaled first:
        # the reply is in the journal before anything else can fail or be interrupted (a
        # Ctrl-C while the earlier push is awaited included), and only once.
        push = self.store.begin_save(self.conversation)
        try:
            self._finish_saving()
        except ConversationDeletedError:
            push()  # finds it deleted too, and drops the journal entry just written
            raise
        if self.answer_first and self._can_answer_first(push):
            self.deferred = push
            return
        self.deferred = None  # this push holds all it held
        self._push(push)

    def deferred_to_disk(self) -> None:
        """The message put off for the reply's push, fsynced in the journal once the request
        is out (not on its path): a machine that goes down during the reply still has it."""
        if self.deferred is not None:
            self.deferred.make_durable()

    def push_deferred(self) -> None:
        """The push put off for the answer, run now: a turn that failed is answered once its
        message is pushed (or kept in the journal, when the store fails), as it was before
        answers went first."""
        push, self.deferred = self.deferred, None
        if push is not None:
            self._push(push)

    def _push(self, push: PendingSave) -> None:
        try:
            result = push()
        except ConversationDeletedError:
            self._found_deleted()
            raise
        self._saved(result)

    def _can_answer_first(self, push: PendingSave) -> bool:
        """Whether the answer may go before the push: the journal holds the save, on disk,
        where every reader of a store of this machine's sees it (load, list and search merge
        the journal in), and no save of this session fell back to the journal (an outage
        that one said is not left unsaid by this one)."""
        return self.saved_in == "stored" and push.journaled and push.make_durable()

    def _save_beside_request(self) -> None:
        self._finish_saving()  # (none in flight here: each reply waits for its own)
        if not self.conversation.messages:
            return
        self.conversation.updated_at = utc_now()
        push = self.store.begin_save(self.conversation)
        if self.answer_first and push.journaled:
            # In the journal, which every reader here merges in: pushed with the reply's
            # save, after the answer (one push a turn, not two), or before a failure's answer.
            self.deferred = push
            return
        self._saving = SaveInFlight(push)

    def _finish_saving(self) -> None:
        """Wait for the push beside the request. Taken off first: a wait that is interrupted
        (Ctrl-C) or fails is not waited for again, and the journal holds what it pushed."""
        saving, self._saving = self._saving, None
        if saving is not None:
            try:
                result = saving.result()
            except ConversationDeletedError:
                self._found_deleted()
                raise
            self._saved(result)

    def _found_deleted(self) -> None:
        self.deleted = True
        self.leave_note(_DELETED)

    def refuse_if_deleted(self) -> None:
        """Nothing more goes to Claude once a save found the conversation deleted elsewhere:
        every later message and /retry was sent with the whole context, its reply streamed to
        the end and billed, and only then refused its save. (The first turn after the delete
        still goes: its message is saved beside the request, not waited for before it.)"""
        if self.deleted:
            raise ConversationDeletedError(
                f"conversation {self.conversation.id[:8]} was deleted elsewhere, so nothing more "
                "is sent in it: /new starts another, /fork keeps what is on screen in a new "
                "conversation"
            )

    def _saved(self, result: SaveResult) -> None:
        self.pushed_here = self.pushed_here or result.pushed
        stored = result.conversation
        if stored is not None and stored.id == self.conversation.id:
            # Merged, not replaced: what the session added while the push ran (the reply,
            # exact token counts) stays.
            self.conversation = merge(self.conversation, stored)
        for notice in result.notices:
            self.notify(notice)
        self._report_storage(result.error, result.journaled)
        if self.saved_in == "journal":
            self.leave_note(
                f"the conversation is saved on this machine, pushed {self.pushed_when()}"
            )
        else:
            self.leave_note(_WHERE_SAVED[self.saved_in])

    def deleted_since_saved(self) -> bool:
        """Whether the conversation was deleted (from another terminal or machine) since this
        session saved it: only a save found out, so leaving or /new said "saved" of it."""
        if self.deleted or not self.pushed_here or self.saved_in != "stored":
            # Not pushed by this session: a conversation resumed from another's journal entry
            # has no row yet, and is no deleted one.
            return self.deleted
        user, conversation_id = self.conversation.user_id, self.conversation.id
        try:
            row = self.store.guarded(lambda: self.store.metadata.get(user, conversation_id))
        except StorageError:
            return False  # cannot be told now: it was saved, as far as this session knows
        self.deleted = row is None
        return self.deleted

    def sync(self) -> None:
        for notice in self.store.sync(self.settings.user).notices():
            self.notify(notice)

    def _report_storage(self, error: StorageError | None, journaled: bool) -> None:
        """Tell the user once when saves fall back to the journal (or, when that cannot be
        written either, to memory), and once when they recover."""
        state = "stored" if error is None else "journal" if journaled else "memory"
        before = self.journaled_because
        self.journaled_because = error if state == "journal" else None
        # Unchanged, unless the journal's reason turned to another kind (an outage, a refusal).
        if state == self.saved_in and _pushed_when(before) == _pushed_when(error):
            return
        if state == "journal":
            self.notify(_kept_locally(error))
        elif state == "memory":
            self.unsaved_because = error
            if not self.one_turn:
                self.notify(
                    f"{error}; the local journal cannot be written either: the conversation "
                    "is kept in memory and saved as soon as either is back"
                )
        elif self.one_turn and self.saved_in == "memory":
            pass  # nothing was said of memory, so there is nothing to take back
        elif self.saved_in == "journal":
            self.notify("the store is reachable again; local changes were pushed")
        else:
            # Out of memory: not "the store is reachable again", since on a full disk the store
            # never went away; it was saving that failed, to the store and the journal both.
            self.notify("saving works again; the conversation is saved")
        self.saved_in = state
        self.offline = error is not None


def _kept_locally(error: StorageError | None) -> PlacedNotice:
    """What a save that fell back to the journal says: when it will be pushed."""
    after_the_error, on_its_own = _pushed_when(error)
    if isinstance(error, StoreRefusedError):
        state = "refusing the server's configuration"
    else:
        state = "unavailable"
    return PlacedNotice(
        f"{error}; the conversation is saved locally and will be pushed {after_the_error} (or "
        "run `claudechat sync`)",
        f"the conversation store is {state}; the conversation is kept by the server and will "
        f"be pushed {on_its_own}",
    )


def _pushed_when(error: StorageError | None) -> tuple[str, str]:
    """When the journal is pushed: after the error's own words, and said on its own. A schema
    to upgrade, or a configuration the store refused, is no outage: the store is not coming
    back by itself, and "when the store is back" had the user wait for nothing."""
    from claudechat.storage.migrate import SchemaError

    if isinstance(error, SchemaError):
        return "once that is done", "once the database is upgraded"
    if isinstance(error, StoreRefusedError):
        return "once that is fixed", "once the store's configuration is fixed"
    return "when the store is back", "when the store is back"
