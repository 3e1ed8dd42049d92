"""Rows of a report: a rich table in a terminal (with a bar chart column when asked), plain
tab-separated columns in a pipe, JSON with --json."""

from __future__ import annotations

import sys
from typing import Any

from claudechat.jsontext import dumps_json
from claudechat.output import console, is_rich, one_line

BAR_WIDTH = 30
MIN_BAR_WIDTH = 10  # narrower than this, a chart says too little to be worth its room
MIN_TEXT_WIDTH = 4  # a name cut shorter than this, with its ellipsis, says nothing
MIN_FIRST_WIDTH = 20  # the row's name: a dated model id cut in its middle still reads
GAP = 2  # between two columns


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
    headings = [c.replace("_", " ") for c in columns]
    figures = [all(_is_figure(row[c]) for row in rows) for c in columns]
    out = console()
    room = out.width - GAP * (len(columns) - 1)
    widths = fitted_widths(headings, shown, figures, room)
    if sum(widths) > room:
        # Even whole figures alone do not fit (60 columns): a table would split them, and
        # its headings letter by letter. One block a row, a line a field.
        print_records(out, title, headings, shown)
        return
    bar_room = room - sum(widths) - GAP
    bar_width = min(BAR_WIDTH, bar_room) if bar and bar_room >= MIN_BAR_WIDTH else 0
    # No box: its rules took 3 columns of each column, which 80 columns could not spare.
    table = Table(title=title, title_style="dim", header_style="bold", box=None, pad_edge=False)
    for heading, width in zip(headings, widths, strict=True):
        # Each column as wide as its figures, or its name as wide as it fits: a heading may
        # wrap at its spaces, a figure never does, and a longer name ends in an ellipsis.
        table.add_column(heading, width=width, overflow="fold")
    if bar_width:  # a chart only where it fits beside the figures
        table.add_column("", no_wrap=True, width=bar_width)
    top = max((_amount(row[bar]) for row in rows), default=0.0) if bar else 0.0
    for row, line in zip(rows, shown, strict=True):
        # A figure is never cut short (on a screen too narrow even for the figures, it folds);
        # a name ends in an ellipsis.
        cells = [
            Text(text, overflow="fold") if figure else Text(text, no_wrap=True, overflow="ellipsis")
            for text, figure in zip(
                [middle_cut(line[0], widths[0]), *line[1:]], figures, strict=True
            )
        ]
        if bar_width:
            share = _amount(row[bar]) / top if top and bar else 0.0
            cells.append(Text("█" * round(share * bar_width), style="cyan"))
        table.add_row(*cells)
    out.print(table)


def print_records(out: Any, title: str, headings: list[str], shown: list[list[str]]) -> None:
    from rich.text import Text

    out.print(Text(title, style="dim"))
    width = max((len(heading) for heading in headings[1:]), default=0)
    for line in shown:
        out.print(Text(line[0], style="bold"), overflow="fold")
        for heading, value in zip(headings[1:], line[1:], strict=True):
            out.print(Text(f"  {heading.ljust(width)}  {value}"), overflow="fold")


def fitted_widths(
    headings: list[str], shown: list[list[str]], figures: list[bool], room: int
) -> list[int]:
    """Column widths within `room`: whole headings where they fit; else headings wrapped at
    their spaces, and the text columns (not figures: "4,435,8" over "19" was unreadable)
    narrowed, the widest first, the first column (which names the row) last of all."""
    from rich.cells import cell_len

    values = [max(cell_len(line[i]) for line in shown) for i in range(len(headings))]
    whole = [max(cell_len(h), v) for h, v in zip(headings, values, strict=True)]
    if sum(whole) <= room:
        return whole
    words = [max(cell_len(word) for word in h.split() or [""]) for h in headings]
    widths = [max(w, v) for w, v in zip(words, values, strict=True)]
    narrowed = [i for i in range(1, len(headings)) if not figures[i]]
    left = room - sum(w for i, w in enumerate(widths) if i not in narrowed)
    for done, i in enumerate(sorted(narrowed, key=lambda i: widths[i])):
        share = left // (len(narrowed) - done)
        # Never narrower than its heading's longest word: "display" was split "disp" / "lay"
        # (the rows then go as blocks, below, when that leaves too little room).
        widths[i] = max(MIN_TEXT_WIDTH, words[i], min(widths[i], share))
        left -= widths[i]
    over = sum(widths) - room
    if over > 0 and not figures[0]:
        # The figures still do not fit: the name of the row gives way too (a dated model id
        # is 26 columns), down to what still tells rows apart (cut in its middle, see
        # middle_cut): an id whole, a model id's family and date.
        widths[0] = max(min(whole[0], MIN_FIRST_WIDTH), widths[0] - over)
    if sum(widths) > room:  # a heading word wider than its figures folds, not the figures
        widths = [v if figure else w for w, v, figure in zip(widths, values, figures, strict=True)]
    return widths


def middle_cut(text: str, width: int) -> str:
    """`text` in `width` columns, its middle left out: claude-3-5…20241022, where an ellipsis
    at the end made two dated model ids alike."""
    from rich.cells import cell_len, set_cell_size

    if cell_len(text) <= width or width < 3:
        return text
    tail_cells = (width - 1) // 2
    tail = ""
    for character in reversed(text):  # by cells: a CJK character takes two
        if cell_len(character + tail) > tail_cells:
            break
        tail = character + tail
    head = set_cell_size(text, width - 1 - cell_len(tail)).rstrip()
    return head + "…" + tail


def _is_figure(value: Any) -> bool:
    """A number, or none: "-" where there is nothing, "?" where it is not known (a cost)."""
    return value in (None, "?") or _is_number(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _amount(value: Any) -> float:
    """A bar's length: an unknown figure ("?") draws none."""
    return float(value) if _is_number(value) else 0.0
