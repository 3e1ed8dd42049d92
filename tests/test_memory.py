"""ConversationMemory: the context fits the budget, is valid for the API, holds the newest."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claudechat.conversation import Message, Usage
from claudechat.errors import ContextTooLargeError
from claudechat.memory import ConversationMemory, estimate_tokens

texts = st.text(min_size=0, max_size=400)
statuses = st.sampled_from(["complete", "interrupted", "incomplete"])


@st.composite
def transcripts(draw: st.DrawFn) -> tuple[list[Message], int, str | None]:
    """Any transcript the app can produce, ending with the user's newest message."""
    messages: list[Message] = []
    for _ in range(draw(st.integers(0, 30))):
        messages.append(Message.of_text("user", draw(texts.filter(str.strip))))
        # A failed turn has no reply; an interrupted one may have empty text.
        if draw(st.booleans()):
            messages.append(Message.of_text("assistant", draw(texts), status=draw(statuses)))
    newest = draw(st.text(min_size=1, max_size=400).filter(str.strip))
    messages.append(Message.of_text("user", newest))
    system = draw(st.one_of(st.none(), st.text(max_size=200)))
    floor = estimate_tokens(newest) + (estimate_tokens(system) + 8 if system else 0)
    budget = draw(st.integers(floor, floor + 3000))
    return messages, budget, system


@settings(max_examples=300, deadline=None)
@given(transcripts())
def test_context_fits_is_valid_and_holds_the_newest_message(case) -> None:  # type: ignore[no-untyped-def]
    messages, budget, system = case
    memory = ConversationMemory(messages, max_context_tokens=budget, system=system)
    context = memory.get_current_context()

    assert memory.context_tokens(context) <= budget
    assert context[0].role == "user"
    assert all(a.role != b.role for a, b in pairwise(context))
    assert context[-1].role == "user"
    assert all(m.text.strip() for m in context)
    assert context[-1].text.endswith(messages[-1].text)


@settings(max_examples=200, deadline=None)
@given(transcripts())
def test_context_is_the_newest_whole_turns(case) -> None:  # type: ignore[no-untyped-def]
    messages, budget, system = case
    memory = ConversationMemory(messages, max_context_tokens=budget, system=system)
    context = memory.get_current_context()
    everything = ConversationMemory(messages, max_context_tokens=10**9, system=system)
    full = everything.get_current_context()
    # Dropping whole oldest turns leaves a suffix of the full context; its first message may
    # be the tail of a merged run of unanswered user messages.
    start = len(full) - len(context)
    assert full[start + 1 :] == context[1:]
    assert full[start].text.endswith(context[0].text)


@st.composite
def growing_conversations(draw: st.DrawFn) -> tuple[list[tuple[str, str | None]], int]:
    """Turns of a conversation far longer than its budget, each well under half of it."""
    turns = []
    for index in range(draw(st.integers(20, 60))):
        question = f"q{index} " + draw(st.text(alphabet="ab", max_size=300))
        # A failed turn has no reply: its message merges into the next one.
        answer = draw(st.one_of(st.none(), st.text(alphabet="cd", min_size=1, max_size=300)))
        turns.append((question, answer))
    return turns, draw(st.integers(400, 1500))


