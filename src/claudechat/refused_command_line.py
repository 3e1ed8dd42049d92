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
    if command == "claudechat search" and _excluded_word(exc):
        # `search release -draft`: an excluded word, taken for an option (README: "Search").
        message += f"; a query holding a -word follows --: {command} -- release -draft"
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


def _excluded_word(exc: Exception) -> bool:
    """A refused `-word` (not `--limt`, a misspelt option, which gets the usual hint). By its
    class's name, as above: Typer raises its own copy of Click's exceptions."""
    option = getattr(exc, "option_name", None)
    return (
        type(exc).__name__ == "NoSuchOption"
        and isinstance(option, str)
        and (not option.startswith("--"))
    )
