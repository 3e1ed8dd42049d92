"""The model catalogue (model_catalogue.py): when it fetches the Models API's list, how many
turns share one fetch or one failure, and a cache that is unwritable or dated in the future."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from claudechat import model_catalogue, models
from claudechat.chat import ChatSession
from claudechat.claude import Claude
from claudechat.errors import ApiError
from claudechat.model_catalogue import Catalogue
from claudechat.models import ModelInfo, write_cache
from claudechat.settings import load_settings
from claudechat.storage import open_store
from model_cache import age_models_cache, counting_catalogue


def test_a_list_fetched_in_the_future_counts_as_old(isolated_home: Path) -> None:
    catalogue, fetches = counting_catalogue([ModelInfo("claude-known")])
    write_cache(isolated_home, [ModelInfo("claude-known")])
    age_models_cache(isolated_home, minutes=-60)  # a clock that was set back an hour
    assert catalogue.describe("claude-later").known is False
    assert len(fetches) == 1  # stale: fetched once, and that fetch is the recheck too
    assert catalogue.describe("claude-later").known is False
    assert len(fetches) == 1  # the list now says when it was really fetched


def test_an_unwritable_cache_still_asks_once_per_unknown_model(isolated_home: Path) -> None:
    (isolated_home / "models.json").mkdir(parents=True)  # unreadable and unwritable as a file
    catalogue, fetches = counting_catalogue([ModelInfo("claude-known")])
    assert catalogue.describe("claude-unlisted").known is False
    assert catalogue.describe("claude-unlisted").known is False
    assert len(fetches) == 1


def test_one_catalogue_shared_by_many_turns_fetches_once(isolated_home: Path) -> None:
    """serve's turns share their process's catalogue: a stale list is fetched by one of them,
    and the others take that list rather than fetch it again."""
    fetches: list[int] = []
    started = threading.Event()

    def slow_fetch() -> list[ModelInfo]:
        fetches.append(1)
        started.set()
        time.sleep(0.3)  # long enough for every other turn to find the list stale too
        return [ModelInfo("claude-known")]

    catalogue = Catalogue(load_settings(), slow_fetch)
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(catalogue.describe, "claude-known")
        started.wait(10)
        others = [pool.submit(catalogue.describe, "claude-known") for _ in range(7)]
        answers = [first.result(), *(other.result() for other in others)]
    assert all(answer.known for answer in answers)
    assert len(fetches) == 1


def test_a_catalogue_sees_the_list_another_process_cached(isolated_home: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The cache file is parsed again only when it changed, and then it is."""
    parsed: list[Path] = []
    read = models.read_cache
    monkeypatch.setattr(
        model_catalogue, "read_cache", lambda home: parsed.append(home) or read(home)
    )
    catalogue, fetches = counting_catalogue([ModelInfo("claude-known")])
    write_cache(isolated_home, [ModelInfo("claude-known")])
    assert catalogue.describe("claude-known").known
    assert catalogue.describe("claude-known").known
    assert len(parsed) == 1  # the same file: not parsed again
    write_cache(isolated_home, [ModelInfo("claude-known"), ModelInfo("claude-newer")])
    assert catalogue.describe("claude-newer").known
    assert len(parsed) == 2
    assert fetches == []


def test_a_failed_fetch_fails_the_turns_that_waited_for_it(isolated_home: Path) -> None:
    """With the Models API down, the turns waiting for the fetch one turn started get its
    error (and their defaults) at once, instead of each asking again in turn."""
    fetches: list[int] = []
    started = threading.Event()

    def failing_fetch() -> list[ModelInfo]:
        fetches.append(1)
        started.set()
        time.sleep(0.3)
        raise ApiError("the Models API did not answer")

    catalogue = Catalogue(load_settings(), failing_fetch)

    def describe() -> str:
        try:
            catalogue.describe("claude-known")
        except ApiError as exc:
            return str(exc)
        return "described"

    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(describe)
        started.wait(10)
        others = [pool.submit(describe) for _ in range(3)]
        answers = [first.result(), *(other.result() for other in others)]
    assert answers == ["the Models API did not answer"] * 4
    assert len(fetches) == 1


def test_a_fetch_that_took_long_to_fail_is_not_asked_again_at_once(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A silent Models API cost its whole read timeout (60 s) again before each retry of a
    turn, as the failure stood only 30 s: six minutes for one message in pipe mode."""
    monkeypatch.setattr(model_catalogue, "FAILED_FETCH_STANDS", timedelta(seconds=0.05))
    fetches: list[float] = []
    failed: list[float] = []

    def slow_failure() -> list[ModelInfo]:
        fetches.append(time.monotonic())
        time.sleep(0.3)  # a timeout, scaled down
        failed.append(time.monotonic())
        raise ApiError("the Models API did not answer")

    catalogue = Catalogue(load_settings(), slow_failure)
    for _ in range(2):
        with pytest.raises(ApiError):
            catalogue.models()
        time.sleep(0.1)  # past FAILED_FETCH_STANDS, well within twice the wait
    assert len(fetches) == 1
    # Held twice as long as the fetch took: 0.6 s, or more on a machine slow to wake a sleep.
    held_until = failed[0] + 2 * (failed[0] - fetches[0])
    time.sleep(max(0.0, held_until - time.monotonic()) + 0.1)
    with pytest.raises(ApiError):
        catalogue.models()
    assert len(fetches) == 2  # and asked again once that has passed


def test_a_models_api_outage_at_the_first_turn_does_not_last_the_session(  # type: ignore[no-untyped-def]
    fake_api, isolated_home, monkeypatch
) -> None:
    """The defaults assumed while the list could not be fetched are not kept: once the
    failure has stood its time, the session asks again and gets the model's real limits."""
    monkeypatch.setattr(model_catalogue, "FAILED_FETCH_STANDS", timedelta(0))
    settings = load_settings()
    session = ChatSession.start(settings, open_store(settings), Claude(settings))
    fake_api.models_refused = True
    assert session.model_info().known is False  # conservative defaults, for now
    fake_api.models_refused = False
    # Once the failure has stood its time (twice what the refused fetch took, here; on a busy
    # machine importing the SDK for it alone took seconds):
    deadline = time.monotonic() + 60
    while not session.model_info().known and time.monotonic() < deadline:
        time.sleep(0.05)
    assert session.model_info().known is True
