"""`claudechat list` and `claudechat show`: a rich view in a terminal, plain text in a pipe."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from claudechat.attachments import attachment_lines, attachment_numbers
from claudechat.conversation import Conversation, Message, dumps_json
from claudechat.markdown import DEFAULT_CODE_THEME
from claudechat.mdcontain import contained_markdown, markdown_literal
from claudechat.output import console, is_rich, json_safe, one_line, safe_text
from claudechat.short_ids import short_id
from claudechat.stop_reasons import status_mark

if TYPE_CHECKING:
    from rich.console import Console

    from claudechat.storage.metadata import ConversationRow

TITLE_CHARS = 60


def row_title(row: ConversationRow) -> str:
    if row.conversation_name:
        return one_line(row.conversation_name, TITLE_CHARS)
    if row.preview:
        return one_line(row.preview, TITLE_CHARS)
    return "(empty)"


def relative_time(moment: datetime, now: datetime | None = None) -> str:
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds < 60:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            if unit == "day" and count > 30:
                return moment.strftime("%Y-%m-%d")
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"  # unreachable, keeps the type checker content


def print_list(
    rows: list[ConversationRow],
    unsynced: set[str],
    as_json: bool,
    prefixes: dict[str, str] | None = None,
) -> None:
    """The rows, each id cut to its `prefixes` entry (short_ids.py), 8 characters if none."""
    prefixes = prefixes or {}
    if as_json:
        print(json_safe(dumps_json([_row_json(row, unsynced) for row in rows], indent=2)))
    elif is_rich(sys.stdout):
        _print_table(rows, unsynced, prefixes)
    else:
        for row in rows:
            fields = (
                _short_id(row, unsynced, prefixes),
                row_title(row),
                one_line(row.model),
                str(row.message_count),
                relative_time(row.updated_at),
                _parent(row, prefixes),  # forked from
                _cost_text(row),
            )
            print("\t".join(fields))


def listed_ids(rows: list[ConversationRow]) -> set[str]:
    """The ids `list` shows of these rows: each one's own, and the one it was forked from."""
    from claudechat.storage.ids import is_conversation_id

    parents = {row.parent_id for row in rows if row.parent_id}
    return {row.conversation_id for row in rows} | {p for p in parents if is_conversation_id(p)}


def _parent(row: ConversationRow, prefixes: dict[str, str]) -> str:
    """The short id of the conversation it was forked from. Shown safely, as a name is: the
    row's parent id came from a document that may have been imported from anyone's export."""
    return one_line(short_id(prefixes, row.parent_id) if row.parent_id else "")


def nothing_listed(filtered: bool) -> str:
    """What an empty `list` says on stderr, in a terminal and a pipe alike: a filter that
    matched nothing printed nothing at all (in a terminal, that there were no conversations)."""
    if filtered:
        return "no conversation matches"
    return "no conversations yet: start one with `claudechat chat`"


def _short_id(row: ConversationRow, unsynced: set[str], prefixes: dict[str, str]) -> str:
    mark = "*" if row.conversation_id in unsynced else ""
    return short_id(prefixes, row.conversation_id) + mark


def _row_json(row: ConversationRow, unsynced: set[str]) -> dict[str, object]:
    return {
        "synced": row.conversation_id not in unsynced,
        "id": row.conversation_id,
        "name": row.conversation_name,
        # The text itself: JSON escapes what a terminal would obey (row_title shows it as ^[).
        "title": row.conversation_name or row.preview or "(empty)",
        "model": row.model,
        "messages": row.message_count,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "location": row.s3_file_location,
        "parent_id": row.parent_id,
        "cost_usd": row.cost_usd,
    }


def _cost_text(row: ConversationRow) -> str:
    """Dollars at list price; `?` where a reply's model has no price or the row predates it."""
    if row.cost_usd is None:
        return "?"
    return f"${row.cost_usd:.4f}" if row.cost_usd < 1 else f"${row.cost_usd:,.2f}"


MODEL_SHOWN_FROM = 72  # columns


def _print_table(rows: list[ConversationRow], unsynced: set[str], prefixes: dict[str, str]) -> None:
    from claudechat.tables import Column, fits_as_a_table, print_table

    forks = any(row.parent_id for row in rows)
    columns = [
        Column("ID", style="cyan"),
        Column("Name", whole=False),  # alone gives way when the screen is narrow
        Column("Model", style="dim"),
        Column("Msgs", justify="right"),
        Column("Cost", justify="right", style="dim"),
        Column("Updated", justify="right", style="dim"),
        *([Column("Forked from", style="cyan")] if forks else []),
    ]
    shown = [
        [
            _short_id(row, unsynced, prefixes),
            row_title(row),
            one_line(row.model),
            str(row.message_count),
            _cost_text(row),
            relative_time(row.updated_at),
            *([_parent(row, prefixes)] if forks else []),
        ]
        for row in rows
    ]
    if console().width < MODEL_SHOWN_FROM:
        # Narrower than this, a table leaves the model out, giving the name its room: at 60
        # columns the name was a lone "…" on every row. A block a row (narrower still) has a
        # line for it.
        model = [column.heading for column in columns].index("Model")
        without_model = columns[:model] + columns[model + 1 :]
        rest = [line[:model] + line[model + 1 :] for line in shown]
        if fits_as_a_table(without_model, rest):
            columns, shown = without_model, rest
    print_table("", columns, shown)
    if unsynced:
        console(stderr=True).print("* saved locally, not yet pushed to the store", style="dim")


