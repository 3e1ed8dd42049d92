"""The one adapter between claudechat's types and the anthropic SDK.

It streams a reply for a context of ContextMessages as claudechat's neutral events, and turns
every SDK or transport failure into a claudechat error with one clear line (claude_errors.py).
Nothing outside these modules and claude_warmup.py imports anthropic.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from claudechat.api_blocks import api_blocks
from claudechat.blocks import Block, text_of
from claudechat.claude_errors import short_error, translate_errors
from claudechat.claude_setup import bedrock_model_id, check_credentials
from claudechat.conversation import Usage, replace_lone_surrogates
from claudechat.errors import ApiError, ReplyCutOffError, UsageError
from claudechat.events import (
    BlockDone,
    Event,
    Opened,
    Stop,
    TextDelta,
    ThinkingDelta,
    UsageUpdate,
)
from claudechat.stream_stops import StreamStops

if TYPE_CHECKING:
    from claudechat.memory import ContextMessage
    from claudechat.settings import Settings

DEFAULT_MAX_OUTPUT_TOKENS = 16_000
MODELS_LIST_SECONDS = 10.0  # the Models API answers in well under a second when it is up


def preload() -> threading.Thread:
    """Import the SDK in the background: it costs about a second, the first prompt must not wait."""

    def load() -> None:
        import anthropic  # noqa: F401

    thread = threading.Thread(target=load, name="preload-anthropic", daemon=True)
    thread.start()
    return thread


@dataclass
class Reply:
    """What one streamed request produced so far; complete only once message_stop arrived.

    `blocks` holds the finished content blocks in order; `open_blocks` the ones still
    arriving, by their index in the stream."""

    blocks: list[Block] = field(default_factory=list)
    open_blocks: dict[int, Block] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    complete: bool = False
    model: str | None = None
    citations: list[dict[str, Any]] = field(default_factory=list)  # passages of documents
    # Deltas of open blocks, joined when read: `block["text"] += delta` copied the whole
    # text so far for every token.
    pieces: dict[tuple[int, str], list[str]] = field(default_factory=dict)
    started: set[int] = field(default_factory=set)  # indexes a content_block_start opened

    @property
    def text(self) -> str:
        return text_of(self.content())

    def add_piece(self, index: int, key: str, piece: str) -> None:
        self.pieces.setdefault((index, key), []).append(piece)

    def settle(self) -> None:
        """Join the deltas received into their open blocks."""
        for (index, key), parts in self.pieces.items():
            block = self.open_blocks.get(index)
            if block is not None:
                block[key] += "".join(parts)
        self.pieces.clear()

    def content(self) -> list[Block]:
        """The blocks worth keeping: every finished one, and the text of an unfinished text
        block. Thinking cut short has no signature, so the API would refuse it back."""
        self.settle()
        kept = list(self.blocks)
        for index in sorted(self.open_blocks):
            block = self.open_blocks[index]
            if block["type"] == "text" and block["text"]:
                kept.append(dict(block))
        return kept

    def thinking(self) -> str:
        self.settle()
        return "".join(
            b["thinking"]
            for b in [*self.blocks, *self.open_blocks.values()]
            if b["type"] == "thinking"
        )


class Claude:
    def __init__(
        self,
        settings: Settings,
        max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS,
        client: Any = None,  # an SDK client made elsewhere (claude_warmup.py); else made here
    ):
        self.settings = settings
        self.max_output_tokens = max_output_tokens
        self._client: Any = client
        self.stops = StreamStops()

    @property
    def client(self) -> Any:
        if self._client is None:
            import anthropic  # noqa: F401  (the slow part, interruptible: not held)

            from claudechat.signals import held

            # Built and kept at once: a Ctrl-C in the 20 to 40 ms of its making left a client
            # half made, whose finalizer printed "Exception ignored in ...__del__" at exit.
            # (Not for Bedrock: finding AWS credentials may wait on the network.)
            bedrock = self.settings.provider == "bedrock"
            with contextlib.nullcontext() if bedrock else held():
                self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        import anthropic

        timeout = self._timeout()
        if self.settings.provider == "bedrock":
            try:
                return anthropic.AnthropicBedrock(
                    aws_region=self.settings.get("aws_region"),
                    aws_profile=self.settings.get("aws_profile"),
                    timeout=timeout,
                    max_retries=0,  # see below
                )
            except Exception as exc:  # botocore's ProfileNotFound, a missing region, ...
                raise UsageError(f"cannot set up Bedrock: {short_error(exc)}") from exc
        check_credentials(self.settings)
        try:
            # The session retries (chat.py), in a wait that a stop ends: the SDK's own retries
            # slept through a rate limit's retry-after, deaf to a client leaving or SIGTERM.
            return anthropic.Anthropic(timeout=timeout, max_retries=0)
        except ValueError as exc:  # e.g. a malformed ANTHROPIC_BASE_URL (a bad port)
            raise UsageError(f"ANTHROPIC_BASE_URL is not a valid URL: {short_error(exc)}") from exc
        except RuntimeError as exc:  # its credential discovery: no home directory, say
            # Raised inside the stream's guard, it was taken for a stream that broke (exit 4).
            raise UsageError(f"cannot set up the Anthropic client: {short_error(exc)}") from exc

    def _timeout(self) -> Any:
        import httpx2

        # The read timeout bounds the silence between two stream events: a stalled stream is
        # reported after stream_idle_timeout instead of the SDK's ten minutes.
        return httpx2.Timeout(10 * 60, connect=5.0, read=self.settings.stream_idle_timeout)

    def close(self) -> None:
        """Close the HTTP client now: left to the garbage collector at exit, its finalizer can
        be hit by a Ctrl-C and print 'Exception ignored in ...'."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    def model_id(self, model: str) -> str:
        if self.settings.provider != "bedrock":
            return model
        # The region the SDK's client settled on (the config file, the environment, or the AWS
        # profile): one read only the first two gave a region set in the profile alone the
        # wrong geography's inference profile (us. for eu-west-1).
        return bedrock_model_id(model, getattr(self.client, "aws_region", None), self.settings)

    def list_models(self) -> list[dict[str, Any]]:
        """Every model the account offers, all pages of the Models API, as plain JSON."""
        # A quick answer or none: a first turn waited for a slow list as long as for a silent
        # reply (stream_idle_timeout, 60 s); without it, the cached list or defaults serve.
        timeout = min(MODELS_LIST_SECONDS, self.settings.stream_idle_timeout)
        with translate_errors(self.settings, None):
            # No retries either: a failure is held for a while and the model assumed known
            # meanwhile (model_catalogue.py), while the SDK's retry-after waits held the first turn.
            answer = self.client.models.with_raw_response.list(limit=100, timeout=timeout)
            self._check_listed(answer.http_response)
            return [m.model_dump(mode="json") for m in answer.parse()]

    def stream(
        self,
        context: list[ContextMessage],
        model: str,
        system: str | None,
        reply: Reply,
        params: dict[str, Any] | None = None,
    ) -> Iterator[Event]:
        """Yield claudechat's stream events, filling `reply` as they come. `params` are the
        request parameters the model's capabilities allow (max_tokens, thinking, effort).

        Raises ApiError when Claude refuses or cannot be reached, ReplyCutOffError when the
        stream ends without message_stop; `reply` keeps whatever text arrived either way.
        """
        reply.model = model
        messages: list[dict[str, Any]] = [
            {"role": m.role, "content": api_blocks(m.content)} for m in context
        ]
        request: dict[str, Any] = {
            "model": self.model_id(model),
            "max_tokens": self.max_output_tokens,
            "messages": messages,
            **(params or {}),
        }
        if self.settings.provider == "bedrock":
            # Bedrock documents caching as a breakpoint on a content block; the newest one
            # caches the whole conversation before it, as the API's automatic caching does.
            last_block = messages[-1]["content"][-1]
            last_block["cache_control"] = {"type": "ephemeral"}
        else:
            # Top-level automatic caching: each turn reads the conversation so far from cache.
            request["cache_control"] = {"type": "ephemeral"}
        if system:
            request["system"] = replace_lone_surrogates(system)
        guard = translate_errors(self.settings, model, reply)
        with guard, self._events(request) as events:
            self._check_streamed(events.response)
            with self.stops.streaming(events.response) as stream:
                for event in events:
                    yield from _absorb(event, reply)
                    if reply.complete:
                        stream.finished()
        if not reply.complete:
            raise ReplyCutOffError("the reply was cut off before the end (the stream closed early)")

    def _events(self, request: dict[str, Any]) -> Any:
        """The stream of the raw events, each as the plain JSON the server sent (the SDK
        raises an `event: error` and transport failures, as messages.create does). Not the
        SDK's types: building its models cost about as much per event as the rest of the
        session (a union of models resolved by validation), on every word of every reply.
        Not its MessageStream either: that one also rebuilds a snapshot of the whole message
        and makes helper events for every delta, which Reply does here."""
        from anthropic import Stream

        return self.client.post(
            "/v1/messages",
            body={**request, "stream": True},
            cast_to=object,
            stream=True,
            stream_cls=Stream[object],
        )

    def _check_streamed(self, response: Any) -> None:
        """A server that answers a streaming request with one whole JSON message (some proxies
        do), or with a web page (a captive portal's or a proxy's login page), would otherwise
        look like a stream that ended before it began, and be asked again. Bedrock's streams
        are AWS event streams: a page there was retried, then read as a stream whose checksum
        did not match."""
        bedrock = self.settings.provider == "bedrock"
        stream_kind = "application/vnd.amazon.eventstream" if bedrock else "text/event-stream"
        kind = _content_type(response)
        if not kind or kind == stream_kind:
            return
        if kind == "application/json":
            what = "a whole JSON message"
        else:
            what = f"{kind[:60]}, not a stream of events: a proxy or a login page in the way?"
        raise ApiError(
            f"the server at {_base_url(self.client)} did not stream the reply (it answered "
            f"with {what}); claudechat needs a server that streams"
        )

    def _check_listed(self, response: Any) -> None:
        """A web page in place of the models list (a proxy's login page) failed inside the
        SDK's paging and read as a reply cut off (exit 4)."""
        kind = _content_type(response)
        if not kind or kind == "application/json":
            return
        raise ApiError(
            f"the server at {_base_url(self.client)} did not answer the list of models with "
            f"JSON (it answered with {kind[:60]}: a proxy or a login page in the way?)"
        )


