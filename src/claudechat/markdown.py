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
    from rich.cells import cell_len
    from rich.markdown import CodeBlock, Markdown, MarkdownElement
    from rich.padding import Padding
    from rich.syntax import Syntax

    class TightCodeBlock(CodeBlock):
        """rich's code block, with its background as wide as the longest line, not the screen."""

        def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
            code = str(self.text).rstrip()
            lines = code.expandtabs(CODE_TAB_SIZE).splitlines() or [""]
            width = min(max(map(cell_len, lines)), max(1, options.max_width - 2))
            syntax = Syntax(
                code,
                _lexer(self.lexer_name),
                theme=_theme(self.theme),
                word_wrap=True,
                code_width=width,
            )
            base = syntax._get_base_style()  # the theme's background, as rich pads with it
            yield Padding(syntax, pad=1, style=base, expand=False)

    class PlainCodeBlock(CodeBlock):
        """For the live region: code keeps its layout but gets its colours once, when its
        block is printed; re-highlighting the open block on every refresh was half the CPU.
        It is as wide as the screen, so a longer line arriving does not change every row
        (the region drops the blanks at the end of its rows)."""

        @classmethod
        def create(cls, markdown: Markdown, token: Token) -> CodeBlock:
            return cls("text", markdown.code_theme)

        def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
            code = str(self.text).rstrip()
            yield Syntax(code, _lexer("text"), theme=_theme(self.theme), word_wrap=True, padding=1)

    class ReplyMarkdown(Markdown):
        """rich's Markdown parsed by the shared parser."""

        elements: ClassVar[dict[str, type[MarkdownElement]]] = {
            **Markdown.elements,
            "fence": TightCodeBlock,
            "code_block": TightCodeBlock,
        }

        def __init__(self, markup: str, code_theme: str = "monokai") -> None:
            # Markdown.__init__ would build a parser; these are the attributes it sets.
            self.markup = markup
            self.parsed = _parser().parse(markup)
            self.code_theme = code_theme
            self.justify = "default"  # "left" pads every line with spaces to the width
            self.style = "none"
            self.hyperlinks = True
            self.inline_code_lexer = None
            self.inline_code_theme = code_theme

    _cache["markdown"] = ReplyMarkdown
    plain = {"fence": PlainCodeBlock, "code_block": PlainCodeBlock}
    _cache["live"] = {**ReplyMarkdown.elements, **plain}
    return _cache


def make_markdown(text: str, code_theme: str = "monokai") -> Markdown:
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
