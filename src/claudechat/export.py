"""Export a conversation as markdown, JSON or one HTML page; read claudechat's JSON back.

Markdown and HTML show the shown branch (what `show` shows), with thinking folded away in a
<details> block and attachments by name, and escape sequences and control characters shown as
`show` shows them (^[ and <U+202E>): an export is read on a terminal too (`cat`). JSON is the
whole document, every branch, wrapped so that `claudechat import` can tell it from any other
JSON file, with the bytes of the attachments it references (version 2; version 1 held only
their references, so an import into a store without them gave a conversation whose files were
missing).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from claudechat.blocks import Block
from claudechat.conversation import Conversation, Message, dumps_json
from claudechat.errors import CorruptDocumentError, UsageError
from claudechat.import_ids import Renumbering
from claudechat.jsontext import replace_lone_surrogates
from claudechat.listing import conversation_facts, message_heading
from claudechat.mdcontain import contained_markdown, folded_markdown, markdown_literal
from claudechat.names import valid_model
from claudechat.output import json_safe, one_line, safe_text
from claudechat.storage.ids import is_digest, printable

EXPORT_KIND = "claudechat-export"
EXPORT_VERSION = 2
READABLE_VERSIONS = (1, 2)  # 1: attachments by reference only
FORMATS = ("markdown", "json", "html")
SUFFIXES = {"markdown": ".md", "json": ".json", "html": ".html"}
# What -f and -o's suffix take besides FORMATS and SUFFIXES: -f md was refused while -o x.md
# chose markdown, and -o x.htm gave markdown without a word.
FORMAT_NAMES = {"md": "markdown"}
FORMATS_BY_SUFFIX = {".htm": "html", ".markdown": "markdown"} | {
    suffix: form for form, suffix in SUFFIXES.items()
}


def render(
    conversation: Conversation, form: str, attachments: Mapping[str, bytes] | None = None
) -> str:
    """`attachments`: the bytes by sha256, which only JSON carries."""
    if form not in FORMATS:
        raise UsageError(f"unknown export format {form[:30]!r}: use markdown, json or html")
    if form == "json":
        return to_json(conversation, attachments or {})
    text = {"markdown": to_markdown, "html": to_html}[form](conversation)
    # JSON escapes lone surrogates; markdown and HTML are UTF-8 text, which cannot hold them.
    return text if form == "json" else replace_lone_surrogates(text)


# -- markdown ------------------------------------------------------------------------------


def to_markdown(conversation: Conversation) -> str:
    lines = [f"# {markdown_literal(one_line(conversation.title))}", ""]
    lines += [f"- {label}: {markdown_literal(value)}" for label, value in _facts(conversation)]
    lines.append("")
    for message in conversation.branch():
        lines += [f"## {markdown_literal(message_heading(message))}", ""]
        lines += [_block_markdown(block) for block in message.content]
    return "\n".join(lines).rstrip() + "\n"


def _block_markdown(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "text":
        return contained_markdown(safe_text(block["text"]).rstrip()) + "\n"
    if kind == "thinking":
        # A blank line after <summary> lets the thinking render as markdown on GitHub.
        thinking = folded_markdown(safe_text(block["thinking"]).rstrip())
        return f"<details>\n<summary>Thinking</summary>\n\n{thinking}\n\n</details>\n"
    if kind == "attachment":
        name, media_type = markdown_literal(one_line(block["name"])), one_line(block["media_type"])
        return f"📎 attachment: {name} ({media_type})\n"
    return "*(redacted thinking)*\n"


# -- HTML ----------------------------------------------------------------------------------

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}
header{color:#666;border-bottom:1px solid #ddd;margin-bottom:1rem}
.message{margin:1.2rem 0}.who{font-weight:600}
.user .who{color:#16703a}.assistant .who{color:#8a2c8f}
.when{color:#888;font-weight:400;font-size:.85em}
pre{background:#f5f5f5;padding:.7rem;overflow:auto;border-radius:4px}
code{font-family:ui-monospace,monospace;font-size:.92em}
details{color:#555;border-left:3px solid #ddd;padding-left:.7rem}.attachment{color:#555}
""".strip()


