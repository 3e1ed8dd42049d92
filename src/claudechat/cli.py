"""The command line: one thin function per command; the work lives in the modules they call.

`run()` hands every way a command ends to `exits.ending()`: one line on stderr, one exit code.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

from claudechat import __version__, completions
from claudechat.commands import models as _models_commands
from claudechat.commands_attachment import attachment_app
from claudechat.errors import (
    ClaudechatError,
    ConfigError,
    ExitCode,
    NotFoundError,
    StorageError,
    UsageError,
)

if TYPE_CHECKING:
    from claudechat.attachments import Attachment
    from claudechat.settings import Settings
    from claudechat.storage.store import ConversationStore

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


def _settings(**overrides: Any) -> Settings:
    from claudechat.output import status
    from claudechat.settings import load_settings

    settings = load_settings(overrides)
    for warning in settings.warnings:
        status(f"warning: {warning}", "yellow")
    return settings


def _store(settings: Settings) -> ConversationStore:
    from claudechat.storage import open_store
    from claudechat.storage.metadata import check_database_url

    # The database itself is reached on first use; a URL that can never work is refused now.
    check_database_url(settings.database_url)
    from claudechat.output import status

    store = open_store(settings)
    store.notify = lambda message: status(message, "yellow")  # e.g. a possibly stale copy
    return store


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
            help="Model (default: the newest Sonnet).",
            autocompletion=completions.models,
        ),
    ] = None,
    system: Annotated[str | None, typer.Option("--system", "-s", help="System prompt.")] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name the conversation.")] = None,
    continue_latest: Annotated[
        bool, typer.Option("--continue", "-c", help="Continue your most recent conversation.")
    ] = False,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            "-r",
            help="Resume a conversation by id or prefix.",
            autocompletion=completions.conversation_ids,
        ),
    ] = None,
    max_context_tokens: Annotated[
        int | None,
        typer.Option(help="Token budget for the context sent to Claude.", min=1),
    ] = None,
    provider: Annotated[
        str | None,
        typer.Option(
            help="anthropic (the API) or bedrock (AWS).", autocompletion=completions.providers
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
    """Chat with Claude: a REPL in a terminal, one turn when input is piped."""
    if continue_latest and resume:
        raise UsageError("use --continue or --resume, not both")
    settings = _settings(
        model=model,
        provider=provider,
        max_context_tokens=max_context_tokens,
        effort=effort,
        thinking=thinking,
    )
    from claudechat.chat import ChatSession
    from claudechat.claude import Claude, check_credentials

    check_credentials(settings)
    from claudechat.commands_attachment import load_attachments, once_each, piped_input

    attachments = load_attachments(attach)
    from_stdin: list[Attachment] = []
    piped = not sys.stdin.isatty()
    if piped:
        message, from_stdin = piped_input(sys.stdin.buffer, prompt, bool(attachments))
    attachments = once_each(attachments + from_stdin)  # -a twice, or a file and stdin
    store = _store(settings)
    _push_journal(store, settings)
    claude = Claude(settings)
    session = ChatSession.start(
        settings,
        store,
        claude,
        resume=resume,
        continue_latest=continue_latest,
        system=system,
        name=name,
    )
    from claudechat.output import status

    session.notify = status
    try:
        if piped:
            from claudechat.pipe import run_one_turn

            run_one_turn(session, message, attachments, show_thinking)
            return
        from claudechat.repl import Repl

        history = settings.data_dir / "history"
        _check_writable(history)
        Repl(session, history).run(prompt, attachments)
    finally:
        claude.close()


MAX_LIST_LIMIT = 1_000_000  # far beyond any history; what a database integer surely holds


@app.command("list")
def list_(
    limit: Annotated[
        int, typer.Option("--limit", "-n", help="Show at most N.", min=1, max=MAX_LIST_LIMIT)
    ] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    search: Annotated[str | None, typer.Option("--search", help="Only with a match.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Updated since: 30m, 12h, 7d, 2w, or a date.")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="No limit.")] = False,
) -> None:
    """Your conversations, newest first (* marks ones not yet pushed to the store)."""
    from claudechat.commands.history import filtered_listing
    from claudechat.listing import nothing_listed, print_list
    from claudechat.output import status

    settings = _settings()
    store = _store(settings)
    _push_journal(store, settings)
    listing = filtered_listing(store, settings.user, None if every else limit, search, since)
    if listing.rows or as_json:
        print_list(listing.rows, listing.unsynced, as_json)
    elif listing.error is None:  # during an outage, the outage is what to say
        status(nothing_listed(filtered=search is not None or bool(since)))
    if listing.error:
        raise listing.error
    # After the list is out: one query, on `list` only (not on every start that lists).
    store.forget_deleted_copies(settings.user, listing.unsynced)


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

    settings = _settings()
    conversation = _store(settings).load(settings.user, conversation_id)
    print_conversation(conversation, as_json, as_markdown, thinking, settings.code_theme)


@app.command()
def config() -> None:
    """Print the effective settings and where each comes from (secrets masked)."""
    from claudechat.settings import config_path

    settings = _settings()
    print(f"# config file: {config_path()}")
    for key, value, source in settings.effective():
        print(f"{key} = {value}  # {source}")


@app.command()
def sync() -> None:
    """Push conversations saved locally while the store was unreachable."""
    from claudechat.output import status

    settings = _settings()
    store = _store(settings)
    report = store.sync(settings.user)
    if report.error is None and not report.pushed:
        # Nothing to push asked nothing of the store: "pushed 0" read as all being well while
        # the database could not even be opened, or the blob store reached.
        report.error = store.list(settings.user, 1).error or _blob_store_error(store)
    for notice in report.notices():
        status(notice)
    if report.pushed or report.error is None:  # "pushed 0", then the error, read as a success
        status(f"pushed {len(report.pushed)} conversation(s)")
    if report.left_to_live_writers:
        # "pushed 0" alone read as nothing waiting, while the list still marked some.
        status(
            f"others wait for {report.left_to_live_writers} claudechat process(es) still "
            "running: serve pushes them within seconds, a chat at its next save; after they "
            "end, any start or sync pushes the rest"
        )
    if report.error:
        raise report.error


def _blob_store_error(store: ConversationStore) -> StorageError | None:
    try:
        store.guarded(store.ping_blobs)
    except StorageError as exc:
        return exc
    return None


@app.command()
def doctor() -> None:
    """Check your documents against their metadata rows and repair what a crash left."""
    from claudechat.output import status
    from claudechat.storage import repair

    settings = _settings()
    store = _store(settings)
    _push_journal(store, settings)
    report = repair.doctor(store, settings.user)
    for label, found in (
        ("document without a row: row re-created", report.adopted),
        ("row older than its document: row refreshed", report.refreshed),
        ("row whose document is missing", report.missing),
        ("document that cannot be read", report.corrupt),
        ("journal entry that could not be used (moved aside)", report.damaged_journal),
    ):
        for conversation_id in found:
            reason = report.reasons.get(conversation_id)
            print(f"{conversation_id}\t{label}" + (f" ({reason})" if reason else ""))
    damage = len(report.missing) + len(report.corrupt) + len(report.damaged_journal)
    if damage:
        raise NotFoundError(
            f"{len(report.missing)} row(s) without a document, {len(report.corrupt)} unreadable "
            f"document(s), {len(report.damaged_journal)} unreadable journal entr(ies)"
        )
    status("repaired" if report.adopted or report.refreshed else "documents and rows agree")


def _check_writable(path: Path) -> None:
    """The REPL's history is read and appended in the background, where a failure would stop
    the prompt with a traceback: a data directory someone else owns is reported here."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600))  # private
        os.close(os.open(path, os.O_RDONLY))
    except OSError as exc:
        raise ConfigError(
            f"cannot use the history file {path}: {exc.strerror or exc}; check who owns "
            f"{path.parent} and its permissions (or set CLAUDECHAT_HOME)"
        ) from exc


