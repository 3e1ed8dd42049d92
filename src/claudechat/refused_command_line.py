"""A command line the framework (Typer, Click) refused, said as one line, exit 2."""

from __future__ import annotations

from typing import Any


def refused(exc: Exception, argv: list[str], app: Any) -> int | None:
    """The exit code of a command line the framework refused, once its one line is said
    (None: no such refusal). Its own form was four lines (Usage:, Try ..., a blank one and
    Error: ...) where every other bad input is one `claudechat: ...` line."""
    from claudechat.output import error, one_line

    show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
    describe = getattr(exc, "format_message", None)
    if not (callable(show) and callable(describe) and isinstance(code, int)):
        return None
    if type(exc).__name__ == "NoArgsIsHelpError":  # `claudechat` alone: its help, as before
        show()
        return code
    message = one_line(str(describe())).rstrip(".")
    message = message[:1].lower() + message[1:]  # "No such option" as our lines begin
    context = getattr(exc, "ctx", None)
    # An option without its value is refused before its command's context exists: the
    # command is the leading words of the command line that name commands.
    command = context.command_path if context is not None else _command_words(argv, app)
    word = _excluded_word(argv) if command == "claudechat search" else None
    if word is not None:
        # `search release -draft`: an excluded word, taken for an option (README: "Search"):
        # "no such option: -d", or "-note" read as `-n ote`, a limit that is no number.
        query = " ".join(_query_words(argv))
        message = f"{word} was taken for an option; a query holding a -word follows --: "
        message += f"{command} -- {query}"
    else:
        message += f" (see {command} --help)"
    error(message)
    return code


def _command_words(argv: list[str], app: Any) -> str:
    """`claudechat attachment get`: the leading words of argv that name commands."""
    import typer

    command: object = typer.main.get_command(app)
    words = ["claudechat"]
    for word in argv:
        command = (getattr(command, "commands", None) or {}).get(word)
        if command is None:
            break
        words.append(word)
    return " ".join(words)


def _excluded_word(argv: list[str]) -> str | None:
    """The first `-word` of a search query (letters after one dash, more than one: `-n` and
    `-n5` are the limit), which the command line took for options."""
    for token in _after_search(argv):
        if token == "--":
            return None
        if len(token) > 2 and token[0] == "-" and token[1:].isalpha():
            return token
    return None


def _query_words(argv: list[str]) -> list[str]:
    """The search's words as typed, without its options (--json, -n N, --limit N)."""
    words, tokens = [], iter(_after_search(argv))
    for token in tokens:
        if token in ("-n", "--limit"):
            next(tokens, None)
        elif token != "--json" and not token.startswith("--limit="):
            words.append(token)
    return words


def _after_search(argv: list[str]) -> list[str]:
    return argv[argv.index("search") + 1 :] if "search" in argv else []
