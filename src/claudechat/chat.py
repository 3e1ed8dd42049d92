"""A chat session: one conversation, its memory, the store and Claude. No terminal code here.

The user's message is saved before the API call and the reply after it, so a crash or a
failure never loses what was typed; a reply that stops early is kept and marked as such.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from claudechat.claude import Claude, Reply
from claudechat.conversation import Conversation, Message, Status, utc_now
from claudechat.errors import (
    ApiError,
    NotFoundError,
    ReplyCutOffError,
    StorageError,
    UsageError,
)
from claudechat.memory import DEFAULT_MAX_CONTEXT_TOKENS, ContextMessage, ConversationMemory
from claudechat.storage.store import ConversationConflictError

if TYPE_CHECKING:
    from claudechat.settings import Settings
    from claudechat.storage.store import ConversationStore

OnText = Callable[[str], None]
# A stream that breaks before any text is asked again, this many times in all. The SDK itself
# already retries refused requests (429, 5xx, connection errors) before a stream starts.
MAX_ATTEMPTS = 3
RETRY_BACKOFF_SECONDS = 0.5


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


MAX_MODEL_CHARS = 200


def valid_model(model: str) -> str:
    model = model.strip()
    if not model or len(model) > MAX_MODEL_CHARS or not model.isprintable() or " " in model:
        raise UsageError(f"not a model name: {model[:60]!r}")
    return model


def _worth_retrying(error: Exception) -> bool:
    if isinstance(error, ApiError):
        return error.retryable and error.mid_stream
    return True  # cut off: the connection broke or closed early


class ChatSession:
    def __init__(
        self,
        settings: Settings,
        store: ConversationStore,
        claude: Claude,
        conversation: Conversation,
    ) -> None:
        self.settings = settings
        self.store = store
        self.claude = claude
        self.conversation = conversation
        self.memory = self._memory_for(conversation)
        # Where status lines go (the REPL and pipe mode print them to stderr).
        self.notify: Callable[[str], None] = lambda _message: None
        self.offline = False
        self.stop_reason: str | None = None  # of the newest complete reply

    @classmethod
    def start(
        cls,
        settings: Settings,
        store: ConversationStore,
        claude: Claude,
        *,
        resume: str | None = None,
        continue_latest: bool = False,
        system: str | None = None,
        name: str | None = None,
    ) -> ChatSession:
        """A new conversation, or the one named by --resume / --continue."""
        if resume:
            conversation = store.load(settings.user, resume)
        elif continue_latest:
            conversation = store.latest(settings.user)
        else:
            conversation = Conversation.new(settings.user, settings.model)
        if settings.sources.get("model") == "command line" or not (resume or continue_latest):
            conversation.model = valid_model(settings.model)
        if system is not None:
            conversation.system = system
        if name is not None:
            conversation.name = valid_name(name)
        return cls(settings, store, claude, conversation)

    def _memory_for(self, conversation: Conversation) -> ConversationMemory:
        budget = self.settings.max_context_tokens or DEFAULT_MAX_CONTEXT_TOKENS
        return ConversationMemory(conversation.messages, budget, conversation.system)

    # -- turns ------------------------------------------------------------------------------

    def send(self, text: str, on_text: OnText) -> Message:
        """Add the user's message, save it, stream the reply into on_text, save the reply."""
        self.memory.update_memory("user", text, status="pending")
        self.save()
        return self._reply(on_text)

    def retry(self, on_text: OnText) -> Message:
        """Regenerate the newest reply (or get the one that failed) for the last message.

        The earlier reply is replaced only by a complete new one: if the new one fails or
        stops early, the earlier reply is put back ahead of whatever part arrived."""
        if not self.conversation.messages:
            raise NotFoundError("nothing to retry yet")
        previous = self.memory.drop_last_replies()
        position = len(self.conversation.messages)
        try:
            return self._reply(on_text)
        except BaseException:
            if previous:
                self.conversation.messages[position:position] = previous
                self.save()
            raise

    def _reply(self, on_text: OnText) -> Message:
        context = self.memory.get_current_context()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            reply = Reply()
            try:
                self._stream(context, reply, on_text)
                break
            except (ReplyCutOffError, ApiError) as exc:
                if reply.text or attempt == MAX_ATTEMPTS or not _worth_retrying(exc):
                    self._keep_partial(reply, "incomplete")
                    raise
                # Nothing was shown yet, so asking again cannot duplicate what the user saw.
                self.notify(f"{exc}; retrying ({attempt}/{MAX_ATTEMPTS - 1})")
                time.sleep(RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1))
        message = self._append_reply(reply, "complete")
        self.stop_reason = reply.stop_reason
        self.memory.record_reply(context, message, reply.usage)
        self.save()
        if reply.stop_reason == "max_tokens":
            self.notify("the reply stopped at the output limit; ask Claude to continue")
        return message

    def _stream(self, context: list[ContextMessage], reply: Reply, on_text: OnText) -> None:
        conversation = self.conversation
        try:
            for chunk in self.claude.stream(
                context, conversation.model, conversation.system, reply
            ):
                on_text(chunk)
        except KeyboardInterrupt:
            self._keep_partial(reply, "interrupted")
            raise

    def _keep_partial(self, reply: Reply, status: Status) -> None:
        if reply.text:
            self._append_reply(reply, status)
            self.save()

    def _append_reply(self, reply: Reply, status: Status) -> Message:
        pending = self.conversation.messages[-1]
        if pending.role == "user":
            pending.status = "complete"
        return self.memory.update_memory(
            "assistant",
            reply.text,
            status=status,
            model=reply.model,
            usage=reply.usage,
        )

    # -- the conversation -------------------------------------------------------------------

    def save(self) -> None:
        """Save, come what may: to the store if it answers, else to the local journal."""
        if not self.conversation.messages:
            return  # an empty conversation is not worth a row in `list`
        self.conversation.updated_at = utc_now()
        try:
            result = self.store.save(self.conversation)
        except ConversationConflictError:
            self._fork()
            return
        self._report_storage(result.error)
        if result.pushed and self.store.journal.pending(self.settings.user):
            self.sync()

    def sync(self) -> None:
        for notice in self.store.sync(self.settings.user).fork_notices():
            self.notify(notice)

    def _fork(self) -> None:
        parent = self.conversation.id
        self.conversation = self.store.fork(self.conversation)
        self.memory = self._memory_for(self.conversation)
        self.notify(
            f"conversation {parent[:8]} was changed in another session; your turns continue "
            f"in a new conversation {self.conversation.id} (forked from it)"
        )

    def _report_storage(self, error: StorageError | None) -> None:
        """Tell the user once when saves fall back to the journal, and once when they recover."""
        if error is not None and not self.offline:
            self.notify(
                f"{error}; the conversation is saved locally and will be pushed when the store "
                "is back (or run `claudechat sync`)"
            )
        elif error is None and self.offline:
            self.notify("the store is reachable again; local changes were pushed")
        self.offline = error is not None

    def new_conversation(self) -> None:
        self.conversation = Conversation.new(
            self.settings.user, self.conversation.model, system=self.conversation.system
        )
        self.memory = self._memory_for(self.conversation)

    def rename(self, name: str) -> None:
        self.conversation.name = valid_name(name)
        self.save()

    def set_model(self, model: str) -> None:
        self.conversation.model = valid_model(model)
        self.save()

    def set_system(self, system: str | None) -> None:
        self.conversation.system = system or None
        self.memory.system = self.conversation.system
        self.save()
