"""Rows of a report: a rich table in a terminal (with a bar chart column when asked), plain
tab-separated columns in a pipe, JSON with --json. print_table is every command's terminal
table (`list`'s too): one block a row where the data and its headings do not fit."""

from __future__ import annotations

import re
import sys
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from claudechat.jsontext import dumps_json
from claudechat.output import console, is_rich, one_line

if TYPE_CHECKING:
    from rich.console import JustifyMethod

BAR_WIDTH = 30
MIN_BAR_WIDTH = 10  # narrower than this, a chart says too little to be worth its room
MIN_TEXT_WIDTH = 6  # a name cut shorter than this, with its ellipsis, says nothing ("a c…")
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


@dataclass(frozen=True)
class Column:
    """A column of a terminal table. A `whole` one holds data (a figure, an id, a cost, a
    time): never cut, where `list` showed ids of 6 characters and every cost as `$0.00…`;
    the others (a name, a title) end in an ellipsis when room is short."""

    heading: str
    whole: bool = True
    justify: JustifyMethod = "left"
    style: str = ""
    # A whole list ("low,medium,high,max") that may put its items on lines of their own: it
    # takes fewer columns before a name is cut, where 100 columns showed "Claude …".
    wraps: bool = False


def print_rows(
    rows: list[dict[str, Any]],
    as_json: bool,
    title: str,
    bar: str | None = None,
    names: Collection[str] = (),
) -> None:
    """`rows` as JSON, plain columns in a pipe, else a table: the `names` columns (a name, a
    title) may be cut short where room is short, every other one is data and kept whole."""
    if as_json:
        print(dumps_json(rows, indent=2))
        return
    if not rows:
        return
    keys = list(rows[0])
    if not is_rich(sys.stdout):
        for row in rows:
            print("\t".join(cell(row[key]) for key in keys))
        return
    shown = [[cell(row[key]) for key in keys] for row in rows]
    # Only a name is cut short (the row's name in its middle, see middle_cut): `models` cut
    # its efforts to "low,med…", which hid whether a model offers `max`.
    lists = {key for key in keys if any(isinstance(row[key], list | tuple) for row in rows)}
    columns = [
        Column(key.replace("_", " "), whole=key not in names, wraps=key in lists) for key in keys
    ]
    shares = None
    if bar:  # an unknown figure ("?") draws none
        top = max(_amount(row[bar]) for row in rows)
        shares = [_amount(row[bar]) / top if top else 0.0 for row in rows]
    print_table(title, columns, shown, shares)


def print_table(
    title: str, columns: list[Column], shown: list[list[str]], bar: list[float] | None = None
) -> None:
    """`shown`'s rows under `columns`, with a bar of each row's share (0 to 1) of `bar` beside
    them where it fits; too narrow for the data and the headings' words, one block a row."""
    from rich.table import Table
    from rich.text import Text

    out = console()
    headings = [column.heading for column in columns]
    room = out.width - GAP * (len(columns) - 1)
    wraps = [column.wraps for column in columns]
    widths = _widths(columns, shown, out.width)
    if widths is None:
        # A table would split the figures, or its headings letter by letter ("inp" over
        # "ut" at 60 columns): a line a field instead.
        print_records(out, title, headings, shown)
        return
    bar_room = room - sum(widths) - GAP
    bar_width = min(BAR_WIDTH, bar_room) if bar and bar_room >= MIN_BAR_WIDTH else 0
    # No box: its rules took 3 columns of each column, which 80 columns could not spare.
    table = Table(
        title=title or None, title_style="dim", header_style="bold", box=None, pad_edge=False
    )
    for column, width in zip(columns, widths, strict=True):
        # Each column as wide as its data, or its name as wide as it fits: a heading may
        # wrap at its spaces, never inside a word (see fitted_widths).
        table.add_column(column.heading, width=width, justify=column.justify, overflow="fold")
    if bar_width:  # a chart only where it fits beside the figures
        table.add_column("", no_wrap=True, width=bar_width)
    for number, line in enumerate(shown):
        texts = [middle_cut(line[0], widths[0]), *line[1:]]
        texts = [
            items_wrapped(text, width) if wrap else text
            for text, width, wrap in zip(texts, widths, wraps, strict=True)
        ]
        cells = [
            Text(text, style=column.style, overflow="fold")
            if column.whole
            else Text(text, style=column.style, no_wrap=True, overflow="ellipsis")
            for text, column in zip(texts, columns, strict=True)
        ]
        if bar and bar_width:
            cells.append(Text("█" * round(bar[number] * bar_width), style="cyan"))
        table.add_row(*cells)
    out.print(table)


def fits_as_a_table(columns: list[Column], shown: list[list[str]]) -> bool:
    """Whether print_table lays these rows out as a table on this screen, not a block a row."""
    return _widths(columns, shown, console().width) is not None


