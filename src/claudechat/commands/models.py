"""`claudechat models` and `claudechat usage`: registered on the Typer app by `register`.

Both import their heavy parts (the SDK, the store, rich) only when they run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from claudechat import completions

if TYPE_CHECKING:
    from claudechat.models import ModelInfo


def register(app: typer.Typer) -> None:
    app.command("models")(models)
    app.command("usage")(usage)


def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    refresh: Annotated[bool, typer.Option("--refresh", help="Ask the API, not the cache.")] = False,
) -> None:
    """The models your account offers: limits, thinking, effort and prices (cached a day)."""
    from claudechat.claude import Claude
    from claudechat.commands import opening
    from claudechat.model_catalogue import model_catalogue
    from claudechat.output import status

    settings = opening.settings()  # its warnings said, as every command's
    catalogue = model_catalogue(settings, Claude(settings))
    listed = catalogue.models(refresh=refresh, note=status)
    rows = [_model_row(info, settings) for info in listed]
    from claudechat.tables import print_rows

    print_rows(rows, as_json, title="models", names={"display_name"})


def _model_row(info: ModelInfo, settings: Any) -> dict[str, Any]:
    from claudechat.pricing import price_for, price_table

    price = price_for(info.id, price_table(settings))
    return {
        "id": info.id,
        "display_name": info.display_name,
        "context_window": info.max_input_tokens,
        "output_limit": info.max_tokens,
        "thinking": list(info.thinking),  # JSON keeps the lists; tables join them
        "effort": list(info.effort),
        "price_in": price.input if price else None,
        "price_out": price.output if price else None,
    }


def usage(
    since: Annotated[
        str,
        typer.Option(
            metavar="WHEN", help="How far back: 30m, 12h, 30d, 4w, or a date (2026-11-01)."
        ),
    ] = "30d",
    by: Annotated[
        str,
        typer.Option(
            metavar="GROUP",
            help="Group by day, model or conversation.",
            autocompletion=completions.groupings,
        ),
    ] = "day",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Spend and tokens over time, from the stored conversations."""
    from claudechat.commands import opening
    from claudechat.spend import grouping, spend_rows

    by = grouping(by)  # the table's title and columns follow it
    settings = opening.settings()
    rows, error = spend_rows(settings, opening.store(settings), since, by)
    from claudechat.tables import print_rows

    if by == "conversation" and not as_json:  # JSON keeps the whole id, name and title
        # A table's name column shows what list shows: the name, else the first words.
        rows = [
            {key: value for key, value in row.items() if key != "title"}
            | {"conversation": row["conversation"][:8], "name": row["title"]}
            for row in rows
        ]
    if not as_json:  # an unknown cost reads `?`, as in list; the count of replies is JSON's
        rows = [_unpriced_shown(row) for row in rows]
    # The row's name (a dated model id cut in its middle) and a conversation's name give way.
    print_rows(rows, as_json, title=f"spend by {by}", bar="cost", names={by, "name"})
    if not rows and not as_json and error is None:  # during an outage, the outage is said
        # As `list` and `search` say theirs: an empty answer printed nothing at all.
        from claudechat.output import one_line, status

        status(f"no replies to count (--since {one_line(since)})")
    if error:  # after what this machine holds, as `list` does: partial figures, said so
        raise error


def _unpriced_shown(row: dict[str, Any]) -> dict[str, Any]:
    shown = {key: value for key, value in row.items() if key != "unpriced"}
    unknown = {key: "?" for key in ("cost", "saved_by_cache") if row[key] is None}
    return shown | unknown
