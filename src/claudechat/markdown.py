"""rich's Markdown, made cheap to build many times: one parser for every block, lexers and code
themes looked up once, code blocks as wide as their code.

rich's own `Markdown()` builds a new MarkdownIt parser on every construction, and its code
blocks look up the lexer by name and pad every line to the full terminal width (a 63 KiB reply
wrote 613 KiB). rich is imported only when a reply is rendered (see render.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token
    from rich.markdown import Markdown

__all__ = ["blank_line_flags", "live_elements", "make_markdown"]

CODE_TAB_SIZE = 4  # rich's Syntax default
# The terminal's own palette: right on light and dark terminals, and its colour codes are
# half the size of a fixed palette's (highlighted code changes colour every few characters).
DEFAULT_CODE_THEME = "ansi_dark"
_cache: dict[str, Any] = {}


def _parser() -> MarkdownIt:
    if "parser" not in _cache:
        from markdown_it import MarkdownIt

        # The same options as rich's Markdown.
        _cache["parser"] = MarkdownIt().enable("strikethrough").enable("table")
    return _cache["parser"]


def _lexer(name: str) -> Any:
    """A pygments lexer instance for a fence's language, or the name when pygments has none
    (rich then shows the code unhighlighted, as before)."""
    lexers: dict[str, Any] = _cache.setdefault("lexers", {})
    if name not in lexers:
        from pygments.lexers import get_lexer_by_name
        from pygments.util import ClassNotFound

        try:
            # The options rich's Syntax passes when it looks the lexer up itself.
            lexers[name] = get_lexer_by_name(
                name, stripnl=False, ensurenl=True, tabsize=CODE_TAB_SIZE
            )
        except ClassNotFound:
            lexers[name] = name
    return lexers[name]


def _theme(name: str) -> Any:
    themes: dict[str, Any] = _cache.setdefault("themes", {})
    if name not in themes:
        from rich.syntax import Syntax

        themes[name] = Syntax.get_theme(name)
    return themes[name]


def _classes() -> dict[str, Any]:
    if "markdown" in _cache:
        return _cache
    from rich.markdown import CodeBlock, Markdown, MarkdownElement, TableElement
    from rich.segment import Segment

    from claudechat import mdtables

    class TightCodeBlock(CodeBlock):
        """rich's code block, drawn straight from pygments' tokens: rich's Syntax wraps and
        renders every line as a Text, which was most of the renderer's time. The background
        stops at the text (the region trims the blanks after it)."""

        def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
            lexer = _lexer(self.lexer_name)
            yield from code_lines(str(self.text).rstrip(), lexer, self.theme, options.max_width)

    class PlainCodeBlock(TightCodeBlock):
        """For the live region: code keeps its layout but gets its colours once, when its
        block is printed; re-highlighting the open block on every refresh was half the CPU."""

        @classmethod
        def create(cls, markdown: Markdown, token: Token) -> CodeBlock:
            return cls("", markdown.code_theme)

    class QuickTable(TableElement):
        """rich's table, drawn by claudechat.mdtables when no cell needs wrapping; its cells
        fold rather than end in an ellipsis, and a table too wide for that is a block a row."""

        def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
            header = []
            if self.header is not None and self.header.row is not None:
                for cell in self.header.row.cells:
                    heading = cell.content.copy()
                    heading.stylize("markdown.table.header")  # as TableElement does
                    header.append(heading)
            body = self.body.rows if self.body is not None else []
            rows = [[cell.content for cell in row.cells] for row in body]
            lines = mdtables.table_lines(header, rows, console, options)
            if lines is None:
                if len(header) > 1 and not mdtables.words_fit(header, rows, options.max_width):
                    yield mdtables.table_records(header, rows)
                else:
                    yield mdtables.folding_table(header, rows, options.max_width)
                return
            for line in lines:
                yield from line
                yield Segment.line()

    class ReplyMarkdown(Markdown):
        """rich's Markdown parsed by the shared parser."""

        elements: ClassVar[dict[str, type[MarkdownElement]]] = {
            **Markdown.elements,
            "fence": TightCodeBlock,
            "code_block": TightCodeBlock,
            "table_open": QuickTable,
        }

        def __init__(self, markup: str, code_theme: str = DEFAULT_CODE_THEME) -> None:
            # Markdown.__init__ would build a parser; these are the attributes it sets.
            self.markup = markup
            self.parsed = html_as_text(_parser().parse(markup))
            self.code_theme = code_theme
            self.justify = "default"  # "left" pads every line with spaces to the width
            self.style = "none"
            # A link shows its address after its text, "the docs (https://…)": as a terminal
            # hyperlink, the address was dropped (the live region writes colours, not links),
            # and without colour nothing set the text apart either.
            self.hyperlinks = False
            self.inline_code_lexer = None
            self.inline_code_theme = code_theme

    _cache["markdown"] = ReplyMarkdown
    plain = {"fence": PlainCodeBlock, "code_block": PlainCodeBlock}
    _cache["live"] = {**ReplyMarkdown.elements, **plain}
    return _cache


