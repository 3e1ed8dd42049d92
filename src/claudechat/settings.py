"""Effective settings: command-line options over environment variables over the config file.

Each value remembers where it came from, so `claudechat config` can say so.
"""

from __future__ import annotations

import getpass
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claudechat.errors import ConfigError
from claudechat.markdown import DEFAULT_CODE_THEME
from claudechat.secret_masking import holds_secret, mask_url_password
from claudechat.setting_values import ENTRY_KEYS, as_toml, checked_value, known_entry_keys
from claudechat.user_paths import expanded

APP_NAME = "claudechat"
DEFAULT_STREAM_IDLE_TIMEOUT = 60.0
DEFAULT_CONNECT_TIMEOUT = 5.0
ANSI_CODE_THEMES = ("ansi_dark", "ansi_light")
PROVIDERS = ("anthropic", "bedrock")


@dataclass(frozen=True)
class Key:
    name: str
    env: str
    help: str
    secret: bool = False
    kind: type = str


KEYS: tuple[Key, ...] = (
    Key("model", "CLAUDECHAT_MODEL", "Claude model name or id"),
    Key("provider", "CLAUDECHAT_PROVIDER", "anthropic (the API) or bedrock (AWS)"),
    Key("user", "CLAUDECHAT_USER", "whose conversations these are"),
    Key("database_url", "CLAUDECHAT_DATABASE_URL", "SQLAlchemy URL of the metadata DB", True),
    Key("storage_url", "CLAUDECHAT_STORAGE_URL", "file:///path or s3://bucket/prefix"),
    Key("max_context_tokens", "CLAUDECHAT_MAX_CONTEXT_TOKENS", "context budget", kind=int),
    Key("auto_migrate", "CLAUDECHAT_AUTO_MIGRATE", "apply schema migrations on start", kind=bool),
    Key(
        "stream_idle_timeout",
        "CLAUDECHAT_STREAM_IDLE_TIMEOUT",
        "seconds without a stream event before a reply counts as cut off",
        kind=float,
    ),
    Key(
        "connect_timeout",
        "CLAUDECHAT_CONNECT_TIMEOUT",
        "seconds to wait for a connection to Claude before trying again",
        kind=float,
    ),
    Key(
        "store_timeout",
        "CLAUDECHAT_STORE_TIMEOUT",
        "seconds a store call may take (fractions allowed)",
        kind=float,
    ),
    Key("s3_sse", "CLAUDECHAT_S3_SSE", "S3 server-side encryption: AES256 or aws:kms"),
    Key("s3_kms_key_id", "CLAUDECHAT_S3_KMS_KEY_ID", "KMS key id for aws:kms"),
    Key("aws_region", "CLAUDECHAT_AWS_REGION", "AWS region for Bedrock"),
    Key("aws_profile", "CLAUDECHAT_AWS_PROFILE", "AWS profile for Bedrock and S3"),
    Key("max_output_tokens", "CLAUDECHAT_MAX_OUTPUT_TOKENS", "output limit per reply", kind=int),
    Key("thinking", "CLAUDECHAT_THINKING", "let Claude think before answering", kind=bool),
    Key("effort", "CLAUDECHAT_EFFORT", "effort level: low, medium, high, xhigh, max"),
    Key(
        "code_theme",
        "CLAUDECHAT_CODE_THEME",
        "colours of code: ansi_dark, ansi_light (the terminal's palette) or a pygments style",
    ),
    # Tables of the config file only: they extend the packaged data.
    Key("prices", "", "price table entries by model id prefix", kind=dict),
    Key("bedrock_models", "", "Bedrock catalogue entries by short name", kind=dict),
)
KEYS_BY_NAME = {key.name: key for key in KEYS}
# The other variables of the prefix claudechat knows: where it keeps things, what `serve` hands
# its workers, and those of scripts/test, which a developer's shell may keep exported.
OTHER_VARIABLES = (
    "CLAUDECHAT_HOME",
    "CLAUDECHAT_CONFIG",
    "CLAUDECHAT_SERVE_OPTIONS",
    "CLAUDECHAT_TEST_FRESH_PROCESSES",
    "CLAUDECHAT_PG_BIN",
    "CLAUDECHAT_PG_TMPDIR",
)


def data_dir() -> Path:
    home = os.environ.get("CLAUDECHAT_HOME")
    if home:
        path = expanded(home)
        if path is None:
            raise ConfigError(f"CLAUDECHAT_HOME names the home of no user here: {home[:200]!r}")
        if not path.is_absolute() or "\x00" in home:
            # A relative home would move with the current directory, splitting the data.
            raise ConfigError(f"CLAUDECHAT_HOME must be an absolute path, not {home[:200]!r}")
        _check_folder(path)
        return path
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def _check_folder(home: Path) -> None:
    """A file where the home (or a folder above it) should be was found only by what tried to
    use it: "cannot read config file .../f/config.toml: Not a directory" about a file the user
    never made, or "cannot create .../claudechat.db" after Claude had answered."""
    for path in (home, *home.parents):
        try:
            mode = path.stat().st_mode
        except OSError:  # not there (yet), or not ours to see: what uses it will say
            continue
        if not stat.S_ISDIR(mode):
            if path == home:
                raise ConfigError(f"CLAUDECHAT_HOME {home} is a file, not a folder")
            raise ConfigError(f"CLAUDECHAT_HOME {home} cannot be a folder: {path} is a file")
        return


