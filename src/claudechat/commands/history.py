"""Commands over your history: search, export, import, rename, delete, db reindex."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from claudechat import completions
from claudechat.errors import ConversationDeletedError, ExitCode, StorageError, UsageError
from claudechat.output import counted

if TYPE_CHECKING:
    from claudechat.conversation import Conversation
    from claudechat.settings import Settings
    from claudechat.storage.results import Listing, SaveResult
    from claudechat.storage.store import ConversationStore


def _open() -> tuple[Settings, ConversationStore]:
    from claudechat.commands import opening

    settings = opening.settings()
    store = opening.store(settings)
    opening.push_journal(store, settings)
    return settings, store


def search(
    words: Annotated[
        list[str],
        typer.Argument(
            metavar="QUERY...",
            help='Words (AND between them allowed), "a phrase", OR, -excluded; last word a prefix.',
            show_default=False,
        ),
    ],
    limit: Annotated[
        int, typer.Option("--limit", "-n", metavar="N", help="Show at most N.", min=1)
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Search every message of your conversations, best matches first.

    Several words are one query, as if quoted: search helm chart is search 'helm chart'.
    A query holding a -word follows --: claudechat search -- release -draft.
    At most 32 words or "quoted phrases"; symbols and emoji are left out.
    """
    from claudechat.history_view import hit_json, print_hits
    from claudechat.jsontext import dumps_json
    from claudechat.output import json_safe, status
    from claudechat.short_ids import hit_prefixes
    from claudechat.storage.journal_search import search_everywhere

    # Unquoted words arrive one per argument: `search helm chart` refused "chart" as extra.
    query = " ".join(words)
    settings, store = _open()
    found = search_everywhere(store, settings.user, query, limit)
    if as_json:
        print(json_safe(dumps_json([hit_json(hit) for hit in found.hits], indent=2)))
    elif found.hits:
        print_hits(found.hits, prefixes=hit_prefixes(store, settings.user, found))
    elif found.error is None:
        status("no message matches")
    if found.error:  # what this machine's copies matched is shown, then the outage, as `list`
        raise found.error


def export(
    conversation_id: Annotated[str | None, completions.CONVERSATION_ID] = None,
    form: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="markdown (default; md), json or html.",
            autocompletion=completions.export_formats,
        ),
    ] = None,
    target: Annotated[
        str | None,  # not a Path, which makes ./- of "./-": a file named "-" is written so
        typer.Option("--output", "-o", metavar="FILE", help="File or folder; - for stdout."),
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Export every conversation.")] = False,
) -> None:
    """Export a conversation as markdown, JSON (which `import` reads) or one HTML page."""
    from claudechat.export import FORMAT_NAMES, FORMATS_BY_SUFFIX, SUFFIXES

    if target == "":  # it was ".", a folder: "cannot write .: Is a directory", exit 5
        raise UsageError("-o needs a file or folder name, or - for stdout")
    if target == "-" and every:
        raise UsageError("--all writes a file per conversation: give -o DIR, not -")
    # "-" is stdout, as for most tools: a file named "-" was written.
    output = Path(target) if target not in (None, "-") else None
    if every == bool(conversation_id):
        raise UsageError("give one conversation ID, or --all with -o DIR")
    if form is None and output is not None and not every:
        form = FORMATS_BY_SUFFIX.get(output.suffix.lower())
    form = ("markdown" if form is None else form).strip().lower()  # -f '' is no format
    form = FORMAT_NAMES.get(form, form)
    if form not in SUFFIXES:
        raise UsageError(f"unknown export format {form[:30]!r}: use markdown (md), json or html")
    settings, store = _open()
    if every:
        _export_all(store, settings, form, target)
        return
    assert conversation_id is not None
    conversation = store.load(settings.user, conversation_id)
    text = _rendered(store, settings.user, conversation, form)
    if output is None:
        from claudechat.history_view import terminal_text

        sys.stdout.write(terminal_text(text))
        return
    from claudechat.output_file import is_folder_given

    # As given: Path(target) dropped a trailing /, which names a folder.
    if is_folder_given(str(target)):  # into it, named as --all names each ("Is a directory")
        output = output / f"{conversation.id}{SUFFIXES[form]}"
    _write(output, text)


