"""Markdown tables laid out without rich's Table, when nothing in them needs wrapping.

rich's Markdown draws a table as a rich Table: every cell is measured, wrapped and padded
through several layers of renderables, three quarters of the time spent rendering a reply
full of tables. Most tables of a reply fit the terminal with every cell on one line; for
those the layout is only column widths and padding, and this module draws exactly the lines
rich draws (box.SIMPLE, no padding at the edges, padding collapsed between columns). Any
other table (too wide, a cell of several lines or with a tab, a ragged row, a terminal that
is not UTF-8 and gets rich's ASCII box) is left to rich, with its cells folded rather than cut
short; a table whose longest words do not fit side by side is shown a block a row instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions
    from rich.segment import Segment
    from rich.text import Text

__all__ = ["folding_table", "table_lines", "table_records", "words_fit"]


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


def _longest(pieces: list[str]) -> int:
    from rich.cells import cell_len

    return max((cell_len(piece) for piece in pieces), default=0)


def _column_extents(header: list[Text], rows: list[list[Text]]) -> list[tuple[int, int]]:
    """Each column's (longest word, longest line)."""
    extents = [(0, 0)] * len(header)
    for row in [header, *rows]:
        for column, text in enumerate(row[: len(header)]):
            word = _longest(text.plain.split())
            line = _longest(text.plain.expandtabs().splitlines())
            low, high = extents[column]
            extents[column] = (max(low, word), max(high, line))
    return extents


def _room(columns: int, width: int) -> int:
    return width - 2 * (columns - 1) - 2  # the edges and the gaps, as table_lines counts them


def words_fit(header: list[Text], rows: list[list[Text]], width: int) -> bool:
    """Whether the longest word of each column fits beside the others' within `width`."""
    extents = _column_extents(header, rows)
    return sum(word for word, _ in extents) <= _room(len(header), width)


def folding_table(header: list[Text], rows: list[list[Text]], width: int) -> Any:
    """rich's markdown table (as its TableElement builds it), but a word wider than its
    column folds onto the next line: rich's default cut it to "Postgre…", and words were
    lost on screen. Where the longest words fit, each column is given at least its longest
    word: rich narrowed the widest columns first and split "Multi-documen" "t" at 120 columns
    while others had room to spare."""
    from rich import box
    from rich.table import Table

    table = Table(
        box=box.SIMPLE,
        pad_edge=False,
        style="markdown.table.border",
        show_edge=True,
        collapse_padding=True,
    )
    widths = _fitted_widths(_column_extents(header, rows), _room(len(header), width))
    for heading, column_width in zip(header, widths, strict=True):
        table.add_column(heading, overflow="fold", width=column_width)
    for row in rows:
        table.add_row(*row)
    return table


def _fitted_widths(extents: list[tuple[int, int]], room: int) -> list[int | None]:
    """Each column its longest word, and what room is left shared out, the columns that want
    least served first; None (rich's own layout) where the table fits or its words do not."""
    words = sum(word for word, _ in extents)
    if sum(line for _, line in extents) <= room or words > room:
        return [None] * len(extents)
    widths: list[int | None] = [word for word, _ in extents]
    left = room - words
    order = sorted(range(len(extents)), key=lambda i: extents[i][1] - extents[i][0])
    for done, column in enumerate(order):
        word, line = extents[column]
        extra = min(line - word, left // (len(order) - done))
        widths[column] = max(1, word + extra)
        left -= extra
    return widths


def table_records(header: list[Text], rows: list[list[Text]]) -> Any:
    """A table too wide for the terminal even with its cells wrapped at their words (8 columns
    in 80): a block a row, a line a column, its heading then its value (the first, which names
    the row, in bold). Squeezed into columns, every cell was a few letters and an ellipsis."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    if not rows:  # a heading a line: looping over the rows alone showed nothing at all
        return Group(Text(), *(Text("  ").append_text(heading) for heading in header))
    blocks: list[Any] = []
    for row in rows:
        fields = Table.grid(padding=(0, 2, 0, 0), pad_edge=False)
        fields.add_column(overflow="fold")
        fields.add_column(overflow="fold")
        for column, (heading, text) in enumerate(zip(header, row, strict=False)):
            value = text.copy()
            if column == 0:
                value.stylize("bold")
            fields.add_row(Text("  ").append_text(heading), value)
        blocks += [Text(), fields]
    return Group(*blocks)