@settings(max_examples=100, deadline=None)
@given(growing_conversations())
def test_context_start_moves_in_half_budget_steps_so_the_cache_is_read(case) -> None:  # type: ignore[no-untyped-def]
    """Once past the budget, every request dropped just the oldest turn: the context's first
    message changed each time, the prompt cache never matched, and every turn paid to write it."""
    turns, budget = case
    memory = ConversationMemory(max_context_tokens=budget)
    starts: list[str] = []
    for question, answer in turns:
        newest = memory.update_memory("user", question)
        context = memory.get_current_context()
        assert memory.context_tokens(context) <= budget
        assert context[0].role == "user" == context[-1].role
        assert all(a.role != b.role for a, b in pairwise(context))
        assert context[-1].text.endswith(newest.text)
        starts.append(context[0].text.split()[0])
        if answer is not None:
            memory.update_memory("assistant", answer)
    changes = sum(a != b for a, b in pairwise(starts))
    appended = sum(m.tokens or 0 for m in memory.messages)
    assert changes <= appended / (budget // 2) + 1


def test_drops_whole_oldest_turns_never_half_a_turn() -> None:
    memory = ConversationMemory(max_context_tokens=10**6)
    for index in range(10):
        memory.update_memory("user", f"question {index} " + "x" * 300)
        memory.update_memory("assistant", f"answer {index} " + "y" * 300)
    memory.update_memory("user", "newest")
    full = memory.get_current_context()
    memory.max_context_tokens = memory.context_tokens(full[-5:])
    context = memory.get_current_context()
    assert [m.text.split()[0:2] for m in context] == [
        ["question", "8"],
        ["answer", "8"],
        ["question", "9"],
        ["answer", "9"],
        ["newest"],
    ]


def test_a_newest_message_of_over_half_the_budget_keeps_the_most_that_fits() -> None:
    """Past the steps a cached context starts at, the newest turns that fit are sent, as before."""
    memory = ConversationMemory(max_context_tokens=1000)
    for index in range(26):  # steps start at turns 0, 9 and 18: 18 onwards is over 500
        memory.update_memory("user", f"question {index} " + "x" * 60)
        memory.update_memory("assistant", f"answer {index} " + "y" * 60)
    memory.update_memory("user", "newest " + "z" * 2000)
    context = memory.get_current_context()
    older_turn = memory.context_tokens(context[:2])
    assert memory.context_tokens(context) + older_turn > 1000 >= memory.context_tokens(context)
    assert context[-1].text.startswith("newest")


def test_a_message_larger_than_the_budget_is_refused_before_sending() -> None:
    memory = ConversationMemory(max_context_tokens=100)
    with pytest.raises(ContextTooLargeError, match="more than the context budget of 100"):
        memory.update_memory("user", "word " * 200)
    assert memory.messages == []


# About 160 tokens (past the budget, within the window), and about 500 (past the window).
@pytest.mark.parametrize(("words", "beyond_window"), [(130, False), (400, True)])
def test_raising_the_budget_is_offered_only_where_the_window_has_room(
    words: int, beyond_window: bool
) -> None:
    """A message larger than the model's whole window was told to raise the budget."""
    memory = ConversationMemory(max_context_tokens=100, window=300)
    with pytest.raises(ContextTooLargeError) as refused:
        memory.update_memory("user", "word " * words)
    assert refused.value.beyond_window == beyond_window
    if beyond_window:
        assert "whole context window of 300 tokens; send less" in str(refused.value)
    else:
        assert "raise max_context_tokens (--max-context-tokens" in str(refused.value)


def test_raising_the_budget_is_not_offered_where_it_is_all_the_window_leaves() -> None:
    """A budget at its ceiling (the window less the reply's room) is capped there whatever the
    setting says, so a message over it was told to raise a setting that could not help."""
    memory = ConversationMemory(max_context_tokens=100, window=300, ceiling=100)
    with pytest.raises(ContextTooLargeError) as refused:
        memory.update_memory("user", "word " * 130)
    assert not refused.value.beyond_window
    assert "max_context_tokens" not in str(refused.value)
    assert "all the model's window leaves beside the reply" in str(refused.value)


def test_failed_turns_merge_into_the_next_user_message() -> None:
    memory = ConversationMemory()
    memory.update_memory("user", "first try")
    memory.update_memory("user", "second try")
    context = memory.get_current_context()
    assert [(m.role, m.text) for m in context] == [("user", "first trysecond try")]
    assert [b["text"] for b in context[0].content] == ["first try", "second try"]


def test_token_counts_become_exact_from_usage() -> None:
    memory = ConversationMemory(system="be brief")
    memory.update_memory("user", "hello")
    context = memory.get_current_context()
    reply = memory.update_memory("assistant", "hi there")
    memory.record_reply(context, reply, Usage(input_tokens=20, output_tokens=3))
    user = memory.messages[0]
    assert (reply.tokens, reply.tokens_exact) == (3, True)
    assert user.tokens_exact and user.tokens == 20 - memory.system_tokens

    # The second turn's input counts the first turn exactly and derives only the new message.
    memory.update_memory("user", "and again")
    context = memory.get_current_context()
    second = memory.update_memory("assistant", "ok")
    memory.record_reply(
        context, second, Usage(input_tokens=5, cache_read_tokens=30, output_tokens=1)
    )
    assert memory.messages[2].tokens == 35 - memory.system_tokens - user.tokens - 3


def test_json_round_trip_keeps_everything() -> None:
    memory = ConversationMemory(max_context_tokens=5000, system="sys")
    memory.update_memory("user", "hello")
    memory.update_memory("assistant", "hi", status="interrupted", usage=Usage(1, 2, 3, 4))
    again = ConversationMemory.from_json(memory.to_json())
    assert again.to_json() == memory.to_json()
    assert again.messages[1].usage == Usage(1, 2, 3, 4)
    assert again.messages[1].status == "interrupted"


def test_thinking_the_api_strips_is_not_counted_against_the_budget() -> None:
    thought = {"type": "thinking", "thinking": "x" * 30_000, "signature": "sig"}
    reply = Message("assistant", [thought, {"type": "text", "text": "short answer"}])
    reply.tokens, reply.tokens_exact = 12_000, True  # output tokens, thinking included
    messages = [Message.of_text("user", "question"), reply, Message.of_text("user", "next")]
    context = ConversationMemory(messages, max_context_tokens=500).get_current_context()
    assert [m.role for m in context] == ["user", "assistant", "user"]
    assert context[1].content[0] == thought  # sent back as it came
    assert context[1].tokens < 20
