"""REPL commands over the conversation's history: /search, /edit, /fork, /undo, /copy.

Nothing is ever lost: an edit is a new user message beside the old one (a sibling in the
message tree), /undo only moves this session's head back, and /fork copies a branch into a new
conversation that records its parent.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from claudechat import repl_copy
from claudechat.chat import ChatSession
from claudechat.conversation import Conversation, Message
from claudechat.errors import NotFoundError, StorageError, UsageError
from claudechat.output import counted, one_line, quoted, status
from claudechat.short_ids import ids_as_listed
from claudechat.stop_reasons import status_mark

if TYPE_CHECKING:
    from claudechat.attachments import Attachment
    from claudechat.repl import Repl

# (name, usage, help), shown by /help and completed by Tab.
HISTORY_COMMANDS = (
    # (name, usage, help, whether it keeps the terminal: a prompt or an editor of its own)
    ("/search", "/search QUERY", "search your conversations; pick one to resume it", True),
    ("/edit", "/edit [-e]", "edit your last message (-e: in $EDITOR) and ask again", True),
    ("/undo", "/undo", "take back your last message and its reply, if any (kept as a branch)"),
    ("/fork", "/fork [N]", "continue from message N in a new conversation"),
    ("/copy", "/copy [N]", "copy the last reply, or its Nth code block, to the clipboard"),
)
SEARCH_RESULTS = 10


def history_handlers(repl: Repl) -> dict[str, Callable[[str], None]]:
    return {
        "/search": lambda argument: search(repl, argument),
        "/edit": lambda argument: edit(repl, argument),
        "/undo": lambda _argument: undo(repl),
        "/fork": lambda argument: fork(repl, argument),
        "/copy": lambda argument: repl_copy.copy(repl, argument),
    }


# -- /search -------------------------------------------------------------------------------


def search(repl: Repl, query: str) -> None:
    from claudechat.history_view import print_hits
    from claudechat.short_ids import hit_prefixes
    from claudechat.storage.journal_search import search_everywhere

    if not query:
        status("usage: /search QUERY")
        return
    session = repl.session
    found = search_everywhere(session.store, session.settings.user, query, SEARCH_RESULTS)
    hits = found.hits
    if found.error:
        status(f"warning: {found.error}; searched the copies kept on this machine", "yellow")
    if not hits:
        status("no message matches")
        return
    print_hits(
        hits, numbered=True, prefixes=hit_prefixes(session.store, session.settings.user, found)
    )
    choice = _ask(f"resume which (1-{len(hits)}, Enter to stay)? ")
    if not choice:
        return
    if not choice.isdigit() or not 1 <= int(choice) <= len(hits):
        status(f"no result {one_line(choice, 20)}")
        return
    hit = hits[int(choice) - 1]
    open_conversation(repl, hit.conversation_id, hit.message_id)


def _ask(question: str) -> str:
    from claudechat.repl_prompt import one_question

    try:
        return one_question(question).strip()
    except (KeyboardInterrupt, EOFError):
        return ""


def open_conversation(repl: Repl, reference: str, message_id: str | None = None) -> None:
    """Continue another conversation in this REPL, as `chat --resume` would; with a message
    (a /search hit), on the branch that holds it."""
    old = repl.session
    conversation = old.store.load(old.settings.user, reference)
    left = old.conversation
    # As /new says, and refuses to leave one kept only in memory: /search left it unsaid.
    became = None
    if left.messages and left.id != conversation.id:
        became = repl.what_became_of(left.id[:8], "/search")
    moved = _show_branch_of(conversation, message_id)
    session = ChatSession(old.settings, old.store, old.claude, conversation, old.catalogue)
    session.notify = old.notify
    repl.session = session
    if became:
        status(f"the conversation left: {became}")
    if moved:  # saved, as /branch saves: --resume reopened the branch left
        session.save()
    lines = resumed_lines(session)
    if moved:
        lines[0] += ", on the branch of the message chosen"
    for line in lines:
        status(line)
    for line in session.resume_notices():
        status(line, "yellow")


def _show_branch_of(conversation: Conversation, message_id: str | None) -> bool:
    """Show the branch holding `message_id`, up to its newest message, when it is not the
    shown one: a /search hit on another branch opened the shown branch, without the hit.
    True when the shown branch changed."""
    if conversation.find(message_id) is None:
        return False
    if any(message.id == message_id for message in conversation.branch()):
        return False
    below = [
        leaf
        for leaf in conversation.leaves()
        if any(message.id == message_id for message in conversation.branch(leaf.id))
    ]
    conversation.set("head", max(below, key=Message.sort_key).id)
    return True


def resumed_lines(session: ChatSession) -> list[str]:
    """Where a resumed conversation stands: its name, and the exchange it ended with."""
    conversation, branch = session.conversation, session.branch()
    # Counted up to the message left unanswered, which the session's branch stops before: a
    # conversation of one unanswered message said "0 message(s)".
    held = conversation.branch(session.unanswered) if session.unanswered else branch
    (shown,) = ids_as_listed(session.store, conversation.user_id, conversation.id)
    lines = [
        f"resumed {shown} · {one_line(conversation.title, 60)} · " + counted(len(held), "message")
    ]
    for message in branch[-2:]:
        who = "you" if message.role == "user" else "claude"
        # Marked as `show` and `export` head it: an interrupted reply read "(cut off)", a reply
        # stopped at the output limit or declined, or holding only thinking, read as whole.
        mark = status_mark(message)
        text = one_line(message.text, 100 - len(mark))
        lines.append(f"  {who}: {text}{mark}" if text else f"  {who}:{mark}")
    return lines


# -- /edit and /undo -----------------------------------------------------------------------


def _last_user_message(session: ChatSession) -> Message:
    """The message set aside without a reply, if any (a refused paste is what /edit should
    shorten), else the branch's last one of yours."""
    unanswered = session.conversation.find(session.unanswered)
    if unanswered is not None:
        return unanswered
    for message in reversed(session.branch()):
        if message.role == "user":
            return message
    raise NotFoundError("there is no message of yours in this conversation yet")


