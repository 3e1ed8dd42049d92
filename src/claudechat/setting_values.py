"""Each setting's value, as its key takes it: coerced from text (environment variables are text)
and checked, so a mistake is a ConfigError naming where the value came from, said at start."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from claudechat.errors import ConfigError

if TYPE_CHECKING:
    from claudechat.settings import Key


def checked_value(key: Key, value: Any, source: str) -> Any:
    """`value` as `key` takes it (text made a number, a flag, seconds), checked: a ConfigError
    that names `source` (the command line, a variable, the config file) otherwise."""
    return _checked(key, _coerce(key, value, source), source)


def _checked(key: Key, value: Any, source: str) -> Any:
    """Values whose mistakes would otherwise show only later, or never: a price entry that is
    not two numbers was ignored without a word, an unknown effort refused only by `chat`."""
    if key.name in ("model", "user") and isinstance(value, str) and not value.strip():
        # It stood for the default without a word (an empty environment variable still does:
        # there, empty is how a variable is unset).
        raise ConfigError(f"{source}: {key.name} is empty; give one, or leave it out")
    if key.name == "effort":
        from claudechat.errors import UsageError
        from claudechat.request import valid_effort

        try:
            return valid_effort(value)  # as chat checks --effort and /effort
        except UsageError as exc:
            raise ConfigError(f"{source}: {exc}") from None
    elif key.name == "provider" and isinstance(value, str):
        return value.strip().lower()  # a choice, in any case, as effort and --by are
    elif key.name == "code_theme":
        _check_code_theme(value, source)
    elif key.name == "prices":
        for prefix, entry in value.items():
            if not (isinstance(entry, dict) and _numbers(entry, ("input", "output"))):
                raise ConfigError(
                    f"{source}: prices.{str(prefix)[:40]!r} needs input and output, in USD per "
                    "million tokens (numbers)"
                )
    elif key.name == "bedrock_models":
        for name, entry in value.items():
            problem = _bedrock_entry_problem(entry)
            if problem:
                raise ConfigError(f"{source}: bedrock_models.{str(name)[:40]!r}: {problem}")
    return value


def _check_code_theme(name: str, source: str) -> None:
    """Checked as it is read: `config` showed a theme that does not exist, and only `chat`
    refused it, once it had a reply to colour."""
    from claudechat.settings import ANSI_CODE_THEMES

    if name in ANSI_CODE_THEMES:
        return
    from pygments.styles import get_style_by_name
    from pygments.util import ClassNotFound

    try:
        get_style_by_name(name)
    except ClassNotFound:
        raise ConfigError(
            f"{source}: unknown code_theme {name[:40]!r}: use ansi_dark, ansi_light or a "
            "pygments style (monokai, dracula, github-dark...)"
        ) from None


# A Bedrock catalogue entry's fields, as data/bedrock_models.toml writes them.
_BEDROCK_TEXT = ("id", "display_name", "created_at")
_BEDROCK_COUNTS = ("max_input_tokens", "max_tokens")
_BEDROCK_LISTS = ("thinking", "effort")
_BEDROCK_FLAGS = ("image_input", "pdf_input", "citations")
# The keys an entry of the config file's tables takes; settings.py warns of any other.
ENTRY_KEYS = {
    "prices": ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read"),
    "bedrock_models": (*_BEDROCK_TEXT, *_BEDROCK_COUNTS, *_BEDROCK_LISTS, *_BEDROCK_FLAGS),
}


def known_entry_keys(table: str, entries: Any) -> Any:
    """A config file table's entries without the keys an entry does not take, which settings.py
    warns of as ignored: `config` showed them as if in effect (`bogus = 3` in a price entry),
    and a price entry's unknown key that was no number refused the whole file."""
    known = ENTRY_KEYS.get(table)
    if known is None or not isinstance(entries, dict):
        return entries
    return {
        name: {k: v for k, v in entry.items() if k in known} if isinstance(entry, dict) else entry
        for name, entry in entries.items()
    }


