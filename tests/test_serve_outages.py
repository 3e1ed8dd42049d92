"""`claudechat serve` on a shared store: several hosts on one database and bucket, and the
database or the blob store failing under a running server (health, deadlines, the journal).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fakes.anthropic_api import FakeAnthropic
from serve_harness import Serve, api_env, conversation_json, team_env, text_of
from test_serve_lifecycle import fake  # noqa: F401  (the fixture)


def test_two_hosts_on_one_database_and_bucket_answer_alike(
    request: pytest.FixtureRequest,
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    shared = {
        **api_env(fake),
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


def test_health_and_requests_say_when_the_database_is_down(
    request: pytest.FixtureRequest,
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    postgres = request.getfixturevalue("postgres")
    env = {**api_env(fake), **team_env(postgres, request.getfixturevalue("s3"))}
    with Serve(env) as server:
        token = server.token("alice")
        with server.client(token) as http:
            assert http.get("/health").json()["database"] == "ok"
            postgres.pause()
            try:
                down = http.get("/health")
                listed = http.get("/conversations")
                with server.client("not-a-token") as stranger_http:
                    stranger = stranger_http.get("/conversations")
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
    request: pytest.FixtureRequest,
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """Stopped behind the workers' open connections (SIGSTOP): the token check and /health ran
    outside the store's deadline, so every request waited until PostgreSQL woke (a minute
    in the report), and /health then said "ok"."""
    from test_outages import postgres_processes

    postgres = request.getfixturevalue("postgres")
    env = {
        **api_env(fake),
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
    request: pytest.FixtureRequest,
    fake: FakeAnthropic,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A worker pushed its journal only when it saved the same conversation again: another
    host (here a CLI with a home of its own) never saw the turn made during the outage."""
    postgres, s3 = request.getfixturevalue("postgres"), request.getfixturevalue("s3")
    env = {**api_env(fake), **team_env(postgres, s3), "CLAUDECHAT_STORE_TIMEOUT": "1"}
    elsewhere = {**env, "CLAUDECHAT_HOME": str(tmp_path / "elsewhere"), "CLAUDECHAT_USER": "alice"}

    def stored_texts(conversation_id: str) -> list[str] | None:
        """The texts as another machine sees them; None while it cannot find the conversation."""
        shown = subprocess.run(
            [sys.executable, "-m", "claudechat", "show", "--json", conversation_id],
            env=elsewhere,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if shown.returncode == 1 and "no conversation" in shown.stderr:  # not pushed yet
            return None
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
        # The drain pushes one conversation at a time: wait for both.
        fresh_id = fresh.json()["conversation_id"]
        deadline = time.monotonic() + 30
        while (
            "during" not in ((texts := stored_texts(started)) or [])
            or (fresh_texts := stored_texts(fresh_id)) is None
        ):
            assert time.monotonic() < deadline, texts
            time.sleep(1)  # each look is a process of its own
    assert texts == ["before", "echo: before", "during", "echo: during"]
    assert fresh_texts == []


def test_a_blob_store_that_stops_answering_leaves_requests_running_on_the_journal(
    request: pytest.FixtureRequest,
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """The token check once shared the store's breaker with blob writes: after one save to a
    hung S3 was given up, every request failed at once with 503 though PostgreSQL was up."""
    from servers import Blackhole

    postgres, s3 = request.getfixturevalue("postgres"), request.getfixturevalue("s3")
    with Blackhole() as hung:
        env = {
            **api_env(fake),
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


def test_a_host_whose_copy_is_behind_refuses_turns_while_s3_is_down(
    request: pytest.FixtureRequest,
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """Host B read the conversation at two messages; host A then took it to six. With S3
    down, B answered its own copy as the conversation, unmarked, and continued the chat from
    it: Claude was asked without A's turns, and the conversation forked once S3 was back. The
    database, up meanwhile, says the copy is behind; A's copy, which it says is current, goes
    on as before."""
    postgres, s3 = request.getfixturevalue("postgres"), request.getfixturevalue("s3")
    env = {**api_env(fake), **team_env(postgres, s3), "CLAUDECHAT_STORE_TIMEOUT": "1"}
    with Serve(env) as host_a, Serve(env) as host_b:
        token = host_a.token("alice")
        with host_a.client(token) as a, host_b.client(token) as b:
            started = b.post("/new_chat", json={}).json()["conversation_id"]
            wanted = {"conversation_id": started}
            assert b.post("/chat", json={"user_input": "one", **wanted}).status_code == 200
            for text in ("two", "three"):
                assert a.post("/chat", json={"user_input": text, **wanted}).status_code == 200
            s3.pause()
            try:
                on_a = a.get("/get_conversation", params=wanted)
                on_b = b.get("/get_conversation", params=wanted)
                head_b = b.head("/get_conversation", params=wanted)
                refused = b.post("/chat", json={"user_input": "four via B", **wanted})
                continued = a.post("/chat", json={"user_input": "four via A", **wanted})
            finally:
                s3.resume()
            assert on_a.status_code == 200 and len(on_a.json()["messages"]) == 6
            assert "stale" not in on_a.json() and "Claudechat-Stale" not in on_a.headers
            assert on_b.status_code == 200, on_b.text
            assert len(on_b.json()["messages"]) == 2
            assert on_b.json()["stale"] is True
            assert on_b.headers["Claudechat-Stale"] == "true"
            assert head_b.headers["Claudechat-Stale"] == "true"
            assert on_b.json()["notices"] == [
                "warning: the conversation store is unavailable; showing the copy kept by this "
                "server, which may be older than the store's"
            ]
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["type"] == "storage_unavailable"
            assert "copy of the conversation may be older than the store's" in refused.text
            assert f":{s3.port}" not in refused.text + on_b.text
            assert continued.status_code == 200, continued.text
            assert a.post("/chat", json={"user_input": "five", **wanted}).status_code == 200
            after = conversation_json(b, started)
    assert "stale" not in after
    assert [text_of(m["content"]) for m in after["messages"] if m["role"] == "user"] == [
        "one",
        "two",
        "three",
        "four via A",
        "five",
    ]
