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
from fakes.anthropic_api import ErrorReply, FakeAnthropic, Reply
from serve_harness import Serve, clean_env, text_of, wait_until

USER = "tester"  # --no-auth serves as the local user, CLAUDECHAT_USER in the harness


@contextlib.contextmanager
def embedded_serve(fake: FakeAnthropic, store_timeout: float = 20) -> Iterator[Serve]:
    fake.reset()
    env = clean_env(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake.base_url)
    # A push held up longer than this is given up (to the journal): the holds below stay short.
    env["CLAUDECHAT_STORE_TIMEOUT"] = str(store_timeout)
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
    serve: Serve, http: httpx.Client, fake: FakeAnthropic, reply: Reply | None = None
) -> tuple[str, threading.Thread, list[httpx.Response], threading.Event]:
    """A JSON turn in a new conversation: its id, thread, answer, and the event that lets its
    reply (by default) end. Held until the test sets it, the reply cannot end, nor its push
    land, while the test is still setting the scene on a slow machine. Its message is in the
    journal, not pushed: the reply's save pushes both."""
    started = http.post("/new_chat", json={}).json()["conversation_id"]
    release = threading.Event()
    words = [f"word{i} " for i in range(10)]
    fake.queue(reply or Reply(chunks=words, delay=0.02, held_after=2, release=release))
    answers: list[httpx.Response] = []
    thread = threading.Thread(
        target=lambda: answers.append(http.post("/chat", json={"user_input": "hello"}))
    )
    thread.start()
    wait_until(lambda: fake.requests, "Claude was asked")
    assert texts_of(http, started) == ["hello"]  # read from the journal
    assert stored_texts(serve, started) == []  # one push a turn: after the answer
    return started, thread, answers, release


def texts_of(http: httpx.Client, conversation_id: str) -> list[str]:
    document = http.get("/get_conversation", params={"conversation_id": conversation_id})
    return [text_of(m["content"]) for m in document.json()["messages"]]


@contextlib.contextmanager
def answered_while_its_push_is_held(
    serve: Serve, http: httpx.Client, fake: FakeAnthropic
) -> Iterator[tuple[str, httpx.Response]]:
    """A turn under way, then no push can write: it is answered all the same."""
    started, thread, answers, release = turn_under_way(serve, http, fake)
    with blob_folder_held(serve):
        release.set()
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
            assert stored_texts(serve, started) == []  # not pushed yet
            # Seen all the same, by every reader of this machine's: the journal is read.
            assert texts_of(http, started) == ["hello", reply]
            listed = http.get("/conversations").json()["conversations"]
            assert [c["message_count"] for c in listed if c["conversation_id"] == started] == [2]
        wait_until(lambda: stored_texts(serve, started) == ["hello", reply], "pushed once free")
        serve.settled()


def test_a_conversation_deleted_during_a_json_turn_stays_deleted(
    fake_server: FakeAnthropic,
) -> None:
    """The turn is answered; its push then finds the conversation deleted, and writes nothing
    back: the deletion stands, as if it came just after the answer."""
    with embedded_serve(fake_server) as serve, serve.client() as http:
        started, thread, answers, release = turn_under_way(serve, http, fake_server)
        assert http.delete(f"/conversations/{started}").status_code == 200
        release.set()
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


def test_a_refused_turn_is_answered_once_its_message_is_stored(
    fake_server: FakeAnthropic,
) -> None:
    """The message put off for the reply's push is pushed before a failure's answer: there
    is no reply to push it with."""
    with embedded_serve(fake_server) as serve, serve.client() as http:
        started = http.post("/new_chat", json={}).json()["conversation_id"]
        fake_server.queue(ErrorReply(400, "invalid_request_error", "prompt is too long"))
        answer = http.post("/chat", json={"user_input": "hello"})
        assert answer.status_code == 502, answer.text  # Claude's refusal, passed on
        assert answer.json()["conversation_id"] == started  # the message is kept there
        assert stored_texts(serve, started) == ["hello"]


