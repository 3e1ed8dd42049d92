"""Rows of a report: a rich table in a terminal (with a bar chart column when asked), plain
tab-separated columns in a pipe, JSON with --json."""

from __future__ import annotations

import sys
from typing import Any

from claudechat.jsontext import dumps_json
from claudechat.output import console, is_rich, one_line

BAR_WIDTH = 30


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if value < 1 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}" if is_rich(sys.stdout) else str(value)
    return one_line(str(value))


def print_rows(
    rows: list[dict[str, Any]], as_json: bool, title: str, bar: str | None = None
) -> None:
    if as_json:
        print(dumps_json(rows, indent=2))
        return
    if not rows:
        return
    columns = list(rows[0])
    if not is_rich(sys.stdout):
        for row in rows:
            print("\t".join(cell(row[c]) for c in columns))
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_style="dim", header_style="bold")
    for column in columns:
        table.add_column(column.replace("_", " "), overflow="fold")
    if bar:  # the chart keeps its width; the other columns fold first
        table.add_column("", no_wrap=True, min_width=BAR_WIDTH)
    top = max((float(row[bar] or 0) for row in rows), default=0.0) if bar else 0.0
    for row in rows:
        cells = [Text(cell(row[c])) for c in columns]
        if bar:
            share = float(row[bar] or 0) / top if top else 0.0
            cells.append(Text("█" * round(share * BAR_WIDTH), style="cyan"))
        table.add_row(*cells)
    console().print(table)
