"""Format 2: a conversation is a tree of messages, and a save is a merge.

Property tests: merging is commutative, idempotent and associative and never drops a message;
format-1 documents written by claudechat 0.1 are read and upgraded, the same way by anyone.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claudechat.conversation import Conversation, Message, utc_now
from claudechat.errors import CorruptDocumentError, NewerFormatError
from claudechat.merging import covers, merge
from claudechat.storage.store import decode_document, encode_document

FORMAT_1 = Path(__file__).parent / "data" / "format1"
BASE = Conversation.new("tester", "claude-sonnet-4-6")
T0 = utc_now()


def _doc(conversation: Conversation) -> str:
    return json.dumps(conversation.to_document(), sort_keys=True)


@st.composite
def copies(draw: st.DrawFn) -> list[Conversation]:
    """Several sessions' copies of one conversation: a shared history, then each session's
    own turns on top of some message of it, and its own settings at its own times."""
    shared = Conversation.from_document(BASE.to_document())
    for index in range(draw(st.integers(0, 4))):
        shared.append("user" if index % 2 == 0 else "assistant", f"shared {index}")
    sessions = []
    for session in range(draw(st.integers(1, 4))):
        copy = Conversation.from_document(shared.to_document())
        attach = draw(st.sampled_from([None, *[m.id for m in copy.messages]]))
        for turn in range(draw(st.integers(0, 3))):
            message = Message.of_text(
                "user" if turn % 2 == 0 else "assistant",
                f"session {session} turn {turn}",
                parent_id=attach,
                created_at=T0 + timedelta(seconds=draw(st.integers(0, 50))),
                status=draw(st.sampled_from(["pending", "complete"])),
            )
            copy.add(message)
            attach = message.id
        if shared.messages and draw(st.booleans()):
            # A status moves forward in one copy only (a reply arrived for it there).
            copy.messages[0].status = "complete"
        for name in ("name", "system", "model"):
            if draw(st.booleans()):
                copy.set(name, f"{name} by {session}" if name != "model" else f"m-{session}")
                copy.set_at[name] = T0 + timedelta(seconds=draw(st.integers(0, 5)))
        sessions.append(copy)
    return sessions


@settings(max_examples=200, deadline=None)
@given(copies())
def test_a_copy_covers_another_exactly_when_merging_it_in_changes_nothing(sides) -> None:  # type: ignore[no-untyped-def]
    """The journal merges an entry only where the new save does not cover it (journal.py)."""
    for newer in sides:
        unchanged = _doc(merge(newer, newer))  # merge's form of newer (every field's time)
        for older in sides:
            assert covers(newer, older) == (_doc(merge(newer, older)) == unchanged)
        assert covers(newer, newer)
        assert covers(merge(newer, sides[0]), sides[0])


@settings(max_examples=200, deadline=None)
@given(copies())
def test_merge_is_commutative_idempotent_associative_and_keeps_everything(sides) -> None:  # type: ignore[no-untyped-def]
    first = sides[0]
    for other in sides[1:]:
        assert _doc(merge(first, other)) == _doc(merge(other, first))
    assert _doc(merge(first, first)) == _doc(first)
    if len(sides) >= 3:
        a, b, c = sides[:3]
        assert _doc(merge(merge(a, b), c)) == _doc(merge(a, merge(b, c)))
    merged = sides[0]
    for other in sides[1:]:
        merged = merge(merged, other)
    every_id = {m.id for side in sides for m in side.messages}
    assert {m.id for m in merged.messages} == every_id
    # A status only moves forward: a message complete anywhere is complete in the merge.
    complete_anywhere = {m.id for s in sides for m in s.messages if m.status == "complete"}
    assert complete_anywhere <= {m.id for m in merged.messages if m.status == "complete"}
    # The merge is a valid document that reads back the same.
    assert _doc(decode_document(encode_document(merged))) == _doc(merged)


def test_two_sessions_make_two_branches_of_one_conversation() -> None:
    shared = Conversation.new("tester", "claude-sonnet-4-6")
    question = shared.append("user", "hello")
    answer = shared.add(Message.of_text("assistant", "hi", parent_id=question.id))
    mine = Conversation.from_document(shared.to_document())
    theirs = Conversation.from_document(shared.to_document())
    mine.add(Message.of_text("user", "mine", parent_id=answer.id))
    theirs.add(Message.of_text("user", "theirs", parent_id=answer.id))
    merged = merge(mine, theirs)
    assert len(merged.messages) == 4
    assert sorted(leaf.text for leaf in merged.leaves()) == ["mine", "theirs"]
    assert [m.text for m in merged.branch()][:2] == ["hello", "hi"]


def test_a_newer_format_is_refused_and_a_loop_is_corrupt() -> None:
    document = BASE.to_document() | {"format": 3}
    with pytest.raises(NewerFormatError):
        Conversation.from_document(document)
    looped = Conversation.new("tester", "m")
    one = looped.append("user", "a")
    two = looped.add(Message.of_text("assistant", "b", parent_id=one.id))
    data = looped.to_document()
    data["messages"][0]["parent_id"] = two.id
    with pytest.raises(CorruptDocumentError, match="loop"):
        Conversation.from_document(data)
    orphan = looped.to_document()
    orphan["messages"][1]["parent_id"] = "not-here"
    with pytest.raises(CorruptDocumentError, match="missing parent"):
        Conversation.from_document(orphan)


@pytest.mark.parametrize("path", sorted(FORMAT_1.glob("*.json")), ids=lambda p: p.stem)
def test_format_1_documents_of_the_previous_release_upgrade(path: Path) -> None:
    original = json.loads(path.read_text())
    assert original["format"] == 1
    upgraded = Conversation.from_document(original)
    # Every message, in order, on one branch, with its text, status and usage.
    assert [(m.role, m.text, m.status) for m in upgraded.branch()] == [
        (m["role"], m["content"], m["status"]) for m in original["messages"]
    ]
    assert [m.usage.to_dict() if m.usage else None for m in upgraded.branch()] == [
        m.get("usage") for m in original["messages"]
    ]
    assert (upgraded.name, upgraded.system, upgraded.id) == (
        original["name"],
        original["system"],
        original["id"],
    )
    # Two processes upgrading the same document agree on every id: their saves merge.
    again = Conversation.from_document(json.loads(path.read_text()))
    assert _doc(merge(upgraded, again)) == _doc(upgraded)
    # Written back as format 2, read again unchanged.
    assert json.loads(encode_document(upgraded))["format"] == 2
    assert _doc(decode_document(encode_document(upgraded))) == _doc(upgraded)


def test_format_1_retry_cut_short_becomes_two_answers_to_one_question() -> None:
    document = json.loads((FORMAT_1 / "two_turns_named.json").read_text())
    first, answer = document["messages"][:2]
    partial = {**answer, "content": "a regenerated rep", "status": "interrupted"}
    document["messages"] = [first, answer, partial]
    upgraded = Conversation.from_document(document)
    question = upgraded.messages[0]
    assert sorted(m.text for m in upgraded.children(question.id)) == sorted(
        ["a regenerated rep", answer["content"]]
    )
    assert upgraded.branch()[-1].text == answer["content"]  # the whole reply stays shown
