"""The interactive chat: a prompt-toolkit prompt, replies streamed as markdown by rich."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from claudechat.chat import ChatSession
from claudechat.claude import preload
from claudechat.conversation import Conversation
from claudechat.errors import (
    ApiError,
    ClaudechatError,
    ConversationDeletedError,
    ReplyCutOffError,
    StorageError,
    Terminated,
)
from claudechat.events import Listener
from claudechat.exits import say_notes
from claudechat.model_commands import (
    InterruptedThinking,
    effort_command,
    model_command,
    model_ids,
    show_turn_usage,
    think_command,
    thinking_command,
    usage_command,
)
from claudechat.notices import held_while_drawn
from claudechat.output import console, one_line, quoted, safe_text, status
from claudechat.repl_attach import Attachments, show_citations
from claudechat.repl_history import branches, history_handlers, resumed_lines, switch_branch
from claudechat.repl_prompt import prompt_session
from claudechat.repl_terminal import JobStop, one_interrupt, quiet_terminal, reply_view
from claudechat.slash_commands import (
    KEEP_THE_TERMINAL,
    KEY_HELP,
    SLASH_COMMANDS,
    TAKE_NO_ARGUMENT,
)


class Repl:
    def __init__(self, session: ChatSession, history_path: Path) -> None:
        self.session = session
        self.code_theme = session.settings.code_theme  # checked when the settings loaded
        self.prompt = prompt_session(history_path, lambda: model_ids(session.settings))
        self.out = console()
        self.running = True
        self.interrupted_thinking = InterruptedThinking()
        self.draft = ""  # what the next prompt starts with: a message that was never sent
        self._sending: tuple[str, int] | None = None  # the message, the conversation's size
        self._regenerating: int | None = None  # the conversation's size, a reply redone
        self.handlers: dict[str, Callable[[str], None]] = {
            "/help": self.show_help,
            "/new": self.new,
            "/name": self.name,
            "/model": lambda arg: model_command(self.session, arg),
            "/effort": lambda arg: effort_command(self.session, arg),
            "/think": lambda arg: think_command(self.session, arg),
            "/thinking": lambda arg: thinking_command(
                self.session, arg, self.interrupted_thinking.shown(self.session)
            ),
            "/system": self.system,
            "/retry": self.retry,
            "/branches": lambda _argument: branches(self.session),
            "/branch": lambda argument: switch_branch(self.session, argument),
            "/usage": lambda arg: usage_command(self.session, arg),
            "/exit": self.exit,
            "/quit": self.exit,
        }
        self.attachments = Attachments()
        self.handlers.update(self.attachments.handlers())
        self.handlers.update(history_handlers(self))

    def run(self, first_message: str | None = None, attachments: Any = ()) -> None:
        self.greet()
        self.attachments.add(list(attachments))
        if first_message:
            echo(first_message)
            self.send(first_message)
        # The SDK import (about a second) starts once the first prompt is on screen: started
        # earlier it competes with drawing the prompt for the GIL.
        pre_run: Callable[[], Any] | None = preload
        while self.running:
            try:
                text = self.ask(self.attachments.prompt(), pre_run=pre_run, default=self.draft)
            except Terminated:
                raise  # SIGTERM, SIGHUP: leave (the CLI says why)
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt clears the line
            except EOFError:
                break
            finally:
                pre_run, self.draft = None, ""
            self.handle(text)
        self.goodbye()

    def ask(self, message: str, **options: Any) -> str:
        """One line from the user, left on screen as sent (the prompt erases itself)."""
        from prompt_toolkit.utils import is_dumb_terminal

        from claudechat.repl_terminal import TypedOnScreen

        if not is_dumb_terminal():
            text = self.prompt.prompt(message, **options)
            echo(text)
            return text
        # A dumb terminal (TERM=dumb) keeps what prompt-toolkit wrote of the line: shown again
        # when typed straight through, it was there twice; not shown, /edit's text or a line
        # from history was sent unseen.
        with TypedOnScreen(self.prompt.default_buffer) as typed:
            text = self.prompt.prompt(message, **options)
        if typed.shown != text:
            echo(text)
        return text

    def handle(self, text: str) -> None:
        if not text.strip():
            if self.attachments.pending:  # the files go alone, as pipe mode sends them
                self.send("")  # Enter did nothing, and said nothing, with files waiting
            return
        if self.attachments.dropped(text):
            return
        if text.startswith(" /"):  # how a message starting with "/" is sent (see below)
            text = text[1:]
        elif self.names_a_command(text):
            command, _, argument = text.strip().partition(" ")
            handler = self.handlers.get(command.lower())
            if handler is None:
                status(
                    f"unknown command {one_line(command, 30)}; /help lists the commands; "
                    "start the line with a space to send it as a message"
                )
                return
            if argument.strip() and command.lower() in TAKE_NO_ARGUMENT:
                # `/undo 3` undid once and dropped the 3 without a word.
                status(f"{command.lower()} takes no argument; /help lists the commands")
                return
            self.run_command(command.lower(), handler, argument.strip())
            return
        self.send(text)

    def names_a_command(self, text: str) -> bool:
        """Whether a line is a slash command, not a message: a line starting " /" is sent as
        one, and so is a path (/usr/lib/x.py)."""
        return text.startswith("/") and not self._is_a_path(text)

    def _is_a_path(self, text: str) -> bool:
        """A first word that is no command but holds another "/" (a path, a compiler's
        `/usr/lib/x.py:12: error`) starts a message: it was refused as an unknown command."""
        first = text.split(maxsplit=1)[0]
        return first.lower() not in self.handlers and "/" in first[1:]

    def send(self, text: str) -> None:
        waiting, count = list(self.attachments.pending), len(self.session.conversation.messages)
        self._sending = (text, count)
        try:
            self.stream(lambda listen: self.session.send(text, None, waiting, on_event=listen))
        finally:
            self._sending = None
        # The message (with its files) is in the conversation, answered or set aside: the
        # files go with it, to /retry; a new message goes without them.
        if len(self.session.conversation.messages) != count:
            self.attachments.pending.clear()

    def stream(self, turn: Callable[[Listener], Any]) -> None:
        """Run one turn with a live renderer; every failure ends in a line, never a crash."""
        with one_interrupt(), quiet_terminal() as job:
            self._stream(turn, job)

    def _stream(self, turn: Callable[[Listener], Any], job: JobStop | None) -> None:
        view = reply_view(self.out, self.code_theme)
        if job is not None:
            job.screen_paused = view.paused
        try:
            # Notices said after the view is off the screen: the answer is drawn to its end.
            drawn = held_while_drawn(self.session, view.on_event, view.draws_regions)
            with drawn as listen, view:
                turn(listen)
        except Terminated:
            raise  # the partial reply is saved; the process ends
        except KeyboardInterrupt:
            if self._interrupted_before_sending():
                return
            if self.session.unanswered is not None:  # thinking only, or nothing yet
                self.interrupted_thinking.keep(self.session, "".join(view.thinking))
                status("(interrupted before any answer: /retry asks again)", "yellow")
            else:
                status(f"(interrupted: {self._what_arrived_is()})", "yellow")
            return
        except ReplyCutOffError as exc:
            if self.session.unanswered is None:
                status(f"{exc}; {self._what_arrived_is()}", "yellow")
                return
            self._failed(exc)
            return
        except ApiError as exc:
            self._failed(exc)
            return
        except ClaudechatError as exc:
            unsent = isinstance(exc, ConversationDeletedError) and self._never_sent()
            status(f"{exc}; Up brings your message back" if unsent else str(exc), "red")
            if self._sending is not None:  # a new message, its files still waiting
                self.attachments.refused(exc)
            return
        show_citations(self.session.conversation.messages[-1])
        show_turn_usage(self.session)

    def retry(self, _argument: str) -> None:
        session = self.session
        shown = session.conversation.find(session.head)
        redone = session.unanswered is None and shown is not None and shown.role == "assistant"
        self._regenerating = len(session.conversation.messages) if redone else None
        try:
            self.stream(lambda listen: session.retry(on_event=listen))
        finally:
            self._regenerating = None

    def _what_arrived_is(self) -> str:
        """Where a reply stopped short went: one /retry redid is a branch, the earlier reply
        staying shown. It said "what arrived is kept", and the next message went on from the
        earlier reply, not the one last on screen."""
        if self._regenerating is None:
            return "what arrived is kept; /retry asks again"
        if len(self.session.conversation.messages) == self._regenerating:
            return "nothing arrived; the earlier reply stays; /retry asks again"
        return "the earlier reply stays; what arrived is kept as a branch: /branches"

    def _interrupted_before_sending(self) -> bool:
        """A Ctrl-C while the turn was still set up (the model's limits looked up, the SDK
        imported: a second or more on the first turn) leaves the message in no conversation.
        It said "what arrived is kept", and what was typed was gone."""
        from prompt_toolkit.utils import is_dumb_terminal

        if not self._never_sent():
            return False
        assert self._sending is not None  # as _never_sent found it
        typed = self._sending[0]
        if is_dumb_terminal():  # its prompt shows no starting text: what is typed would add
            history = self.prompt.history
            if list(history.load_history_strings())[:1] != [typed]:
                history.append_string(typed)  # given on the command line
            status("(interrupted before your message was sent: Up brings it back)", "yellow")
            return True
        self.draft = typed
        status("(interrupted before your message was sent: it is back at the prompt)", "yellow")
        return True

    def _never_sent(self) -> bool:
        """A new message is being sent, and it is in no conversation yet."""
        sending = self._sending
        return sending is not None and len(self.session.conversation.messages) == sending[1]

    def _failed(self, error: ClaudechatError) -> None:
        if self.session.unanswered is None:  # a new reply to an answered message failed
            message = "the earlier reply stays; /retry asks again"
        else:
            message = "your message is kept: /retry sends it again, a new message goes without it"
        status(f"{error}; {message}", "red")
        say_notes(error)

    def run_command(self, name: str, handler: Callable[[str], None], argument: str) -> None:
        """A slash command, its failure one line. Ctrl-C cancels it and the prompt comes back:
        it left the whole REPL ("claudechat: interrupted"), the conversation's resume line and
        the files waiting for the next message gone, while /model waited on the Models API or
        /attach on a file. Keys typed meanwhile are not echoed, as during a reply: the terminal
        wrote them into the command's output, and the next prompt showed them again."""
        quiet = contextlib.nullcontext() if name in KEEP_THE_TERMINAL else quiet_terminal()
        with one_interrupt(), quiet:
            try:
                handler(argument)
            except Terminated:
                raise  # SIGTERM, SIGHUP: leave (the CLI says why)
            except KeyboardInterrupt:
                status("(cancelled)", "yellow")
            except ClaudechatError as exc:
                status(str(exc), "red")

    # -- slash commands ---------------------------------------------------------------------

    def show_help(self, _argument: str) -> None:
        width = max(len(c.usage) for c in SLASH_COMMANDS)
        for command in SLASH_COMMANDS:
            # A help too long for the line goes on under its own column.
            status(f"  {command.usage.ljust(width)}  {command.help}", "", indent=width + 4)
        status(KEY_HELP)

    def new(self, _argument: str) -> None:
        previous = self.session.conversation
        left = ""
        if previous.messages:
            left = f" ({self.what_became_of(previous.id[:8], '/new')})"
        elif previous.name:
            left = f" ({never_kept(previous)})"
        self.session.new_conversation()
        status(f"new conversation{left}")

    def what_became_of(self, short: str, command: str) -> str:
        """Where the conversation `command` (/new, /search) leaves stands: it said "is saved"
        of one deleted elsewhere, or only journaled. One kept only in memory is not left."""
        session = self.session
        if session.saved_in == "memory" and not session.deleted:
            # One more try, as on leaving: the store or the journal may be back.
            with contextlib.suppress(ConversationDeletedError):  # then `deleted` says so
                session.save()
            if session.saved_in == "memory" and not session.deleted:
                raise StorageError(
                    f"{short} is only in memory (neither the store nor the journal can be "
                    f"written): leaving it would lose it; try {command} again once either "
                    "is back"
                )
        if session.deleted_since_saved():
            return f"{short} was deleted elsewhere; not saved"
        if session.saved_in == "journal":
            return f"{short} is saved on this machine, pushed {session.pushed_when()}"
        return f"{short} is saved"

    def name(self, argument: str) -> None:
        if not argument:
            status("usage: /name NAME")
            return
        self.session.rename(argument)
        status(f"named {quoted(argument, 60)}{self._kept_when()}")

    def system(self, argument: str) -> None:
        if argument:
            self.session.set_system(None if argument == "-" else argument)
        current = self.session.conversation.system
        later = self._kept_when() if argument else ""
        status(f"system prompt: {one_line(current, 200) if current else '(none)'}{later}")

    def _kept_when(self) -> str:
        """An empty conversation is not saved (see save): a name or system prompt set before
        the first message was said as if kept, and leaving then left no trace of it."""
        return "" if self.session.conversation.messages else "; kept once a message is sent"

    def exit(self, _argument: str) -> None:
        self.running = False

    # -- messages ---------------------------------------------------------------------------

    def greet(self) -> None:
        conversation = self.session.conversation
        status(f"claudechat · {conversation.model} · /help for commands")
        if conversation.messages:  # --continue, --resume
            for line in resumed_lines(self.session):
                status(line)
        for line in self.session.resume_notices():
            status(line, "yellow")

    def goodbye(self) -> None:
        conversation = self.session.conversation
        if self.session.deleted_since_saved():  # it said "saved; resume with" a deleted id
            status(f"conversation {conversation.id[:8]} was deleted elsewhere; it is not saved")
            return
        if self.session.saved_in == "memory":
            self.session.save()  # one more try: the store or the journal may be back
        conversation = self.session.conversation
        if self.session.saved_in == "memory":
            status(
                f"conversation {conversation.id} could NOT be saved: neither the store nor the "
                "local journal can be written",
                "red",
            )
        elif conversation.messages:
            status(
                f"conversation {conversation.id} saved; "
                f"resume with: claudechat chat --resume {conversation.id}"
            )
        elif conversation.name:  # named, with no message: no trace, as /new says
            status(never_kept(conversation))


PROMPT = "› "


def never_kept(conversation: Conversation) -> str:
    """A named conversation left before any message: it left no trace, as /name said."""
    return f"{quoted(conversation.name or '', 60)} had no message; not kept"


def echo(text: str) -> None:
    """The user's message as sent, under the conversation so far. The prompt erases itself
    when done (erase_when_done): prompt-toolkit draws only what fits the window, so a paste
    taller than the window would otherwise lose its top, and a message given on the command
    line would never show."""
    sys.stdout.write(PROMPT + safe_text(text) + "\n")
    sys.stdout.flush()
