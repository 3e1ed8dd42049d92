"""The catalogue of the configured provider's models: the Models API's list, from its cache in
the data directory or the API, fetched only when needed and by one look at a time.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from claudechat.errors import ClaudechatError
from claudechat.models import (
    CACHE_MAX_AGE,
    ModelInfo,
    bedrock_models,
    cache_path,
    described_as,
    find_model,
    from_api,
    read_cache,
    write_cache,
)

if TYPE_CHECKING:
    from claudechat.claude import Claude
    from claudechat.settings import Settings


# A model the list lacks asks for the list again only if it is older than this: a new model is
# found within minutes, and a misspelt one does not cost a Models API call on every turn.
UNKNOWN_MODEL_RECHECK = timedelta(minutes=5)
# A fetch that failed fails the looks that waited for it, and those of the next few seconds,
# rather than each asking again in turn (a silent Models API holds each for its timeout).
FAILED_FETCH_STANDS = timedelta(seconds=30)


Fetch = Callable[[], list[ModelInfo]]


Listed = tuple[list[ModelInfo], datetime]  # a list of models and when it was fetched
Note = Callable[[str], None]


def model_catalogue(settings: Settings, claude: Claude) -> Catalogue:
    """The models `claude` offers, from the Models API's cache or the API. The fetch holds
    the client, not a session: a catalogue pointing back at its session would make a cycle,
    left for the garbage collector (serve's collections pause every request)."""
    return Catalogue(settings, fetch=functools.partial(_fetch_models, claude))


def _fetch_models(claude: Claude) -> list[ModelInfo]:
    return [from_api(item) for item in claude.list_models()]


class Catalogue:
    """The models of the configured provider, fetched from the API only when needed.

    One catalogue may serve many sessions at once (serve's turns, each in its own thread):
    it re-reads the cache file only when the file changed, and one look at a time fetches."""

    def __init__(self, settings: Settings, fetch: Fetch) -> None:
        self.settings = settings
        self.fetch = fetch
        # What this catalogue fetched last, and when: where the cache file cannot be written
        # (a read-only or full home) it stands in for it, or each look would fetch again.
        self._fetched: Listed | None = None
        self._cache = _CacheFile(cache_path(settings.data_dir))
        self._fetching = threading.Lock()
        # The last fetch's failure, and until when it stands.
        self._failed: tuple[datetime, ClaudechatError] | None = None

    def models(self, refresh: bool = False, note: Note | None = None) -> list[ModelInfo]:
        """`note` is told when a stale list stands in for one the Models API would not give."""
        if self.settings.provider == "bedrock":
            return bedrock_models(self.settings)
        if not refresh:
            return self._fresh_or_fetched(lambda: _newest(self._lists(), CACHE_MAX_AGE), note)
        with self._fetching:
            try:
                return self._fetch()
            except ClaudechatError as exc:  # `models --refresh` printed nothing, exit 3
                return self._stale_list(exc, note)

    def describe(self, model: str, note: Note | None = None) -> ModelInfo:
        """The model's description; a model the list lacks asks for it again (when the list
        is more than a few minutes old), and one nobody describes gets conservative limits
        (ModelInfo.known is False)."""
        if self.settings.provider == "bedrock":
            return described_as(bedrock_models(self.settings), model)
        models = self._fresh_or_fetched(lambda: self._fresh_list_for(model), note)
        return described_as(models, model)

    def _fresh_or_fetched(
        self, fresh: Callable[[], list[ModelInfo] | None], note: Note | None
    ) -> list[ModelInfo]:
        """What `fresh` finds, else a fetch. Looked at again under the lock: a look that waited
        for another's fetch takes its list instead of fetching once more. A fetch that fails
        falls back to the newest list there is, however old, said through `note`."""
        models = fresh()
        if models is not None:
            return models
        with self._fetching:
            models = fresh()
            if models is not None:
                return models
            try:
                return self._fetch_unless_failed()
            except ClaudechatError as exc:
                return self._stale_list(exc, note)

    def _fetch_unless_failed(self) -> list[ModelInfo]:
        if self._failed is not None and datetime.now(UTC) < self._failed[0]:
            # A copy: raising the one object again in many threads would grow (and share)
            # its traceback, keeping every waiting turn's frames alive.
            raise copy.copy(self._failed[1]).with_traceback(None)
        return self._fetch()

    def _stale_list(self, failure: ClaudechatError, note: Note | None) -> list[ModelInfo]:
        """The newest list, however old, when the Models API failed: a model the day-old cache
        describes fully was given conservative limits, and `models` failed (exit 3)."""
        lists = self._lists()
        if not lists:
            raise failure
        models, fetched = max(lists, key=lambda found: found[1])
        if note is not None:
            note(
                f"cannot list the models ({failure}); using the list fetched "
                f"{fetched.astimezone().strftime('%Y-%m-%d %H:%M')}, which may be out of date"
            )
        return models

    def _fresh_list_for(self, model: str) -> list[ModelInfo] | None:
        """The newest list young enough to answer for `model`: a day, or a few minutes when
        it lacks the model. None: time to ask the API."""
        lists = self._lists()  # the cache file is looked at once
        models = _newest(lists, CACHE_MAX_AGE)
        if models is not None and find_model(models, model) is None:
            return _newest(lists, UNKNOWN_MODEL_RECHECK)
        return models

    def _lists(self) -> list[Listed]:
        """The cached list and this catalogue's own last fetch, those there are."""
        return [found for found in (self._cache.read(), self._fetched) if found]

    def _fetch(self) -> list[ModelInfo]:
        started = datetime.now(UTC)
        try:
            models = self.fetch()
        except ClaudechatError as exc:
            # Held for a while, and for longer when finding out took long: a server that
            # never answers cost a whole read timeout (60 s) again before every retry.
            now = datetime.now(UTC)
            self._failed = now + max(FAILED_FETCH_STANDS, 2 * (now - started)), exc
            raise
        self._failed = None
        self._fetched = models, datetime.now(UTC)
        write_cache(self.settings.data_dir, models)
        return models


class _CacheFile:
    """The cache file, parsed again only when it changed (another process refreshed it):
    serve looks at it on every turn, and parsing it costs more than a stat."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[tuple[int, int, int], Listed | None] | None = None

    def read(self) -> Listed | None:
        try:
            status = self.path.stat()
        except OSError:
            return None
        # A rewrite is a rename: the inode differs from the one replaced, even within one
        # clock tick (it may come back later, with another time or size).
        version = (status.st_ino, status.st_mtime_ns, status.st_size)
        seen = self._seen
        if seen is None or seen[0] != version:
            seen = self._seen = version, read_cache(self.path.parent)
        return seen[1]


def _newest(lists: list[Listed], max_age: timedelta) -> list[ModelInfo] | None:
    """The newest of the lists fetched less than max_age ago; None when none was."""
    fresh = [found for found in lists if _younger_than(found[1], max_age)]
    return max(fresh, key=lambda found: found[1])[0] if fresh else None


def _younger_than(fetched_at: datetime, age: timedelta) -> bool:
    """A time in the future (a clock set back, a home shared by machines whose clocks differ)
    counts as old, so that the next fetch puts it right."""
    return timedelta(0) <= datetime.now(UTC) - fetched_at < age