def print_conversation(
    conversation: Conversation,
    as_json: bool,
    as_markdown: bool,
    thinking: bool = False,
    code_theme: str = DEFAULT_CODE_THEME,
) -> None:
    if as_json:
        print(json_safe(dumps_json(shown_document(conversation), indent=2)))
    elif as_markdown or not is_rich(sys.stdout):
        markdown = conversation_markdown(conversation, thinking)
        if sys.stdout.isatty():
            from claudechat.history_view import paged_text

            # Paged as the rendered form is: --markdown wrote a long one past the screen.
            paged_text(markdown)
        else:
            sys.stdout.write(markdown)
    else:
        from claudechat.history_view import paged

        paged(lambda out: _print_rich(conversation, out, thinking, code_theme))


def shown_document(conversation: Conversation) -> dict[str, object]:
    """The stored document, its cost, and every reply's `stop_reason` (null when the stream
    ended before the API gave one): the document leaves the key out then, and a script read
    a reply cut off or interrupted as one without the key, a KeyError in `m["stop_reason"]`."""
    document = conversation.to_document()
    for message in document["messages"]:
        if message["role"] == "assistant":
            message.setdefault("stop_reason", None)
    return {**document, "cost": cost_json(conversation)}


def cost_json(conversation: Conversation) -> dict[str, object]:
    """What the conversation's replies cost, priced as the dim line after each reply is;
    null while a reply's model has no price, as `usage` has it: it read 0.0."""
    from claudechat.pricing import conversation_spend, price_table, usd_figure
    from claudechat.settings import load_settings

    spend = conversation_spend(conversation.messages, price_table(load_settings()))
    return {
        **spend.usage.to_dict(),
        "usd": usd_figure(spend.total_cost),
        "saved_by_cache_usd": usd_figure(spend.total_saved),
        "unpriced_replies": spend.unpriced,
    }


def conversation_markdown(conversation: Conversation, thinking: bool = False) -> str:
    # The title escaped as export's is: "# " or "<b>" in it became a heading, a tag.
    title = markdown_literal(one_line(conversation.title))
    lines = [f"# {title}", "", *_header_lines(conversation), ""]
    numbers = attachment_numbers(conversation)
    for message in conversation.branch():
        lines += [f"## {message_heading(message)}", "", *_thinking_lines(message, thinking)]
        attached = attachment_lines(message, numbers)
        attached = [f"- {markdown_literal(one_line(line))}" for line in attached]
        # A blank line after the list: else markdown reads the text as its last item.
        lines += [*attached, ""] if attached else []
        # As export writes it: a code fence the text left open took in every later message.
        lines += [contained_markdown(safe_text(message.text).rstrip()), ""]
    return "\n".join(lines)


def _thinking_lines(message: Message, full: bool) -> list[str]:
    """Thinking as one collapsed line, or in full as a quote (--thinking)."""
    from claudechat.reply_view import thought_tokens

    thoughts = [b["thinking"] for b in message.content if b.get("type") == "thinking"]
    if not thoughts:
        return []
    text = safe_text("\n\n".join(thoughts)).strip()
    if full:
        return [*("> " + line if line else ">" for line in text.splitlines()), ""]
    return [f"_thought · {thought_tokens(text):,} tokens (show --thinking prints it)_", ""]


def conversation_facts(conversation: Conversation) -> list[tuple[str, str]]:
    """What show --markdown and export say of a conversation before its messages."""
    facts = [
        ("id", conversation.id),
        ("model", one_line(conversation.model)),
        ("created", _local_time(conversation.created_at)),
        ("updated", _local_time(conversation.updated_at)),
    ]
    if conversation.system:
        facts.append(("system", one_line(conversation.system)))
    if conversation.parent_id:
        facts.append(("forked from", one_line(conversation.parent_id)))
    return facts


def _header_lines(conversation: Conversation) -> list[str]:
    # Escaped as export's are: a system prompt "# x" or "<details>" became structure.
    facts = conversation_facts(conversation)
    lines = [f"- {label}: {markdown_literal(value)}" for label, value in facts]
    branches = len(conversation.leaves())
    if branches > 1:
        lines.append(
            # The shown branch is the document's head: the one last continued, or picked with
            # /branch, not always the newest (it said "this is the latest" of either).
            f"- branches: {branches}; this is the current one, last continued or picked with "
            "/branch (`show --json` holds them all, `/branches` in the REPL lists them)"
        )
    return lines


def message_heading(message: Message) -> str:
    """Who, when, and how a reply ended early (show's and export's headings alike): without
    it, a reply cut off, interrupted or declined (an empty section) read as a whole one."""
    who = "You" if message.role == "user" else "Claude"
    return f"{who} · {_local_time(message.created_at)}{status_mark(message)}"


def _local_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _print_rich(conversation: Conversation, out: Console, thinking: bool, code_theme: str) -> None:
    from rich.rule import Rule
    from rich.text import Text

    from claudechat.markdown import make_markdown

    out.print(Text(one_line(conversation.title), style="bold"))
    for line in _header_lines(conversation):
        out.print(Text(line[2:], style="dim"))
    numbers = attachment_numbers(conversation)
    for message in conversation.branch():
        style = "bold green" if message.role == "user" else "bold magenta"
        out.print(Rule(Text(message_heading(message), style=style), align="left"))
        for line in _thinking_lines(message, thinking)[:-1]:
            out.print(Text(line.strip("_"), style="dim"))
        for line in attachment_lines(message, numbers):
            out.print(Text(one_line(line), style="cyan"))
        content = safe_text(message.text)
        if message.role == "assistant":
            out.print(make_markdown(content, code_theme))  # as the reply was shown
        else:
            out.print(Text(content))
