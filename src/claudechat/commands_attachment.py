"""Attachments on the command line: `chat -a FILE`, piped images and PDFs, `attachment get`."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from claudechat.errors import NotFoundError, UsageError
from claudechat.output import counted

if TYPE_CHECKING:
    from claudechat.attachments import Attachment

attachment_app = typer.Typer(help="Files attached to conversations.", rich_markup_mode=None)


def load_attachments(paths: list[str] | None) -> list[Attachment]:
    """Every -a file read and recognised before anything else happens (exit 2 otherwise);
    unnamed ones (`-a <(a) -a <(b)`) are `pipe`, `pipe-2`, ... in the order given."""
    from claudechat.attachment_names import pipe_names
    from claudechat.attachments import load_file

    pipes = pipe_names()
    return [load_file(path, pipes=pipes) for path in paths or []]


def once_each(attachments: list[Attachment]) -> list[Attachment]:
    """The same content given twice (two -a, a file and stdin) is sent once: a conversation
    keeps each digest once, and Claude would be paid to read it twice."""
    from claudechat.output import status

    kept: dict[str, Attachment] = {}
    for attachment in attachments:
        first = kept.setdefault(attachment.sha256, attachment)
        if first is not attachment:
            status(f"{attachment.name}: the same content as {first.name}; sent once")
    return list(kept.values())


def piped_input(
    stream: BinaryIO, prompt: str | None, attached: bool = False
) -> tuple[str, list[Attachment]]:
    """The message and attachments of a piped turn: a PDF or an image on stdin (recognised by
    its bytes) is attached and the prompt is the message; anything else is text, as before.
    With files attached (-a), empty stdin is fine."""
    from claudechat.attachment_names import unnamed
    from claudechat.attachments import from_bytes, sniff
    from claudechat.pipe import compose_message, decode_stdin, read_stdin_bytes

    data = read_stdin_bytes(stream)
    media_type = sniff(data)
    if media_type is None:
        if attached and not data.strip():
            return (prompt or "").strip(), []
        return compose_message(prompt, decode_stdin(data)), []
    return (prompt or "").strip(), [from_bytes(data, unnamed("stdin", media_type))]


@attachment_app.command("get")
def get(
    reference: Annotated[
        str, typer.Argument(metavar="ID/N", help="Conversation id or prefix, and the number.")
    ],
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write to FILE, or into a folder under its name; - for stdout (default).",
        ),
    ] = None,
) -> None:
    """Write one attachment of a conversation back out (numbers as `show` lists them)."""
    from claudechat.attachments import numbered
    from claudechat.commands import opening
    from claudechat.output import one_line, status
    from claudechat.output_file import is_folder_given, write_file

    if output == "-":  # stdout, as for export and most tools: a file named "-" was written
        output = None
    conversation_ref, _, number_text = reference.rpartition("/")
    if not conversation_ref or not number_text.isdigit() or int(number_text) < 1:
        raise UsageError(f"give ID/N, e.g. 3f2a/1 for the first attachment, not {reference!r}")
    if output is None and sys.stdout.isatty():
        raise UsageError("stdout is a terminal: give -o FILE (or redirect the output)")
    settings = opening.settings()
    store = opening.store(settings)
    conversation = store.load(settings.user, conversation_ref)
    blocks = numbered(conversation)
    number = int(number_text)
    if number > len(blocks):
        raise NotFoundError(
            f"conversation {conversation.id[:8]} has {counted(len(blocks), 'attachment')}, "
            f"not {number}"
        )
    block = blocks[number - 1]
    if store.attachments is None:
        raise UsageError("this store keeps no attachments")
    data = store.attachments.get(settings.user, block["sha256"])
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    into_folder = is_folder_given(os.path.expanduser(output))  # it said "Is a directory"
    if into_folder:
        output = os.path.join(output, file_name(block["name"]))
    path = os.path.expanduser(output)
    try:
        # Into a folder under a name the attachment chose, never over a file there: the
        # person named the folder, not the file.
        write_file(path, data, new=into_folder)
    except FileExistsError as exc:
        shown = one_line(path)
        raise UsageError(f"{shown} exists already: give -o {shown} to replace it") from exc
    status(f"wrote {one_line(block['name'])} ({len(data):,} bytes) to {one_line(output)}")


def file_name(name: str) -> str:
    """An attachment's name as a file in a folder: its last part only (a name from an
    imported export may hold separators, or be ..), not hidden, no control characters."""
    from claudechat.output import controls_replaced, quoted

    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    safe = controls_replaced(last, "_").lstrip(".").strip()
    if not safe:
        raise UsageError(f"attachment {quoted(name)} has no name to give a file: give -o FILE")
    return safe
