"""The user's message is pushed to the store while the request to Claude runs (chat.py,
session_saving.py, save_in_flight.py): a slow or silent store no longer holds up the request,
the message is in the journal before the request leaves, and saves stay in order."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from claudechat.chat import ChatSession
from claudechat.claude import Claude
from claudechat.settings import load_settings
from claudechat.storage import open_store
from conftest import Backend
from fakes.anthropic_api import Reply
from servers import Blackhole
from test_faults import journal_files
from test_outages import blackhole_store, heal

DEADLINE = 3  # the store's deadline in these tests (CLAUDECHAT_STORE_TIMEOUT)


@contextlib.contextmanager
def session_on_a_silent_store(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[ChatSession, Blackhole]]:
    """A session whose blob store accepts connections and never answers (deadline: DEADLINE)."""
    monkeypatch.setenv("CLAUDECHAT_STORE_TIMEOUT", str(DEADLINE))
    with Blackhole() as blobs:
        blackhole_store("blobs", blobs, monkeypatch)
        settings = load_settings()
        yield ChatSession.start(settings, open_store(settings), Claude(settings)), blobs


def texts_once_healed(
    monkeypatch: pytest.MonkeyPatch, team: Backend, session: ChatSession
) -> list[str]:
    """The store answers again: `sync` pushes the session's conversation; its stored texts."""
    heal(monkeypatch, team)
    healthy = open_store(load_settings())
    assert healthy.sync("tester").pushed == [session.conversation.id]
    return [m.text for m in healthy.load("tester", session.conversation.id).messages]


def test_a_silent_store_does_not_hold_up_the_request(  # type: ignore[no-untyped-def]
    team: Backend, fake_api, monkeypatch, isolated_home
) -> None:
    with session_on_a_silent_store(monkeypatch) as (session, blobs):
        # A reply that streams for about as long as the store's deadline.
        fake_api.queue(Reply(chunks=[f"part {i} " for i in range(10)], delay=DEADLINE / 10))
        journal_at_first_text: list[str] = []

        def first_text(_text: str) -> None:  # the push cannot have finished: S3 is silent
            if not journal_at_first_text:
                journal_at_first_text.extend(p.read_text() for p in journal_files(isolated_home))
                journal_at_first_text.append("(read)")

        session.claude.client, session.budget()  # the SDK imported, the models known
        started = time.monotonic()
        session.send("hello", first_text)
        took = time.monotonic() - started
        assert any('"hello"' in entry for entry in journal_at_first_text), journal_at_first_text
        asked_after = fake_api.requests[-1].received_at - started
        # Before, the request waited out the deadline first: 3 s, then 3 s of reply.
        assert asked_after < DEADLINE / 2, asked_after
        assert took < 2 * DEADLINE - 0.5, took
        assert blobs.accepted >= 1  # the save did reach the silent store, beside the request
        assert session.saved_in == "journal"
        assert len(journal_files(isolated_home)) == 1
        session.store.journal.release()  # as when the process ends
    heal(monkeypatch, team)
    healthy = open_store(load_settings())
    assert healthy.sync("tester").pushed == [session.conversation.id]
    stored = healthy.load("tester", session.conversation.id)
    assert [(m.text, m.status) for m in stored.messages] == [
        ("hello", "complete"),
        ("".join(f"part {i} " for i in range(10)), "complete"),
    ]


@pytest.mark.parametrize("failure", ["refused", "cut"])
def test_a_failed_request_still_waits_for_the_message_to_be_saved(  # type: ignore[no-untyped-def]
    backend: Backend, fake_api, failure
) -> None:
    from fakes.anthropic_api import ErrorReply

    settings = load_settings()
    session = ChatSession.start(settings, open_store(settings), Claude(settings))
    if failure == "refused":
        fake_api.queue(ErrorReply(400, "invalid_request_error", "no"))
    else:
        fake_api.queue(Reply(chunks=["half ", "reply"], cut_after=1))
    with pytest.raises(Exception):  # noqa: B017  (which error is other tests' business)
        session.send("keep me", lambda _text: None)
    # Nothing is left running: the session's conversation is the stored one, in order.
    assert session._saving is None
    stored = open_store(settings).load("tester", session.conversation.id)
    texts = [m.text for m in stored.messages]
    assert texts == (["keep me"] if failure == "refused" else ["keep me", "half "])


def test_ctrl_c_while_the_push_is_awaited_keeps_the_reply(  # type: ignore[no-untyped-def]
    team: Backend, fake_api, monkeypatch, isolated_home
) -> None:
    """The reply has arrived; the push of the user's message is still waiting on a silent
    store; the user presses Ctrl-C. The reply stays in the session and in the journal."""
    with session_on_a_silent_store(monkeypatch) as (session, _blobs):
        fake_api.queue(Reply("a short reply"))
        main = threading.get_ident()

        timers: list[threading.Timer] = []

        def ctrl_c_soon(_text: str) -> None:  # after the reply, while the push is awaited
            if not timers:
                timers.append(threading.Timer(0.5, signal.pthread_kill, (main, signal.SIGINT)))
                timers[0].start()

        with pytest.raises(KeyboardInterrupt):
            session.send("hello", ctrl_c_soon)
        timers[0].join()
        assert [m.text for m in session.conversation.messages] == ["hello", "a short reply"]
        entries = [path.read_text() for path in journal_files(isolated_home)]
        assert any("a short reply" in entry for entry in entries), entries
        session.store.journal.release()  # as when the process ends
    assert texts_once_healed(monkeypatch, team, session) == ["hello", "a short reply"]


def test_a_reply_that_arrives_while_the_push_runs_is_journaled_once(  # type: ignore[no-untyped-def]
    team: Backend, fake_api, monkeypatch, isolated_home
) -> None:
    """The reply's save waits for the push of the user's message; it is written to the
    journal before that wait (so a Ctrl-C loses nothing) and not a second time after it."""
    with session_on_a_silent_store(monkeypatch) as (session, _blobs):
        fake_api.queue(Reply("a short reply"))
        journal = session.store.journal
        journaled: list[list[str]] = []
        write = journal.write_merged

        def counted(conversation, document=None):  # type: ignore[no-untyped-def]
            journaled.append([m.text for m in conversation.messages])
            return write(conversation, document)

        journal.write_merged = counted  # type: ignore[method-assign]
        session.send("hello", lambda _text: None)
        assert journaled == [["hello"], ["hello", "a short reply"]]
        assert session.saved_in == "journal"
        session.store.journal.release()  # as when the process ends
    assert texts_once_healed(monkeypatch, team, session) == ["hello", "a short reply"]
