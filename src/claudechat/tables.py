"""Rows of a report: a rich table in a terminal (with a bar chart column when asked), plain
tab-separated columns in a pipe, JSON with --json."""

from __future__ import annotations

import sys
from typing import Any

from claudechat.jsontext import dumps_json
from claudechat.output import console, is_rich, one_line

BAR_WIDTH = 30
MIN_BAR_WIDTH = 10  # narrower than this, a chart says too little to be worth its room


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return one_line(",".join(str(item) for item in value)) or "-"
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

    shown = [[cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in shown)) for i, c in enumerate(columns)]
    out = console()
    # Each column takes its padding and a rule: 3 characters, and 1 for the table's edge.
    room = out.width - sum(widths) - 3 * len(columns) - 1 - 3
    bar_width = min(BAR_WIDTH, room) if bar and room >= MIN_BAR_WIDTH else 0
    table = Table(title=title, title_style="dim", header_style="bold")
    for position, column in enumerate(columns):
        # The first column (a day, a model id) names the row: never folded mid-word. Numbers
        # fold only when nothing else fits.
        first = position == 0
        table.add_column(
            column.replace("_", " "),
            no_wrap=first,
            min_width=widths[0] if first else None,
            overflow="fold",
        )
    if bar_width:  # a chart only where it fits beside the figures
        table.add_column("", no_wrap=True, width=bar_width)
    top = max((float(row[bar] or 0) for row in rows), default=0.0) if bar else 0.0
    for row, line in zip(rows, shown, strict=True):
        cells = [Text(text) for text in line]
        if bar_width:
            share = float(row[bar] or 0) / top if top and bar else 0.0
            cells.append(Text("█" * round(share * bar_width), style="cyan"))
        table.add_row(*cells)
    out.print(table)