def _export_all(
    store: ConversationStore, settings: Settings, form: str, target: str | None
) -> None:
    from claudechat.export import SUFFIXES
    from claudechat.output import status
    from claudechat.output_file import require_folder
    from claudechat.progress import Progress
    from claudechat.storage.documents import UNREADABLE

    if target is None:
        raise UsageError("--all needs -o DIR, the folder to write into")
    require_folder(target)  # as one conversation's -o DIR/: a typo made a new tree
    folder = Path(target)
    listing = _listing(store, settings.user, None)
    unreadable, exported = [], 0
    with Progress("exporting", len(listing.rows)) as progress:
        for done, row in enumerate(listing.rows):
            progress.step(done)
            try:
                conversation = store.load(settings.user, row.conversation_id)
            except UNREADABLE as exc:  # the others are still worth having
                progress.clear()
                status(f"skipped: {exc}", "yellow")
                unreadable.append(row.conversation_id)
                continue
            except ConversationDeletedError:  # since the listing, or a delete failed midway
                continue
            text = _rendered(store, settings.user, conversation, form)
            try:
                _write(folder / f"{conversation.id}{SUFFIXES[form]}", text)
            except StorageError as exc:  # a full disk: the files before it are whole
                raise StorageError(
                    f"{exc}; {exported} of {counted(len(listing.rows), 'conversation')} were "
                    f"exported to {folder} before it"
                ) from exc
            exported += 1
    status(f"exported {counted(exported, 'conversation')} to {folder}")
    if unreadable:
        status(f"{len(unreadable)} could not be read; `claudechat doctor` lists them", "red")
        raise typer.Exit(ExitCode.NOT_FOUND)  # the README's code for a corrupt document


def _rendered(store: ConversationStore, user: str, conversation: Conversation, form: str) -> str:
    """The export's text; JSON carries the bytes of the attachments, for `import`."""
    from claudechat.export import render
    from claudechat.export_store import attachment_bytes

    if form != "json":
        return render(conversation, form)
    return render(conversation, form, attachment_bytes(store, user, conversation))


def _write(path: Path, text: str) -> None:
    from claudechat.output_file import write_file

    write_file(path, text.encode("utf-8"))


def import_(
    files: Annotated[  # not Paths, which make ./- of "-": a file named "-" is ./-
        list[str], typer.Argument(metavar="FILE...", help="JSON exports; - for stdin.")
    ],
    new_ids: Annotated[
        bool, typer.Option("--new-ids", help="Give the conversations and messages new ids.")
    ] = False,
) -> None:
    """Read conversations from claudechat's JSON exports (all checked before any is written)."""
    from claudechat.export import for_user, read_export
    from claudechat.export_store import keep_attachments, missing_attachments
    from claudechat.import_ids import Renumbering, forks_remapped
    from claudechat.import_input import export_bytes, id_taken, named_as_rename_allows
    from claudechat.output import one_line, status

    if files.count("-") > 1:
        raise UsageError("- (standard input) can be given once")
    read = []  # (name the lines below say, export)
    for path in files:
        name = "standard input" if path == "-" else path
        read.append((name, read_export(export_bytes(path), name)))
    settings, store = _open()
    renumbering = Renumbering(settings.user, random=new_ids)  # one for the command: see Renumbering
    prepared = []
    for path, export in read:
        conversation = export.conversation
        # Another user's export keeps no ids: they are theirs, and may exist in this store.
        theirs = conversation.user_id != settings.user
        renumbered = new_ids or theirs or id_taken(store, settings.user, conversation.id, path)
        owned = for_user(conversation, settings.user, renumbering if renumbered else None)
        imported = named_as_rename_allows(owned, path)
        prepared.append((path, export, imported))
    for path, export, imported in forks_remapped(
        prepared, settings.user, None if renumbering.random else renumbering
    ):
        missing = keep_attachments(store, settings.user, export)  # before the document
        if missing:
            status(f"{path}: {missing_attachments(missing)} (not in the export)", "yellow")
        with contextlib.suppress(StorageError):  # a store that is down: the journal takes it
            store.revive(settings.user, imported.id)  # an export of one deleted since: back
        result = store.save(imported)
        for notice in result.notices:
            status(notice)
        _saved_somewhere(result)
        # As stored: merged into the copy here, whose newer name wins over the export's.
        print(f"imported {imported.id}\t{one_line((result.conversation or imported).title)}")
        _warn_if_journaled(result)


def rename(
    conversation_id: Annotated[str, completions.CONVERSATION_ID],
    name: Annotated[str, typer.Argument(metavar="NAME", help="The new name.")],
) -> None:
    """Name a conversation."""
    from claudechat.conversation import utc_now
    from claudechat.names import valid_name
    from claudechat.output import quoted, status
    from claudechat.short_ids import ids_as_listed

    settings, store = _open()
    conversation = store.load(settings.user, conversation_id)
    conversation.set("name", valid_name(name))
    conversation.updated_at = utc_now()
    result = store.save(conversation)
    _saved_somewhere(result)
    (shown,) = ids_as_listed(store, settings.user, conversation.id)
    status(f"renamed {shown} to {quoted(conversation.name or '')}")
    _warn_if_journaled(result)


def _saved_somewhere(result: SaveResult) -> None:
    """A change neither the store nor the local journal took is lost with this process."""
    if result.error is not None and not result.journaled:
        raise StorageError(
            f"{result.error}; the local journal cannot be written either: nothing was saved"
        )


def _warn_if_journaled(result: SaveResult) -> None:
    from claudechat.output import status

    if result.error is not None:
        status(f"warning: {result.error}; kept in the local journal", "yellow")