def _push_journal(store: ConversationStore, settings: Settings) -> None:
    """Every start pushes what an earlier outage or crash left in the journal."""
    from claudechat.output import status

    report = store.sync(settings.user)
    for notice in report.notices():
        status(notice)
    if report.error:
        # Conversations, not entries: several processes may each hold one of the same.
        waiting = len({e.conversation.id for e in store.journal.entries(settings.user)})
        status(f"warning: {report.error}; {waiting} conversation(s) wait to be pushed", "yellow")
    if report.damaged:
        status(
            f"warning: {len(report.damaged)} journal entr(ies) cannot be read; run "
            "`claudechat doctor`",
            "yellow",
        )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply schema migrations to the configured database."""
    from claudechat.output import status
    from claudechat.storage.metadata import MetadataStore, describe_database
    from claudechat.storage.migrate import HEAD_REVISION

    settings = _settings()
    metadata = MetadataStore(settings.database_url, auto_migrate=True)
    metadata.close()
    database = f"database {describe_database(settings.database_url)}"
    if metadata.found_at == HEAD_REVISION:
        status(f"{database} is up to date (schema {HEAD_REVISION})")
    else:  # it said "is up to date" after applying every migration too
        found = f"schema {metadata.found_at}" if metadata.found_at else "an empty database"
        status(f"{database} upgraded from {found} to schema {HEAD_REVISION}")


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

    for typer_app in (app, db_app):
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

    _open_closed_std_streams()
    signals.install()
    code = run(sys.argv[1:] if argv is None else argv)
    sys.exit(code)


def _open_closed_std_streams() -> None:
    """Started with stdout or stderr closed (`claudechat list >&-`), Python leaves them None.
    They become /dev/null, on their own descriptor numbers (the lowest free ones), so that no
    file opened later (the database, a document) gets descriptor 1 or 2 and our output."""
    for name in ("stdin", "stdout", "stderr"):
        if getattr(sys, name) is None:  # opened for the life of the process
            setattr(sys, name, open(os.devnull, "r" if name == "stdin" else "w"))  # noqa: SIM115


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
        # Bad options and arguments: Typer's own exceptions, or click's in older Typers,
        # both able to show themselves with the usage line.
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            return code
        raise
    return result if isinstance(result, int) else ExitCode.OK