def _content_type(response: Any) -> str:
    return str(response.headers.get("content-type", "")).partition(";")[0].strip().lower()


def _base_url(client: Any) -> str:
    from claudechat.settings import mask_url_password

    return mask_url_password(str(getattr(client, "base_url", "")).rstrip("/"))


def _absorb(event: Any, reply: Reply) -> Iterator[Event]:
    """One raw event (a JSON object, as sent) into `reply`, and claudechat's events for it."""
    if not isinstance(event, dict):
        return  # nothing claudechat reads: a server that is almost the API
    kind = event.get("type")
    if kind == "content_block_delta":
        delta = _object(event.get("delta"))
        if delta.get("type") == "citations_delta":
            reply.citations.append(_citation(_object(delta.get("citation"))))
        else:
            yield from _absorb_delta(_index(event), delta, reply)
    elif kind == "content_block_start":
        index = _index(event)
        reply.started.add(index)
        block = _neutral_block(_object(event.get("content_block")))
        if block is not None:
            reply.settle()  # a block started again at the same index keeps what came before
            reply.open_blocks[index] = block
    elif kind == "content_block_stop":
        reply.settle()
        done = reply.open_blocks.pop(_index(event), None)
        if done is not None:
            reply.blocks.append(done)
            yield BlockDone(done)
    elif kind == "message_start":
        reply.usage = _usage(_object(event.get("message")).get("usage"), Usage())
        yield Opened()
        yield UsageUpdate(reply.usage)
    elif kind == "message_delta":
        reason = _object(event.get("delta")).get("stop_reason")
        reply.stop_reason = reason if isinstance(reason, str) else None
        reply.usage = _usage(event.get("usage"), reply.usage)
        yield UsageUpdate(reply.usage)
    elif kind == "message_stop":
        reply.complete = True
        yield Stop(reply.stop_reason)


