"""What the HTTP handlers do, without HTTP: blocking calls on the store and the chat session.

Every request names its user (from its token); each gets a ChatSession of its own over the one
ConversationStore and Claude client of the process, as the REPL and pipe mode use them.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from claudechat import turn_retries
from claudechat.chat import ChatSession
from claudechat.claude import Claude
from claudechat.conversation import Conversation, Message, new_conversation_id
from claudechat.errors import (
    ConversationDeletedError,
    NotFoundError,
    StorageError,
    UsageError,
)
from claudechat.model_catalogue import model_catalogue
from claudechat.names import valid_model, valid_name
from claudechat.server import DEFAULT_PUSH_QUIET_SECONDS
from claudechat.server.deferred_pushes import DeferredPushes
from claudechat.server.errors import StaleCopyError
from claudechat.settings import Settings
from claudechat.storage import ids
from claudechat.storage.accounts import CurrentConversations, Tokens, token_hash
from claudechat.storage.checked_tokens import CheckedTokens, revocation_mark
from claudechat.storage.guard import Guard
from claudechat.storage.reading import KeptCopy
from claudechat.storage.results import PendingSave
from claudechat.storage.store import ConversationStore

log = logging.getLogger("claudechat.serve")


@dataclass
class ChatRequest:
    user_input: str
    conversation_id: str | None = None
    conversation_name: str | None = None
    model: str | None = None
    system: str | None = None

    def check(self, message: bool = True) -> None:
        """Everything that can be refused is refused here, before anything is saved."""
        if message and not self.user_input.strip():
            raise UsageError("user_input is empty")
        if self.conversation_name is not None:
            self.conversation_name = valid_name(self.conversation_name)
        if self.model is not None:
            self.model = valid_model(self.model)


@dataclass
class Notices:
    """Status lines the session would print in a terminal (forks, store outages). Logged with
    the user and conversation the access log names, so an operator can match the two."""

    lines: list[str] = field(default_factory=list)
    user: str = "-"
    conversation_id: str = "-"

    def __call__(self, line: str) -> None:
        log.warning("%s user=%s conversation=%s", line, self.user, self.conversation_id)
        # Where the store is (host, port, bucket, the server's folders) is the operator's
        # business: a notice naming it reached any token holder in the answer.
        self.lines.append(getattr(line, "for_callers", line))


class Service:
    def __init__(
        self,
        settings: Settings,
        store: ConversationStore,
        claude: Claude,
        push_quiet_seconds: float = DEFAULT_PUSH_QUIET_SECONDS,
    ) -> None:
        self.settings = settings
        self.store = store
        self.claude = claude
        # One per process, shared by every request's session (the settings a user's session
        # differs in, user and model, are not the catalogue's): the list is parsed or
        # fetched once, not once a turn, even where the cache file cannot be written.
        self.catalogue = model_catalogue(settings, claude)
        # Breakers of their own: the store's is shared with blob writes, so a hung blob store
        # failed every request's token check at once; and /health, polled by load balancers,
        # must not leave a thread waiting per poll on a hung store (one probe at a time).
        self._database = Guard(store.guard.timeout)
        self._blob_probe = Guard(store.guard.timeout)
        self._checked_tokens: CheckedTokens | None = None  # made at the first lookup
        self._push_after_answer_failed = False  # see may_answer_first
        self.pushes = DeferredPushes(self._push_after_answer, push_quiet_seconds)

    @classmethod
    def from_settings(
        cls, settings: Settings, push_quiet_seconds: float = DEFAULT_PUSH_QUIET_SECONDS
    ) -> Service:
        """The configured store and Claude, as `serve` runs them."""
        from claudechat.storage import open_store

        return cls(settings, open_store(settings), Claude(settings), push_quiet_seconds)

    def connect(self) -> None:
        """Connect to the database (migrating it) and import the SDK now, before the first
        request instead of in it. A database that does not answer is an outage (said at start
        by run.py, and in the log by the warm-up): the first request that needs it connects."""
        from claudechat.errors import StorageError, StoreRefusedError

        try:
            self.store.metadata  # noqa: B018  (a property that connects)
        except StoreRefusedError:
            raise
        except StorageError:  # each worker's start-up ended here ("Application startup failed")
            pass
        self.claude.client  # noqa: B018  (a property that imports the SDK)

    @property
    def tokens(self) -> Tokens:
        return Tokens(self.store.metadata)

    @property
    def current(self) -> CurrentConversations:
        return CurrentConversations(self.store.metadata)

    async def user_for(self, token: str) -> str | None:
        """The token's user: one this worker checked lately (storage/checked_tokens.py), else
        the database's, under a deadline as every store call (a PostgreSQL that stopped
        answering held every authenticated request for as long as it lasted)."""
        hashed = token_hash(token)
        checked = self._checked_tokens
        known = checked.user(hashed) if checked is not None else None
        if known is not None:
            return known
        state = checked.mark_state() if checked is not None else None
        user, mark = await self._database.call_awaited(lambda: self._look_up(token))
        if checked is None:  # the first lookup (the database is connected now): kept from
            # the next one on, as the mark's state before this one is not known
            self._checked_tokens = CheckedTokens(mark)
        elif user is not None:
            checked.keep(hashed, user, state)
        return user

    def _look_up(self, token: str) -> tuple[str | None, Path | None]:
        """On a store thread: the token's user, and where revocations are marked."""
        return self.tokens.user_for(token), revocation_mark(self.store.metadata)

    def _current_of(self, user: str) -> str | None:
        return self._database.call(lambda: self.current.get(user))

    def user_settings(self, user: str, model: str | None = None) -> Settings:
        values = {**self.settings.values, "user": user}
        sources, replaced = dict(self.settings.sources), dict(self.settings.replaced)
        if model is not None:
            # A model named in the request applies to a continued conversation too, as
            # `--model` on the command line does.
            if "model" in values:
                replaced["model"] = values["model"]
            values["model"], sources["model"] = model, "command line"
        return replace(
            self.settings, values=values, sources=sources, warnings=[], replaced=replaced
        )

    # -- conversations ------------------------------------------------------------------------

    def load(
        self, user: str, reference: str | None
    ) -> tuple[Conversation | None, str | None, KeptCopy | None]:
        """The conversation a request names (or the user's current one) and its id; None for
        one not saved yet. Unknown, malformed and other users' ids are all "no conversation".
        The last: this server's copy, when it stood in for a store that is down."""
        current = self._current_of(user) if reference is None else None
        if reference is None and current is None:
            # Claimed now, not when the turn is saved: bare /chats at once share it.
            claimed = new_conversation_id()
            return None, self._database.call(lambda: self.current.claim(user, claimed)), None
        wanted = reference if reference is not None else current
        assert wanted is not None
        _well_formed(wanted)
        try:
            conversation, kept = self.store.load_checked(user, wanted)
        except UsageError:
            raise NotFoundError(f"no conversation {ids.printable(wanted)}") from None
        except NotFoundError:
            if wanted.lower() == (current or self._current_of(user)):
                return None, wanted.lower(), None  # claimed by a bare /chat on its first turn
            raise
        return conversation, wanted, kept

    def open_session(self, user: str, request: ChatRequest, notices: Notices) -> ChatSession:
        """The session for one turn. A bare /chat's conversation is the user's current one,
        claimed before the turn when there was none (see load): nothing to record after it."""
        settings = self.user_settings(user, request.model)
        conversation, wanted, kept = self.load(user, request.conversation_id)
        if kept is not None and not kept.current:
            # Continued from it, the turn was saved without the turns other hosts had stored
            # and Claude asked without them: the conversation forked once the store was back.
            raise StaleCopyError(kept.reason)
        if conversation is None:
            conversation = Conversation.new(user, settings.model)
            conversation.id = wanted or conversation.id
        _apply(request, conversation)  # saved with the turn: a refused turn changes nothing
        session = ChatSession(settings, self.store, self.claude, conversation, self.catalogue)
        session.notify = notices
        notices.user, notices.conversation_id = user, conversation.id
        # Claude's longer waits are the caller's: it gets the 429 and its Retry-After at once.
        session.longest_retry_wait = turn_retries.LONGEST_WAIT_OVER_HTTP_SECONDS
        # The session ends with the request: a turn kept only in memory is lost with it, and
        # its answer says so (see reply_body) instead of "saved as soon as the store is back".
        session.one_turn = True
        return session

    @functools.cached_property
    def answers_before_pushing(self) -> bool:
        """Whether a turn's answer may go before the push of its save (once the journal holds
        it, on disk): on a store of this machine's (a folder and an SQLite file), whose every
        reader reads this machine's journal too. Another host behind the same PostgreSQL and
        S3 would not see the turn until it is pushed."""
        from claudechat.storage.blobs import LocalBlobStore

        database = self.settings.database_url
        return isinstance(self.store.blobs, LocalBlobStore) and database.startswith("sqlite")

    def may_answer_first(self) -> bool:
        """Whether a JSON turn may be answered before its push (answers_before_pushing) now:
        not while the store is known to fail, so that the answer says so. The breaker knows
        of a store that stopped answering; a push after an answer that failed (a locked
        database, a disk error) is remembered until a turn's saves reach the store again."""
        return (
            self.answers_before_pushing
            and not self.store.guard.is_open
            and not self._push_after_answer_failed
        )

    def after_answer(self, session: ChatSession | None) -> None:
        """A turn answered: the push it put off runs once its conversation rests (see
        deferred_pushes.py). A turn that waited for its saves and got them stored says the
        store works again: turns may answer first once more."""
        if session is None:
            return
        if session.deferred is not None:
            self.pushes.add(session.conversation.id, session.deferred)
        elif session.saved_in == "stored" and session.pushed_here:
            self._push_after_answer_failed = False

    def _push_after_answer(self, push: PendingSave) -> None:
        """The push of a turn's save, its answer sent: what it could not do goes to the log,
        and the journal keeps the save until the store takes it (journal_drain.py)."""
        try:
            result = push()
        except ConversationDeletedError as exc:
            log.info("a turn's save was refused after its answer: %s", exc)  # deleted since
            return
        self._push_after_answer_failed = result.error is not None
        if result.error is not None:
            log.warning("a turn's save is kept in the journal: %s", result.error)

    def new_chat(self, user: str, request: ChatRequest | None = None) -> str:
        """Saved at once, empty: its id stays the caller's to use after a later /new_chat
        (a bot holding one conversation per person), not only while it is the current one.
        `request`: the name, model and system prompt to start it with (no message)."""
        wanted = request or ChatRequest("")
        wanted.check(message=False)
        conversation = Conversation.new(user, self.user_settings(user, wanted.model).model)
        _apply(wanted, conversation)
        # Current first: with the database down nothing is saved for an id nobody was given.
        self._database.call(lambda: self.current.set(user, conversation.id))
        saved = self.store.save(conversation)
        if saved.error is not None and not saved.journaled:
            raise saved.error  # a bare /chat still continues it: it is the current one
        return conversation.id  # pushed, or in the journal until the store is back

    def document(self, user: str, reference: str) -> tuple[dict[str, Any], KeptCopy | None]:
        """The document, and this server's copy that stood in for it (see load)."""
        conversation, wanted, kept = self.load(user, reference)
        if conversation is None:  # the current one, claimed by a first turn not yet saved
            conversation = Conversation.new(user, self.settings.model)
            conversation.id = wanted or conversation.id
        return conversation.to_document(), kept

    def delete(self, user: str, reference: str) -> dict[str, Any]:
        """What `claudechat delete` does: document, row, search entries, unused attachments;
        refused whole while a store is down. Another user's id is "no conversation"."""
        from claudechat.storage.removal import delete_conversation

        _well_formed(reference)
        try:
            conversation_id = self.store.resolve(user, reference)
        except UsageError:
            raise NotFoundError(f"no conversation {ids.printable(reference)}") from None
        removed = delete_conversation(self.store, user, conversation_id)  # current no more
        self.pushes.drop(conversation_id)
        return {"deleted": conversation_id, "summary": removed.describe(locations=False)}

    def listing(self, user: str, limit: int, offset: int) -> dict[str, Any]:
        listing = self.store.list(user, offset + limit + 1)
        if listing.error and not listing.rows:
            raise listing.error
        rows = listing.rows[offset : offset + limit]
        more = len(listing.rows) > offset + limit
        unsynced = listing.unsynced
        return {
            "conversations": [_row_json(row, row.conversation_id in unsynced) for row in rows],
            "next_offset": offset + limit if more else None,
        }

    # -- health -------------------------------------------------------------------------------

    def health(self) -> dict[str, str]:
        """Each part asked on its own, within the store's deadline (a hung PostgreSQL held
        /health until it woke, then said "ok"); asked again once the breaker's back-off has
        passed, not answered with the failure remembered (Guard.ask)."""
        return {
            "database": _probe(lambda: self._database.ask(self.store.ping_database)),
            "blob_store": _probe(lambda: self._blob_probe.ask(self._blobs_writable)),
        }

    def _blobs_writable(self) -> None:
        from claudechat.storage.blobs import ping_writable

        ping_writable(self.store.blobs)


