"""A second Ctrl-C to `claudechat serve` while its first waits for replies in flight."""

from __future__ import annotations

import json
import signal
import threading
from typing import Any

import httpx
import pytest

from conftest import API_KEY
from fakes.anthropic_api import FakeAnthropic, Reply
from serve_harness import Serve, clean_env, text_of, wait_until


@pytest.fixture
def fake(fake_server: FakeAnthropic) -> FakeAnthropic:
    fake_server.reset()
    return fake_server


def test_a_second_ctrl_c_saves_the_replies_in_flight_and_closes_the_store(
    fake: FakeAnthropic,
) -> None:
    """uvicorn's force quit skipped the app's shutdown: the reply in flight was cut where it
    stood, the log showed KeyboardInterrupt and CancelledError tracebacks, and the SQLite
    database was left open (its -wal and -shm files beside it)."""
    release = threading.Event()
    fake.queue(Reply(chunks=["the first words ", "never sent"], held_after=1, release=release))
    server = Serve(
        clean_env(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake.base_url), "--no-auth"
    )
    answers: list[Any] = []

    def ask() -> None:
        try:
            with server.client() as http:
                answers.append(http.post("/chat", json={"user_input": "a long one"}))
        except httpx.HTTPError as exc:
            answers.append(exc)

    with server:
        thread = threading.Thread(target=ask)
        thread.start()
        wait_until(lambda: fake.requests, "the reply started")
        assert server.process is not None
        server.process.send_signal(signal.SIGINT)
        wait_until(lambda: "Waiting for connections" in server.log(), "the first Ctrl-C waits")
        server.process.send_signal(signal.SIGINT)
        code = server.process.wait(30)
        release.set()
        thread.join(10)
    log = server.log()
    assert "Traceback" not in log and "CancelledError" not in log
    assert log.rstrip().endswith(
        "claudechat: forced to quit; the replies in flight were stopped, and what arrived of "
        "them saved, marked interrupted"
    )
    assert code == 130
    assert not list(server.home.glob("*-wal")) and not list(server.home.glob("*-shm"))
    listed = server.cli("list", "--json")
    (row,) = json.loads(listed.stdout)
    stored = json.loads(server.cli("show", "--json", row["id"]).stdout)
    reply = stored["messages"][-1]
    assert reply["status"] == "interrupted" and text_of(reply["content"]) == "the first words "
    (answer,) = answers
    assert answer.status_code == 503 and answer.json()["error"]["type"] == "shutting_down"
    assert answer.json()["conversation_id"] == stored["id"]