def edit(repl: Repl, argument: str) -> None:
    if argument not in ("", "-e"):
        raise UsageError("usage: /edit, or /edit -e to use $EDITOR")
    repl.session.refuse_if_deleted()  # before anything is typed that could not be sent
    original = _last_user_message(repl.session)
    if argument == "-e":
        text = _in_editor(original.text)
    else:
        try:
            text = _edited_in_the_prompt(repl, original.text)
        except (KeyboardInterrupt, EOFError):  # as at the prompt: the line, not the REPL
            status("edit cancelled; nothing sent")
            return
    if not text.strip():  # it said "nothing changed" of a message emptied
        status("the message is empty; nothing sent")
        return
    if argument != "-e" and repl.names_a_command(text):  # /exit typed to back out was sent
        command = one_line(text.strip().partition(" ")[0], 30)
        status(f"{command} does not run at edit›: Ctrl-C cancels the edit; nothing sent")
        return
    if text.startswith(" /"):  # sent as a message, as at the prompt
        text = text[1:]
    if text == original.text:
        status("nothing changed; nothing sent")
        return
    if argument == "-e":
        from claudechat.repl import echo

        echo(text)  # the prompt shows what /edit sends; the editor's text was never shown
    _step_back(repl.session, original)
    status("the earlier version stays in the conversation as another branch")
    repl.attachments.add(_files_of(repl.session, original))  # the edit keeps its files
    repl.send(text)


def _edited_in_the_prompt(repl: Repl, original: str) -> str:
    """The message as edited at an `edit›` prompt holding it. A dumb terminal's prompt
    (TERM=dumb) shows no starting text: what was typed went after the message unseen, and
    the mix was sent; there the message is shown above an empty prompt, to be typed anew."""
    from prompt_toolkit.utils import is_dumb_terminal

    if not is_dumb_terminal():
        return repl.ask("edit› ", default=original)
    status(f"your message: {quoted(original, 200)}")
    status("type the new text (Enter alone sends nothing)")
    return repl.ask("edit› ")


def _files_of(session: ChatSession, message: Message) -> list[Attachment]:
    """The files a message carried, read back from the attachment store."""
    from claudechat.attachments import Attachment, attachment_blocks

    blocks = attachment_blocks(message.content)
    if not blocks:
        return []
    user, store = session.conversation.user_id, session.attachment_store
    return [
        Attachment(b["name"], b["media_type"], store.get(user, b["sha256"]), b.get("pages"))
        for b in blocks
    ]


def _in_editor(text: str) -> str:
    """The text after $VISUAL or $EDITOR had it, in a file in a folder of its own: an editor
    that removed the file, or saved it in another encoding, ended the REPL (exit 5, or a
    traceback); each is a failed /edit -e, as an editor that fails is."""
    import shlex
    import subprocess
    import tempfile

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory(prefix="claudechat-", ignore_cleanup_errors=True) as folder:
        path = os.path.join(folder, "message.md")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        try:
            completed = subprocess.run([*shlex.split(editor), path], check=False)
        except OSError as exc:
            raise UsageError(f"cannot run the editor {editor!r}: {exc.strerror}") from exc
        if completed.returncode != 0:
            raise UsageError(f"the editor {editor!r} failed; nothing sent")
        return _edited_text(path)


