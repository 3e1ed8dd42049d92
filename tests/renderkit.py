"""What the renderer tests share: a small terminal emulator, consoles, reference renders and
markdown documents that exercise every block type."""

from __future__ import annotations

import io
import random
import re
from collections.abc import Iterator

from rich.console import Console
from rich.markdown import Markdown

from claudechat.markdown import make_markdown
from claudechat.render import (
    MarkdownStreamRenderer,
)

WIDTH = 80
HEIGHT = 24

# --------------------------------------------------------------------------- helpers


class TerminalEmulator:
    """Just enough of a VT100 for rich's output: text, CR, LF, cursor up, erase line.

    Rows that scroll off the top of the screen become scrollback and can no
    longer be reached by the cursor, as in a real terminal.
    """

    _TOKEN = re.compile(r"\x1b\[([?0-9;]*)([A-Za-z])|\x1b\]8;[^\x1b]*\x1b\\|\r|\n|[^\x1b\r\n]+")

    def __init__(self, height: int = HEIGHT) -> None:
        self.height = height
        self.rows: list[list[str]] = [[]]
        self.row = 0
        self.col = 0
        self.max_cursor_up_run = 0
        self._cursor_up_run = 0

    def feed(self, data: str) -> None:
        position = 0
        for match in self._TOKEN.finditer(data):
            assert match.start() == position, f"unparsed output {data[position:][:20]!r}"
            position = match.end()
            self._apply(match)
        assert position == len(data), f"unparsed output {data[position:][:20]!r}"

    def _apply(self, match: re.Match[str]) -> None:
        token = match.group(0)
        if match.group(2) is not None:
            self._control(match.group(1), match.group(2))
        elif token.startswith("\x1b]"):
            pass  # hyperlink
        elif token == "\r":
            self.col = 0
        elif token == "\n":
            self._line_feed()
        else:
            self._write(token)

    def _control(self, params: str, command: str) -> None:
        if command == "A":
            top_of_screen = max(0, len(self.rows) - self.height)
            self.row = max(top_of_screen, self.row - int(params or 1))
            self._cursor_up_run += 1
            self.max_cursor_up_run = max(self.max_cursor_up_run, self._cursor_up_run)
        elif command == "K":
            assert params == "2", params
            self.rows[self.row] = []
        elif command == "J":  # erase below: the rest of this row and every row under it
            assert params in ("", "0"), params
            del self.rows[self.row][self.col :]
            del self.rows[self.row + 1 :]
        elif command == "m" or (command in "hl" and params == "?25"):
            pass  # colours; cursor show/hide
        else:
            raise AssertionError(f"unexpected control sequence {params}{command}")

    def _line_feed(self) -> None:
        self._cursor_up_run = 0
        self.col = 0
        self.row += 1
        if self.row == len(self.rows):
            self.rows.append([])

    def _write(self, text: str) -> None:
        self._cursor_up_run = 0
        row = self.rows[self.row]
        row.extend(" " * (self.col - len(row)))
        row[self.col : self.col + len(text)] = text
        self.col += len(text)

    def transcript(self) -> list[str]:
        lines = ["".join(row).rstrip() for row in self.rows]
        while lines and not lines[-1]:
            lines.pop()
        return lines


def make_console(color_system: str | None = None) -> Console:
    return Console(
        file=io.StringIO(),
        force_terminal=True,
        width=WIDTH,
        height=HEIGHT,
        color_system=color_system,  # type: ignore[arg-type]
        legacy_windows=False,
    )


_SGR = re.compile(r"\x1b\[[0-9;]*m|\x1b\]8;[^\x1b]*\x1b\\")


def one_shot_lines(text: str, color_system: str | None = None) -> list[str]:
    """What printing the whole reply once looks like: the reference."""
    console = make_console(color_system)
    console.print(make_markdown(text))
    return _normalised_lines(_SGR.sub("", console.file.getvalue()))  # type: ignore[attr-defined]


