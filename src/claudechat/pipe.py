"""One turn without a terminal: `git diff | claudechat chat "review this"`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, BinaryIO, TextIO

from claudechat.attachments import Attachment, limits, print_citations
from claudechat.chat import ChatSession
from claudechat.errors import ExitCode, StorageError, Terminated, UsageError
from claudechat.jsontext import replace_lone_surrogates
from claudechat.model_commands import show_turn_usage
from claudechat.notices import HeldNotices
from claudechat.output import error, status
from claudechat.stop_reasons import holds_no_text


def read_stdin(stream: BinaryIO) -> str:
    return decode_stdin(read_stdin_bytes(stream))


def read_stdin_bytes(stream: BinaryIO) -> bytes:
    """At most what one request to Claude takes (data/attachments.json): a fixed 20 MB
    refused a piped PDF that -a took."""
    most = limits()["request_bytes"]
    data: bytes = stream.read(most + 1)
    if len(data) > most:
        raise UsageError(
            f"standard input is larger than {most // 2**20} MB, the most one request takes"
        )
    return data


def decode_stdin(data: bytes) -> str:
    if b"\x00" in data:
        raise UsageError("standard input looks binary (it holds NUL bytes); send text")
    try:
        # utf-8-sig: a byte-order mark (files saved by some Windows editors) is no text.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"standard input is not valid UTF-8 (byte {exc.start}); convert it first, "
            "e.g. with iconv"
        ) from exc


def compose_message(prompt: str | None, material: str) -> str:
    """The argument is the request, stdin the material it is about."""
    prompt = (prompt or "").strip()
    material = material.strip("\n")
    if prompt and material.strip():
        return f"{prompt}\n\n{material}"
    if prompt:
        return prompt
    if material.strip():
        return material
    raise UsageError('nothing to send: give a prompt (claudechat chat "...") or pipe text in')


def run_one_turn(
    session: ChatSession,
    message: str,
    attachments: Sequence[Attachment] = (),
    show_thinking: bool = False,
) -> None:
    from claudechat.reply_view import PipeListener

    attachments = _named_apart(attachments)
    for notice in session.resume_notices(in_repl=False):
        status(notice)
    stdout = ClosableOutput(sys.stdout)
    renderer = _renderer(stdout, session.settings.code_theme)

    def feed(chunk: str) -> None:
        notices.hold = True
        renderer.feed(chunk)

    session.one_turn = True
    listener = PipeListener(feed, show_thinking)
    told = session.notify

    def tell(notice: str) -> None:
        listener.end_thinking()  # a notice glued to streamed thinking read as one line
        with listener.waiting.hidden():  # and one written over the waiting line, garbled
            told(notice)

    notices = HeldNotices(tell)
    session.notify = notices
    ended_by: BaseException | None = None
    try:
        listener.waiting.start()
        with renderer:
            reply = session.send(message, None, attachments, on_event=listener.on_event)
        print_citations(reply, stdout)
    except BaseException as exc:
        ended_by = exc
        raise
    finally:
        listener.waiting.stop()
        session.notify = notices.release()
        listener.end_thinking()
        if ended_by is None:
            show_turn_usage(session)  # after the held notices, as the REPL's
        if session.conversation.messages and session.saved_in != "memory":
            status(f"conversation {session.conversation.id}")
        elif ended_by is not None and session.saved_in == "memory":
            _say_unsaved(session, ended_by)
    if session.saved_in == "memory":
        # The process ends here: a conversation only in memory is lost, and must not exit 0.
        raise StorageError(_unsaved(session))
    if stdout.failed is not None:
        raise StorageError(
            f"cannot write the reply to standard output ({stdout.failed.strerror or 'error'});"
            f" it is saved: claudechat show {session.conversation.id}"
        )
    import typer

    if session.refused is not None:
        # Said already, by the save's notice; a store that refuses the configuration is no
        # outage that passes, so no success either: the configuration's exit code.
        raise typer.Exit(session.refused.exit_code)
    if holds_no_text(reply):
        # Said already, by the session's notice: no answer came, which is no success.
        raise typer.Exit(ExitCode.API)
    if stdout.closed_early:
        raise BrokenPipeError("stdout was closed before the reply ended")


def _named_apart(attachments: Sequence[Attachment]) -> list[Attachment]:
    """Each file of the message by a name of its own (named_apart), saying which was renamed:
    Claude and `show` know it by that name."""
    from claudechat.attachment_names import named_apart

    named = named_apart(attachments)
    for given, sent in zip(attachments, named, strict=True):
        if sent.name != given.name:
            status(f"{given.name}: another file is attached by that name; sent as {sent.name}")
    return named


def _unsaved(session: ChatSession) -> str:
    return (
        "the conversation could not be saved: neither the store nor the local journal can be "
        f"written ({session.unsaved_because})"
    )


def _say_unsaved(session: ChatSession, ended_by: BaseException) -> None:
    """A turn that failed (an API error, a cut-off reply, Ctrl-C, SIGTERM) keeps its exit code,
    but must still say that nothing was saved: only the error line was said, and a SIGTERM's
    line even said the message was kept."""
    if isinstance(ended_by, Terminated):
        ended_by.kept = _unsaved(session)  # its one closing line
    else:
        error(_unsaved(session))


def _renderer(stdout: ClosableOutput, code_theme: str) -> Any:
    """Rendered markdown when stdout is a terminal (`git diff | claudechat chat "review"` read
    on the screen), as in the REPL; the reply's own text for a file, a pipe or a dumb terminal.

    Either way its escape sequences and control characters are shown as `show` shows them,
    not obeyed: a pipe's or a file's reader is often a terminal after all (`| tee answer.md`,
    a later `cat answer.md`), which a reply's raw ESC had set a window title or written the
    clipboard (OSC 52) of. Each character is mapped alone, so a sequence split between two
    deltas is shown as it would be whole."""
    from claudechat.output import console, renders_live
    from claudechat.render import MarkdownStreamRenderer, PlainStreamRenderer
    from claudechat.repl_terminal import TerminalSafe

    if renders_live(sys.stdout):
        # Through `stdout`: a terminal that goes away mid-reply (EIO) must not end the turn
        # before its reply is saved, as it must not for a pipe.
        out = console(file=stdout)  # type: ignore[arg-type]
        return TerminalSafe(MarkdownStreamRenderer(out, code_theme=code_theme))
    return TerminalSafe(PlainStreamRenderer(stdout))  # type: ignore[arg-type]


class ClosableOutput:
    """stdout for a reply whose reader may leave early (`| head -c 5`) or that cannot be
    written (a full disk, /dev/full): the reply still streams to its end and is saved whole;
    what cannot be shown is dropped, and `failed` says why when it was no reader's choice."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.closed_early = False
        self.failed: OSError | None = None

    # What a rich Console asks of the stream it writes to.
    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:
        return self.stream.encoding

    def write(self, text: str) -> int:
        if not self.closed_early:
            try:
                # A reply's lone surrogates (valid JSON, no UTF-8 form) would fail the write.
                self.stream.write(replace_lone_surrogates(text))
            except OSError as exc:
                self._closed(exc)
        return len(text)

    def flush(self) -> None:
        if not self.closed_early:
            try:
                self.stream.flush()
            except OSError as exc:
                self._closed(exc)

    def _closed(self, exc: OSError) -> None:
        from claudechat.exits import silence_stdout

        self.closed_early = True
        if not isinstance(exc, BrokenPipeError):
            self.failed = exc
        silence_stdout()  # what is still buffered for the old stdout goes nowhere, quietly