def _edited_text(path: str) -> str:
    try:
        with open(path, "rb") as edited:
            data = edited.read()
    except FileNotFoundError as exc:
        raise UsageError("the editor removed the file; nothing sent") from exc
    except OSError as exc:
        raise UsageError(f"cannot read the edited file: {exc.strerror}; nothing sent") from exc
    try:
        # utf-8-sig: a byte-order mark (files saved by some Windows editors) is no text.
        return data.decode("utf-8-sig").rstrip("\n")
    except UnicodeDecodeError as exc:
        raise UsageError(f"the edited text is not UTF-8 (byte {exc.start}); nothing sent") from exc


def _step_back(session: ChatSession, message: Message) -> None:
    """Move this session's head to just before `message`: what follows stays in the tree."""
    session.head, session.unanswered = message.parent_id, None


def undo(repl: Repl) -> None:
    session = repl.session
    question = _last_user_message(session)
    answered = session.unanswered != question.id
    _step_back(session, question)
    session.conversation.set("head", session.head)
    session.save()
    what = "and its reply " if answered else ""
    status(f"took back {quoted(question.text, 60)} {what}(kept as a branch)")


# -- /fork ---------------------------------------------------------------------------------


def fork(repl: Repl, argument: str) -> None:
    from claudechat.storage import forks

    session = repl.session
    branch = session.branch()
    if not branch:
        raise NotFoundError("nothing to fork yet")
    number = len(branch)
    if argument:
        if not argument.isdigit() or not 1 <= int(argument) <= len(branch):
            raise UsageError(f"usage: /fork [N], N from 1 to {len(branch)} (messages shown)")
        number = int(argument)
    parent = session.conversation
    deleted = session.deleted or _deleted_elsewhere(session, branch[:number])
    lost = _keep_attachments_again(session, branch[:number]) if deleted else []
    forked = forks.fork(session.store, parent, upto=branch[number - 1].id)
    repl.session = ChatSession(
        session.settings, session.store, session.claude, forked, session.catalogue
    )
    repl.session.notify = session.notify
    parent_now = "was deleted elsewhere" if deleted else "is unchanged"
    fork_id, parent_id = ids_as_listed(session.store, parent.user_id, forked.id, parent.id)
    status(
        f"forked {fork_id} from {parent_id} at message {number}; "
        f"continuing in the fork ({parent_id} {parent_now})"
    )
    for line in repl.session.resume_notices():  # a fork at a message of yours: /retry
        status(line, "yellow")
    if lost:
        names = ", ".join(quoted(name, 40) for name in lost)
        status(
            f"{counted(len(lost), 'attached file')} went with the deleted conversation and "
            f"cannot be sent again: {names}",
            "yellow",
        )


def _deleted_elsewhere(session: ChatSession, branch: list[Message]) -> bool:
    """Whether a delete elsewhere, that no save of this REPL has met yet (nothing sent since
    it), took files of the branch: attachments nothing refers to any more, of a conversation
    with no row (a conversation older than the references has none, and keeps its files)."""
    conversation, store = session.conversation, session.store

    def deleted() -> bool:
        user = conversation.user_id
        if not session.attachment_store.any_gone(store.metadata, user, branch):
            return False
        return store.metadata.get(user, conversation.id) is None

    try:
        return store.guarded(deleted)
    except StorageError:  # cannot tell: as before, the files are taken to be there
        return False


def _keep_attachments_again(session: ChatSession, branch: list[Message]) -> list[str]:
    """A delete elsewhere took the attachments no other conversation used; those this
    process still holds go into the fork's save. Returns the names of the others."""
    user, attachments = session.conversation.user_id, session.attachment_store
    try:
        return session.store.guarded(lambda: attachments.keep_again(user, branch))
    except StorageError:  # the store is down: what this process holds was kept before that
        return []


# -- /branches, /branch ------------------------------------------------------------------


def branches(session: ChatSession) -> None:
    others = session.other_branches()
    if not others:
        status("this conversation has one branch")
        return
    for number, leaf in enumerate(others, 1):
        status(f"  {number}  {describe_leaf(session, leaf)}", "")
    status("/branch N continues on one of them")


def switch_branch(session: ChatSession, argument: str) -> None:
    others = session.other_branches()
    if not others:
        status("this conversation has one branch")
        return
    if not argument.isdigit() or not 1 <= int(argument) <= len(others):
        status(f"usage: /branch N, with N from 1 to {len(others)} (see /branches)")
        return
    leaf = others[int(argument) - 1]
    session.switch_branch(leaf.id)
    status(f"now on the branch ending {describe_leaf(session, leaf)}")


def describe_leaf(session: ChatSession, leaf: Message) -> str:
    """Marked as `show` heads the message: a reply of only thinking read `''`, and one cut
    off as if whole."""
    who = "you" if leaf.role == "user" else "Claude"
    depth = len(session.conversation.branch(leaf.id))
    text, mark = one_line(leaf.text, 60), status_mark(leaf)
    said = f": {text!r}" if text else ""
    return f"{depth} messages, last by {who}{said}{mark}"
