"""What claudechat knows about models: limits, thinking and effort support, the default.

For the Anthropic API the Models API describes every model the account offers; its list is
cached in the data directory for a day, so quick commands never call the API. Bedrock has no
list in the SDK: a catalogue packaged with claudechat (data/bedrock_models.toml, extendable in
the config file) stands in for it.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import re
import threading
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claudechat.errors import ClaudechatError

if TYPE_CHECKING:
    from claudechat.claude import Claude
    from claudechat.settings import Settings

CACHE_FILE = "models.json"
CACHE_MAX_AGE = timedelta(days=1)
# A model the list lacks asks for the list again only if it is older than this: a new model is
# found within minutes, and a misspelt one does not cost a Models API call on every turn.
UNKNOWN_MODEL_RECHECK = timedelta(minutes=5)
# A fetch that failed fails the looks that waited for it, and those of the next few seconds,
# rather than each asking again in turn (a silent Models API holds each for its timeout).
FAILED_FETCH_STANDS = timedelta(seconds=30)
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")


@dataclass(frozen=True)
class ModelInfo:
    id: str
    display_name: str = ""
    created_at: str = ""
    max_input_tokens: int | None = None
    max_tokens: int | None = None
    thinking: tuple[str, ...] = ()  # thinking types: adaptive, enabled
    effort: tuple[str, ...] = ()  # effort levels the model accepts
    # What the model takes besides text; None where its description does not say.
    image_input: bool | None = None
    pdf_input: bool | None = None
    citations: bool | None = None
    known: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("known")
        data.pop("extra")
        data["thinking"], data["effort"] = list(self.thinking), list(self.effort)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], known: bool = True) -> ModelInfo:
        def number(name: str) -> int | None:
            value = data.get(name)
            return value if isinstance(value, int) and value > 0 else None

        return cls(
            id=str(data["id"]),
            display_name=str(data.get("display_name") or ""),
            created_at=str(data.get("created_at") or ""),
            max_input_tokens=number("max_input_tokens"),
            max_tokens=number("max_tokens"),
            thinking=tuple(str(t) for t in data.get("thinking") or ()),
            effort=tuple(str(e) for e in data.get("effort") or ()),
            image_input=_flag(data.get("image_input")),
            pdf_input=_flag(data.get("pdf_input")),
            citations=_flag(data.get("citations")),
            known=known,
            extra={k: v for k, v in data.items() if k == "bedrock_id"},
        )


@cache
def packaged(name: str) -> dict[str, Any]:
    """One of the TOML data files shipped in claudechat/data."""
    text = resources.files("claudechat").joinpath("data", name).read_text("utf-8")
    return tomllib.loads(text)


def fallback_model() -> str:
    return str(packaged("models.toml")["default_model"])


def unknown_model(model: str) -> ModelInfo:
    limits = packaged("models.toml")["unknown"]
    return ModelInfo(
        model,
        max_input_tokens=limits["max_input_tokens"],
        max_tokens=limits["max_tokens"],
        known=False,
    )


# -- the cache of the Models API's list ------------------------------------------------------


def cache_path(data_dir: Path) -> Path:
    return data_dir / CACHE_FILE


def read_cache(data_dir: Path) -> tuple[list[ModelInfo], datetime] | None:
    """The cached list and when it was fetched; None when there is none or it is unreadable."""
    try:
        data = json.loads(cache_path(data_dir).read_text("utf-8"))
        fetched = datetime.fromisoformat(data["fetched_at"])
        return [ModelInfo.from_json(m) for m in data["models"]], fetched
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_cache(data_dir: Path, models: list[ModelInfo]) -> None:
    """Best effort: the list is only a cache, so a full disk or a read-only home costs the
    next command another Models API call, never this chat."""
    from claudechat.storage.blobs import write_atomically

    payload = {"fetched_at": datetime.now(UTC).isoformat(), "models": [m.to_json() for m in models]}
    # Not fsynced: a list lost with the machine is fetched again.
    with contextlib.suppress(OSError):
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomically(cache_path(data_dir), json.dumps(payload, indent=1).encode(), False)


def cached_models(data_dir: Path) -> list[ModelInfo]:
    found = read_cache(data_dir)
    return found[0] if found else []


def newest_sonnet(models: list[ModelInfo]) -> str | None:
    sonnets = [m for m in models if "sonnet" in m.id]
    return max(sonnets, key=lambda m: m.created_at).id if sonnets else None


def default_model(data_dir: Path) -> str:
    """The newest Sonnet the Models API listed (as cached), else the packaged fallback."""
    return newest_sonnet(cached_models(data_dir)) or fallback_model()


# -- Bedrock's packaged catalogue -------------------------------------------------------------


def bedrock_catalogue(settings: Settings | None = None) -> dict[str, dict[str, Any]]:
    """Short name -> entry (id, limits, capabilities); the config file's entries win."""
    catalogue = {k: dict(v) for k, v in packaged("bedrock_models.toml")["bedrock_models"].items()}
    extra = settings.get("bedrock_models") if settings is not None else None
    for name, entry in (extra or {}).items():
        if isinstance(entry, dict):
            catalogue[name] = {**catalogue.get(name, {}), **entry}
    return catalogue