def test_a_store_that_stopped_answering_is_said_in_the_next_answer(
    fake_server: FakeAnthropic,
) -> None:
    """The first turn after the store stopped answering is answered from the journal, its
    push given up later; the turns after it wait for their saves again, and say where they
    went. Every turn reaches the store once it is back, and once a turn's saves are stored
    again, turns are answered first again."""
    with embedded_serve(fake_server, store_timeout=1) as serve, serve.client() as http:
        started = http.post("/new_chat", json={}).json()["conversation_id"]
        with blob_folder_held(serve):
            first = http.post("/chat", json={"user_input": "one"})
            assert first.status_code == 200 and "notices" not in first.json(), first.text
            wait_until(lambda: "kept in the journal" in serve.log(), "the push was given up")
            # The breaker that push tripped closes once a probe finds the store answering (a
            # read: the held lock stops writes only). Until then a turn is refused (503), this
            # server's copy of its conversation maybe behind the store's.
            wait_until(lambda: not _stale(http, started), "the store answers reads again")
            second = http.post("/chat", json={"user_input": "two"})
            assert second.status_code == 200, second.text
            assert "will be pushed when the store is back" in " ".join(second.json()["notices"])
        replies = [first.json()["reply"], second.json()["reply"]]
        expected = ["one", replies[0], "two", replies[1]]
        wait_until(lambda: stored_texts(serve, started) == expected, "pushed once back", 20)
        wait_until(lambda: _said_nothing(http.post("/chat", json={"user_input": "back?"})), "back")
        with blob_folder_held(serve):  # answered from the journal again: not held up by this
            held = http.post("/chat", json={"user_input": "held"})
            assert held.status_code == 200 and "notices" not in held.json(), held.text


def _stale(http: httpx.Client, conversation_id: str) -> bool:
    document = http.get("/get_conversation", params={"conversation_id": conversation_id})
    return bool(document.json().get("stale"))


def _said_nothing(answer: httpx.Response) -> bool:
    """A turn answered with no word of the store (a 503 while the breaker is still open)."""
    assert answer.status_code in (200, 503), answer.text
    return answer.status_code == 200 and "notices" not in answer.json()


def test_the_journal_drain_leaves_a_turn_under_way_to_push_its_own(
    fake_server: FakeAnthropic,
) -> None:
    """The worker's journal drain (every 5 s) skips the conversation of a turn under way: its
    message, waiting in the journal for the reply, was pushed a second time by the drain and
    logged as saved while the store was down."""
    with embedded_serve(fake_server) as serve, serve.client() as http:
        # Longer than a drain's period: one round at least runs during the turn.
        long = Reply(chunks=[f"word{i} " for i in range(12)], delay=0.55)
        started, thread, answers, _ = turn_under_way(serve, http, fake_server, long)
        while thread.is_alive():  # the drain's push would hold the message alone
            assert len(stored_texts(serve, started)) != 1, "pushed before the turn ended"
            time.sleep(0.05)
        assert answers and answers[0].status_code == 200, answers
        wait_until(lambda: len(stored_texts(serve, started)) == 2, "pushed by the turn")
        assert "while the store was down" not in serve.log()


def test_turns_at_once_on_one_conversation_are_all_seen_and_all_survive_a_kill(
    fake_server: FakeAnthropic,
) -> None:
    """Each turn's message waits in the worker's one journal entry for the conversation: the
    turns wrote it one over the other, so readers saw one message of six, and after a kill
    (no push ever came) one was left."""
    turns = [f"turn {i}" for i in range(6)]
    release = threading.Event()
    with embedded_serve(fake_server) as serve, serve.client() as http:
        started = http.post("/new_chat", json={}).json()["conversation_id"]
        fake_server.queue(*[Reply("late", held_after=0, release=release) for _ in turns])

        def ask(text: str) -> None:
            with contextlib.suppress(httpx.HTTPError), serve.client() as own:
                own.post("/chat", json={"user_input": text, "conversation_id": started})

        threads = [threading.Thread(target=ask, args=(text,)) for text in turns]
        for thread in threads:
            thread.start()
        wait_until(lambda: len(fake_server.requests) == len(turns), "every turn asked Claude")
        assert sorted(texts_of(http, started)) == turns  # from the journal: nothing pushed
        assert serve.process is not None
        serve.process.kill()
        serve.process.wait(10)
        release.set()
        for thread in threads:
            thread.join(10)
    env = clean_env(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake_server.base_url)
    with Serve(env, "--no-auth", home=serve.home) as again, again.client() as http:
        assert sorted(texts_of(http, started)) == turns  # each once: the start pushed them
