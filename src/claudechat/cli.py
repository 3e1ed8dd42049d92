"""The command line: one thin function per command; the work lives in the modules they call.

`run()` hands every way a command ends to `exits.ending()`: one line on stderr, one exit code.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperCommand

from claudechat import __version__, completions
from claudechat.commands import maintenance, opening
from claudechat.commands import models as _models_commands
from claudechat.commands_attachment import attachment_app
from claudechat.errors import (
    ClaudechatError,
    ExitCode,
    StorageError,
    UsageError,
)

if TYPE_CHECKING:
    from claudechat.attachments import Attachment

app = typer.Typer(
    name="claudechat",
    help="A fast terminal chat for Claude that never loses a conversation.",
    rich_markup_mode=None,  # plain help: rich's formatter costs more than the whole command
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
db_app = typer.Typer(help="Database schema maintenance.", rich_markup_mode=None)
app.add_typer(db_app, name="db")
app.add_typer(attachment_app, name="attachment")


def _version(value: bool) -> None:
    if value:
        print(f"claudechat {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", callback=_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """A fast terminal chat for Claude that never loses a conversation."""


@app.command()
def chat(
    prompt: Annotated[
        str | None,
        typer.Argument(help="Message to send. With piped input: the request about that input."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            metavar="MODEL",
            help="Model (default: the newest Sonnet).",
            autocompletion=completions.models,
        ),
    ] = None,
    system: Annotated[
        str | None, typer.Option("--system", "-s", metavar="TEXT", help="System prompt.")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", "-n", metavar="NAME", help="Name the conversation.")
    ] = None,
    continue_latest: Annotated[
        bool, typer.Option("--continue", "-c", help="Continue your most recent conversation.")
    ] = False,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            "-r",
            metavar="ID",
            help="Resume a conversation by id or prefix.",
            autocompletion=completions.conversation_ids,
        ),
    ] = None,
    max_context_tokens: Annotated[
        int | None,
        typer.Option(metavar="TOKENS", help="Token budget for the context sent to Claude.", min=1),
    ] = None,
    provider: Annotated[
        str | None,
        typer.Option(
            metavar="PROVIDER",
            help="anthropic (the API) or bedrock (AWS).",
            autocompletion=completions.providers,
        ),
    ] = None,
    attach: Annotated[
        list[str] | None,
        typer.Option(
            "--attach", "-a", metavar="FILE", help="Attach an image, PDF or text file (repeat)."
        ),
    ] = None,
    effort: Annotated[
        str | None,
        typer.Option(
            metavar="LEVEL",
            help="low, medium, high, xhigh, max, or default (the model's).",
            autocompletion=completions.efforts,
        ),
    ] = None,
    thinking: Annotated[
        bool | None,
        typer.Option(
            "--thinking/--no-thinking",
            help="Ask for thinking where the model offers it (the default), or not.",
        ),
    ] = None,
    show_thinking: Annotated[bool, typer.Option(help="Pipe mode: thinking to stderr.")] = False,
) -> None:
    """Chat with Claude: a REPL in a terminal, one turn when input is piped or output redirected."""
    from claudechat.signals import leaving_behind

    # Until the session's first save says otherwise (its leave_note): a SIGTERM while the
    # chat starts (the store opening, say) ended on "terminated (SIGTERM)" alone, and a piped
    # message, kept nowhere, was gone without a word.
    if prompt or not sys.stdin.isatty():
        leaving_behind("your message was not sent")
    from claudechat.jsontext import check_utf8_argument

    for text, what in ((prompt, "the message"), (system, "--system"), (name, "--name")):
        check_utf8_argument(text, what)
    if resume is not None:
        # Checked as every command checks an id: `--resume "$ID"` with an empty variable
        # started a new conversation, or with -c continued the latest one.
        if continue_latest:
            raise UsageError("use --continue or --resume, not both")
        from claudechat.storage.ids import id_prefix

        id_prefix(resume)
    settings = opening.settings(
        model=model,
        provider=provider,
        max_context_tokens=max_context_tokens,
        effort=effort,
        thinking=thinking,
    )
    from claudechat.chat import ChatSession
    from claudechat.claude import Claude
    from claudechat.claude_setup import check_credentials

    check_credentials(settings)
    from claudechat.commands_attachment import load_attachments, once_each, piped_input

    attachments = load_attachments(attach)
    from_stdin: list[Attachment] = []
    piped = not sys.stdin.isatty()
    # `claudechat chat "explain x" > answer.md` from a terminal: the REPL drew its prompt into
    # the file and waited, unseen, for input. Output that is no terminal makes it one turn too.
    one_turn = piped or not sys.stdout.isatty()
    if piped:
        message, from_stdin = piped_input(sys.stdin.buffer, prompt, bool(attachments))
    elif one_turn:
        message = (prompt or "").strip()
        if not message and not attachments:
            raise UsageError(
                "the output is no terminal, so this is one turn: give its message, e.g. "
                'claudechat chat "explain x" > answer.md'
            )
    attachments = once_each(attachments + from_stdin)  # -a twice, or a file and stdin
    store = opening.store(settings)
    opening.push_journal(store, settings)
    claude = Claude(settings)
    try:
        session = ChatSession.start(
            settings,
            store,
            claude,
            resume=resume,
            continue_latest=continue_latest,
            system=system,
            name=name,
        )
    except StorageError as exc:
        if not (message if one_turn else prompt):
            raise
        # The store's error alone read as if the message had gone; piped in, it is kept
        # nowhere else, and must be sent again.
        # Of its own kind still: a store refusing the configuration exits 2, not 5.
        raise type(exc)(f"{exc}; your message was not sent") from exc
    opening.quiet_waiting(store)
    from claudechat.output import status

    session.notify = status
    session.leave_note = leaving_behind  # what a signal as the process leaves says of it
    try:
        if one_turn:
            from claudechat.pipe import run_one_turn

            run_one_turn(session, message, attachments, show_thinking)
            return
        from claudechat.repl import Repl

        history = settings.data_dir / "history"
        opening.check_writable(history)
        Repl(session, history).run(prompt, attachments)
    finally:
        claude.close()


MAX_LIST_LIMIT = 1_000_000  # far beyond any history; what a database integer surely holds


@app.command("list")
def list_(
    limit: Annotated[
        int,
        typer.Option(
            "--limit", "-n", metavar="N", help="Show at most N.", min=1, max=MAX_LIST_LIMIT
        ),
    ] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    search: Annotated[
        str | None, typer.Option("--search", metavar="TEXT", help="Only with a match.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="WHEN", help="Updated since: 30m, 12h, 7d, 2w, or a date."),
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="No limit.")] = False,
    empty: Annotated[
        bool,
        typer.Option("--empty", help="Also the ones without messages or a name (a /new_chat's)."),
    ] = False,
) -> None:
    """Your conversations, newest first (* marks ones not yet pushed to the store)."""
    from claudechat.commands.history import list_conversations

    list_conversations(None if every else limit, as_json, search, since, empty)


@app.command()
def show(
    conversation_id: Annotated[str, completions.CONVERSATION_ID],
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored JSON.")] = False,
    as_markdown: Annotated[
        bool, typer.Option("--markdown", help="Print markdown source, even in a terminal.")
    ] = False,
    thinking: Annotated[bool, typer.Option("--thinking", help="Print thinking in full.")] = False,
) -> None:
    """One conversation in full."""
    if as_json and as_markdown:
        raise UsageError("use --json or --markdown, not both")
    from claudechat.listing import print_conversation

    settings = opening.settings()
    conversation = opening.store(settings).load(settings.user, conversation_id)
    print_conversation(conversation, as_json, as_markdown, thinking, settings.code_theme)


maintenance.register(app, db_app)  # config, sync, doctor, db upgrade
_models_commands.register(app)  # models, usage
from claudechat.commands.history import register  # noqa: E402  (needs app and db_app)

register(app, db_app)


class _Command(TyperCommand):
    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        # Typer writes a required argument as {ID}; usage lines everywhere else say ID.
        pieces = super().collect_usage_pieces(ctx)
        return [re.sub(r"^\{(.+)\}(\.\.\.)?$", r"\1\2", piece) for piece in pieces]


def _finish_commands() -> None:
    """Every command: interruptions and closed pipes reach run() untouched by the framework;
    its description whole in the command list (Click would cut it at a width); plain usage."""
    import inspect

    from claudechat.exits import guarded

    # The token commands too: `token create --help` said {user} and `token revoke` {ID}.
    for typer_app in (app, db_app, attachment_app, server_commands.token_app):
        for info in typer_app.registered_commands:
            if info.callback is None:
                continue
            info.short_help = info.short_help or (inspect.getdoc(info.callback) or "")
            info.short_help = info.short_help.split("\n\n")[0].replace("\n", " ")
            info.callback = guarded(info.callback)
            if info.cls in (None, TyperCommand):
                info.cls = _Command


from claudechat.commands import server as server_commands  # noqa: E402

server_commands.register(app)

_finish_commands()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every expected failure becomes one line on stderr and an exit code."""
    from claudechat import signals
    from claudechat.exits import UnfailingStderr

    _open_closed_std_streams()
    sys.stderr = UnfailingStderr(sys.stderr)
    signals.install()
    code = run(sys.argv[1:] if argv is None else argv)
    _exit(code)


