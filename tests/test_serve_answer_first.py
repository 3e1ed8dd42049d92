"""On a store of this machine's (the embedded default), a JSON turn is answered once its reply
is in the journal, on disk, and pushed to the store after: every reader here (any worker, the
CLI) merges the journal in, so the turn is seen meanwhile. A team store (PostgreSQL + S3,
read by other hosts too) and streams still answer after the push."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import threading
import time
from collections.abc import Iterator

import httpx

from conftest import API_KEY
from fakes.anthropic_api import FakeAnthropic, Reply
from serve_harness import Serve, clean_env, text_of, wait_until

USER = "tester"  # --no-auth serves as the local user, CLAUDECHAT_USER in the harness


@contextlib.contextmanager
def embedded_serve(fake: FakeAnthropic) -> Iterator[Serve]:
    fake.reset()
    env = clean_env(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake.base_url)
    # A push held up longer than this is given up (to the journal): the holds below stay short.
    env["CLAUDECHAT_STORE_TIMEOUT"] = "20"
    with Serve(env, "--no-auth") as serve:
        yield serve


@contextlib.contextmanager
def blob_folder_held(serve: Serve) -> Iterator[None]:
    """The lock a save of the user's documents takes: no push writes a document meanwhile."""
    folder = serve.home / "conversations" / USER
    descriptor = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def stored_texts(serve: Serve, conversation_id: str) -> list[str]:
    import json

    path = serve.home / "conversations" / USER / f"{conversation_id}.json"
    return [text_of(m["content"]) for m in json.loads(path.read_text())["messages"]]


def turn_under_way(
    serve: Serve, http: httpx.Client, fake: FakeAnthropic
) -> tuple[str, threading.Thread, list[httpx.Response]]:
    """A JSON turn in a new conversation, its reply streaming for a second, once the user's
    message has reached the store (pushed beside the request): its id, thread and answer."""
    started = http.post("/new_chat", json={}).json()["conversation_id"]
    fake.queue(Reply(chunks=[f"word{i} " for i in range(10)], delay=0.1))
    answers: list[httpx.Response] = []
    thread = threading.Thread(
        target=lambda: answers.append(http.post("/chat", json={"user_input": "hello"}))
    )
    thread.start()
    wait_until(lambda: "hello" in _texts_or_none(serve, started), "the message was pushed")
    return started, thread, answers


@contextlib.contextmanager
def answered_while_its_push_is_held(
    serve: Serve, http: httpx.Client, fake: FakeAnthropic
) -> Iterator[tuple[str, httpx.Response]]:
    """A turn under way, then no push can write: it is answered all the same."""
    started, thread, answers = turn_under_way(serve, http, fake)
    with blob_folder_held(serve):
        thread.join(timeout=10)
        assert answers, "the answer waited for the push"
        assert answers[0].status_code == 200, answers[0].text
        yield started, answers[0]


def test_a_json_turn_is_answered_before_its_push_and_seen_meanwhile(
    fake_server: FakeAnthropic,
) -> None:
    with embedded_serve(fake_server) as serve, serve.client() as http:
        with answered_while_its_push_is_held(serve, http, fake_server) as (started, answer):
            reply = answer.json()["reply"]
            assert stored_texts(serve, started) == ["hello"]  # not pushed yet
            # Seen all the same, by every reader of this machine's: the journal is read.
            document = http.get("/get_conversation", params={"conversation_id": started})
            assert [text_of(m["content"]) for m in document.json()["messages"]] == [
                "hello",
                reply,
            ]
            listed = http.get("/conversations").json()["conversations"]
            assert [c["message_count"] for c in listed if c["conversation_id"] == started] == [2]
        wait_until(lambda: stored_texts(serve, started) == ["hello", reply], "pushed once free")
        serve.settled()


def _texts_or_none(serve: Serve, conversation_id: str) -> list[str]:
    try:
        return stored_texts(serve, conversation_id)
    except (FileNotFoundError, ValueError):  # not written yet, or being replaced
        return []


def test_a_conversation_deleted_during_a_json_turn_stays_deleted(
    fake_server: FakeAnthropic,
) -> None:
    """The turn is answered; its push then finds the conversation deleted, and writes nothing
    back: the deletion stands, as if it came just after the answer."""
    with embedded_serve(fake_server) as serve, serve.client() as http:
        started, thread, answers = turn_under_way(serve, http, fake_server)
        assert http.delete(f"/conversations/{started}").status_code == 200
        thread.join(timeout=20)
        assert answers and answers[0].status_code == 200, answers
        serve.settled()
        assert http.get("/get_conversation", params={"conversation_id": started}).status_code == 404
        listed = http.get("/conversations").json()["conversations"]
        assert started not in {c["conversation_id"] for c in listed}
        assert "deleted" in serve.log()  # said in the log, the answer having gone


def test_only_a_store_of_this_machines_answers_first(  # type: ignore[no-untyped-def]
    isolated_home, monkeypatch
) -> None:
    """Another host behind the same PostgreSQL would not see a turn not pushed yet."""
    from claudechat.server.service import Service
    from claudechat.settings import load_settings

    assert Service.from_settings(load_settings()).answers_before_pushing
    monkeypatch.setenv("CLAUDECHAT_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert not Service.from_settings(load_settings()).answers_before_pushing


def test_sigterm_waits_for_the_push_of_a_turn_answered_first(
    fake_server: FakeAnthropic,
) -> None:
    """The store is closed only once the pushes of saves already answered are done."""
    with embedded_serve(fake_server) as serve, serve.client() as http:
        with answered_while_its_push_is_held(serve, http, fake_server) as (started, answer):
            assert serve.process is not None
            serve.process.send_signal(signal.SIGTERM)
            time.sleep(0.5)  # shutting down meanwhile, its push still held
        assert serve.process.wait(30) == 0, serve.log()
        assert stored_texts(serve, started) == ["hello", answer.json()["reply"]]
        assert not list((serve.home / "journal" / USER).glob("*.json"))
        assert not list(serve.home.glob("*-wal")), serve.log()
