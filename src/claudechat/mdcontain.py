"""Markdown written so that it cannot take in what follows it: a title or a name as the text
it is, a message's text that ends all it opens, thinking that cannot close its fold. Shared by
export and `show --markdown`."""

from __future__ import annotations

import functools
import re
from typing import Any

# What could make a line of text markdown or HTML (a heading's "#", a fence, a tag, an entity,
# emphasis, a link), each shown as itself once escaped.
_STRUCTURE = re.compile(r"([\\`*_\[\]<>#&~|!])")


def markdown_literal(text: str) -> str:
    """A title, name or setting as the text it is: "# ", "```" or "<details>" in a title
    became a heading, a code block or an open fold taking in the whole export."""
    return _STRUCTURE.sub(r"\\\1", text)


_FOLD_END = "</details>\n"
# What follows a message's text: another message's heading, which must stay one.
_NEXT = "## next\n"


def folded_markdown(thinking: str) -> str:
    """The thinking as markdown inside the fold when that is all it is; else as a code block
    no line of it can end. Written raw, its `</details>` closed the fold early (and a
    `<script>` after it landed outside), and a code fence it left open took the fold's end."""
    if _is_markdown_alone(thinking):
        return thinking
    return _code_block(thinking)


def _code_block(text: str) -> str:
    longest_run = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * max(3, longest_run + 1)
    return f"{fence}text\n{text}\n{fence}"


def contained_markdown(text: str) -> str:
    """A message's text as markdown when it ends all it opens; else with its open fence
    closed; else as a code block. Written raw, a fence it left open took in every message
    after it as code, and an unclosed <details> folded them away."""
    tokens = _parsed_before_next(text)
    if _ends_all_it_opens(tokens):
        return text
    left_open = [t for t in tokens if t.type == "fence" and t.content.endswith(_NEXT)]
    if left_open:
        closed = f"{text}\n{left_open[-1].markup}"
        if _ends_all_it_opens(_parsed_before_next(closed)):
            return closed
    return _code_block(text)


def _parsed_before_next(text: str) -> list[Any]:
    return list(_commonmark().parse(f"{text}\n\n{_NEXT}"))


@functools.cache
def _commonmark() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def _ends_all_it_opens(tokens: list[Any]) -> bool:
    """The heading after the text is one, outside everything, and no HTML element the text
    opened is left open around it."""
    if len(tokens) < 3:
        return False  # the heading was taken in
    *text, heading, inline, _heading_close = tokens
    if heading.type != "heading_open" or heading.level != 0 or inline.content != "next":
        return False
    return not _unclosed_elements(text)


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^<>]*?(/?)>")


def _raw_html(tokens: list[Any]) -> list[Any]:
    """The HTML tokens, as blocks and inside paragraphs, in order."""
    return [
        token
        for token in [*tokens, *(child for t in tokens for child in t.children or [])]
        if token.type in ("html_block", "html_inline")
    ]


def _unclosed_elements(tokens: list[Any]) -> bool:
    depth: dict[str, int] = {}
    html = "".join(token.content for token in _raw_html(tokens))
    for closing, name, self_closing in _TAG.findall(html):
        name = name.lower()
        if name not in _VOID and not self_closing:
            depth[name] = depth.get(name, 0) + (-1 if closing else 1)
    return any(count > 0 for count in depth.values())


def _is_markdown_alone(thinking: str) -> bool:
    """No HTML in it, as CommonMark reads it, and the fold's end after it is read as that."""
    tokens = _commonmark().parse(f"{thinking}\n\n{_FOLD_END}")
    return _raw_html(tokens) == [tokens[-1]] and tokens[-1].content == _FOLD_END