def _exit(code: int) -> NoReturn:
    """Exit without tearing down every module: with the SDK loaded (some 3,700 modules), the
    interpreter's own shutdown took 0.6 to 1.3 s after a one-turn chat had printed its last
    line, and a signal in that time ended it with no word. What that shutdown does that
    matters is done here, in its order: threads still running are waited for, exit handlers
    run, and the output is flushed, a failure to write it ending as any other does."""
    import atexit
    import threading

    from claudechat import signals

    signals.end_at_once()  # the work is done: a signal now ends the process, with its line
    shutdown = getattr(threading, "_shutdown", None)  # what the interpreter calls first
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
    code = _flushed(code)
    sys.stderr.flush()
    os._exit(code)


def _flushed(code: int) -> int:
    """The exit code once stdout's buffered end is written (`claudechat show ID > /dev/full`
    fails only here)."""
    from claudechat.exits import ending, output_failed

    try:
        sys.stdout.flush()
    except BrokenPipeError as exc:
        return ending(exc)  # a reader that left: 0
    except OSError as exc:  # any error here is the output's (EAGAIN on a non-blocking one too)
        return output_failed(exc)
    return code


def _open_closed_std_streams() -> None:
    """Started with stdout or stderr closed (`claudechat list >&-`), Python leaves them None.
    They become /dev/null, on their own descriptor numbers (the lowest free ones), so that no
    file opened later (the database, a document) gets descriptor 1 or 2 and our output.

    stdout's /dev/null is opened for reading: a write to it fails with EBADF, as one to the
    closed descriptor would, and is said as any output that cannot be written is (exit 5).
    Written to /dev/null, a reply or a list went nowhere and the command exited 0 without a
    word, where `> /dev/full` says so; nothing to write is no failure."""
    for name in ("stdin", "stdout", "stderr"):
        if getattr(sys, name) is None:  # opened for the life of the process
            descriptor = os.open(os.devnull, os.O_WRONLY if name == "stderr" else os.O_RDONLY)
            setattr(sys, name, open(descriptor, "r" if name == "stdin" else "w"))  # noqa: SIM115


def run(argv: list[str]) -> int:
    from claudechat.exits import Escaped, ending

    try:
        result = app(args=argv, prog_name="claudechat", standalone_mode=False)
    except (Escaped, ClaudechatError, KeyboardInterrupt, OSError) as exc:
        return ending(exc)
    except typer.Abort as exc:  # older Typer: Ctrl-C outside a command
        return ending(exc.__cause__ or KeyboardInterrupt())
    except typer.Exit as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # Typer's own exit 130
            return ending(exc.__cause__)
        return int(exc.exit_code)
    except Exception as exc:
        # Bad options and arguments: Typer's own exceptions, or click's in older Typers.
        from claudechat.refused_command_line import refused

        code = refused(exc, argv, app)
        if code is None:
            raise
        return code
    return result if isinstance(result, int) else ExitCode.OK
