"""ConversationMemory: the whole transcript, and the newest part of it that fits a token budget.

Token counts are exact where the API told us (a reply's usage gives its output tokens, and the
request's input tokens, from which the newest user message's share is derived) and estimated
only for text that has not been sent yet.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from claudechat.attachments import estimated_tokens
from claudechat.blocks import THINKING_TYPES, Block, text_block, text_of
from claudechat.conversation import Message, Role, Usage
from claudechat.errors import BUDGET_SETTING, ContextTooLargeError

# Well below the 200k-token window of current models, leaving room for the reply.
DEFAULT_MAX_CONTEXT_TOKENS = 150_000
# Role markers and message framing cost a few tokens per message beyond the text itself.
MESSAGE_OVERHEAD_TOKENS = 4
SYSTEM_OVERHEAD_TOKENS = 8


def estimate_tokens(text: str) -> int:
    """A deliberately generous estimate (Claude averages ~3.5 characters per token in English,
    and about one token per character of CJK, Hangul, kana or other non-Latin scripts)."""
    return _tokens(len(text), _wide_characters(text)) + MESSAGE_OVERHEAD_TOKENS


def estimate_block_tokens(blocks: list[Block]) -> int:
    """Text and thinking count by their characters; other blocks by their JSON size."""
    characters = wide = 0
    for block in blocks:
        if block.get("type") == "attachment":
            characters += estimated_tokens(block) * 3
            continue
        text = _counted_text(block)
        characters += len(text)
        wide += _wide_characters(text)
    return _tokens(characters, wide) + MESSAGE_OVERHEAD_TOKENS


def _counted_text(block: Block) -> str:
    kind = block.get("type")
    if kind == "text":
        return str(block["text"])
    if kind == "thinking":
        return str(block["thinking"])
    return json.dumps(block)  # non-ASCII escaped: \uXXXX counts as six characters


def _tokens(characters: int, wide: int) -> int:
    """Three characters a token, but one token for each wide character."""
    return math.ceil((characters - wide) / 3) + wide


def _wide_characters(text: str) -> int:
    """Characters past Latin-1 (CJK, Hangul, kana, Cyrillic, emoji ...): a tokenizer gives each
    about one token or more, so at three a token 200,000 Japanese characters were estimated
    at 66,700 tokens. Counted as what Latin-1 cannot encode, one pass in C (about 1 ms a
    megabyte): this runs on the whole context every turn."""
    return len(text) - len(text.encode("latin-1", "ignore"))


@dataclass(frozen=True)
class ContextMessage:
    role: Role
    content: tuple[Block, ...]
    tokens: int = 0

    @property
    def text(self) -> str:
        return text_of(list(self.content))


class ConversationMemory:
    def __init__(
        self,
        messages: list[Message] | None = None,
        max_context_tokens: int = DEFAULT_MAX_CONTEXT_TOKENS,
        system: str | None = None,
        model: str | None = None,
        window: int | None = None,
        ceiling: int | None = None,
    ) -> None:
        if max_context_tokens <= 0:
            raise ValueError("max_context_tokens must be positive")
        # Shared with the Conversation that owns it: appending here appends there.
        self.messages: list[Message] = messages if messages is not None else []
        self.max_context_tokens = max_context_tokens
        self.system = system
        # Thinking is signed for the model that wrote it: another model's is not sent back.
        self.model = model
        # The model's whole context window, where known: past it, raising the budget is no help.
        self.window = window
        # The most the budget can be (the window less the reply's room): a budget there is
        # not raised by raising the setting (session_model caps it), so that is not advised.
        self.ceiling = ceiling

    # -- the transcript ---------------------------------------------------------------------

    def update_memory(self, role: Role, content: str | list[Block], **fields: Any) -> Message:
        """Append one message to the transcript (as the child of the newest) and return it."""
        blocks = [text_block(content)] if isinstance(content, str) else list(content)
        if role == "user":
            self.check_fits(text_of(blocks))
        fields.setdefault("parent_id", self.messages[-1].id if self.messages else None)
        message = Message(role=role, content=blocks, **fields)
        if message.tokens is None:
            message.tokens = estimate_block_tokens(blocks)
        self.messages.append(message)
        return message

    def check_fits(self, content: str) -> None:
        """Refuse, before any API call, a user message that alone cannot fit the budget."""
        needed = self.system_tokens + estimate_tokens(content)
        if needed > self.max_context_tokens:
            if self._beyond_window(needed):
                raise self._beyond_window_error(f"that message is about {needed:,} tokens")
            raise ContextTooLargeError(
                f"that message is about {needed:,} tokens, more than the context budget of "
                f"{self.max_context_tokens:,}; {self._advice('shorten it')}"
            )

    def _beyond_window(self, needed: int) -> bool:
        return self.window is not None and needed > self.window

    def _beyond_window_error(self, what: str) -> ContextTooLargeError:
        """It said "raise --max-context-tokens" of a message larger than the model's whole
        window, which no budget can take."""
        return ContextTooLargeError(
            f"{what}, more than the model's whole context window of {self.window:,} tokens; "
            "send less (a smaller file, a shorter message)",
            beyond_window=True,
        )

    def record_reply(self, context: list[ContextMessage], reply: Message, usage: Usage) -> None:
        """Make token counts exact from what the API reported for this request."""
        reply.tokens, reply.tokens_exact = usage.output_tokens, True
        pending = self._pending_user_message()
        if pending is None or usage.prompt_tokens == 0:
            return
        earlier = sum(m.tokens for m in context[:-1])
        # The last context turn may merge several user messages; only the newest is derived.
        merged_in = context[-1].tokens - (pending.tokens or 0)
        pending.tokens = max(1, usage.prompt_tokens - self.system_tokens - earlier - merged_in)
        pending.tokens_exact = True

    # -- the context ------------------------------------------------------------------------

    @property
    def system_tokens(self) -> int:
        return estimate_tokens(self.system) + SYSTEM_OVERHEAD_TOKENS if self.system else 0

    def get_current_context(self) -> list[ContextMessage]:
        """The newest whole turns that fit the budget, valid for the Messages API.

        A turn is a user message and its reply, if any. A turn whose reply holds nothing to
        send back (only thinking, no text, or Claude's refusal) is left out whole, and
        consecutive user messages (a message whose reply failed, then the next one) are
        merged, so the result starts with a user message, alternates roles, and ends with the
        newest user message. A reply with nothing to send back that nothing follows yet is as
        no reply: the message it answered is still the newest, and ends the context (what
        /retry asks again); left out, the context ended with an earlier reply, which the API
        refuses, and this raised.
        """
        turns = _turns(_without_empty_replies_at_end(self.messages, self.model), self.model)
        if not turns or turns[-1][-1].role != "user":
            raise ValueError("the newest message must be the user's")
        costs = [sum(m.tokens for m in turn) for turn in turns]
        budget = self.max_context_tokens - self.system_tokens
        if costs[-1] > budget:
            raise self._newest_too_large_error(self.system_tokens + costs[-1])
        start = _steady_start(costs, budget)
        if start is None:
            start = _newest_start(costs, budget)
        return _merge_roles(message for turn in turns[start:] for message in turn)

    def _newest_too_large_error(self, needed: int) -> ContextTooLargeError:
        if self._beyond_window(needed):
            return self._beyond_window_error(f"the newest message alone is about {needed:,} tokens")
        return ContextTooLargeError(
            "the newest message alone does not fit the context budget of "
            f"{self.max_context_tokens:,} tokens; {self._advice('send less')}"
        )

    def _advice(self, shorten: str) -> str:
        """Raising the setting helps a budget below the ceiling alone: at it, the advice was
        to raise a setting that would be capped right back."""
        if self.ceiling is not None and self.max_context_tokens >= self.ceiling:
            return f"{shorten}: the budget is all the model's window leaves beside the reply"
        return f"{shorten} or raise {BUDGET_SETTING}"

    def context_tokens(self, context: Iterable[ContextMessage]) -> int:
        return self.system_tokens + sum(m.tokens for m in context)

    def _pending_user_message(self) -> Message | None:
        for message in reversed(self.messages):
            if message.role == "user":
                return message
        return None

    # -- serialisation ----------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps(
            {
                "max_context_tokens": self.max_context_tokens,
                "system": self.system,
                "messages": [m.to_dict() for m in self.messages],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ConversationMemory:
        data = json.loads(text)
        return cls(
            messages=[Message.from_dict(m) for m in data["messages"]],
            max_context_tokens=data["max_context_tokens"],
            system=data.get("system"),
        )


def _sendable(message: Message, model: str | None = None) -> tuple[Block, ...]:
    """The blocks the API accepts back: no empty text (an interrupted reply may have none),
    no trailing white space at the end of a reply (the API refuses that too), and no thinking
    signed for another model than the one asked now.

    A reply Claude declined (stop reason refusal) has nothing to send back either: sent with
    every later message, the refused turn brought more refusals, and the API's guidance is to
    remove it before continuing. It stays in the document, for show and export."""
    if message.role == "assistant" and message.stop_reason == "refusal":
        return ()
    other_model = model is not None and message.model is not None and message.model != model
    blocks: list[Block] = []
    for block in message.content:
        if block.get("type") in THINKING_TYPES and other_model:
            continue
        if block.get("type") == "text":
            text = block["text"].rstrip() if message.role == "assistant" else block["text"]
            if not text.strip():
                continue
            block = {**block, "text": text}
        blocks.append(block)
    if all(b.get("type") in THINKING_TYPES for b in blocks):
        return ()  # thinking alone is no answer
    return tuple(blocks)


def _without_empty_replies_at_end(messages: list[Message], model: str | None) -> list[Message]:
    end = len(messages)
    while end and messages[end - 1].role == "assistant" and not _sendable(messages[end - 1], model):
        end -= 1
    return messages[:end]


def _turns(messages: Iterable[Message], model: str | None) -> list[list[ContextMessage]]:
    turns: list[list[ContextMessage]] = []
    for message in messages:
        content = _sendable(message, model)
        if not content:
            if message.role == "assistant":
                _drop_unanswered(turns)
            continue
        tokens = _context_tokens(message, content)
        if message.role == "user":
            turns.append([ContextMessage("user", content, tokens)])
        elif turns and len(turns[-1]) == 1:
            # One reply per turn: a /retry cut short keeps the earlier reply first.
            turns[-1].append(ContextMessage("assistant", content, tokens))
    return turns


def _drop_unanswered(turns: list[list[ContextMessage]]) -> None:
    """A reply with nothing to send back (only thinking, no text at all, or a refusal)
    answered the message(s) before it with nothing: they are left out, as a message whose
    reply failed is set aside. Sent on with the next message, they were merged into it, as if
    no reply had come between them."""
    while turns and len(turns[-1]) == 1:
        turns.pop()


def _context_tokens(message: Message, content: tuple[Block, ...]) -> int:
    """What a message takes of the context. A reply's exact count (its output tokens) includes
    its thinking, which the API strips from earlier turns: such a reply counts without it."""
    if any(b.get("type") in THINKING_TYPES for b in content):
        return estimate_block_tokens([b for b in content if b.get("type") not in THINKING_TYPES])
    if message.tokens is not None:
        return message.tokens
    return estimate_block_tokens(list(content))


def _steady_start(costs: list[int], budget: int) -> int | None:
    """The earliest turn, of those the context may start at, from which the rest fits.

    Dropping only the oldest turn whenever the context outgrew the budget changed its first
    message on every request, so the prompt cache never matched and each turn paid to write
    the whole context again. The context may instead start only at turns fixed by the
    conversation's own beginning, about half a budget apart: new turns never move them, so the
    start stays put, and the cache is read, until the context outgrows the budget again.
    None where even the last such turn leaves too much (a newest message of over half a budget).
    """
    step = max(1, budget // 2)
    starts, since = [0], 0
    for index, cost in enumerate(costs[:-1]):
        since += cost
        if since >= step:
            starts.append(index + 1)
            since = 0
    remaining = sum(costs)
    previous = 0
    for start in starts:
        remaining -= sum(costs[previous:start])
        previous = start
        if remaining <= budget:
            return start
    return None


def _newest_start(costs: list[int], budget: int) -> int:
    """The earliest turn from which the newest turns fit: the most context the budget holds."""
    start = len(costs)
    while start > 0 and costs[start - 1] <= budget:
        budget -= costs[start - 1]
        start -= 1
    return start


def _merge_roles(messages: Iterable[ContextMessage]) -> list[ContextMessage]:
    merged: list[ContextMessage] = []
    for message in messages:
        if merged and merged[-1].role == message.role:
            previous = merged[-1]
            merged[-1] = ContextMessage(
                message.role,
                (*previous.content, *message.content),
                previous.tokens + message.tokens,
            )
        else:
            merged.append(message)
    return merged