def bedrock_models(settings: Settings | None = None) -> list[ModelInfo]:
    return [
        ModelInfo.from_json({**entry, "id": name, "bedrock_id": entry.get("id")})
        for name, entry in bedrock_catalogue(settings).items()
    ]


# -- choosing -----------------------------------------------------------------------------


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
            return _described_as(bedrock_models(self.settings), model)
        models = self._fresh_or_fetched(lambda: self._fresh_list_for(model), note)
        return _described_as(models, model)

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
        if models is not None and _find(models, model) is None:
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


def _find(models: list[ModelInfo], model: str) -> ModelInfo | None:
    """The model's entry: by its id, its Bedrock id, or its alias (see _aliased): the newest
    dated id it names. An alias was taken for an unknown model and given conservative limits."""
    for info in models:
        if model in (info.id, info.extra.get("bedrock_id")):
            return info
    geography, _, bedrock_id = model.partition(".")
    for info in models if geography in _inference_profiles() else ():
        if info.extra.get("bedrock_id") == bedrock_id:  # us.anthropic.claude-sonnet-4-6
            return info
    base = _aliased(model)
    dated = [info for info in models if base and _DATED.sub("", info.id) == base]
    return max(dated, key=lambda info: (info.created_at, info.id)) if dated else None


def _aliased(model: str) -> str | None:
    """What an alias names: the dated ids without their date (the Models API lists
    claude-opus-4-5-20251101). The API's aliases are that id itself where it ends in a
    major and minor version (claude-opus-4-5), with -0 where it ends in a major version
    alone (claude-opus-4-0 is claude-opus-4-20250514), or with -latest (claude-3-7-sonnet-latest).
    Only a date was taken off, so claude-opus-4-0 got conservative limits while claude-opus-4,
    which the API does not take, was a known model."""
    if model.endswith("-latest") and model.startswith("claude-3"):  # 3.x models' aliases only
        return model.removesuffix("-latest")
    if _MAJOR_ONLY_ALIAS.fullmatch(model):
        return model.removesuffix("-0")
    return model if _MAJOR_MINOR.fullmatch(model) else None


def _inference_profiles() -> dict[str, list[str]]:
    """Profile prefix -> the starts of the region names it is chosen for (packaged data). A
    full profile id (us.anthropic.claude-sonnet-4-6) is the catalogue's model, sent as given;
    it was taken for an unknown model."""
    profiles: dict[str, list[str]] = packaged("bedrock_models.toml")["inference_profiles"]
    return profiles


def inference_profile_prefix(region: str) -> str:
    """The prefix of the profiles a region can call: the one of its longest matching start
    (us-gov-west-1 is GovCloud's, not the US's), else the one for any region ("*")."""
    starts = [
        (start, prefix)
        for prefix, region_starts in _inference_profiles().items()
        for start in region_starts
        if start == "*" or region.startswith(f"{start}-")
    ]
    return max(starts, key=lambda pair: 0 if pair[0] == "*" else len(pair[0]))[1]


_DATED = re.compile(r"-\d{8}$")  # the date a Models API id ends with: -20251101
_MAJOR_ONLY_ALIAS = re.compile(r".*[a-z]-\d{1,2}-0")  # claude-opus-4-0
_MAJOR_MINOR = re.compile(r".*[a-z]-\d{1,2}-\d{1,2}")  # claude-opus-4-5


def _described_as(models: list[ModelInfo], model: str) -> ModelInfo:
    """The entry `model` names, under the name it was asked by (the one sent, and the one a
    session compares with its conversation's model); conservative defaults when none."""
    info = _find(models, model)
    return replace(info, id=model) if info is not None else unknown_model(model)


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def from_api(item: dict[str, Any]) -> ModelInfo:
    """A Models API entry (as plain JSON) in claudechat's form."""
    capabilities = item.get("capabilities") or {}
    thinking_types = (capabilities.get("thinking") or {}).get("types") or {}
    effort = capabilities.get("effort") or {}
    created = item.get("created_at") or ""
    return ModelInfo(
        id=str(item["id"]),
        display_name=str(item.get("display_name") or ""),
        created_at=created if isinstance(created, str) else str(created),
        max_input_tokens=item.get("max_input_tokens"),
        max_tokens=item.get("max_tokens"),
        thinking=tuple(
            kind
            for kind in ("adaptive", "enabled")
            if isinstance(thinking_types.get(kind), dict) and thinking_types[kind].get("supported")
        ),
        effort=tuple(
            level
            for level in EFFORT_LEVELS
            if isinstance(effort.get(level), dict) and effort[level].get("supported")
        ),
        image_input=_supported(capabilities.get("image_input")),
        pdf_input=_supported(capabilities.get("pdf_input")),
        citations=_supported(capabilities.get("citations")),
    )


def _supported(capability: Any) -> bool | None:
    """`{"supported": true}` as the Models API describes a capability; None if it does not."""
    if isinstance(capability, dict):
        return _flag(capability.get("supported"))
    return None