def _normalised_lines(output: str) -> list[str]:
    lines = [line.rstrip() for line in output.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def screen_lines(console: Console) -> list[str]:
    emulator = TerminalEmulator()
    emulator.feed(console.file.getvalue())  # type: ignore[attr-defined]
    return emulator.transcript()


def random_chunks(text: str, seed: int, max_size: int = 8) -> Iterator[str]:
    rng = random.Random(seed)
    position = 0
    while position < len(text):
        size = rng.randint(1, max_size)
        yield text[position : position + size]
        position += size


class CountingRenderer(MarkdownStreamRenderer):
    """Records every markdown parse, through the renderer's hook."""

    def __init__(self, console: Console, *, auto_refresh: bool = True) -> None:
        super().__init__(console, auto_refresh=auto_refresh)
        self.parsed_texts: list[str] = []

    @property
    def markdown_builds(self) -> int:
        return len(self.parsed_texts)

    def make_markdown(self, text: str) -> Markdown:
        self.parsed_texts.append(text)
        return super().make_markdown(text)


def stream(
    text: str, chunks: Iterator[str], *, refresh_every: int = 7, color_system: str | None = None
) -> Console:
    """Feed the chunks, forcing a live refresh every few chunks; return the console."""
    console = make_console(color_system)
    with MarkdownStreamRenderer(console, auto_refresh=False) as renderer:
        for index, chunk in enumerate(chunks):
            renderer.feed(chunk)
            if index % refresh_every == 0:
                renderer.refresh()
    assert renderer.text == text
    return console


# --------------------------------------------------------------------------- documents

HEADINGS_AND_PARAGRAPHS = """\
# A heading

A paragraph with **bold**, *emphasis*, `inline code` and a [link](https://example.com).
It goes on for a while so that rich has to wrap it over more than one line of the
eighty-column console used by these tests.

## A second heading

Another paragraph.
### Heading straight after text
Text straight after a heading.
"""

NESTED_LISTS = """\
Some options:

- first item

- second item, with a continuation
  that is indented

  and a second paragraph in the same item

  1. nested one

  2. nested two
     - deeper
- third item
lazy continuation line

1. ordered

2. ordered again

3. and a third

After the list.
"""

LONG_LOOSE_ORDERED_LIST = "\n\n".join(f"{n}. step number {n}" for n in range(1, 13)) + "\n"

TABLE = """\
Here is a table:

| Name | Value | Notes |
|------|------:|:------|
| alpha | 1 | first |
| beta | 22 | second, a bit longer |

| Lonely | Table |
|---|---|
| x | y |
"""

CODE_WITH_BLANK_LINES = """\
Code:

```python
def f(x):

    return x + 1


class A:
    pass
```

~~~
tilde fence with ``` inside

still code
~~~

````markdown
```
nested fence text
```

````

Done.
"""

BLOCK_QUOTES = """\
> A quote
> over two lines

> A second quote

>   - a list in a quote

Plain text.
"""

RULES_AND_IMAGES = """\
Before the rule.

---

![diagram](https://example.com/diagram.png) and text after the image.

***

- list right after a rule

A paragraph before an image paragraph.

![photo](https://example.com/photo.jpg)

<div>
an html block
</div>

Text after html.
"""

LIST_WITH_CODE = """\
1. Install:

   ```bash
   pip install thing

   thing --help
   ```

2. Run it:
   ```
   thing run
   ```

Then check the output.
"""

STARTS_WITH_BLANK_LINES = "\n\n\nHello after blank lines.\n\n- a list\n"

ENDS_MID_CODE_BLOCK = """\
Here is the start of a script:

```python
import sys

def main():
    print("hello")

    for arg in sys.argv:
"""

# What markdown-it reads as HTML, which is text Claude wrote about code and keys.
HTML_AS_TEXT = """\
Press <kbd>Ctrl</kbd>+<kbd>C</kbd>. Use the <br> element, and a <T> type param:
List<String> x; if a<b and c>d.

<div>
block html here
</div>

<!-- a comment -->
Text after html.
"""

NO_TRAILING_NEWLINE = "Just one line with no newline at the end"

DOCUMENTS = {
    "headings_and_paragraphs": HEADINGS_AND_PARAGRAPHS,
    "nested_lists": NESTED_LISTS,
    "long_loose_ordered_list": LONG_LOOSE_ORDERED_LIST,
    "table": TABLE,
    "code_with_blank_lines": CODE_WITH_BLANK_LINES,
    "block_quotes": BLOCK_QUOTES,
    "rules_and_images": RULES_AND_IMAGES,
    "list_with_code": LIST_WITH_CODE,
    "starts_with_blank_lines": STARTS_WITH_BLANK_LINES,
    "ends_mid_code_block": ENDS_MID_CODE_BLOCK,
    "no_trailing_newline": NO_TRAILING_NEWLINE,
    "html_as_text": HTML_AS_TEXT,
    "everything": "\n".join(
        [
            HEADINGS_AND_PARAGRAPHS,
            NESTED_LISTS,
            TABLE,
            CODE_WITH_BLANK_LINES,
            BLOCK_QUOTES,
            RULES_AND_IMAGES,
            LIST_WITH_CODE,
            ENDS_MID_CODE_BLOCK,
        ]
    ),
}


def long_reply(target_chars: int) -> str:
    sections = [HEADINGS_AND_PARAGRAPHS, NESTED_LISTS, TABLE, CODE_WITH_BLANK_LINES, BLOCK_QUOTES]
    parts: list[str] = []
    while sum(map(len, parts)) < target_chars:
        parts.extend(sections)
    return "\n".join(parts)
