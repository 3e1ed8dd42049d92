"""Values the shell completes after Tab (`claudechat --install-completion`).

Each function takes what is typed so far and returns the values that start with it. They run
inside the shell's completion: a failure (no database yet, a store that is down) offers
nothing rather than an error, and none of them asks the API.
"""

from __future__ import annotations

from collections.abc import Iterable

import typer

IDS_OFFERED = 50  # the newest conversations; older ones by typing a prefix


def _starting(values: Iterable[str], incomplete: str) -> list[str]:
    return [value for value in values if value.startswith(incomplete)]


def efforts(incomplete: str) -> list[str]:
    from claudechat.request import EFFORT_LEVELS

    return _starting([*EFFORT_LEVELS, "default"], incomplete)


def providers(incomplete: str) -> list[str]:
    from claudechat.settings import PROVIDERS

    return _starting(PROVIDERS, incomplete)


def groupings(incomplete: str) -> list[str]:
    from claudechat.spend import GROUPINGS

    return _starting(GROUPINGS, incomplete)


def export_formats(incomplete: str) -> list[str]:
    """The formats and their short names (md), which -f takes as well."""
    from claudechat.export import FORMAT_NAMES, FORMATS

    return _starting((*FORMATS, *FORMAT_NAMES), incomplete)


def models(incomplete: str) -> list[str]:
    """The ids the models cache (or the Bedrock catalogue) knows."""
    try:
        from claudechat.model_commands import model_ids
        from claudechat.settings import load_settings

        return _starting(model_ids(load_settings()), incomplete)
    except Exception:  # completion offers nothing rather than failing in the shell
        return []


def conversation_ids(incomplete: str) -> list[tuple[str, str]]:
    """The ids of the conversations this machine used last (its local copies, newest first),
    each with its title as the shell's help. Not the database: a Tab must not wait for a
    server that is slow to answer, nor create a database on a fresh install."""
    try:
        from claudechat.output import one_line
        from claudechat.settings import load_settings
        from claudechat.storage.cache import DocumentCache

        settings = load_settings()
        copies = DocumentCache(settings.data_dir / "cache").all(settings.user)
    except Exception:  # as above: nothing offered
        return []
    copies.sort(key=lambda conversation: conversation.updated_at, reverse=True)
    return [
        (conversation.id, one_line(conversation.title, 60))  # a title's newlines: one line
        for conversation in copies[:IDS_OFFERED]
        if conversation.id.startswith(incomplete.lower())
    ]


# An ID argument, completed from the history.
CONVERSATION_ID = typer.Argument(
    metavar="ID", help="Id or unique prefix.", autocompletion=conversation_ids
)