def delete(
    conversation_ids: Annotated[
        list[str],
        typer.Argument(
            metavar="ID...", help="Ids or prefixes.", autocompletion=completions.conversation_ids
        ),
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete conversations: document, metadata row, search entries."""
    from claudechat.commands.asking import confirm_deleting
    from claudechat.listing import row_title
    from claudechat.output import status
    from claudechat.storage.removal import delete_conversation, resolve_all

    settings, store = _open()
    resolved = resolve_all(store, settings.user, conversation_ids)
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("refusing to delete without --yes when input is not a terminal")
        rows = _listing(store, settings.user, None).rows
        confirm_deleting(resolved, {r.conversation_id: row_title(r) for r in rows})
    for conversation_id in resolved:
        # On stderr, as rename's and doctor's reports: stdout is for answers.
        status(delete_conversation(store, settings.user, conversation_id).describe())


def db_reindex() -> None:
    """Rebuild the search index from every stored document."""
    from claudechat.errors import NotFoundError
    from claudechat.output import status
    from claudechat.progress import Progress
    from claudechat.storage.search import reindex

    _settings, store = _open()
    with Progress("indexing", 0) as progress:
        done, problems = reindex(store, on_step=progress.step_of)
    for problem in problems:
        status(problem, "yellow")
    status(f"indexed {counted(done, 'conversation')}")
    if problems:
        raise NotFoundError(f"{counted(len(problems), 'document')} could not be read")


# -- list filters --------------------------------------------------------------------------


def print_listing(store: ConversationStore, user_id: str, listing: Listing, as_json: bool) -> None:
    """`list`'s rows, each id as short as tells it from every other of the user's (JSON gives
    them whole): cut to 8, two alike in their first 8 were refused by `show` as ambiguous."""
    from claudechat.listing import listed_ids, print_list
    from claudechat.short_ids import shown_prefixes

    prefixes = None
    if not as_json and listing.rows:
        shown = listed_ids(listing.rows)
        down = listing.error is not None
        prefixes = shown_prefixes(store, user_id, shown, listing.unsynced, down)
    print_list(listing.rows, listing.unsynced, as_json, prefixes)


def _listing(store: ConversationStore, user_id: str, limit: int | None) -> Listing:
    listing = store.list(user_id, limit)
    if listing.error:
        raise listing.error
    return listing


def list_conversations(
    limit: int | None, as_json: bool, text: str | None, since: str | None, with_unused: bool
) -> None:
    """`list`: the rows, or one line saying why there are none; the ones never used (a
    /new_chat's) left out unless `with_unused`, and counted on stderr."""
    from claudechat.listing import nothing_listed
    from claudechat.output import status

    settings, store = _open()
    listing = filtered_listing(store, settings.user, limit, text, since, with_unused)
    left_out = listing.unused_left_out  # of those the filters kept
    if listing.rows or as_json:
        print_listing(store, settings.user, listing, as_json)
    elif listing.error is None and not left_out:  # an outage is what to say
        status(nothing_listed(filtered=text is not None or since is not None))
    if left_out:
        started = counted(left_out, "conversation", "conversations")
        status(f"{started} without messages not listed (`list --empty` lists them)")
    if listing.error:
        raise listing.error
    # After the list is out: one query, on `list` only (not on every start that lists).
    store.forget_deleted_copies(settings.user, listing.unsynced)


def filtered_listing(
    store: ConversationStore,
    user_id: str,
    limit: int | None,
    text: str | None,
    since: str | None,
    with_unused: bool = True,
) -> Listing:
    """`list --search TEXT --since 7d`: the filters read every row, then keep `limit`."""
    # `is None`, not falsy: an empty search is refused by the search, as `search ""` is, and
    # an empty --since by parse_since, as usage's is, not taken for no filter.
    if text is None and since is None:
        return store.list(user_id, limit, with_unused)
    from claudechat.history_view import parse_since
    from claudechat.storage.metadata import unused

    cutoff = parse_since(since) if since is not None else None
    listing = store.list(user_id, None)  # every row: the ones never used counted as filtered
    rows = listing.rows
    if cutoff is not None:
        rows = [row for row in rows if row.updated_at >= cutoff]
    if text is not None:
        from claudechat.storage.journal_search import matching_everywhere

        found, error = matching_everywhere(store, user_id, text)
        rows = [row for row in rows if row.conversation_id in found]
        listing.error = listing.error or error  # a list from this machine's copies says so
    if not with_unused:
        listing.unused_left_out = sum(1 for row in rows if unused(row))
        rows = [row for row in rows if not unused(row)]
    listing.rows = rows[:limit] if limit else rows
    return listing


def register(app: typer.Typer, db_app: typer.Typer) -> None:
    app.command()(search)
    app.command()(export)
    app.command("import")(import_)
    app.command()(rename)
    app.command()(delete)
    db_app.command("reindex")(db_reindex)
