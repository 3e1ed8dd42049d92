"""What the renderer costs: one parser, one live region, lexers looked up once, bytes written,
and escape codes that give the same colours as rich's own."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from claudechat.render import (
    MarkdownStreamRenderer,
)
from renderkit import (
    DOCUMENTS,
    long_reply,
    make_console,
    one_shot_lines,
    random_chunks,
    screen_lines,
)

# --------------------------------------------------------------------------- one region, cheap


def test_one_parser_one_lexer_lookup_per_language_one_refresh_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    import markdown_it
    import pygments.lexers

    from claudechat import markdown

    markdown._cache.clear()
    parsers: list[object] = []
    lookups: list[str] = []
    threads: list[str] = []
    original_init = markdown_it.MarkdownIt.__init__
    original_lookup = pygments.lexers.get_lexer_by_name
    original_start = threading.Thread.start

    def counting_init(self: object, *args: object, **kwargs: object) -> None:
        parsers.append(self)
        original_init(self, *args, **kwargs)  # type: ignore[arg-type]

    def counting_lookup(name: str, **options: object) -> object:
        lookups.append(name)
        return original_lookup(name, **options)

    def counting_start(self: threading.Thread) -> None:
        threads.append(self.name)
        original_start(self)

    monkeypatch.setattr(markdown_it.MarkdownIt, "__init__", counting_init)
    monkeypatch.setattr(pygments.lexers, "get_lexer_by_name", counting_lookup)
    monkeypatch.setattr(threading.Thread, "start", counting_start)
    text = long_reply(8_000)
    console = make_console()
    with MarkdownStreamRenderer(console, refresh_per_second=200) as renderer:
        for chunk in random_chunks(text, 11):
            renderer.feed(chunk)
    assert len(parsers) == 1
    assert sorted(set(lookups)) == sorted(lookups)  # each language looked up once
    assert threads == ["live-region"]  # one live region for the whole reply
    assert screen_lines(console) == one_shot_lines(text)


def test_code_blocks_are_as_wide_as_their_code() -> None:
    text = "Code:\n\n```python\nx = 1\nprint(x)\n```\n"
    console = make_console("truecolor")
    with MarkdownStreamRenderer(console, auto_refresh=False) as renderer:
        renderer.feed(text)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    rows = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\r", "", line) for line in output.split("\n")]
    assert max(len(row) for row in rows) <= len(" print(x)  ")  # blanks around, not 80
    assert len(output.encode()) < 20 * len(text)  # was 80 columns of padding per row


def test_a_reply_writes_at_most_three_times_its_text() -> None:
    text = long_reply(16_000)
    console = make_console("256")
    renderer = MarkdownStreamRenderer(console, auto_refresh=False)
    for index, chunk in enumerate(text[i : i + 4] for i in range(0, len(text), 4)):
        renderer.feed(chunk)
        if index % 25 == 0:  # 4 refreshes a second at 100 tokens a second
            renderer.refresh()
    renderer.finish()
    written = len(console.file.getvalue().encode())  # type: ignore[attr-defined]
    # Was 10 times (code padded to the full width); bench/ reports the figures.
    assert written <= 3.5 * len(text.encode())
    assert screen_lines(console) == one_shot_lines(text)


_INTERRUPTED_WHILE_DRAWING = """
import io, os, signal
from rich.console import Console
from claudechat.render import MarkdownStreamRenderer

class InterruptedWhileDrawing(MarkdownStreamRenderer):
    interrupted = False

    def make_markdown(self, text):
        if text.startswith("Para two") and not self.interrupted:
            self.interrupted = True
            os.kill(os.getpid(), signal.SIGINT)  # held until the write is done
        return super().make_markdown(text)

console = Console(file=io.StringIO(), force_terminal=True, width=80, height=24)
renderer = InterruptedWhileDrawing(console, auto_refresh=False)
try:
    for chunk in "Para one.\\n\\nPara two.\\n\\nPara three.\\n":
        renderer.feed(chunk)
except KeyboardInterrupt:
    print("written before the interrupt:", "Para two" in console.file.getvalue())
"""


def test_a_ctrl_c_during_a_write_arrives_after_it() -> None:
    # In a process of its own: signals reach only the main thread of the main interpreter.
    result = subprocess.run(
        [sys.executable, "-c", _INTERRUPTED_WHILE_DRAWING],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # The Ctrl-C came while "Para two" was being rendered; it arrived once it was written.
    assert result.stdout.strip() == "written before the interrupt: True", result.stderr


_SAME_COLOURS = """
import io, re, sys
import pyte
from rich.console import Console
from claudechat.markdown import make_markdown
from claudechat.render import MarkdownStreamRenderer

def console():
    return Console(file=io.StringIO(), force_terminal=True, width=80, height=24,
                   color_system=sys.argv[1], legacy_windows=False)

def look(cell):
    if cell.data == " ":  # on a blank only the background and lines show
        return (cell.data, cell.bg, cell.underscore, cell.strikethrough, cell.reverse)
    return (cell.data, cell.fg, cell.bg, cell.bold, cell.italics, cell.underscore)

def cells(output):
    screen = pyte.Screen(80, 400)
    pyte.Stream(screen).feed(output.replace("\\n", "\\r\\n"))
    rows = []
    for y in range(screen.lines):
        row = [screen.buffer[y][x] for x in range(80)]
        while row and row[-1].data == " ":
            row.pop()
        rows.append([look(c) for c in row])
    return rows

text = sys.stdin.read()
ours = console()
with MarkdownStreamRenderer(ours, auto_refresh=False) as renderer:
    renderer.feed(text)  # one write of the whole reply, no live region
theirs = console()
theirs.print(make_markdown(text))
mine = cells(re.sub(r"\\x1b\\[\\?25[hl]", "", ours.file.getvalue()))
reference = cells(theirs.file.getvalue())
print("same" if mine == reference else [(a, b) for a, b in zip(mine, reference) if a != b][:1])
"""


@pytest.mark.parametrize("color_system", ["256", "truecolor"])
def test_the_shorter_escape_codes_give_the_same_colours_as_rich(color_system: str) -> None:
    """The region writes only the codes that change the look; a terminal must show the same
    characters in the same colours as rich's own output (blanks at line ends aside). In a
    process of its own: rich keeps a style's codes for the first colour system it meets."""
    result = subprocess.run(
        [sys.executable, "-c", _SAME_COLOURS, color_system],
        input=DOCUMENTS["everything"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "same", result.stdout + result.stderr