def _object(value: Any) -> dict[str, Any]:
    """A part of an event that should be a JSON object; an empty one when it is not."""
    return value if isinstance(value, dict) else {}


def _index(event: dict[str, Any]) -> int:
    index = event.get("index")
    if not isinstance(index, int) or isinstance(index, bool):
        raise StreamOrderError(f"an event without a content block's index: {event.get('type')}")
    return index


def _absorb_delta(index: int, delta: dict[str, Any], reply: Reply) -> Iterator[Event]:
    if index not in reply.started:
        # Events out of order, from a server that is almost the API: the stream cannot be
        # trusted further (the reply so far is kept, cut off).
        raise StreamOrderError(f"a delta for content block {index}, which never started")
    block = reply.open_blocks.get(index)
    kind = delta.get("type")
    if kind == "text_delta":
        text = _text(delta, "text")
        if block is None or block["type"] != "text":  # its block is not open as text: keep it
            reply.settle()  # what a block of another type already received stays with it
            reply.open_blocks[index] = {"type": "text", "text": ""}
        reply.add_piece(index, "text", text)
        yield TextDelta(text)
    elif kind == "thinking_delta" and block is not None and block["type"] == "thinking":
        thinking = _text(delta, "thinking")
        reply.add_piece(index, "thinking", thinking)
        yield ThinkingDelta(thinking)
    elif kind == "signature_delta" and block is not None and block["type"] == "thinking":
        reply.add_piece(index, "signature", _text(delta, "signature"))


