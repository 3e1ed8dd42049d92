"""Database URLs: checked before anything connects, so that a URL that can never work is a
configuration error (exit 2) said at start, not an outage found after Claude has answered."""

from __future__ import annotations

import re
from typing import Any

from claudechat.errors import ConfigError
from claudechat.settings import mask_url_password

# The drivers claudechat ships, for URLs that name none. SQLAlchemy 2.1's own default for
# postgresql:// is psycopg (3), which is not installed.
_SHIPPED_DRIVERS = {"postgresql": "postgresql+psycopg2", "postgres": "postgresql+psycopg2"}


def parse_database_url(url: str) -> Any:
    """The URL as SQLAlchemy reads it, its driver loadable; anything else is a configuration
    error (exit 2), not a database that is down."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    check_database_url(url)
    shown = mask_url_password(url)[:200]
    try:
        parsed = make_url(url)
        drivername = _SHIPPED_DRIVERS.get(parsed.drivername, parsed.drivername)
        parsed = parsed.set(drivername=drivername)
        parsed.get_dialect().import_dbapi()  # a driver that is not installed shows here
    except (NoSuchModuleError, ImportError) as exc:
        raise ConfigError(
            f"no database driver for {shown!r}: use sqlite:///path or "
            "postgresql://user@host/database"
        ) from exc
    except (ArgumentError, ValueError) as exc:  # ValueError: e.g. a port that is no number
        raise ConfigError(f"invalid database URL {shown!r}") from exc
    return parsed


# The databases claudechat's schema and search are written for: checked without importing
# SQLAlchemy, so that a typo in the scheme is refused before a chat starts (and before the
# first prompt waits for it). Another dialect was found out only after Claude had answered.
_DIALECTS = ("sqlite", "postgresql", "postgres")
_URL_SCHEME = re.compile(r"(?P<dialect>[a-z0-9_]+)(\+[a-z0-9_]+)?://", re.I)
# The port where SQLAlchemy's make_url finds it: a password runs to its "@" and may hold
# "/", "#" or "?", which end urllib's host part (it refused such a password's URL).
_SQLALCHEMY_PORT = re.compile(
    r"[\w+]+://(?:[^:/]*(?::[^@]*)?@)?(?:\[[^/?]+\]|[^/:?]*)(?::(?P<port>[^/?]*))?"
)


def check_database_url(url: str, source: str | None = None) -> None:
    """`source`, where the URL came from (a variable, the config file), is said first: "invalid
    database URL" alone did not say which setting to fix."""
    try:
        _check_database_url(url)
    except ConfigError as exc:
        if source is None:
            raise
        raise ConfigError(f"{source}: {exc}") from None


def _check_database_url(url: str) -> None:
    match = _URL_SCHEME.match(url)
    shown = mask_url_password(url)[:200]
    if match is None or match.group("dialect").lower() not in _DIALECTS:
        raise ConfigError(
            f"invalid database URL {shown!r}: use sqlite:////absolute/path.db or "
            "postgresql://user@host/database"
        )
    from urllib.parse import unquote

    port = _SQLALCHEMY_PORT.match(url)
    if port and port.group("port") and not port.group("port").isdigit():
        raise ConfigError(f"invalid database URL {shown!r}: its port is no number")
    if "\x00" in unquote(url):
        raise ConfigError(f"invalid database URL {shown!r}: the path holds a NUL character")
    if match.group("dialect").lower() == "sqlite":
        _check_sqlite_path(url[match.end() :].partition("?")[0], shown)
    else:
        _check_sslmode(url, shown)


# libpq refuses any other, but only when it connects: in a chat, after Claude had answered,
# and as an outage (exit 5), not as the setting it is.
_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def _check_sslmode(url: str, shown: str) -> None:
    from urllib.parse import parse_qs

    modes = parse_qs(url.rpartition("?")[2]).get("sslmode", []) if "?" in url else []
    for mode in modes:
        if mode not in _SSLMODES:
            raise ConfigError(
                f"invalid database URL {shown!r}: sslmode must be one of {', '.join(_SSLMODES)}"
            )


def _check_sqlite_path(after_scheme: str, shown: str) -> None:
    """sqlite:////abs/path.db: a relative path (three slashes) made a database per current
    folder, and an in-memory one kept nothing past the command."""
    path = after_scheme.removeprefix("/")
    if path.startswith("file:"):
        return  # an SQLite URI (?uri=true): its own rules
    if path in ("", ":memory:"):
        raise ConfigError(
            f"database URL {shown!r} keeps nothing past the command (an in-memory database): "
            "use sqlite:////absolute/path.db"
        )
    if not path.startswith("/"):
        raise ConfigError(
            f"database URL {shown!r} names a path relative to the current folder: use "
            "sqlite:////absolute/path.db (four slashes)"
        )


def describe_database(url: str) -> str:
    """Which database an error is about: its name and where libpq looks for it, the host and
    port of the query string too (postgresql:///team?host=...&port=...), which were said as
    "team on localhost:" (no port at all)."""
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite file {parsed.database}"
    host = parsed.host or _query_value(parsed, "host") or "localhost"
    port = parsed.port or _query_value(parsed, "port")
    return f"{parsed.database or '(default)'} on {host}{f':{port}' if port else ''}"


def _query_value(parsed: Any, name: str) -> str | None:
    """A query parameter's value; a repeated one (hosts to fail over to) joined by commas."""
    value = parsed.query.get(name)
    return ",".join(value) if isinstance(value, tuple) else value
