"""Paths a person types, with ~ for a home folder."""

from __future__ import annotations

from pathlib import Path


def expanded(path: str | Path) -> Path | None:
    """`path` with a leading ~ or ~user made the home folder it names; None for a ~user that
    names no user here (Path.expanduser raises RuntimeError for it, which ended the program in
    a traceback, in the REPL's /attach as well)."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        return None
