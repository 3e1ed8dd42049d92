"""/health after an outage: the first call once the store answers again says so. It answered
with the failure its breaker remembered (server/service.py, storage/guard.py Guard.ask), and
only that call started the probe that would close the breaker: the first /health after the
store came back said "unreachable", a minute later as well as at once."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from conftest import API_KEY
from fakes.anthropic_api import FakeAnthropic
from serve_harness import Serve, clean_env, team_env
from test_outages import postgres_processes


@pytest.fixture
def server(postgres, s3, fake_server: FakeAnthropic) -> Any:  # type: ignore[no-untyped-def]
    env = {
        **clean_env(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake_server.base_url),
        **team_env(postgres, s3),
        "CLAUDECHAT_STORE_TIMEOUT": "2",
    }
    with Serve(env) as serving:
        yield serving


def test_the_first_health_after_s3_answers_again_says_ok(server, s3) -> None:  # type: ignore[no-untyped-def]
    with server.client() as http:
        s3.hang()
        try:
            hung = http.get("/health")  # given up at the deadline: the breaker opens
        finally:
            s3.wake()
        back = http.get("/health")
    assert (hung.status_code, hung.json()["blob_store"]) == (503, "unreachable")
    assert (back.status_code, back.json()) == (
        200,
        {"status": "ok", "database": "ok", "blob_store": "ok"},
    )


def test_the_first_health_after_postgresql_answers_again_says_ok(server, postgres) -> None:  # type: ignore[no-untyped-def]
    stopped = postgres_processes(postgres)
    with server.client() as http:
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        try:
            hung = http.get("/health")
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
        back = http.get("/health")
    assert (hung.status_code, hung.json()["database"]) == (503, "unreachable")
    assert (back.status_code, back.json()["database"]) == (200, "ok")