def to_html(conversation: Conversation) -> str:
    """One page, no scripts, nothing loaded from elsewhere; every text from the conversation
    is escaped (markdown is rendered with raw HTML turned off)."""
    facts = "".join(
        f"<div>{_e(label)}: {_e(str(value))}</div>" for label, value in _facts(conversation)
    )
    body = "".join(_message_html(message) for message in conversation.branch())
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">"
        f"<title>{_e(conversation.title)}</title><style>{_STYLE}</style></head>\n<body>"
        f"<header><h1>{_e(conversation.title)}</h1>{facts}</header>\n{body}</body></html>\n"
    )


def _message_html(message: Message) -> str:
    who, when = message_heading(message).split(" · ", 1)
    parts = "".join(_block_html(block) for block in message.content)
    return (
        f'<section class="message {_e(message.role)}"><div class="who">{_e(who)} '
        f'<span class="when">{_e(when)}</span></div>{parts}</section>\n'
    )


def _block_html(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "text":
        return _markdown_html(block["text"])
    if kind == "thinking":
        return f"<details><summary>Thinking</summary>{_markdown_html(block['thinking'])}</details>"
    if kind == "attachment":
        return f'<p class="attachment">📎 {_e(block["name"])} ({_e(block["media_type"])})</p>'
    return "<p><em>(redacted thinking)</em></p>"


def _markdown_html(text: str) -> str:
    from markdown_it import MarkdownIt

    # html=False: raw HTML in a message is shown as text, never obeyed.
    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
    renderer.add_render_rule("image", _image_as_link)
    return str(renderer.render(safe_text(text)))


def _image_as_link(renderer: Any, tokens: list[Any], index: int, options: Any, env: Any) -> str:
    """An image in a message as a link to it: an <img> of a URL in a message had the page
    load it from elsewhere when opened (only the page's Content-Security-Policy stopped it)."""
    token = tokens[index]
    source = str(token.attrGet("src") or "")
    alt = renderer.renderInlineAsText(token.children or [], options, env)
    shown = f"image: {alt}" if alt else "image"  # not a data: URL's whole base64
    opened = [t.type for t in tokens[:index]]
    if opened.count("link_open") > opened.count("link_close"):
        # Inside a link (a badge): a link in it was invalid HTML, and browsers dropped the outer.
        return _e(shown)
    return f'<a href="{_e(source)}">{_e(shown)}</a>'


def _e(text: str) -> str:
    return html.escape(safe_text(text), quote=True)


# -- JSON and import -----------------------------------------------------------------------


def to_json(conversation: Conversation, attachments: Mapping[str, bytes] | None = None) -> str:
    """The document with the bytes of each attachment it references that `attachments` holds,
    base64 under "attachments" (sha256 -> media type and data)."""
    import base64

    carried = {
        sha: {"media_type": block["media_type"], "data": base64.b64encode(data).decode("ascii")}
        for sha, block in sorted(referenced_attachments(conversation).items())
        if (data := (attachments or {}).get(sha)) is not None
    }
    wrapper = {
        "kind": EXPORT_KIND,
        "version": EXPORT_VERSION,
        **conversation.to_document(),
        "attachments": carried,
    }
    # C1 and bidi controls as \u escapes, as `show --json` writes them: the same text to
    # `import`, and nothing a terminal obeys when the file is printed.
    return json_safe(dumps_json(wrapper, indent=2)) + "\n"


def referenced_attachments(conversation: Conversation) -> dict[str, Block]:
    """Each attachment the messages of every branch reference, by sha256."""
    from claudechat.attachments import attachment_blocks

    return {
        block["sha256"]: block
        for message in conversation.messages
        for block in attachment_blocks(message.content)
    }


@dataclass
class Export:
    """A conversation read from an export, and the attachment bytes it carried, by sha256."""

    conversation: Conversation
    attachments: dict[str, bytes] = field(default_factory=dict)


def read_export(data: bytes, location: str) -> Export:
    """A conversation from claudechat's own JSON export; anything else is refused, and so is
    an export whose attachment bytes are not the ones their digests name."""
    refusal = f"{location} is not a claudechat JSON export"
    try:
        # utf-8-sig: a file saved by a Windows editor starts with a byte order mark, and was
        # refused as "not JSON text".
        parsed = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UsageError(f"{refusal} (not JSON text)") from exc
    if not isinstance(parsed, dict) or parsed.get("kind") != EXPORT_KIND:
        raise UsageError(f"{refusal} (export one with `claudechat export ID --format json`)")
    version = parsed.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > EXPORT_VERSION:
        # Said as a newer document format is: the fix is an upgrade, not another file.
        raise UsageError(
            f"{location} is a claudechat JSON export of version {version}, newer than this "
            f"claudechat reads ({EXPORT_VERSION}); upgrade claudechat to import it"
        )
    if version not in READABLE_VERSIONS:
        raise UsageError(f"{refusal} of a version this claudechat reads")
    try:
        conversation = Conversation.from_document(parsed)
    except CorruptDocumentError as exc:
        raise UsageError(f"{refusal}: {exc}") from exc
    if conversation.id == str(parsed.get("parent_id") or "").lower():  # read as no parent
        # `show` said "forked from:" the conversation itself.
        raise UsageError(f"{refusal}: field 'parent_id' names the conversation itself")
    for sha in referenced_attachments(conversation):
        # Refused here, with the file named: the attachment store refused it only once the
        # files before this one were imported.
        if not is_digest(sha):
            raise UsageError(f"{refusal}: an attachment's digest {printable(sha)} is no sha256")
    try:  # one too long imported on SQLite, and PostgreSQL's column refused it at every save
        if valid_model(conversation.model) != conversation.model:  # spaces around it
            raise UsageError(f"not a model name: {printable(conversation.model)}")
    except UsageError as exc:
        raise UsageError(f"{refusal}: {exc}") from exc
    return Export(conversation, _carried_attachments(parsed.get("attachments", {}), location))


def _carried_attachments(carried: Any, location: str) -> dict[str, bytes]:
    import base64
    import binascii
    import hashlib

    if not isinstance(carried, dict):
        raise UsageError(f"{location}: its attachments are not a JSON object")
    found = {}
    for sha, entry in carried.items():
        data = entry.get("data") if isinstance(entry, dict) else None
        try:
            if not isinstance(data, str):
                raise ValueError("no data")
            found[sha] = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise UsageError(f"{location}: attachment {sha[:12]} is not base64 data") from exc
        if hashlib.sha256(found[sha]).hexdigest() != sha:
            raise UsageError(
                f"{location}: attachment {sha[:12]} does not match its digest (the file was "
                "changed or damaged)"
            )
    return found


def for_user(
    conversation: Conversation, user_id: str, renumbering: Renumbering | None
) -> Conversation:
    """The imported conversation, owned by the importing user; with new ids when `renumbering`
    is given, the tree kept (each parent id mapped to its message's new id)."""
    owned = replace(conversation, user_id=user_id)
    if renumbering is None:
        return owned
    source = conversation.user_id
    mapping = {m.id: renumbering.message_id(source, m.id) for m in owned.messages}
    messages = [
        replace(m, id=mapping[m.id], parent_id=mapping.get(m.parent_id or ""))
        for m in owned.messages
    ]
    return replace(
        owned,
        id=renumbering.conversation_id(source, conversation.id),
        messages=messages,
        head=mapping.get(owned.head or ""),
        set_at=dict(owned.set_at),
    )


# -- shared --------------------------------------------------------------------------------


def _facts(conversation: Conversation) -> list[tuple[str, str]]:
    facts = conversation_facts(conversation)
    hidden = len(conversation.leaves()) - 1
    if hidden > 0:
        facts.append(("other branches", f"{hidden} (in the JSON export)"))
    return facts