def config_path() -> Path:
    explicit = os.environ.get("CLAUDECHAT_CONFIG")
    if explicit:
        path = expanded(explicit)
        if path is None:
            raise ConfigError(
                f"CLAUDECHAT_CONFIG names the home of no user here: {explicit[:200]!r}"
            )
        if not path.is_absolute() or "\x00" in explicit:
            # As a relative home: the settings changed with the folder claudechat ran from.
            raise ConfigError(f"CLAUDECHAT_CONFIG must be an absolute path, not {explicit[:200]!r}")
        return path
    if os.environ.get("CLAUDECHAT_HOME"):
        # CLAUDECHAT_HOME relocates everything claudechat keeps, its configuration included.
        return data_dir() / "config.toml"
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


@dataclass
class Settings:
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # What each later source replaced: the configuration beneath a command-line choice.
    replaced: dict[str, Any] = field(default_factory=dict)

    def _get(self, name: str) -> Any:
        return self.values.get(name)

    @property
    def model(self) -> str:
        if self._get("model"):
            return str(self._get("model"))
        from claudechat.models import default_model

        return default_model(self.data_dir)

    def model_beneath_command_line(self) -> tuple[str, str]:
        """The model the configuration names, else the default, whatever --model or a
        request's "model" chose over it; and which of the two it is."""
        chosen = self.sources.get("model") == "command line"
        configured = self.replaced.get("model") if chosen else self._get("model")
        if configured:
            return str(configured), "the configured model"
        from claudechat.models import default_model

        return default_model(self.data_dir), "the default model"

    @property
    def provider(self) -> str:
        return self._get("provider") or "anthropic"

    @property
    def user(self) -> str:
        from claudechat.errors import UsageError
        from claudechat.storage.ids import user_id

        name = self._get("user") or _login_name()
        try:
            return user_id(name)
        except UsageError as exc:
            # A login name such as CORP\jsmith was refused on every command, without a word
            # of where it came from or how to choose another.
            source = self.sources.get("user", "your login name (no user is configured)")
            raise ConfigError(
                f'{source}: {exc}; set one with CLAUDECHAT_USER or user = "..." in the config file'
            ) from None

    @property
    def data_dir(self) -> Path:
        return data_dir()

    @property
    def database_url(self) -> str:
        return self._get("database_url") or f"sqlite:///{self.data_dir / 'claudechat.db'}"

    @property
    def storage_url(self) -> str:
        return self._get("storage_url") or (self.data_dir / "conversations").as_uri()

    @property
    def max_context_tokens(self) -> int | None:
        return self._get("max_context_tokens")

    @property
    def stream_idle_timeout(self) -> float:
        value = self._get("stream_idle_timeout")
        return DEFAULT_STREAM_IDLE_TIMEOUT if value is None else float(value)

    @property
    def connect_timeout(self) -> float:
        value = self._get("connect_timeout")
        return DEFAULT_CONNECT_TIMEOUT if value is None else float(value)

    @property
    def store_timeout(self) -> float:
        from claudechat.storage.guard import DEFAULT_TIMEOUT

        value = self._get("store_timeout")
        return DEFAULT_TIMEOUT if value is None else float(value)

    @property
    def code_theme(self) -> str:
        """A pygments style, or the terminal's own palette (the default)."""
        return str(self._get("code_theme") or DEFAULT_CODE_THEME)  # checked as it was read

    @property
    def auto_migrate(self) -> bool:
        value = self._get("auto_migrate")
        return True if value is None else bool(value)

    def get(self, name: str) -> Any:
        return self._get(name)

    def effective(self) -> list[tuple[str, str, str]]:
        """(key, value, source) for every key, credentials masked, for `claudechat config`."""
        defaults = {
            "model": self.model,
            "provider": self.provider,
            "user": self.user,
            "database_url": self.database_url,
            "storage_url": self.storage_url,
            "auto_migrate": self.auto_migrate,
            "stream_idle_timeout": self.stream_idle_timeout,
            "connect_timeout": self.connect_timeout,
            "store_timeout": self.store_timeout,
            "code_theme": self._get("code_theme") or DEFAULT_CODE_THEME,
        }
        rows = []
        for key in KEYS:
            value = self.values.get(key.name, defaults.get(key.name))
            rows.append((key.name, _shown(key.name, value), self.sources.get(key.name, "default")))
        return rows