def _well_formed(reference: str) -> None:
    """A malformed id answers 404, as an unknown one does, saying why (too short, not
    hexadecimal), as the CLI does: "no conversation '63f'" for an id's first 3 characters
    left the caller guessing. The reason is the id's own, whatever is stored, so it says no
    more than "no conversation" of another user's ids."""
    try:
        ids.id_prefix(reference)
    except UsageError as exc:
        raise NotFoundError(str(exc)) from None


def _apply(request: ChatRequest, conversation: Conversation) -> None:
    """The model, system prompt ("" clears it) and name a request sets, where it sets them."""
    if request.model is not None:
        conversation.set("model", request.model)
    if request.system is not None:
        conversation.set("system", request.system or None)
    if request.conversation_name is not None:
        conversation.set("name", request.conversation_name)


def _probe(check: Any) -> str:
    from claudechat.storage.blobs import UnwritableError

    try:
        check()
    except UnwritableError as exc:
        log.error("health check failed: %s", exc)
        return "unwritable"
    except StorageError as exc:
        log.error("health check failed: %s", exc)
        return "unreachable"
    return "ok"


def _row_json(row: Any, unsynced: bool) -> dict[str, Any]:
    return {
        "conversation_id": row.conversation_id,
        "name": row.conversation_name,
        "model": row.model,
        "message_count": row.message_count,
        "preview": row.preview,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "parent_id": row.parent_id,
        "unsynced": unsynced,
    }


def reply_json(session: ChatSession, message: Message) -> dict[str, Any]:
    from claudechat.pricing import cost, price_for, price_table

    usage = message.usage.to_dict() if message.usage else None
    price = price_for(message.model, price_table(session.settings))
    # None when the model has no known price: unknown, not free.
    cost_usd = round(cost(message.usage, price), 6) if message.usage and price else None
    return {
        "conversation_id": session.conversation.id,
        "message_id": message.id,
        "parent_id": message.parent_id,
        "reply": message.text,
        "status": message.status,
        "stop_reason": message.stop_reason,
        "model": message.model,
        "usage": usage,
        "cost_usd": cost_usd,
    }
