"""The one adapter between claudechat's types and the anthropic SDK.

It streams a reply for a context of ContextMessages as claudechat's neutral events, and turns
every SDK or transport failure into a claudechat error with one clear line (claude_errors.py).
Nothing outside these modules and claude_warmup.py imports anthropic.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from claudechat.api_blocks import api_blocks
from claudechat.claude_errors import short_error, translate_errors
from claudechat.claude_setup import bedrock_model_id, check_credentials, client_region
from claudechat.claude_stream import Reply, absorb
from claudechat.conversation import replace_lone_surrogates
from claudechat.errors import ApiError, ReplyCutOffError, UsageError
from claudechat.events import Event
from claudechat.stream_stops import StreamStops

if TYPE_CHECKING:
    from claudechat.memory import ContextMessage
    from claudechat.settings import Settings

DEFAULT_MAX_OUTPUT_TOKENS = 16_000
MODELS_LIST_SECONDS = 10.0  # the Models API answers in well under a second when it is up
MAX_MODEL_PAGES = 20  # of 100 models each: the API lists a few dozen


def preload() -> threading.Thread:
    """Import the SDK in the background: it costs about a second, the first prompt must not wait."""

    def load() -> None:
        import anthropic  # noqa: F401

    thread = threading.Thread(target=load, name="preload-anthropic", daemon=True)
    thread.start()
    return thread


# anthropic_version in an InvokeModel body (Anthropic's "Claude on Amazon Bedrock (Opus 4.6
# and earlier)", 2026-11-28).
BEDROCK_API_VERSION = "bedrock-2023-05-31"


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
                    # None unless set and not blank (the SDK took "" and " " for a region):
                    # the SDK then looks where `config` does, in the same order.
                    aws_region=client_region(self.settings),
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
        # reported after stream_idle_timeout instead of the SDK's ten minutes. The connect
        # timeout is a setting: a fixed 5 s was too short for a slow link, and too long to wait
        # three times over for a host that answers nothing.
        return httpx2.Timeout(
            10 * 60,
            connect=self.settings.connect_timeout,
            read=self.settings.stream_idle_timeout,
        )

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
            return _every_page(answer.parse())

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
            # The SDK sends its own API version (2026-10-21 in anthropic 2.14) to Bedrock too,
            # which the ARN-versioned models claudechat calls through InvokeModel do not
            # support: Anthropic's Bedrock page warns such requests may fail with a 400. The
            # body's version is the one InvokeModel documents for them.
            request["anthropic_version"] = BEDROCK_API_VERSION
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
                    yield from absorb(event, reply)
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

        body = {**request, "stream": True}
        # Sent as the bytes the SDK would make of it: its own preparation first walks and
        # copies the whole context, every message of the conversation on every turn (0.1 ms
        # a turn at 41 messages, 0.6 ms at 201: bench_request_body.py). Bedrock's client
        # rewrites the body (the model goes into the URL), so it gets the body itself.
        sent = {"body": body} if self.settings.provider == "bedrock" else {"content": _json(body)}
        return self.client.post(
            "/v1/messages", **sent, cast_to=object, stream=True, stream_cls=Stream[object]
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
            f"with {what}); claudechat needs a server that streams",
            for_callers=f"Claude's API did not stream the reply (it answered with {what})",
        )

    def _check_listed(self, response: Any) -> None:
        """A web page in place of the models list (a proxy's login page) failed inside the
        SDK's paging and read as a reply cut off (exit 4)."""
        kind = _content_type(response)
        if not kind or kind == "application/json":
            return
        answered = f"(it answered with {kind[:60]}: a proxy or a login page in the way?)"
        raise ApiError(
            f"the server at {_base_url(self.client)} did not answer the list of models with "
            f"JSON {answered}",
            for_callers=f"Claude's API did not answer the list of models with JSON {answered}",
        )


def _every_page(page: Any) -> list[dict[str, Any]]:
    """The models of every page, as plain JSON (an entry of an odd type printed pydantic's
    warnings). A server that hands out one page again, its last id unchanged (a proxy's bug),
    was asked for the next one forever, a thousand times a second: a page that brings no new
    model ends the list, as does MAX_MODEL_PAGES."""
    models: dict[Any, dict[str, Any]] = {}
    for _ in range(MAX_MODEL_PAGES):
        fresh = [model for model in page.data if model.id not in models]
        for model in fresh:
            models[model.id] = model.model_dump(mode="json", warnings=False)
        if not fresh or not page.has_next_page():
            break
        page = page.get_next_page()
    return list(models.values())


def _content_type(response: Any) -> str:
    return str(response.headers.get("content-type", "")).partition(";")[0].strip().lower()


def _base_url(client: Any) -> str:
    from claudechat.secret_masking import mask_url_password

    return mask_url_password(str(getattr(client, "base_url", "")).rstrip("/"))


def _json(body: dict[str, Any]) -> bytes:
    """A request body encoded as the SDK encodes one (compact UTF-8, no NaN)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
