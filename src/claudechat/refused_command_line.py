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
        options, words = _split_search(argv)
        fixed = " ".join([command, *options, "--", *words])
        message += f"; if {word} is a word of the query, the query follows --: {fixed}"
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
    """The first `-word` of a search's command line before any `--`: a token of one dash that
    is none of the command's own (`-n`, `-n5`, `-h`)."""
    for token in _after_search(argv):
        if token == "--":
            return None
        if token.startswith("-") and not token.startswith("--") and not _search_option(token):
            return token
    return None


def _search_option(token: str) -> bool:
    return token in ("-", "-h", "-n") or (token.startswith("-n") and token[2:].isdigit())


def _split_search(argv: list[str]) -> tuple[list[str], list[str]]:
    """The search's options as typed (-n N, --limit N, --json, ...) and its query's words."""
    options: list[str] = []
    words: list[str] = []
    tokens = _after_search(argv)
    position = 0
    while position < len(tokens):
        token = tokens[position]
        following = tokens[position + 1] if position + 1 < len(tokens) else ""
        if token in ("-n", "--limit") and following.isdigit():
            options += [token, following]
            position += 1
        elif token in ("-n", "--limit"):
            pass  # a limit without its number: left out
        elif (token.startswith("--") and token != "--") or _search_option(token):
            options.append(token)
        elif token != "--":
            words.append(token)
        position += 1
    return options, words


def _after_search(argv: list[str]) -> list[str]:
    return argv[argv.index("search") + 1 :] if "search" in argv else []
