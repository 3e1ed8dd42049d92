"""A serve worker warms up at start (server/warm.py, claude_warmup.py): the SDK streams a canned
reply in memory, the database compiles the statements requests read with, and the model
catalogue is read or fetched in the background. No Messages API call, nothing saved, and a
Models API that is down or silent does not hold the worker up."""

from __future__ import annotations

import logging
import time

import httpx
import pytest

from claudechat import claude_warmup
from claudechat.models import cache_path
from claudechat.server import warm
from claudechat.server.service import Service
from claudechat.settings import load_settings
from conftest import API_KEY
from serve_harness import Serve, clean_env
from servers import Blackhole

STARTED = "Application startup complete."


@pytest.mark.parametrize("provider", ["anthropic", "bedrock"])
def test_the_sdk_warm_up_streams_a_canned_reply_through_the_adapter(  # type: ignore[no-untyped-def]
    isolated_home, provider
) -> None:
    reply = claude_warmup.warm_up(load_settings({"provider": provider}))
    assert reply.complete and reply.stop_reason == "end_turn"
    assert reply.content() == [
        {"type": "thinking", "thinking": ".", "signature": "s"},
        {"type": "text", "text": claude_warmup.TEXT},
    ]


def test_a_worker_warms_up_without_asking_claude_or_saving(  # type: ignore[no-untyped-def]
    fake_api, isolated_home, caplog
) -> None:
    settings = load_settings()
    service = Service.from_settings(settings)
    describing = warm.warm_up(service)
    describing.join(timeout=30)
    assert not describing.is_alive()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert fake_api.requests == []  # no message to Claude
    assert len(fake_api.model_requests) == 1  # the catalogue, its cache being empty
    catalogue = cache_path(settings.data_dir)
    assert catalogue.exists()
    assert service.store.metadata.list_for_user(settings.user) == []
    files = [p for p in settings.data_dir.rglob("*.json") if p != catalogue]
    assert files == []  # no document, journal entry or local copy
    service.store.close()


def test_a_silent_models_api_does_not_hold_the_worker_up(  # type: ignore[no-untyped-def]
    isolated_home, monkeypatch
) -> None:
    with Blackhole() as silent:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{silent.port}")
        settings = load_settings()
        service = Service.from_settings(settings)
        describing = warm.warm_up(service)
        deadline = time.monotonic() + 30
        while silent.accepted == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        # Returned, with the catalogue's request waiting on the silent server.
        assert silent.accepted >= 1
        assert describing.is_alive() and describing.daemon
        service.store.close()


def test_serve_warms_each_worker_up_before_any_request(fake_api, isolated_home) -> None:  # type: ignore[no-untyped-def]
    env = clean_env(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake_api.base_url)
    with Serve(env, "--workers", "2") as server:
        deadline = time.monotonic() + 30
        # Each worker logs its start once its lifespan (warm-up included) is over.
        while time.monotonic() < deadline and (
            server.log().count(STARTED) < 2 or not cache_path(server.home).exists()
        ):
            time.sleep(0.05)
        assert server.log().count(STARTED) == 2
        assert cache_path(server.home).exists()  # the catalogue, described with no request
        assert fake_api.requests == []  # and no message to Claude
        assert "warming up" not in server.log()  # no step failed, in either worker


def test_a_worker_asks_for_the_models_once_even_where_it_cannot_cache_them(  # type: ignore[no-untyped-def]
    fake_api, tmp_path
) -> None:
    """Every request's session describes its model from the worker's one catalogue: with a
    home where models.json cannot be written, turns do not each fetch the list again."""
    home = tmp_path / "home"
    (home / "models.json").mkdir(parents=True)  # neither readable nor writable as a file
    env = clean_env(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake_api.base_url)
    with Serve(env, "--no-auth", home=home) as server, server.client() as http:
        for turn in range(3):
            answer = http.post("/chat", json={"user_input": f"turn {turn}"})
            assert answer.status_code == 200, answer.text
    assert len(fake_api.requests) == 3
    assert len(fake_api.model_requests) == 1  # once in the worker, not once a turn


@pytest.mark.parametrize(
    ("options", "line"),
    [
        (["--workers", "2"], "serving on"),
        (["--workers", "2"], "Uvicorn running on"),
        (["--workers", "1"], "serving on"),
        (["--host", "localhost"], "serving on"),
    ],
)
def test_a_connection_right_after_serving_on_waits_for_the_workers(  # type: ignore[no-untyped-def]
    fake_api, isolated_home, options, line
) -> None:
    """uvicorn's supervisor bound the socket, and its workers listened only after their
    warm-up: for 8 to 13 s after both lines every connection was refused. One worker listened
    only after its own warm-up, a second after "serving on"; on a host name, even once an
    address listened first."""
    env = clean_env(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake_api.base_url)
    server = Serve(env, *options).launch()
    try:
        deadline = time.monotonic() + 60
        while line not in server.log():
            assert time.monotonic() < deadline and server.process.poll() is None, server.log()  # type: ignore[union-attr]
            time.sleep(0.005)
        answer = httpx.get(server.base_url + "/openapi.json", timeout=60, trust_env=False)
        assert answer.status_code == 200
    finally:
        server.stop()