def _bedrock_entry_problem(entry: Any) -> str | None:
    """What is wrong with one entry of the config file's Bedrock catalogue: a list read as
    its letters, a count that is no number, and a traceback were what a slip gave."""
    if not isinstance(entry, dict):
        return 'must be a table (id = "anthropic....", max_tokens = ...)'
    for name, value in entry.items():
        dated = name == "created_at" and isinstance(value, datetime.date)  # TOML's own dates
        if name in _BEDROCK_TEXT and not dated and not (isinstance(value, str) and value.strip()):
            return f"{name} must be text"
        whole = isinstance(value, int) and not isinstance(value, bool)
        if name in _BEDROCK_COUNTS and not (whole and value > 0):
            return f"{name} must be a whole number above 0"
        if name in _BEDROCK_LISTS and not (
            isinstance(value, list) and all(isinstance(item, str) for item in value)
        ):
            return f'{name} must be a list of names, like ["adaptive", "enabled"]'
        if name in _BEDROCK_FLAGS and not isinstance(value, bool):
            return f"{name} must be true or false"
    return None


def _numbers(entry: dict[str, Any], required: tuple[str, ...]) -> bool:
    present = all(name in entry for name in required)
    values = entry.values()
    return present and all(
        isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in values
    )


def _coerce(key: Key, value: Any, source: str) -> Any:
    if key.kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
    elif key.kind is int:
        number = _whole_number(value)
        if number is not None and number > 0:
            return number
    elif key.kind is dict:
        if isinstance(value, dict):
            return value
    elif key.kind is float:
        seconds = _seconds(value)
        if seconds is not None:
            return seconds
    elif isinstance(value, str):
        return value
    raise ConfigError(
        f"{source}: {key.name} has an invalid value {str(value)[:40]!r}: use {_ACCEPTED[key.kind]}"
    )


# What each kind of value takes, said with a refusal: "has an invalid value" alone left the
# accepted form to guess.
_ACCEPTED = {
    bool: "true or false",
    int: "a whole number above 0",
    float: "seconds above 0 and at most 604800, a week (fractions such as 0.5 allowed)",
    dict: "a table",
    str: "text",
}


def _whole_number(value: Any) -> int | None:
    """1.5 is not a token count: only integers and their decimal text are taken."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


# The longest wait a setting takes: 1e11 s passed, and every request then failed "timestamp out
# of range for platform time_t", said as an unreachable API (exit 3), not as the setting.
MOST_SECONDS = 7 * 24 * 3600


def _seconds(value: Any) -> float | None:
    import math

    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and 0 < seconds <= MOST_SECONDS else None


def as_toml(value: Any) -> str:
    """A value as TOML writes it, for `claudechat config`: Python's repr (True, 'text') made a
    config file pasted from it "not valid TOML"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # finite, as settings take them: 60.0, 1e-05 are TOML as they are
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()  # TOML's own dates and times (created_at)
    if isinstance(value, dict):
        pairs = ", ".join(f"{_toml_key(str(k))} = {as_toml(v)}" for k, v in value.items())
        return f"{{ {pairs} }}" if pairs else "{}"
    if isinstance(value, list):
        return "[" + ", ".join(as_toml(item) for item in value) + "]"
    return _toml_string(str(value))


def _toml_key(name: str) -> str:
    bare = name and all(c.isascii() and (c.isalnum() or c in "_-") for c in name)
    return name if bare else _toml_string(name)


_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f"}
_TOML_ESCAPES["\r"] = "\\r"


def _toml_string(text: str) -> str:
    """A basic string; what a terminal would act on (controls, C1, bidi marks) written as an
    escape, as repr wrote it."""
    return '"' + "".join(_toml_char(c) for c in text) + '"'


def _toml_char(char: str) -> str:
    if char in _TOML_ESCAPES:
        return _TOML_ESCAPES[char]
    if char.isprintable():
        return char
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:  # a byte of a non-UTF-8 variable: TOML has no escape for it
        code = 0xFFFD
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"