def code_lines(code: str, lexer: Any, theme_name: str, width: int) -> Iterator[Any]:
    """Segments of a code block as rich's Markdown lays it out (a blank row above and below,
    one blank column on the left), in the theme's colours; `lexer` None or a name pygments
    does not know leaves the code uncoloured. Long lines are folded at the width (fold_row)."""
    from pygments.token import Token
    from rich.segment import Segment

    theme = _theme(theme_name)
    base = theme.get_background_style()
    styles: dict[Any, Any] = _cache.setdefault(f"styles {theme_name}", {})

    def style_of(token_type: Any) -> Any:
        if token_type not in styles:
            styles[token_type] = base + theme.get_style_for_token(token_type)
        return styles[token_type]

    code = code.expandtabs(CODE_TAB_SIZE)
    if isinstance(lexer, str):
        tokens: Any = [(Token.Text, code)]
    else:
        tokens = lexer.get_tokens(code)
    line: list[Any] = []
    rows: list[list[Any]] = []
    for token_type, value in tokens:
        style = style_of(token_type)
        for index, part in enumerate(value.split("\n")):
            if index:
                rows.append(line)
                line = []
            if part:
                line.append(Segment(part, style))
    if line:
        rows.append(line)
    cut = max(1, width - 2)
    pad, new_line = Segment(" ", base), Segment.line()
    yield new_line  # rich's blank row above the code
    for row in rows:
        for piece in fold_row(row, cut):
            yield pad
            yield from piece
            yield new_line
    yield new_line  # and below


def fold_row(row: list[Any], width: int) -> list[list[Any]]:
    """A code line's segments cut into rows of at most `width` cells. A wide character (CJK,
    emoji) that would straddle the edge starts the next row, that row ending a column short:
    rich's Segment.divide put two spaces in its place, so the character was lost. Only a
    character wider than the width itself makes a row wider than the width."""
    from rich.cells import split_graphemes
    from rich.segment import Segment

    rows: list[list[Any]] = [[]]
    used = 0
    for segment in row:
        if used + segment.cell_length <= width:
            rows[-1].append(segment)
            used += segment.cell_length
            continue
        text, style = segment.text, segment.style
        start = 0
        for begin, _end, size in split_graphemes(text)[0]:
            if used + size > width and used > 0:
                if begin > start:
                    rows[-1].append(Segment(text[start:begin], style))
                rows.append([])
                used, start = 0, begin
            used += size
        rows[-1].append(Segment(text[start:], style))
    return rows


def html_as_text(tokens: list[Token]) -> list[Token]:
    """The tokens with HTML as the text it is: rich's Markdown drops markdown-it's HTML tokens
    (all but <kbd>), so "the <br> element, a List<String>, if a<b and c>d" showed as "the
    element, a List, if ad" and a <div> block not at all. An HTML block becomes a paragraph
    of its lines. An autolink becomes its text (_without_autolinks)."""
    from markdown_it.token import Token

    shown: list[Token] = []
    for token in tokens:
        if token.children:
            token.children = [_as_text(child) for child in _without_autolinks(token.children)]
        if token.type != "html_block":
            shown.append(token)
            continue
        text = Token("text", "", 0, content=token.content.rstrip("\n"))
        shown += [
            Token("paragraph_open", "p", 1, map=token.map, block=True),
            Token("inline", "", 0, content=text.content, children=[text], block=True),
            Token("paragraph_close", "p", -1, block=True),
        ]
    return shown


