"""Splitting streamed markdown into top-level blocks, so a finished block is rendered once."""

from __future__ import annotations

import re

__all__ = ["BlockSplitter", "split_finished_blocks"]

# Any indentation counts: a fence inside a list item is indented, and treating an
# over-indented line as a fence only delays a split, while missing a real fence
# would split a code block in two.
_FENCE_OPENING = re.compile(r"([ \t]*)(`{3,}|~{3,})(.*)")
_LIST_ITEM_START = re.compile(r"(?:[-+*]|\d{1,9}[.)])(?:[ \t]|\r?\n|$)")


class _Fence:
    """An open fenced code block: only a run of the same character, at least as
    long and not indented too deeply, closes it (CommonMark's rule)."""

    __slots__ = ("char", "indent", "length")

    def __init__(self, char: str, length: int, indent: int) -> None:
        self.char = char
        self.length = length
        self.indent = indent

    @classmethod
    def opened_by(cls, line: str) -> _Fence | None:
        match = _FENCE_OPENING.match(line)
        if match is None:
            return None
        indent, run, info = match.groups()
        if run[0] == "`" and "`" in info:
            return None  # "```code```" is inline code, not a fence
        return cls(run[0], len(run), len(indent.expandtabs(4)))

    def is_closed_by(self, line: str) -> bool:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" \t"))
        return (
            len(stripped) >= self.length
            and stripped == self.char * len(stripped)
            and indent <= self.indent + 3
        )


class BlockSplitter:
    """Incremental form of `split_finished_blocks`: feed text in any chunks.

    A block ends at a blank line outside a fenced code block when the next line
    starts in column 0. Lines indented after a blank line (list continuations,
    indented code) stay with the block before. A new item of a list already open
    in the block also stays with it: rich numbers, aligns and spaces a list as a
    whole, so splitting a loose list would change its rendering. Work is done
    per complete line, so feeding costs O(len(chunk)) amortized.
    """

    def __init__(self) -> None:
        self._line_parts: list[str] = []  # pieces of the incomplete last line
        self._block_lines: list[str] = []  # complete lines of the unfinished block
        self._block_has_content = False
        self._after_blank_line = False
        self._in_list = False
        self._fence: _Fence | None = None
        self._fence_line_index = 0  # where the open fence's line is in _block_lines

    def feed(self, chunk: str) -> list[str]:
        """Add text; return the blocks it finished, oldest first."""
        finished: list[str] = []
        start = 0
        while (newline := chunk.find("\n", start)) != -1:
            self._line_parts.append(chunk[start : newline + 1])
            line = "".join(self._line_parts)
            self._line_parts.clear()
            block = self._accept_line(line)
            if block is not None:
                finished.append(block)
            start = newline + 1
        if start < len(chunk):
            self._line_parts.append(chunk[start:])
        return finished

    @property
    def remainder(self) -> str:
        """The unfinished block, including a trailing partial line."""
        return "".join(self._block_lines) + "".join(self._line_parts)

    def remainder_tail(self, max_code_lines: int, step: int = 1) -> str:
        """The unfinished block, minus all but the last `max_code_lines` lines of
        an open code block; the cut moves by `step` lines at a time.

        A live view shows only the bottom of a tall block, and highlighting a
        long code block is by far the costliest rendering; cutting lines from
        the middle of a fence leaves the markdown structure unchanged. Moving the
        cut one line at a time would shift every row of the view on every new line,
        and the whole view would be rewritten on each refresh.
        """
        if self._fence is None:
            return self.remainder
        first_code_line = self._fence_line_index + 1
        hidden = len(self._block_lines) - first_code_line - max_code_lines
        if hidden > 0:
            hidden = -(-hidden // step) * step
        if hidden <= 0:
            return self.remainder
        lines = self._block_lines
        return (
            "".join(lines[:first_code_line])
            + "".join(lines[first_code_line + hidden :])
            + "".join(self._line_parts)
        )

    def take_remainder(self) -> str:
        """Return the unfinished block and start afresh (the stream has ended)."""
        remainder = self.remainder
        self._line_parts = []
        self._take_block()
        self._block_has_content = self._after_blank_line = False
        self._fence = None
        return remainder

    def _accept_line(self, line: str) -> str | None:
        if self._fence is not None:
            if self._fence.is_closed_by(line):
                self._fence = None
            self._block_lines.append(line)
            return None
        if not line.strip():
            # Blank lines before any content stay with the block they precede.
            self._after_blank_line = self._block_has_content
            self._block_lines.append(line)
            return None
        finished = self._take_block() if self._starts_new_block(line) else None
        self._note_content_line(line)
        return finished

    def _starts_new_block(self, line: str) -> bool:
        if not self._after_blank_line or line[0] in " \t":
            return False
        return not (self._in_list and _LIST_ITEM_START.match(line))

    def _take_block(self) -> str:
        block = "".join(self._block_lines)
        self._block_lines = []
        self._in_list = False
        return block

    def _note_content_line(self, line: str) -> None:
        self._block_lines.append(line)
        self._block_has_content = True
        self._after_blank_line = False
        self._fence = _Fence.opened_by(line)
        self._fence_line_index = len(self._block_lines) - 1
        if not self._in_list and _LIST_ITEM_START.match(line):
            self._in_list = True


def split_finished_blocks(text: str) -> tuple[list[str], str]:
    """Split markdown into finished top-level blocks and the unfinished rest.

    The pieces partition the text: ``"".join(blocks) + remainder == text``; each
    block keeps the blank lines that end it.
    """
    splitter = BlockSplitter()
    blocks = splitter.feed(text)
    return blocks, splitter.remainder
