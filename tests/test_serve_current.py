"""A user's current conversation when serve's requests race: what a bare /chat continues.

The handlers are thin over Service (open_session, then the turn), so these run its calls
from threads of this process, as a worker's threads run them, against both stores."""

from __future__ import annotations

import threading
from collections.abc import Callable

from claudechat.server.service import ChatRequest, Notices, Service
from claudechat.settings import load_settings
from conftest import Backend
from fakes.anthropic_api import FakeAnthropic, Reply

USER = "newcomer"


def _service() -> Service:
    service = Service.from_settings(load_settings())
    service.connect()
    return service


def _bare_chat(service: Service, text: str, on_text: Callable[[str], None] | None = None) -> str:
    """What POST /chat {"user_input": text} does; the conversation it went to."""
    session = service.open_session(USER, ChatRequest(text), Notices())
    session.send(text, on_text or (lambda _text: None))
    return session.conversation.id


def test_bare_chats_at_once_from_a_new_user_share_one_conversation(
    backend: Backend, fake_api: FakeAnthropic
) -> None:
    """Each used to start a conversation of its own: ten at once made ten."""
    service = _service()
    texts = [f"hello {n}" for n in range(10)]
    went_to: list[str] = []
    start = threading.Barrier(len(texts))

    def one(text: str) -> None:
        start.wait()
        went_to.append(_bare_chat(service, text))

    threads = [threading.Thread(target=one, args=(text,)) for text in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    (shared,) = set(went_to)
    assert service.current.get(USER) == shared
    stored = service.store.load(USER, shared)
    assert sorted(m.text for m in stored.messages if m.role == "user") == sorted(texts)
    assert len(stored.messages) == 2 * len(texts)
    service.store.close()


def test_new_chat_during_a_first_bare_chat_is_what_the_next_one_continues(
    backend: Backend, fake_api: FakeAnthropic
) -> None:
    """A first bare /chat still streaming, then /new_chat: the bare /chat's end used to make
    its own conversation current again, over the one /new_chat had just started (it now claims
    the current conversation when it starts, and records nothing when it ends)."""
    service = _service()
    fake_api.queue(Reply(chunks=["slow ", "reply"], delay=0.3))
    started: list[str] = []

    def on_text(_text: str) -> None:
        if not started:
            started.append(service.new_chat(USER))

    first = _bare_chat(service, "first", on_text)
    (newer,) = started
    assert newer != first
    assert _bare_chat(service, "next") == newer
    service.store.close()