# What a key left unset stands for, where that is not one fixed default.
UNSET_MEANS = {"max_context_tokens": "(the model's input window minus its output limit)"}


def _shown(name: str, value: Any) -> str:
    """A value as `config` prints it (as TOML), masked before it is quoted: masked after, a
    `?password=` value took in the closing quote ("...?password=***" was no TOML string)."""
    if value is None:
        return UNSET_MEANS.get(name, "(not set)")
    return as_toml(_masked(value))


def _masked(value: Any) -> Any:
    """Every string in a value masked, inside tables and lists as well."""
    if isinstance(value, str):
        return mask_url_password(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def load_settings(overrides: dict[str, Any] | None = None) -> Settings:
    settings = Settings()
    if os.environ.get("CLAUDECHAT_HOME"):
        data_dir()  # checked at start, whatever the command and CLAUDECHAT_CONFIG
    path = config_path()
    for name, value in _read_config_file(path, settings.warnings).items():
        _set(settings, name, value, f"config file {path}")
    for key in KEYS:
        raw = os.environ.get(key.env) if key.env else None
        if raw not in (None, ""):
            _set(settings, key.name, raw, f"environment {key.env}")
    settings.warnings.extend(_unknown_variables())
    for name, value in (overrides or {}).items():
        if value is not None:
            _set(settings, name, value, "command line")
    if settings.provider not in PROVIDERS:
        raise ConfigError(
            f"{settings.sources['provider']}: unknown provider {settings.provider[:40]!r}; use "
            f"one of {', '.join(PROVIDERS)}"
        )
    return settings


def _set(settings: Settings, name: str, value: Any, source: str) -> None:
    key = KEYS_BY_NAME.get(name)
    if key is None:
        hint = _closest(name, list(KEYS_BY_NAME))
        settings.warnings.append(f"{source}: unknown key {name[:60]!r} ignored{hint}")
        return
    if name in settings.values:
        settings.replaced[name] = settings.values[name]
    settings.values[name] = checked_value(key, known_entry_keys(name, value), source)
    settings.sources[name] = source
    settings.warnings.extend(_unknown_entry_keys(name, value, source))


def _unknown_entry_keys(table: str, entries: Any, source: str) -> list[str]:
    """A misspelt key in a [prices."..."] or [bedrock_models."..."] entry (cache_reed) was
    ignored without a word, where a misspelt key outside them is warned of."""
    known = ENTRY_KEYS.get(table)
    if known is None:
        return []
    warnings = []
    for entry_name, entry in entries.items():
        for name in entry:
            if name not in known:
                hint = _closest(name, list(known))
                place = f"{table}.{str(entry_name)[:40]!r}"
                warnings.append(f"{source}: unknown key {name[:60]!r} in {place} ignored{hint}")
    return warnings


def _closest(name: str, known: list[str], prefix: str = "") -> str:
    """ "; did you mean X?" of the known name closest to a misspelt one (compared without the
    prefix they all share, which made any name look close to some), else "". A misspelt key
    or variable (databse_url) sent a team member's conversations to local SQLite."""
    import difflib

    endings = sorted(k.removeprefix(prefix) for k in known)
    closest = difflib.get_close_matches(name.removeprefix(prefix), endings, n=1)
    return f"; did you mean {prefix}{closest[0]}?" if closest else ""


def _unknown_variables() -> list[str]:
    """A misspelt variable was ignored without a word, as a misspelt key was not: with
    CLAUDECHAT_DATABSE_URL, a team member's conversations went to a local SQLite file."""
    prefix = "CLAUDECHAT_"
    known = {key.env for key in KEYS if key.env} | set(OTHER_VARIABLES)
    warnings = []
    for name in sorted(os.environ):
        if name.startswith(prefix) and name not in known:
            hint = _closest(name, list(known), prefix)
            warnings.append(f"environment: unknown variable {name[:60]!r} ignored{hint}")
    return warnings


def _read_config_file(path: Path, warnings: list[str]) -> dict[str, Any]:
    try:
        if path.exists() and not path.is_file() and not path.is_dir():
            # A FIFO (or a device) held every command at its read, waiting for a writer.
            raise ConfigError(f"config file {path} is not a regular file")
        raw = path.read_bytes()
    except FileNotFoundError:
        if os.environ.get("CLAUDECHAT_CONFIG"):
            # Named on purpose, so never what was meant: with a warning alone, a typo sent a
            # team member's turns to local SQLite, exit 0, and `sync` never pushed them.
            raise ConfigError(f"CLAUDECHAT_CONFIG {path} does not exist") from None
        if path.is_symlink():  # a dotfiles link to a file moved away: every setting dropped
            warnings.append(f"config file {path} is a link to {path.readlink()}, which is gone")
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    import tomllib

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    if _readable_by_others(path) and holds_secret(data):
        warnings.append(
            f"config file {path} holds a secret and others can read it; run: chmod 600 {path}"
        )
    return data


def _readable_by_others(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "default"