def _widths(columns: list[Column], shown: list[list[str]], width: int) -> list[int] | None:
    room = width - GAP * (len(columns) - 1)
    headings = [column.heading for column in columns]
    wraps = [column.wraps for column in columns]
    return fitted_widths(headings, shown, [column.whole for column in columns], room, wraps)


def print_records(out: Any, title: str, headings: list[str], shown: list[list[str]]) -> None:
    """A block a row: its first cell (which names it) in bold, then a line a field, a blank
    one left out (list's "forked from" of a conversation that is no fork)."""
    from rich.text import Text

    if title:
        out.print(Text(title, style="dim"))
    width = max((len(heading) for heading in headings[1:]), default=0)
    for line in shown:
        out.print(Text(line[0], style="bold"), overflow="fold")
        for heading, value in zip(headings[1:], line[1:], strict=True):
            if value:
                out.print(Text(f"  {heading.ljust(width)}  {value}"), overflow="fold")


def fitted_widths(
    headings: list[str],
    shown: list[list[str]],
    whole: list[bool],
    room: int,
    wraps: list[bool] | None = None,
) -> list[int] | None:
    """Column widths within `room`: whole headings where they fit; else headings wrapped at
    their spaces, the lists that `wraps` wrapped between their items, and the columns not
    `whole` narrowed, the widest first, the first column (which names the row) last of all.
    None where even that does not fit: a table then split its figures ("4,435,8" over "19")
    or its headings inside a word ("disp" over "lay")."""
    from rich.cells import cell_len

    values = [max(cell_len(line[i]) for line in shown) for i in range(len(headings))]
    natural = [max(cell_len(h), v) for h, v in zip(headings, values, strict=True)]
    if sum(natural) <= room:
        return natural
    words = [max(cell_len(word) for word in h.split() or [""]) for h in headings]
    widths = [max(w, v) for w, v in zip(words, values, strict=True)]
    wrapped = _lists_wrapped(widths, words, shown, wraps or [], room)
    if sum(wrapped) <= room:
        return wrapped
    narrowed = [i for i in range(1, len(headings)) if not whole[i]]
    left = room - sum(w for i, w in enumerate(widths) if i not in narrowed)
    for done, i in enumerate(sorted(narrowed, key=lambda i: widths[i])):
        share = left // (len(narrowed) - done)
        # Never narrower than its heading's longest word, nor than says anything.
        shortest = max(min(widths[i], MIN_TEXT_WIDTH), words[i])
        widths[i] = max(shortest, min(widths[i], share))
        left -= widths[i]
    over = sum(widths) - room
    if over > 0 and not whole[0]:
        # The data still does not fit: the name of the row gives way too (a dated model id
        # is 26 columns), down to what still tells rows apart (cut in its middle, see
        # middle_cut): an id whole, a model id's family and date.
        widths[0] = max(min(natural[0], MIN_FIRST_WIDTH), widths[0] - over)
    return widths if sum(widths) <= room else None


def _lists_wrapped(
    widths: list[int], words: list[int], shown: list[list[str]], wraps: list[bool], room: int
) -> list[int]:
    """`widths` with the lists of `wraps` wrapped between their items, a step at a time, the
    widest first, until every column fits whole: a name kept its natural width where they
    could make room for it. Where they cannot, a row of 4 lines with its name cut anyway
    says less than the names cut (or a block a row) with the lists on one line."""
    widths = list(widths)
    shrinkable = [i for i, wrap in enumerate(wraps) if wrap]
    while sum(widths) > room and shrinkable:
        i = max(shrinkable, key=lambda i: widths[i])
        narrower = max(words[i], _items_width([line[i] for line in shown], widths[i] - 1))
        if narrower >= widths[i]:
            shrinkable.remove(i)  # as narrow as its longest item
        else:
            widths[i] = narrower
    return widths


def items_wrapped(text: str, width: int) -> str:
    """A list's items ("low,medium,high,max") on as few lines of `width` as hold them, each
    line ending at a comma: never cut, and never split inside an item."""
    from rich.cells import cell_len

    lines = [""]
    for item in re.findall(r"[^,]+,?|,", text):
        if lines[-1] and cell_len(lines[-1] + item) > width:
            lines.append("")
        lines[-1] += item
    return "\n".join(lines)


def _items_width(texts: list[str], width: int) -> int:
    """The widest line of these lists wrapped at `width` (an item wider stays whole)."""
    from rich.cells import cell_len

    return max(cell_len(line) for text in texts for line in items_wrapped(text, width).split("\n"))


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


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _amount(value: Any) -> float:
    """A bar's length: an unknown figure ("?") draws none."""
    return float(value) if _is_number(value) else 0.0