def _without_autolinks(children: list[Token]) -> list[Token]:
    """A link whose text is its address (<https://…>, <a@b.c>, [x.dev](x.dev)) as that text
    alone: shown with its address after it (hyperlinks off, see ReplyMarkdown), it read
    "x.dev (x.dev)". An image as its text and address, where it stands: rich drew it as a
    block of its own, first in the paragraph, without its address."""
    kept: list[Token] = []
    opened: list[bool] = []  # for each link open: whether it is dropped, with its close
    for index, token in enumerate(children):
        if token.type == "link_open":
            # markdown-it percent-encodes an autolink's address, not its text: <x.dev/ä>
            opened.append(token.markup == "autolink" or _text_is_address(children, index))
            if opened[-1]:
                continue
        elif token.type == "link_close" and opened and opened.pop():
            continue
        elif token.type == "image":
            token = _image_as_text(token)
        kept.append(token)
    return kept


def _text_is_address(children: list[Token], opening: int) -> bool:
    href = str(children[opening].attrs.get("href", ""))
    text = []
    for token in children[opening + 1 :]:
        if token.type == "link_close":
            break
        text.append(token.content if token.type in ("text", "code_inline") else "")
    return "".join(text) in (href, href.removeprefix("mailto:"))


def _image_as_text(token: Token) -> Token:
    from markdown_it.token import Token

    src, alt = str(token.attrs.get("src", "")), token.content
    return Token("text", "", 0, content=f"{alt} ({src})" if alt else src)


def _as_text(token: Token) -> Token:
    if token.type != "html_inline":
        return token
    from markdown_it.token import Token

    return Token("text", "", 0, content=token.content)


def make_markdown(text: str, code_theme: str = DEFAULT_CODE_THEME) -> Markdown:
    return _classes()["markdown"](text, code_theme)


def live_elements() -> dict[str, Any]:
    """Markdown elements for text still streaming: code blocks without token colours."""
    return _classes()["live"]


# Tokens rich's Markdown handles without creating an element; they never touch
# its blank-line-between-elements flag.
_TOKENS_WITHOUT_ELEMENT = frozenset(
    {"text", "hardbreak", "softbreak", "link_open", "link_close", "html_inline"}
)


def _flatten_tokens(tokens: Sequence[Token]) -> Iterator[Token]:
    # Mirrors Markdown._flatten_tokens, which is private.
    for token in tokens:
        if token.children and not (token.type == "fence" or token.tag == "img"):
            yield from _flatten_tokens(token.children)
        else:
            yield token


def blank_line_flags(markdown: Markdown) -> tuple[bool | None, bool | None]:
    """How rich's Markdown spaces this block: (flag before its first output, flag
    after its last element); None means the block inherits the previous flag.

    rich puts a blank line before an element when the element that closed before
    it asked for one (`new_line`). Rendering blocks separately resets that flag,
    so replaying rich's rule over the tokens tells whether the separating blank
    line must be printed by us. Containers (lists, quotes, tables) set the flag
    themselves when their first child closes, which is why a Markdown starting
    with a list renders its own leading blank line.
    """
    from rich.markdown import MarkdownElement, UnknownElement

    def element_class(token: Token) -> type[MarkdownElement]:
        return markdown.elements.get(token.type, UnknownElement)

    def renders_now(parents: list[type[MarkdownElement]]) -> bool:
        # A parent that overrides on_child_close renders its children itself, later.
        return not parents or parents[-1].on_child_close is MarkdownElement.on_child_close

    parents: list[type[MarkdownElement]] = []
    flag: bool | None = None
    leading: bool | None = None
    seen_output = False
    for token in _flatten_tokens(markdown.parsed):
        if token.type in _TOKENS_WITHOUT_ELEMENT or _is_inline_style(markdown, token):
            continue
        if token.nesting == 1:
            parents.append(element_class(token))
            continue
        closed = parents.pop() if token.nesting == -1 else element_class(token)
        if not seen_output and token.type != "inline" and renders_now(parents):
            leading, seen_output = flag, True
        flag = closed.new_line
    return leading, flag


def _is_inline_style(markdown: Markdown, token: Token) -> bool:
    return token.tag in markdown.inlines and token.type not in ("fence", "code_block")
