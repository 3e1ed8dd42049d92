"""Markdown tables laid out without rich's Table, when nothing in them needs wrapping.

rich's Markdown draws a table as a rich Table: every cell is measured, wrapped and padded
through several layers of renderables, three quarters of the time spent rendering a reply
full of tables. Most tables of a reply fit the terminal with every cell on one line; for
those the layout is only column widths and padding, and this module draws exactly the lines
rich draws (box.SIMPLE, no padding at the edges, padding collapsed between columns). Any
other table (too wide, a cell of several lines or with a tab, a ragged row, a terminal that
is not UTF-8 and gets rich's ASCII box) is left to rich.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions
    from rich.segment import Segment
    from rich.text import Text

__all__ = ["table_lines"]


def table_lines(
    header: list[Text], rows: list[list[Text]], console: Console, options: ConsoleOptions
) -> list[list[Segment]] | None:
    """The table's lines as rich would draw them, or None when it needs rich's layout."""
    from rich.cells import cell_len
    from rich.segment import Segment

    columns = len(header)
    if options.ascii_only or options.legacy_windows:
        return None
    if not columns or any(len(row) != columns for row in rows):
        return None
    cells = [header, *rows]
    if any(_not_one_line(text.plain) for row in cells for text in row):
        return None
    widths = [max(cell_len(row[i].plain) for row in cells) for i in range(columns)]
    # The edges, and between two columns a padding space and the (blank) separator.
    total = sum(widths) + 2 * (columns - 1) + 2
    if min(widths) == 0 or total > options.max_width:
        return None
    border = console.get_style("markdown.table.border")
    header_style = console.get_style("table.header")
    edge = Segment(" ", border)
    lines: list[list[Segment]] = [[Segment(" " * total, border)]]
    for number, row in enumerate(cells):
        style = header_style if number == 0 else None
        line = [edge]
        for column, (text, width) in enumerate(zip(row, widths, strict=True)):
            line.extend(_cell(text, width, style, console))
            if column < columns - 1:
                line += [Segment(" ", style), edge]
        line.append(edge)
        lines.append(line)
        if number == 0:
            lines.append([Segment(" " + "─" * (total - 2) + " ", border)])
    lines.append([Segment(" " * total, border)])
    return lines


def _not_one_line(plain: str) -> bool:
    # rich wraps at every line break str.splitlines knows (U+2028 too) and expands tabs.
    return "\t" in plain or len(plain.splitlines()) > 1


def _cell(text: Text, width: int, style: Any, console: Console) -> list[Segment]:
    from rich.cells import cell_len
    from rich.segment import Segment

    content = list(text.render(console, end=""))
    if style is not None:
        content = list(Segment.apply_style(content, style))
    excess = width - cell_len(text.plain)
    if not excess:
        return content
    if text.justify == "right":
        return [Segment(" " * excess, style), *content]
    if text.justify == "center":
        left = excess // 2
        return [Segment(" " * left, style), *content, Segment(" " * (excess - left), style)]
    return [*content, Segment(" " * excess, style)]
