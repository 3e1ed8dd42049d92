"""What claudechat knows about models: limits, thinking and effort support, the default.

For the Anthropic API the Models API describes every model the account offers; its list is
cached in the data directory for a day, so quick commands never call the API. Bedrock has no
list in the SDK: a catalogue packaged with claudechat (data/bedrock_models.toml, extendable in
the config file) stands in for it.
"""

from __future__ import annotations

import contextlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from claudechat.settings import Settings

CACHE_FILE = "models.json"
CACHE_MAX_AGE = timedelta(days=1)
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


# -- naming a model --------------------------------------------------------------------------


def find_model(models: list[ModelInfo], model: str) -> ModelInfo | None:
    """The model's entry: by its id, its Bedrock id, or its alias (see _aliased): the newest
    dated id it names. An alias was taken for an unknown model and given conservative limits."""
    for info in models:
        if model in (info.id, info.extra.get("bedrock_id")):
            return info
    bedrock_id = model.partition(".")[2]
    for info in models if has_profile_prefix(model) else ():
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


def has_profile_prefix(model_id: str) -> bool:
    """Whether the id starts with an inference profile's prefix (us.anthropic...)."""
    prefix, dot, _ = model_id.partition(".")
    return bool(dot) and prefix in _inference_profiles()


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


def described_as(models: list[ModelInfo], model: str) -> ModelInfo:
    """The entry `model` names, under the name it was asked by (the one sent, and the one a
    session compares with its conversation's model); conservative defaults when none."""
    info = find_model(models, model)
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
