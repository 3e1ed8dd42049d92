"""Stopping and scaling `claudechat serve`: SIGTERM mid-reply, several hosts on one store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import API_KEY
from fakes.anthropic_api import ErrorReply, FakeAnthropic, Reply
from serve_harness import Serve, clean_env, sse_events, team_env, text_of

WORDS = [f"w{i} " for i in range(20)]
# uvicorn shuts down gracefully, then re-raises the signal so the exit status says SIGTERM.
STOPPED = (0, -signal.SIGTERM)


@pytest.fixture
def fake(fake_server: FakeAnthropic) -> FakeAnthropic:
    fake_server.reset()
    return fake_server


def _env(fake: FakeAnthropic) -> dict[str, str]:
    return clean_env(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake.base_url)


def _chat_in_background(server: Serve, answers: list[Any]) -> threading.Thread:
    def post() -> None:
        try:
            with server.client() as http:
                answers.append(http.post("/chat", json={"user_input": "a long one"}))
        except httpx.HTTPError as exc:
            answers.append(exc)

    thread = threading.Thread(target=post)
    thread.start()
    return thread


def _sigterm_during(server: Serve, fake: FakeAnthropic, client: Callable[[], None]) -> None:
    """`client` (its requests) in a thread; SIGTERM once the reply streams; both ended."""
    thread = threading.Thread(target=client)
    thread.start()
    _wait_until_streaming(fake)
    server.terminate()
    assert server.process is not None and server.process.wait(30) in STOPPED
    thread.join(10)


def _wait_until_streaming(fake: FakeAnthropic, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not fake.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # a few deltas in
    assert fake.requests, "the reply never started"


def _stored(server: Serve) -> dict[str, Any]:
    listed = server.cli("list", "--json")
    (row,) = json.loads(listed.stdout)
    shown = server.cli("show", "--json", row["id"])
    return json.loads(shown.stdout)  # type: ignore[no-any-return]


def test_sigterm_lets_a_reply_in_flight_finish_before_exit(fake: FakeAnthropic) -> None:
    fake.queue(Reply(chunks=WORDS, delay=0.05))  # about a second
    server = Serve(_env(fake), "--no-auth").start()
    answers: list[Any] = []
    thread = _chat_in_background(server, answers)
    _wait_until_streaming(fake)
    server.terminate()
    assert server.process is not None and server.process.wait(60) in STOPPED
    thread.join(10)
    (answer,) = answers
    assert answer.status_code == 200 and answer.json()["reply"] == "".join(WORDS)
    assert _stored(server)["messages"][-1]["status"] == "complete"


def test_sighup_with_one_worker_stops_as_sigterm_does(fake: FakeAnthropic) -> None:
    """It met the CLI's handler inside uvicorn's event loop: a traceback in the log, no grace
    period for the reply in flight, exit 0."""
    fake.queue(Reply(chunks=WORDS, delay=0.05))  # about a second
    server = Serve(_env(fake), "--no-auth").start()
    answers: list[Any] = []
    thread = _chat_in_background(server, answers)
    _wait_until_streaming(fake)
    assert server.process is not None
    server.process.send_signal(signal.SIGHUP)
    assert server.process.wait(60) in STOPPED
    thread.join(10)
    (answer,) = answers
    assert answer.status_code == 200 and answer.json()["reply"] == "".join(WORDS)
    assert "Traceback" not in server.log()


def test_sigterm_saves_a_reply_that_outlasts_the_grace_period(fake: FakeAnthropic) -> None:
    fake.queue(Reply(chunks=WORDS * 5, delay=0.05))  # about five seconds
    server = Serve(_env(fake), "--no-auth", "--graceful-seconds", "1").start()
    answers: list[Any] = []
    thread = _chat_in_background(server, answers)
    _wait_until_streaming(fake)
    server.terminate()
    # Had shutdown waited for the whole reply, it would be saved complete.
    assert server.process is not None and server.process.wait(30) in STOPPED
    thread.join(10)
    stored = _stored(server)
    reply = stored["messages"][-1]
    assert reply["role"] == "assistant" and reply["status"] == "interrupted"
    assert 0 < len(text_of(reply["content"]).split()) < len(WORDS) * 5
    (answer,) = answers
    assert answer.status_code == 503 and answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["type"] == "shutting_down"
    assert answer.json()["conversation_id"] == stored["id"]
    assert "Traceback" not in server.log()
    # The documented way such a stop goes: uvicorn's ERROR line for it tripped log alerting.
    cancelled = [line for line in server.log().splitlines() if "graceful shutdown" in line]
    assert cancelled and all(" WARNING " in line for line in cancelled), cancelled
    assert " ERROR " not in server.log()


def test_sigterm_past_the_grace_period_ends_a_stream_with_an_error_event(
    fake: FakeAnthropic,
) -> None:
    fake.queue(Reply(chunks=WORDS * 5, delay=0.05))  # about five seconds
    server = Serve(_env(fake), "--no-auth", "--graceful-seconds", "1").start()
    lines: list[str] = []

    def stream() -> None:
        body = {"user_input": "a long one", "stream": True}
        with server.client() as http, http.stream("POST", "/chat", json=body) as answer:
            lines.extend(answer.iter_lines())

    _sigterm_during(server, fake, stream)
    events = sse_events(lines)
    assert {name for name, _ in events[:-1]} == {"delta"}
    name, data = events[-1]
    stored = _stored(server)
    assert name == "error" and json.loads(data)["error"]["type"] == "shutting_down"
    assert json.loads(data)["conversation_id"] == stored["id"]
    reply = stored["messages"][-1]
    assert reply["status"] == "interrupted"
    assert text_of(reply["content"]) == "".join(json.loads(d)["text"] for _, d in events[:-1])
    assert "Traceback" not in server.log()


def test_sigterm_past_the_grace_period_before_any_text_ends_a_stream_with_an_error_event(
    fake: FakeAnthropic,
) -> None:
    """Claude's reply has begun but no text yet (a long think): the stream has its 200
    already, so the answer to shutdown is its last event, saying what is kept."""
    fake.queue(Reply(chunks=["late ", "words"], delay=2.5))
    server = Serve(_env(fake), "--no-auth", "--graceful-seconds", "1").start()
    answers: list[Any] = []

    def stream() -> None:
        body = {"user_input": "a slow start", "stream": True}
        with server.client() as http, http.stream("POST", "/chat", json=body) as answer:
            answers.append((answer.status_code, sse_events(answer.iter_lines())))

    _sigterm_during(server, fake, stream)
    ((status, events),) = answers
    stored = _stored(server)
    assert status == 200 and [name for name, _ in events] == ["error"]
    error = json.loads(events[0][1])
    assert (error["status"], error["error"]["type"]) == (503, "shutting_down")
    assert error["error"]["message"].endswith("your message is saved, with no reply yet")
    assert error["conversation_id"] == stored["id"]
    assert [m["role"] for m in stored["messages"]] == ["user"]
    assert "Traceback" not in server.log()


def test_sigterm_past_the_grace_period_before_claude_answers_a_stream_in_json(
    fake: FakeAnthropic,
) -> None:
    """Claude has not begun a reply (the turn waits out a rate limit's retry-after): no
    events have started, so the answer is a real status, 503, in JSON, not uvicorn's
    plain-text 500."""
    fake.queue(ErrorReply(429, "rate_limit_error", headers={"retry-after": "30"}))
    server = Serve(_env(fake), "--no-auth", "--graceful-seconds", "1").start()
    answers: list[Any] = []

    def stream() -> None:
        body = {"user_input": "a slow start", "stream": True}
        with server.client() as http:
            answers.append(http.post("/chat", json=body))

    _sigterm_during(server, fake, stream)
    (answer,) = answers
    assert answer.status_code == 503 and answer.json()["error"]["type"] == "shutting_down"
    assert answer.json()["conversation_id"] == _stored(server)["id"]
    assert "Traceback" not in server.log()


def test_sigterm_with_claude_silent_stops_its_request_at_once(fake: FakeAnthropic) -> None:
    """Claude accepted the request and sends nothing (a long think, a stalled upstream). The
    turn's thread waited in its read until the next event or the idle timeout (60 s), and
    the process with it, long past the grace period."""
    fake.queue(Reply(chunks=["too late"], delay=30))
    server = Serve(_env(fake), "--no-auth", "--graceful-seconds", "1").start()
    answers: list[Any] = []
    started = time.monotonic()
    _sigterm_during(server, fake, lambda: _ask(server, answers))
    assert time.monotonic() - started < 15
    (answer,) = answers
    assert answer.status_code == 503 and answer.json()["error"]["type"] == "shutting_down"
    # It said "what arrived of the reply is saved, marked interrupted" of no reply.
    assert answer.json()["error"]["message"].endswith("your message is saved, with no reply yet")
    assert [m["role"] for m in _stored(server)["messages"]] == ["user"]  # kept; nothing came
    assert "Traceback" not in server.log()


def _ask(server: Serve, answers: list[Any]) -> None:
    with server.client() as http:
        answers.append(http.post("/chat", json={"user_input": "think hard"}))


def test_two_hosts_on_one_database_and_bucket_answer_alike(
    request: pytest.FixtureRequest, fake: FakeAnthropic
) -> None:
    shared = {
        **_env(fake),
        **team_env(request.getfixturevalue("postgres"), request.getfixturevalue("s3")),
    }
    with Serve(shared) as one, Serve(shared, "--workers", "2") as two:
        token = one.token("alice")
        with one.client(token) as first, two.client(token) as second:
            started = first.post("/new_chat", json={}).json()["conversation_id"]
            ids = {
                second.post("/chat", json={"user_input": "hi from two"}).json()["conversation_id"]
            }
            ids.add(
                first.post("/chat", json={"user_input": "hi from one"}).json()["conversation_id"]
            )
            for _ in range(4):  # fresh connections: either worker of the second host may answer
                answer = httpx.post(
                    two.base_url + "/chat",
                    json={"user_input": "again"},
                    headers={"Authorization": f"Bearer {token}"},
                    trust_env=False,
                    timeout=30,
                )
                ids.add(answer.json()["conversation_id"])
            document = first.get("/get_conversation", params={"conversation_id": started}).json()
    assert ids == {started}
    assert len(document["messages"]) == 12


def test_the_other_commands_do_not_import_the_server() -> None:
    code = (
        "import sys; from claudechat.cli import run; run(['--help']); "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_health_and_requests_say_when_the_database_is_down(
    request: pytest.FixtureRequest, fake: FakeAnthropic
) -> None:
    postgres = request.getfixturevalue("postgres")
    env = {**_env(fake), **team_env(postgres, request.getfixturevalue("s3"))}
    with Serve(env) as server:
        token = server.token("alice")
        with server.client(token) as http:
            assert http.get("/health").json()["database"] == "ok"
            postgres.pause()
            try:
                down = http.get("/health")
                listed = http.get("/conversations")
                stranger = httpx.get(
                    server.base_url + "/conversations",
                    headers={"Authorization": "Bearer not-a-token"},
                    trust_env=False,
                    timeout=30,
                )
            finally:
                postgres.resume()
            assert down.status_code == 503
            assert down.json() == {
                "status": "unavailable",
                "database": "unreachable",
                "blob_store": "ok",
            }
            assert listed.status_code == 503
            assert listed.json()["error"]["type"] == "storage_unavailable"
            # Where the database is (host, port) is the operator's to know, not any caller's.
            for answer in (listed, stranger):
                assert answer.status_code == 503
                assert f":{postgres.port}" not in answer.text and "postgres" not in answer.text
            assert f":{postgres.port}" in server.log()
            assert http.get("/health").status_code == 200


def test_a_postgresql_that_stops_answering_costs_requests_one_deadline(
    request: pytest.FixtureRequest, fake: FakeAnthropic
) -> None:
    """Stopped behind the workers' open connections (SIGSTOP): the token check and /health ran
    outside the store's deadline, so every request waited until PostgreSQL woke (a minute
    in the report), and /health then said "ok"."""
    from test_outages import postgres_processes

    postgres = request.getfixturevalue("postgres")
    env = {
        **_env(fake),
        **team_env(postgres, request.getfixturevalue("s3")),
        "CLAUDECHAT_STORE_TIMEOUT": "1",
    }
    with Serve(env) as server:
        token = server.token("alice")
        with server.client(token) as http:
            assert http.post("/chat", json={"user_input": "before"}).status_code == 200
            assert http.get("/health").status_code == 200  # its connections are pooled now
            stopped = postgres_processes(postgres)
            for pid in stopped:
                os.kill(pid, signal.SIGSTOP)
            try:
                started = time.monotonic()
                listed = http.get("/conversations", timeout=20)
                listed_took = time.monotonic() - started
                started = time.monotonic()
                health = http.get("/health", timeout=20)
                health_took = time.monotonic() - started
            finally:
                for pid in stopped:
                    os.kill(pid, signal.SIGCONT)
    assert (listed.status_code, listed.json()["error"]["type"]) == (503, "storage_unavailable")
    assert (health.status_code, health.json()["database"]) == (503, "unreachable")
    assert health.json()["blob_store"] == "ok"
    assert listed_took < 5 and health_took < 5, (listed_took, health_took)


def test_a_turn_saved_to_the_journal_in_an_outage_reaches_the_store_once_it_is_back(
    request: pytest.FixtureRequest, fake: FakeAnthropic, tmp_path: Path
) -> None:
    """A worker pushed its journal only when it saved the same conversation again: another
    host (here a CLI with a home of its own) never saw the turn made during the outage."""
    postgres, s3 = request.getfixturevalue("postgres"), request.getfixturevalue("s3")
    env = {**_env(fake), **team_env(postgres, s3), "CLAUDECHAT_STORE_TIMEOUT": "1"}
    elsewhere = {**env, "CLAUDECHAT_HOME": str(tmp_path / "elsewhere"), "CLAUDECHAT_USER": "alice"}

    def stored_texts(conversation_id: str) -> list[str]:
        shown = subprocess.run(
            [sys.executable, "-m", "claudechat", "show", "--json", conversation_id],
            env=elsewhere,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stderr
        return [text_of(m["content"]) for m in json.loads(shown.stdout)["messages"]]

    with Serve(env) as server:
        token = server.token("alice")
        with server.client(token) as http:
            started = http.post("/chat", json={"user_input": "before"}).json()["conversation_id"]
            s3.pause()
            try:
                during = http.post("/chat", json={"user_input": "during"})
                # Its empty conversation goes to the journal too: the id is the caller's.
                fresh = http.post("/new_chat", json={})
            finally:
                s3.resume()
            assert during.status_code == 200, during.text
            assert fresh.status_code == 200, fresh.text
            # Told what became of the turn, not where S3 is: the endpoint, its port and the
            # bucket reached any token holder in the answer (the log keeps them).
            assert during.json()["notices"] == [
                "the conversation store is unavailable; the conversation is kept by the server "
                "and will be pushed when the store is back"
            ]
            bucket = env["CLAUDECHAT_STORAGE_URL"].split("/")[2]
            assert f":{s3.port}" not in during.text and bucket not in during.text
            assert bucket in server.log()
        deadline = time.monotonic() + 30
        while "during" not in (texts := stored_texts(started)):
            assert time.monotonic() < deadline, texts
            time.sleep(1)  # each look is a process of its own
    assert texts == ["before", "echo: before", "during", "echo: during"]
    assert stored_texts(fresh.json()["conversation_id"]) == []


def test_a_blob_store_that_stops_answering_leaves_requests_running_on_the_journal(
    request: pytest.FixtureRequest, fake: FakeAnthropic
) -> None:
    """The token check once shared the store's breaker with blob writes: after one save to a
    hung S3 was given up, every request failed at once with 503 though PostgreSQL was up."""
    from servers import Blackhole

    postgres, s3 = request.getfixturevalue("postgres"), request.getfixturevalue("s3")
    with Blackhole() as hung:
        env = {
            **_env(fake),
            **team_env(postgres, s3),
            "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{hung.port}",
            "CLAUDECHAT_STORE_TIMEOUT": "1",
        }
        server = Serve(env).start(probe="/openapi.json")  # /health: 503, the blob store hangs
        try:
            token = server.token("alice")
            with server.client(token) as http:
                answers = [http.post("/chat", json={"user_input": f"turn {n}"}) for n in range(4)]
                health = http.get("/health")
        finally:
            server.stop()
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    assert len({a.json()["conversation_id"] for a in answers}) == 1
    assert health.json()["database"] == "ok" and health.json()["blob_store"] == "unreachable"