def _text(part: dict[str, Any], key: str) -> str:
    value = part.get(key)
    return value if isinstance(value, str) else ""


class StreamOrderError(ValueError):
    pass


def _neutral_block(block: dict[str, Any]) -> Block | None:
    """A starting content block in claudechat's form; None for kinds it does not keep yet."""
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": _text(block, "text")}
    if kind == "thinking":
        return {"type": "thinking", "thinking": _text(block, "thinking"), "signature": ""}
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": _text(block, "data")}
    return None


def _citation(citation: dict[str, Any]) -> dict[str, Any]:
    """The parts of a citation worth showing and keeping: the passage and where it is."""
    found = {
        "cited_text": citation.get("cited_text", ""),
        "document_title": citation.get("document_title"),
        "start_page": citation.get("start_page_number"),
        "end_page": citation.get("end_page_number"),
    }
    return {key: value for key, value in found.items() if value is not None}


# Usage fields as the API names them, and as claudechat does. message_delta's usage is
# cumulative and any field may appear in it (input_tokens included), so the latest figure
# wins; a field a server leaves out or sends as null keeps what was known (0 = unknown).
_USAGE_FIELDS = (
    ("input_tokens", "input_tokens"),
    ("output_tokens", "output_tokens"),
    ("cache_read_input_tokens", "cache_read_tokens"),
    ("cache_creation_input_tokens", "cache_creation_tokens"),
)


def _usage(usage: Any, known: Usage) -> Usage:
    figures: dict[str, int] = {}
    for wire, ours in _USAGE_FIELDS:
        value = usage.get(wire) if isinstance(usage, dict) else None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            figures[ours] = value
        else:
            figures[ours] = getattr(known, ours)
    return Usage(**figures)
