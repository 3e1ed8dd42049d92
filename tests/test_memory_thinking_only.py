"""Replies that hold only thinking, or that Claude declined (nothing to send back), anywhere in
a transcript, the newest message's own included: the context is still valid for the API. A
transcript whose newest message was answered with thinking only raised "the newest message
must be the user's"."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from claudechat.blocks import Block
from claudechat.conversation import Message
from claudechat.memory import ConversationMemory, estimate_tokens

words = st.text(alphabet="abc ", min_size=1, max_size=300).filter(str.strip)


def thinking_only(text: str = "", thought: str = "pondering") -> Message:
    """A reply that stopped after its thinking: no text, or only white space."""
    content: list[Block] = [{"type": "thinking", "thinking": thought, "signature": "sig"}]
    if text:
        content.append({"type": "text", "text": text})
    return Message("assistant", content)


def refused(text: str) -> Message:
    """A reply Claude declined: kept in the document, never sent back (nor its question)."""
    message = Message.of_text("assistant", text)
    message.stop_reason = "refusal"
    return message


replies = st.one_of(
    st.none(),  # the request failed: no reply
    words.map(lambda text: Message.of_text("assistant", text)),
    st.sampled_from(["", " ", "\n\n"]).map(thinking_only),
    words.map(refused),
)


@st.composite
def transcripts(draw: st.DrawFn) -> tuple[list[Message], int, int]:
    """Turns each with a reply, none, or thinking only; then the newest message, and perhaps
    replies to it that hold thinking only. Returns the messages, the budget and the index of
    the newest user message."""
    messages: list[Message] = []
    for number in range(draw(st.integers(0, 20))):
        messages.append(Message.of_text("user", f"q{number} " + draw(words)))
        reply = draw(replies)
        if reply is not None:
            messages.append(reply)
    newest = Message.of_text("user", "newest " + draw(words))
    messages.append(newest)
    newest_at = len(messages) - 1
    messages.extend(thinking_only() for _ in range(draw(st.integers(0, 2))))
    floor = estimate_tokens(newest.text)
    return messages, draw(st.integers(floor, floor + 3000)), newest_at


@settings(max_examples=300, deadline=None)
@given(transcripts())
def test_the_context_is_valid_whatever_holds_thinking_only(case) -> None:  # type: ignore[no-untyped-def]
    messages, budget, newest_at = case
    memory = ConversationMemory(messages, max_context_tokens=budget)
    context = memory.get_current_context()

    assert memory.context_tokens(context) <= budget
    assert context[0].role == "user" and context[-1].role == "user"
    assert all(a.role != b.role for a, b in pairwise(context))
    assert context[-1].text.endswith(messages[newest_at].text)
    # Thinking is sent back only with the text of the reply that thought it.
    assert all(m.text.strip() for m in context)
    # Replies to the newest message that hold thinking only are as none (what /retry asks
    # again); earlier, the message(s) they answered are left out, as before.
    without = ConversationMemory(messages[: newest_at + 1], max_context_tokens=budget)
    assert context == without.get_current_context()


def test_the_newest_message_answered_with_thinking_only_ends_the_context() -> None:
    messages = [
        Message.of_text("user", "first"),
        Message.of_text("assistant", "an answer"),
        Message.of_text("user", "second"),
        thinking_only(),
    ]
    context = ConversationMemory(messages).get_current_context()  # it raised ValueError
    assert [(m.role, m.text) for m in context] == [
        ("user", "first"),
        ("assistant", "an answer"),
        ("user", "second"),
    ]


def test_a_message_answered_with_thinking_only_is_left_out_once_another_follows() -> None:
    messages = [
        Message.of_text("user", "first"),
        thinking_only(),
        Message.of_text("user", "second"),
    ]
    context = ConversationMemory(messages).get_current_context()
    assert [(m.role, m.text) for m in context] == [("user", "second")]


def test_a_refused_turn_is_left_out_of_the_context() -> None:
    messages = [
        Message.of_text("user", "first"),
        Message.of_text("assistant", "an answer"),
        Message.of_text("user", "second, refused"),
        refused("I can't help with that."),
        Message.of_text("user", "third"),
    ]
    context = ConversationMemory(messages).get_current_context()
    assert [(m.role, m.text) for m in context] == [
        ("user", "first"),
        ("assistant", "an answer"),
        ("user", "third"),
    ]
