"""How search results, filtered lists and long conversations reach a person: highlighted in a
terminal, marked in plain text in a pipe, long output through a pager as git does."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from claudechat.errors import UsageError
from claudechat.output import is_rich, no_color, one_line, safe_text
from claudechat.short_ids import short_id
from claudechat.storage.search import SearchHit
from claudechat.storage.search_text import MARK_END, MARK_START

if TYPE_CHECKING:
    from rich.console import Console

PLAIN_MARK = "**"  # a match in plain text: **word**, as markdown bolds it
_SINCE = re.compile(r"(\d{1,12})\s*(m|min|h|d|w)")
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`7d`, `12h`, `30m`, `2w`, or a date (2026-11-01) or ISO time."""
    now = now or datetime.now(UTC)
    match = _SINCE.fullmatch(text.strip().lower())
    if match:
        try:
            return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        except OverflowError:  # further back than dates go: everything
            return datetime.min.replace(tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise UsageError(
            f"--since {text[:30]!r}: give a duration (30m, 12h, 7d, 2w) or a date (2026-11-01)"
        ) from exc
    if moment.tzinfo:
        return moment
    try:
        return moment.astimezone()
    except (OverflowError, ValueError):
        # At the calendar's ends (0001-01-01) the local offset cannot be worked out: this
        # raised "year 0 is out of range" as a traceback. Hours do not matter there.
        return moment.replace(tzinfo=UTC)


def plain_snippet(snippet: str) -> str:
    # The marks are printable private-use characters: one_line keeps them.
    return marked_plain(one_line(snippet))


def marked_plain(snippet: str) -> str:
    """Matches in **, as markdown bolds them, and the text's own * and \\ escaped with a
    backslash, as markdown escapes them: a message's "**bold**" read as a match of its own
    ("Some ****bold**** text"), and a script could not tell which words matched."""
    escaped = snippet.replace("\\", "\\\\").replace("*", "\\*")
    return escaped.replace(MARK_START, PLAIN_MARK).replace(MARK_END, PLAIN_MARK)


def matched_words(snippet: str) -> list[str]:
    """The text of each match in the snippet, in order, as the message holds it."""
    return re.findall(f"{MARK_START}(.*?){MARK_END}", snippet, re.DOTALL)


def hit_title(hit: SearchHit) -> str:
    return one_line(hit.name or hit.preview or "(empty)", 50)


def hit_json(hit: SearchHit) -> dict[str, Any]:
    return {
        "id": hit.conversation_id,
        "name": hit.name,
        # The text itself, as list --json gives it: JSON escapes what a terminal would obey.
        "title": hit.name or hit.preview or "(empty)",
        "message_id": hit.message_id,
        "role": hit.role,
        "created_at": hit.created_at.isoformat(),
        "snippet": marked_plain(hit.snippet),
        "matches": matched_words(hit.snippet),
    }


def print_hits(
    hits: list[SearchHit], numbered: bool = False, prefixes: dict[str, str] | None = None
) -> None:
    """Each hit under its conversation's id, as `prefixes` cut it (8 characters if none)."""
    prefixes = prefixes or {}
    if not is_rich(sys.stdout):
        for hit in hits:
            fields = (
                short_id(prefixes, hit.conversation_id),
                hit_title(hit),
                _date(hit.created_at),
                hit.role,
                plain_snippet(hit.snippet),
            )
            print("\t".join(fields))
        return
    from rich.text import Text

    from claudechat.output import console

    out = console()
    for number, hit in enumerate(hits, 1):
        head = Text(f"{number:>2}. " if numbered else "")
        head.append(short_id(prefixes, hit.conversation_id), style="cyan")
        head.append(f"  {hit_title(hit)}  ", style="bold")
        head.append(f"{_date(hit.created_at)}  {hit.role}", style="dim")
        out.print(head)
        out.print(highlighted(hit.snippet, indent="    ", styled=not no_color()))


def highlighted(snippet: str, indent: str = "", styled: bool = True) -> Any:
    """A rich Text of the snippet, matches in reverse video; never read as markup. Without
    styles (NO_COLOR) the matches are in **, as a pipe has them: unmarked, none could be told."""
    from rich.text import Text

    if not styled:
        return Text(indent + plain_snippet(snippet))
    text = Text(indent)
    marked = False
    for piece in re.split(f"([{MARK_START}{MARK_END}])", one_line(snippet)):
        if piece in (MARK_START, MARK_END):
            marked = piece == MARK_START
        elif piece:
            text.append(piece, "reverse bold" if marked else "")
    return text


def _date(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


# -- the pager -----------------------------------------------------------------------------


def paged(render: Callable[[Console], None]) -> None:
    """Render into the terminal, through $PAGER (`less -R` by default, as git does) when the
    output is taller than the screen. Never used in a pipe: callers check for a terminal."""
    import io
    import shutil

    from claudechat.output import console

    size = shutil.get_terminal_size()
    buffer = io.StringIO()
    capture = console(  # both given: with the width alone, a dumb terminal's was 80 columns
        file=buffer, force_terminal=True, width=size.columns, height=size.lines
    )
    render(capture)
    text = buffer.getvalue()
    _page(text, text.count("\n"), size.lines)


def paged_text(text: str) -> None:
    """Plain text (`show --markdown`) into the terminal, through $PAGER as `paged` does; its
    height counts the rows the terminal wraps long lines into."""
    import shutil

    from rich.cells import cell_len

    size = shutil.get_terminal_size()
    rows = sum(max(1, -(-cell_len(line) // size.columns)) for line in text.splitlines())
    _page(text, rows, size.lines)


def _page(text: str, rows: int, screen_rows: int) -> None:
    pager = os.environ.get("PAGER", "less -R")
    if rows < screen_rows or pager.strip() in ("", "cat"):
        sys.stdout.write(text)
        return
    _run_pager(pager, text)


def _run_pager(pager: str, text: str) -> None:
    import subprocess

    # Like git: quit when the text fits, keep colours, leave the text on the screen.
    env = {**os.environ, "LESS": os.environ.get("LESS", "FRX")}
    try:
        process = subprocess.Popen(pager, shell=True, stdin=subprocess.PIPE, env=env)
    except OSError:
        sys.stdout.write(text)
        return
    assert process.stdin is not None
    try:
        process.stdin.write(text.encode("utf-8", "replace"))
        process.stdin.close()
    except BrokenPipeError:
        pass  # the reader quit the pager early
    if process.wait() in (126, 127):  # the shell found no such command, or could not run it
        from claudechat.output import status

        status(f"warning: the pager {pager[:60]!r} could not be run; showing it here", "yellow")
        sys.stdout.write(text)


def terminal_text(text: str) -> str:
    """Exported text printed on a terminal: escapes shown, not obeyed."""
    return safe_text(text) if sys.stdout.isatty() else text
