"""The REPL's slash commands as /help lists them, and its keys: data, read by repl.py."""

from __future__ import annotations

from dataclasses import dataclass

from claudechat.repl_attach import ATTACH_COMMANDS
from claudechat.repl_history import HISTORY_COMMANDS


@dataclass(frozen=True)
class SlashCommand:
    name: str
    usage: str
    help: str
    # It asks something of its own (a prompt, an editor) or streams a reply, which quiets the
    # terminal itself: the terminal is left to it as it is (repl.py run_command).
    keeps_terminal: bool = False


SLASH_COMMANDS = (
    SlashCommand("/help", "/help", "list these commands"),
    SlashCommand("/new", "/new", "start a new conversation (the current one stays saved)"),
    SlashCommand("/name", "/name NAME", "name this conversation"),
    SlashCommand("/model", "/model [MODEL]", "show the model and its limits, or change it"),
    SlashCommand("/effort", "/effort [LEVEL]", "show or set the effort (low ... max, default)"),
    SlashCommand("/think", "/think on|off", "let Claude think before answering, or not"),
    SlashCommand("/thinking", "/thinking", "print the last thinking in full"),
    SlashCommand("/system", "/system [TEXT]", "show or set the system prompt (/system - clears)"),
    SlashCommand(
        "/retry",
        "/retry",
        "regenerate the last reply, or answer an unanswered message",
        keeps_terminal=True,
    ),
    SlashCommand("/branches", "/branches", "list the other branches of this conversation"),
    SlashCommand("/branch", "/branch N", "continue on branch N of /branches"),
    SlashCommand("/usage", "/usage", "tokens and money this conversation used"),
    *(SlashCommand(*command) for command in ATTACH_COMMANDS),
    *(SlashCommand(*command) for command in HISTORY_COMMANDS),
    SlashCommand("/exit", "/exit", "leave (Ctrl-D does too)"),
)
TAKE_NO_ARGUMENT = {c.name for c in SLASH_COMMANDS if c.usage == c.name} | {"/quit"}
KEEP_THE_TERMINAL = {c.name for c in SLASH_COMMANDS if c.keeps_terminal}
KEY_HELP = "Enter sends · Esc Enter adds a line · Ctrl-R searches history · Ctrl-C stops a reply"
