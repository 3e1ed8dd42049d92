"""The REPL's prompt: prompt-toolkit's session with the history file, Esc Enter for a new
line, and Tab completion of slash commands, model ids and /attach's paths."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claudechat.repl_attach import path_completions
from claudechat.slash_commands import SLASH_COMMANDS

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import CompleteEvent, Completion
    from prompt_toolkit.document import Document


class SlashCompleter:
    """Tab completes slash commands at the start of the line, and model ids after /model."""

    def __init__(self, model_ids: Callable[[], list[str]] = list) -> None:
        self.model_ids = model_ids

    def get_completions(self, document: Document, _event: CompleteEvent) -> Iterable[Completion]:
        from prompt_toolkit.completion import Completion

        text = document.text_before_cursor
        if text.startswith("/model ") and " " not in text[7:]:
            typed = text[7:]
            for model in self.model_ids():
                if model.startswith(typed):
                    yield Completion(model, -len(typed))
            return
        if text.lower().startswith("/attach "):
            yield from path_completions(text[len("/attach ") :])
            return
        if not text.startswith("/") or " " in text:
            return
        for command in SLASH_COMMANDS:
            if command.name.startswith(text.lower()):
                yield Completion(command.name, -len(text), display_meta=command.help)

    async def get_completions_async(self, document: Document, event: CompleteEvent) -> Any:
        for completion in self.get_completions(document, event):
            yield completion


def prompt_session(
    history_path: Path, model_ids: Callable[[], list[str]] = list
) -> PromptSession[str]:
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
    from prompt_toolkit.completion import Completer
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.key_binding import KeyBindings

    _touch_private(history_path)
    bindings = KeyBindings()

    @bindings.add("escape", "enter")
    def _newline(event: Any) -> None:
        event.current_buffer.insert_text("\n")

    Completer.register(SlashCompleter)
    return new_session(
        history=FileHistory(str(history_path)),
        auto_suggest=AutoSuggestFromHistory(),
        completer=SlashCompleter(model_ids),
        complete_while_typing=False,
        key_bindings=bindings,
        multiline=False,
        enable_history_search=False,
        erase_when_done=True,  # the message is echoed whole instead (see echo)
    )


def one_question(question: str) -> str:
    """One answer typed at a prompt of its own, kept out of the REPL's history."""
    return new_session().prompt(question)


def new_session(**options: Any) -> PromptSession[str]:
    """prompt-toolkit's session; on a dumb terminal (TERM=dumb) one that writes plain text.
    Made for the terminal, it wrote the sequences for the cursor's blink and its showing
    ("^[[?12l^[[?25h" on screen) before the first prompt, though the dumb prompt draws no
    other. The output is given through the app session: given to the session itself, it
    turns the dumb prompt off, and the full one draws its layout with spaces and newlines."""
    import sys

    from prompt_toolkit import PromptSession
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.output.plain_text import PlainTextOutput
    from prompt_toolkit.utils import is_dumb_terminal

    if not is_dumb_terminal():
        return PromptSession(**options)
    with create_app_session(output=PlainTextOutput(sys.stdout)):
        return PromptSession(**options)


def _touch_private(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
