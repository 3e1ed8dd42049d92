"""`claudechat serve` started while its PostgreSQL is down, as under a service manager that
starts both at boot: serve exited 5 at once with the database's error alone, and so
crash-looped, though a blob store down at start was a warning and serve started."""

from __future__ import annotations

import time

import httpx
import pytest

from fakes.anthropic_api import FakeAnthropic
from serve_harness import Serve, api_env, team_env
from test_serve_lifecycle import fake  # noqa: F401  (the fixture)


def _health_once_up(server: Serve, seconds: float = 60) -> httpx.Response:
    """/health once it answers 200 (the database is asked again at most once in a while), or
    its last answer."""
    deadline = time.monotonic() + seconds
    while True:
        health = httpx.get(server.base_url + "/health", trust_env=False, timeout=30)
        if health.status_code == 200 or time.monotonic() > deadline:
            return health
        time.sleep(0.2)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_database_down_at_start_is_a_warning_and_serve_runs_once_it_is_back(
    request: pytest.FixtureRequest,
    fake: FakeAnthropic,  # noqa: F811
    workers: str,
) -> None:
    postgres = request.getfixturevalue("postgres")
    env = {**api_env(fake), **team_env(postgres, request.getfixturevalue("s3"))}
    server = Serve(env, "--workers", workers)
    postgres.pause()  # with no token made yet: "no tokens yet" would be said if counted
    try:
        server.start(probe="/openapi.json")  # /health: 503 while the database is down
        with server.client("any-token") as http:
            down = http.get("/health")
            refused = http.post("/chat", json={"user_input": "too early"})
    finally:
        postgres.resume()
    try:
        health = _health_once_up(server)
        token = server.token("alice")
        with server.client(token) as http:
            answer = http.post("/chat", json={"user_input": "now"})
            with server.client("not-a-token") as stranger_http:
                stranger = stranger_http.get("/conversations")
    finally:
        server.stop()
    log = server.log()
    assert log.count("warning: the database did not answer at start:") == 1, log
    assert f":{postgres.port}" in log and "Traceback" not in log, log
    assert "no tokens yet" not in log, log  # they could not be counted: nothing is said
    assert (down.status_code, down.json()["database"]) == (503, "unreachable")
    assert (refused.status_code, refused.json()["error"]["type"]) == (503, "storage_unavailable")
    assert health.status_code == 200, health.text
    assert answer.status_code == 200, answer.text
    assert answer.json()["conversation_id"]
    assert stranger.status_code == 401  # tokens are checked once the database answers


def test_a_database_refusing_the_configuration_at_start_still_stops_serve(
    request: pytest.FixtureRequest,
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    """A wrong database name is no outage: waiting does not fix it (exit 2, one line)."""
    postgres = request.getfixturevalue("postgres")
    env = {
        **api_env(fake),
        **team_env(postgres, request.getfixturevalue("s3")),
        "CLAUDECHAT_DATABASE_URL": postgres.url("no_such_database"),
    }
    server = Serve(env).launch()
    assert server.process is not None
    code = server.process.wait(60)
    server.stop()
    log = server.log()
    assert code == 2, log
    assert "no_such_database" in log and "did not answer" not in log, log
    assert "Traceback" not in log and "serving on" not in log, log
