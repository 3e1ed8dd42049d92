"""A chat session: one conversation, its memory, the store and Claude. No terminal code here.

The user's message is in the local journal before the API call leaves, and pushed to the store
while the call runs (serve's JSON turns on a store of this machine's: with the reply); the reply
is saved after it (how a session saves: session_saving.py). So a crash or a failure never loses
what was typed, and a reply that stops early is kept and marked as such.

A session works on its own branch of the conversation's message tree: `head` is the newest
message of that branch. Another session's messages land in the same document (saves merge)
but never in this session's requests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from claudechat.attachments import (
    Attachment,
    check,
    check_request,
    has_attachments,
    model_capabilities,
    with_bytes,
)
from claudechat.blocks import text_block
from claudechat.claude import Claude
from claudechat.claude_stream import Reply
from claudechat.conversation import Conversation, Message, Status
from claudechat.errors import ApiError, NotFoundError, ReplyCutOffError, Terminated, UsageError
from claudechat.events import Listener, Retrying, turn_listener
from claudechat.memory import ContextMessage, ConversationMemory
from claudechat.model_catalogue import Catalogue, model_catalogue
from claudechat.models import ModelInfo
from claudechat.names import valid_model, valid_name
from claudechat.request import TurnOptions, valid_effort
from claudechat.session_model import SessionModel
from claudechat.session_saving import SessionSaving
from claudechat.stop_reasons import holds_no_text, holds_thinking, no_text_notice, stop_notice
from claudechat.turn_retries import LONGEST_WAIT_SECONDS, MAX_ATTEMPTS, nothing_arrived, retry_delay

if TYPE_CHECKING:
    from claudechat.settings import Settings
    from claudechat.storage.attachments import AttachmentStore
    from claudechat.storage.store import ConversationStore

OnText = Callable[[str], None]


class ChatSession(SessionSaving, SessionModel):
    # The longest wait before asking Claude again; serve's sessions wait less (turn_retries).
    longest_retry_wait = LONGEST_WAIT_SECONDS

    def __init__(
        self,
        settings: Settings,
        store: ConversationStore,
        claude: Claude,
        conversation: Conversation,
        catalogue: Catalogue | None = None,
    ) -> None:
        """`catalogue`: the model catalogue to describe models with; serve gives every session
        the process's one, so a turn neither parses the cache file nor fetches the list anew."""
        self.settings = settings
        self.store = store
        self.claude = claude
        self.conversation = conversation
        self.head, self.unanswered = _starting_point(conversation)
        # Where status lines go (the REPL and pipe mode print them to stderr).
        self.notify: Callable[[str], None] = lambda _message: None
        self.leave_note: Callable[[str], None] = lambda _note: None
        self.offline = False
        self.saved_in = "stored"  # where the latest save went: stored, journal or memory
        self.deleted = self.pushed_here = False
        self.options = TurnOptions(
            thinking=settings.get("thinking"),
            effort=valid_effort(settings.get("effort")),
            max_output_tokens=settings.get("max_output_tokens"),
        )
        self.catalogue = catalogue or model_catalogue(settings, claude)
        self._described: ModelInfo | None = None
        self._said: set[str] = set()  # notices given once per session
        self._pending_notices: list[str] = []
        self._saving = None

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
        if resume is not None:  # "" too: refused as no id, never a new conversation
            conversation = store.load(settings.user, resume)
        elif continue_latest:
            conversation = store.latest(settings.user)
        else:
            conversation = Conversation.new(settings.user, settings.model)
        resumed = resume is not None or continue_latest
        if settings.sources.get("model") == "command line" or not resumed:
            conversation.set("model", valid_model(settings.model))
        if system is not None:
            conversation.set("system", system)
        if name is not None:
            conversation.set("name", valid_name(name))
        return cls(settings, store, claude, conversation)

    # -- this session's branch --------------------------------------------------------------

    def branch(self) -> list[Message]:
        """This session's messages, root first: what its requests are built from."""
        return self.conversation.branch(self.head) if self.head else []

    @property
    def memory(self) -> ConversationMemory:
        info = self.model_info()
        return ConversationMemory(
            self.branch(),
            self.budget(),
            self.conversation.system,
            self.conversation.model,
            # An undescribed model's window is a guess: raising the budget may yet help.
            info.max_input_tokens if info.known else None,
            self.budget_ceiling(),
        )

    def other_branches(self) -> list[Message]:
        """The last message of every branch but this session's."""
        mine = {m.id for m in self.branch()}
        return [leaf for leaf in self.conversation.leaves() if leaf.id not in mine]

    def resume_notices(self, in_repl: bool = True) -> list[str]:
        """What a person resuming this conversation should know about its other branches.
        Out of the REPL (pipe mode), /branches is named as the REPL's command it is."""
        lines = []
        unanswered = self.conversation.find(self.unanswered)
        if unanswered is not None:
            words = " ".join(unanswered.text.split())
            why = (
                "another session may still be waiting for it, or it crashed"
                if unanswered.status == "pending"
                else "not on this branch"
            )
            lines.append(
                f"the last message has no reply ({why}): {words[:60]!r}; /retry in the REPL "
                "answers it, a new message goes without it"
            )
        others = len(self.other_branches()) - (unanswered is not None)
        if others > 0:
            where = "" if in_repl else f" in the REPL (claudechat chat -r {self.conversation.id})"
            lines.append(
                f"this conversation has {others} other branch(es): /branches lists them{where}"
            )
        return lines

    def switch_branch(self, leaf_id: str) -> None:
        if self.conversation.find(leaf_id) is None:
            raise NotFoundError(f"no message {leaf_id[:8]} in this conversation")
        self.head, self.unanswered = leaf_id, None
        self.conversation.set("head", leaf_id)
        self.save()

    # -- turns ------------------------------------------------------------------------------

    def send(
        self,
        text: str,
        on_text: OnText | None = None,
        attachments: Sequence[Attachment] = (),
        *,
        on_event: Listener | None = None,
    ) -> Message:
        """Add the user's message, save it, stream the reply, save the reply. Attachments are
        checked against the limits before anything is saved or sent.

        `on_event` receives every stream event (claudechat.events); `on_text`, for callers
        that want only the answer, its text deltas."""
        self.refuse_if_deleted()
        listener = turn_listener(on_text, on_event)
        if attachments:
            message = self._with_attachments(text, list(attachments))
        else:
            message = self.memory.update_memory("user", text, status="pending")
        self._add(message)
        self.unanswered = None  # the user moved on: an unanswered message stays as it was
        return self._reply(listener, save_first=True)

    def _what_is_kept(self, question: Message | None) -> str:
        """Of a turn stopped short: a partial reply, else the user's message alone."""
        if question is not None and self.head != question.id:
            return "what arrived is kept"  # the partial reply is the branch's end now
        if question is not None and question.status == "pending":
            return "your message is kept, with no reply yet"
        return "nothing arrived"

    def _leave_unanswered(self, question: Message) -> None:
        """A message left with no reply (refused, failed, stopped before any text) is set
        aside as a session opening a conversation sets one aside: /retry answers it, and the
        next message goes beside it. It went along with every later message instead, so one
        the API refused for itself (too long, say) made every later turn fail too."""
        if self.head == question.id:
            self.head, self.unanswered = question.parent_id, question.id

    def _with_attachments(self, text: str, attachments: list[Attachment]) -> Message:
        model = self.conversation.model
        check(attachments, model, model_capabilities(self, model))
        memory = self.memory
        blocks = [a.block() for a in attachments] + ([text_block(text)] if text.strip() else [])
        message = memory.update_memory("user", blocks, status="pending")
        check_request([b for m in memory.get_current_context() for b in m.content])
        for attachment in attachments:
            self.attachment_store.keep(self.conversation.user_id, attachment)
        return message

    @property
    def attachment_store(self) -> AttachmentStore:
        if self.store.attachments is None:
            raise UsageError("this store keeps no attachments")
        return self.store.attachments

    def retry(self, on_text: OnText | None = None, *, on_event: Listener | None = None) -> Message:
        """Answer an unanswered message, or regenerate the newest reply as a new branch.

        The earlier reply stays in the conversation either way; it stays shown unless the
        new one completes."""
        self.refuse_if_deleted()
        listener = turn_listener(on_text, on_event)
        if self.unanswered is not None:
            self.head, self.unanswered = self.unanswered, None
        current = self.conversation.find(self.head)
        if current is None:
            raise NotFoundError("nothing to retry yet")
        if current.role == "user":
            return self._reply(listener)
        self.head = current.parent_id
        try:
            return self._reply(listener)
        except BaseException:
            self.head = current.id
            self.conversation.set("head", current.id)
            self.save()
            raise

    def _reply(self, listener: Listener, save_first: bool = False) -> Message:
        """The reply to the branch's end; with save_first, the user's message is saved beside
        the request (see save_in_flight.py), and waited for before this returns or raises."""
        question = self.conversation.find(self.head)
        try:
            return self._answer(listener, save_first)
        except BaseException as exc:
            if isinstance(exc, Terminated):  # the line the process ends with says what is kept
                exc.kept = self._what_is_kept(question)
            if question is not None and question.status == "pending":  # a message of the user
                self._leave_unanswered(question)  # with no reply yet (not a regenerated one)
            self.push_deferred()
            raise
        finally:
            self._finish_saving()

    def _answer(self, listener: Listener, save_first: bool) -> Message:
        try:
            memory = self.memory
            context = memory.get_current_context()
            context_tokens = memory.context_tokens(context)  # what max_tokens is fitted beside
            request = self._request(context)  # attachments read before a save may push them
        finally:
            if save_first:
                self._save_beside_request()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            reply = Reply()
            try:
                self._stream(request, context_tokens, reply, listener)
                break
            except (ReplyCutOffError, ApiError) as exc:
                last = reply.text or attempt == MAX_ATTEMPTS
                delay = None if last else retry_delay(exc, attempt, self.longest_retry_wait)
                if delay is None:
                    if reply.text:  # thinking alone is no reply to keep: the message waits
                        self._keep_partial(reply, "incomplete")
                    if isinstance(exc, ApiError) and exc.unknown_model:
                        self._back_to_a_known_model(exc)
                    if isinstance(exc, ReplyCutOffError) and not reply.text:
                        raise nothing_arrived(exc) from exc
                    raise
                # No answer was shown yet, so asking again cannot duplicate what the user saw;
                # the thinking that was is taken back.
                listener(Retrying())
                self.notify(f"{exc}; retrying in {delay:.3g} s ({attempt}/{MAX_ATTEMPTS - 1})")
                self.claude.stops.pause(delay)
        message = self._append_reply(reply, "complete")
        memory.messages.append(message)
        memory.record_reply(context, message, reply.usage)
        self.save()
        notice = stop_notice(reply.stop_reason)
        if holds_no_text(message):
            # Shown as nothing at all, as if the reply were empty; the output limit's own
            # notice said to ask Claude to continue, which a reply without text cannot do.
            # (The stream's thinking too: unsigned, at the output limit, it is not kept.)
            thought = bool(reply.thinking()) or holds_thinking(message)
            notice = no_text_notice(reply.stop_reason, thought)
        if notice:
            self.notify(notice)
        return message

    def _request(self, context: list[ContextMessage]) -> list[ContextMessage]:
        """The context with the bytes of its attachments, resolved here, not in the adapter."""
        if not has_attachments(context):
            return context
        user, model = self.conversation.user_id, self.conversation.model
        citations = model_capabilities(self, model)["citations"]
        return with_bytes(context, lambda sha: self.attachment_store.get(user, sha), citations)

    def _stream(
        self, context: list[ContextMessage], context_tokens: int, reply: Reply, listener: Listener
    ) -> None:
        conversation, params = self.conversation, self.request_params(context_tokens)
        events = self.claude.stream(context, conversation.model, conversation.system, reply, params)
        try:
            for count, event in enumerate(events):
                if count == 0:
                    self.deferred_to_disk()  # the request is out: its message waits on disk
                listener(event)
        except KeyboardInterrupt:
            self._keep_partial(reply, "interrupted")
            raise

    def _keep_partial(self, reply: Reply, status: Status) -> None:
        if reply.content():
            self._append_reply(reply, status)
            self.save()

    def _append_reply(self, reply: Reply, status: Status) -> Message:
        self._mark_answered()
        message = Message(
            "assistant",
            reply.content(),
            parent_id=self.head,
            status=status,
            model=reply.model,
            usage=reply.usage,
            stop_reason=reply.stop_reason,
        )
        if reply.citations:  # kept beside the text; the adapter sends back the text alone
            message.content[0]["citations"] = reply.citations
        return self._add(message)

    def _mark_answered(self) -> None:
        """The request carried every unanswered message at the end of this branch."""
        for message in reversed(self.branch()):
            if message.role != "user":
                break
            if message.status == "pending":
                message.status = "complete"

    def _add(self, message: Message) -> Message:
        self.conversation.add(message)
        self.head = message.id
        return message

    # -- the conversation -------------------------------------------------------------------

    def new_conversation(self) -> None:
        self.conversation = Conversation.new(
            self.settings.user, self.conversation.model, system=self.conversation.system
        )
        self.head, self.unanswered = None, None
        self.deleted = self.pushed_here = False

    def rename(self, name: str) -> None:
        self.conversation.set("name", valid_name(name))
        self.save()

    def set_model(self, model: str) -> None:
        self.conversation.set("model", valid_model(model))
        self.save()

    def set_system(self, system: str | None) -> None:
        self.conversation.set("system", system or None)
        self.save()


def _starting_point(conversation: Conversation) -> tuple[str | None, str | None]:
    """Where a session that opens a conversation continues, and the unanswered message it
    leaves alone: a user message at the end of the shown branch that has no reply may belong
    to a session still waiting for Claude, or to one that crashed; it is answered only when
    the user asks (/retry), never sent along with a new message. So is one a fork ends on."""
    unanswered = None
    branch = conversation.branch()
    while branch and branch[-1].role == "user":  # pending, or a fork's end (its reply cut)
        unanswered = branch[-1].id if unanswered is None else unanswered
        branch.pop()
    return (branch[-1].id if branch else None), unanswered
