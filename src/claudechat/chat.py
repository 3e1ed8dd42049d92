"""A chat session: one conversation, its memory, the store and Claude. No terminal code here.

The user's message is saved before the API call and the reply after it, so a crash or a
failure never loses what was typed; a reply that stops early is kept and marked as such.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from claudechat.claude import Claude, Reply
from claudechat.conversation import Conversation, Message, Status, utc_now
from claudechat.errors import ApiError, NotFoundError, ReplyCutOffError
from claudechat.memory import DEFAULT_MAX_CONTEXT_TOKENS, ConversationMemory

if TYPE_CHECKING:
    from claudechat.settings import Settings
    from claudechat.storage.store import ConversationStore

OnText = Callable[[str], None]


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
            conversation = store.load_row(store.latest(settings.user))
        else:
            conversation = Conversation.new(settings.user, settings.model)
        if settings.sources.get("model") == "command line" or not (resume or continue_latest):
            conversation.model = settings.model
        if system is not None:
            conversation.system = system
        if name is not None:
            conversation.name = name
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
        """Regenerate the newest reply (or get the one that failed) for the last message."""
        if not self.conversation.messages:
            raise NotFoundError("nothing to retry yet")
        previous = self.memory.drop_last_reply()
        try:
            return self._reply(on_text)
        except BaseException:
            # Nothing new arrived: the earlier reply is better than none.
            if previous is not None and self.conversation.messages[-1].role == "user":
                self.conversation.messages.append(previous)
            raise

    def _reply(self, on_text: OnText) -> Message:
        context = self.memory.get_current_context()
        reply = Reply()
        try:
            for chunk in self.claude.stream(
                context, self.conversation.model, self.conversation.system, reply
            ):
                on_text(chunk)
        except KeyboardInterrupt:
            self._keep_partial(reply, "interrupted")
            raise
        except (ReplyCutOffError, ApiError):
            self._keep_partial(reply, "incomplete")
            raise
        message = self._append_reply(reply, "complete")
        self.memory.record_reply(context, message, reply.usage)
        self.save()
        return message

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
        if not self.conversation.messages:
            return  # an empty conversation is not worth a row in `list`
        self.conversation.updated_at = utc_now()
        self.store.save(self.conversation)

    def new_conversation(self) -> None:
        self.conversation = Conversation.new(
            self.settings.user, self.conversation.model, system=self.conversation.system
        )
        self.memory = self._memory_for(self.conversation)

    def rename(self, name: str) -> None:
        self.conversation.name = name
        self.save()

    def set_model(self, model: str) -> None:
        self.conversation.model = model
        self.save()

    def set_system(self, system: str | None) -> None:
        self.conversation.system = system or None
        self.memory.system = self.conversation.system
        self.save()
