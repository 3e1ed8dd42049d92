"""How a failed request or stream reads: every SDK and transport failure as a claudechat
error with one clear line. Part of the adapter (claude.py): it alone looks at SDK types."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from claudechat.errors import ApiError, CredentialsRefusedError, ReplyCutOffError, UsageError

if TYPE_CHECKING:
    from claudechat.claude_stream import Reply
    from claudechat.settings import Settings


class translate_errors:
    """`model`: the model asked for; None when the request lists the models."""

    def __init__(self, settings: Settings, model: str | None, reply: Reply | None = None) -> None:
        self.settings = settings
        self.model = model
        self.reply = reply

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: BaseException | None, _tb: Any) -> None:
        if not isinstance(error, Exception):  # KeyboardInterrupt, GeneratorExit: not ours
            return
        if isinstance(error, (ApiError, ReplyCutOffError, UsageError)):
            return
        translated = describe_failure(error, self.settings, self.model)
        if translated is None and self.model is None:
            # The models list is no stream: an answer it cannot read was called a reply cut
            # off (exit 4).
            where = "Bedrock" if self.settings.provider == "bedrock" else "the Anthropic API"
            translated = ApiError(
                f"cannot read the list of models from {where} ({short_error(error)})"
            )
        if translated is None:
            # Anything else the stream raises (an event that is not JSON, events out of order
            # from a server that is almost the API) ends the reply; it is not a crash.
            translated = ReplyCutOffError(
                f"the reply was cut off: the stream could not be read ({short_error(error)})"
            )
        if isinstance(translated, ApiError) and translated.mid_stream and self._text_arrived():
            # An error event after text: what arrived is kept, so the reply is cut off.
            translated = ReplyCutOffError(f"the reply was cut off: {translated}")
        raise translated from error

    def _text_arrived(self) -> bool:
        return self.reply is not None and bool(self.reply.text)


def describe_failure(
    error: BaseException, settings: Settings, model: str | None
) -> Exception | None:
    import anthropic
    import httpx2

    where = "Bedrock" if settings.provider == "bedrock" else "the Anthropic API"
    if isinstance(error, anthropic.APITimeoutError):
        if isinstance(error.__cause__, httpx2.ConnectTimeout):
            # Not even connected in time (a flaky network): asked again, as a refused one is.
            # The setting named: a slow link's fix is to raise it, which nothing said.
            within = f"no connection within connect_timeout, {settings.connect_timeout:g} s"
            return _unreached_error(error, settings, where, within)
        # Connected, then silent for the whole timeout (or the request not taken in time):
        # asking again would cost as long again.
        return _unanswered(error, settings, where)
    if isinstance(error, anthropic.APIConnectionError):
        # Raised while asking, before any reply: nothing arrived, so nothing was cut off.
        cause = error.__cause__ or error
        if isinstance(cause, (httpx2.UnsupportedProtocol, httpx2.InvalidURL)):
            return UsageError(f"the API's base URL is not valid: {short_error(cause)}")
        return _unreached_error(error, settings, where, short_error(cause), _plain_reason(cause))
    if isinstance(error, httpx2.InvalidURL):
        return UsageError(f"the API's base URL is not valid: {short_error(error)}")
    if isinstance(error, httpx2.TimeoutException):  # mid-stream: silence for too long
        idle = settings.stream_idle_timeout
        return ReplyCutOffError(
            f"the reply was cut off: {where} sent nothing for {idle:g} s "
            "(the stream_idle_timeout setting)",
            timed_out=True,
        )
    if isinstance(error, httpx2.TransportError):  # mid-stream: the SDK does not wrap these
        return ReplyCutOffError(
            f"the reply was cut off: the connection broke ({short_error(error)})"
        )
    if isinstance(error, anthropic.APIStatusError):
        wait = retry_in(error.response.headers)
        refused = _refused_credentials(error) if settings.provider == "bedrock" else None
        if refused is not None:
            return CredentialsRefusedError(refused, status=error.status_code)
        if error.status_code == 401 and settings.provider != "bedrock":
            # A key the API refuses is set up wrong, as a missing one is (exit 2, as Bedrock's
            # refused credentials are); it was exit 3, as a failed reply.
            message = _status_message(error, where, model, wait)
            return CredentialsRefusedError(message, status=401)
        if _model_not_enabled(error, settings):
            return ApiError(
                f"{where} has not enabled model {model!r} for this account "
                f"({error.status_code}): {_error_detail(error)}; request access to it in the "
                "Bedrock console (Model access)",
                status=error.status_code,
            )
        unknown_model = model is not None and _names_unknown_model(error, settings)
        if error.status_code == 404 and not unknown_model:
            return _not_found(error, where)
        message = _status_message(error, where, model, wait)
        return ApiError(
            message,
            for_callers=_status_for_callers(error, message),
            unknown_model=unknown_model,
            retryable=_retryable(error),
            mid_stream=error.status_code == 200,
            status=error.status_code,
            retry_after=error.response.headers.get("retry-after"),
            retry_in=wait,
        )
    if isinstance(error, anthropic.AnthropicError):
        return ApiError(f"{where} failed: {short_error(error)}")
    if settings.provider == "bedrock":
        from botocore.exceptions import BotoCoreError

        if isinstance(error, BotoCoreError):  # a missing profile, an unknown region, ...
            return UsageError(f"cannot set up Bedrock: {short_error(error)}")
    if isinstance(error, RuntimeError) and "AWS credentials" in str(error):
        # The Bedrock client signs each request and says so this way when it has nothing.
        return UsageError(
            "no AWS credentials for Bedrock: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or run `aws sso login`)"
        )
    return None


# A longer retry-after is the user's to wait out, not a turn's: said, not slept through.
LONGEST_RETRY_AFTER_SECONDS = 60.0


def retry_in(headers: Any) -> float | None:
    """How long Claude asks us to wait: retry-after-ms, else retry-after in seconds or as an
    HTTP date (RFC 9110), as the SDK reads them."""
    try:
        return max(0.0, float(headers.get("retry-after-ms", "")) / 1000)
    except ValueError:
        pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import time
    from email.utils import parsedate_to_datetime

    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _status_for_callers(error: Any, message: str) -> str | None:
    """What serve's callers are told of a refusal whose words are not the API's own (no error
    JSON: a proxy's page, which may name its hosts): the message without them, which the log
    keeps. None: the words are the API's error, for the caller as for the terminal."""
    if _api_words(error) is not None:
        return None
    detail = _error_detail(error)
    return message.replace(detail, "its answer is in the server's log") if detail else None


def _status_message(error: Any, where: str, model: str | None, wait: float | None) -> str:
    status = error.status_code
    detail = _error_detail(error)
    # The models list was "model '(models list)'".
    asked = "the list of models" if model is None else f"model {model!r}"
    if status == 401:
        return f"{where} rejected the credentials (401): check ANTHROPIC_API_KEY"
    if status == 403:
        return f"{where} refused access to {asked} (403): {detail}"
    if status == 404 or _invalid_model_id(error):
        return f"{where} does not know {asked} ({status}): {detail}"
    # 429 and 529 say the API's own words too, as the others do: which limit was reached
    # (tokens or requests a minute, a day's spend) was dropped.
    if status == 429:
        if wait and wait > LONGEST_RETRY_AFTER_SECONDS:  # not waited for: the user is told
            return (
                f"{where} is rate limiting requests (429; it asks to wait {wait:.0f} s): {detail}"
            )
        return f"{where} is rate limiting requests (429): {detail}"
    if status == 529:
        return f"{where} is overloaded (529): {detail}"
    if status >= 500:
        return f"{where} had a server error ({status}): {detail}"
    if status == 200:
        # An `event: error` inside a stream that had started fine.
        return f"{where} reported an error mid-reply: {detail}"
    return f"{where} rejected the request for {asked} ({status}): {detail}"


def _names_unknown_model(error: Any, settings: Settings) -> bool:
    """A 404 about the model ("model: claude-..." from the API; any from Bedrock, whose
    address is its region's), not one for an address with no Messages API behind it; or
    Bedrock's 400 for an invalid model id."""
    if error.status_code != 404:
        return _invalid_model_id(error)
    return settings.provider == "bedrock" or "model" in _error_detail(error).lower()


def _invalid_model_id(error: Any) -> bool:
    """Bedrock's answer to a model id it has never heard of (a typo): a 400 ValidationException
    "The provided model identifier is invalid.", which was taken for a request it rejected,
    and the model kept for every later turn to fail on."""
    detail = _error_detail(error).lower()
    return error.status_code == 400 and "model identifier is invalid" in detail


# Bedrock's kinds of error (its x-amzn-errortype header) for credentials it cannot use.
_EXPIRED_CREDENTIALS = {"ExpiredTokenException", "ExpiredToken"}
_INVALID_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
}


def _refused_credentials(error: Any) -> str | None:
    """What to do when Bedrock refused the credentials themselves, not access to a model:
    all of them read "Bedrock refused access to model ..." (exit 3), which sent people to
    their model access settings for an expired SSO session."""
    kind = str(error.response.headers.get("x-amzn-errortype", "")).partition(":")[0]
    detail = _error_detail(error)
    if kind == "AccessDeniedException" and "bearer token" in detail.lower():
        return (
            f"Bedrock refused the API key in AWS_BEARER_TOKEN_BEDROCK ({error.status_code} "
            f"{kind}: {detail}): set it to a valid key"
        )
    if kind in _EXPIRED_CREDENTIALS:
        state, fix = "have expired", "refresh them (`aws sso login`, or new keys for the profile)"
    elif kind in _INVALID_CREDENTIALS:
        state, fix = (
            "are not valid",
            "check AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(or run `aws sso login`)",
        )
    else:
        return None
    why = f"{error.status_code} {kind}: {detail}"
    return f"Bedrock refused the AWS credentials: they {state} ({why}); {fix}"


def _model_not_enabled(error: Any, settings: Settings) -> bool:
    """Bedrock's 404 for a model the account has not been granted ("Model use case details
    have not been submitted for this account"): taken for an unknown model, it sent the
    conversation back to another model, when only asking AWS for access helps. Its older
    answer, a 403 AccessDeniedException "You don't have access to the model with the
    specified model ID.", read as a bare refusal with no word of what to do."""
    if settings.provider != "bedrock":
        return False
    detail = _error_detail(error).lower()
    if error.status_code == 404:
        return "use case" in detail
    return error.status_code == 403 and "access to the model" in detail


def _unreached(error: Any, settings: Settings, where: str) -> str:
    """Where a connection failed: the address too when one was set, which a refused
    connection did not name (a 404 there does). The SDK's connection errors always carry
    their request; its URL's netloc holds no user or password."""
    import os

    setting = (
        "ANTHROPIC_BEDROCK_BASE_URL" if settings.provider == "bedrock" else "ANTHROPIC_BASE_URL"
    )
    if not os.environ.get(setting):
        return where
    url = error.request.url
    return f"{where} at {url.scheme}://{url.netloc.decode()}, set by {setting}"


def _unreached_error(
    error: Any, settings: Settings, where: str, why: str, why_for_callers: str | None = None
) -> ApiError:
    """No connection: the address named for the terminal, not for serve's callers, who are
    given `why_for_callers` where `why` may name a host (a certificate's, a proxy's)."""
    unreached = _unreached(error, settings, where)
    return ApiError(
        f"cannot reach {unreached} ({why})",
        retryable=True,
        for_callers=f"cannot reach {where} ({why_for_callers or why})"
        if unreached != where
        else None,
    )


def _plain_reason(error: BaseException) -> str:
    """Why a connection failed, without the names its text may hold ("certificate is not
    valid for 'llm-proxy.internal'"): the system's words for it, or its kind."""
    import ssl

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return "a TLS failure"
        if isinstance(seen, OSError) and isinstance(seen.strerror, str):
            return seen.strerror  # a lookup's too ("Name or service not known"), not its code's
        seen = seen.__cause__ or seen.__context__
    return "the connection failed"


def _unanswered(error: Any, settings: Settings, where: str) -> ApiError:
    """A server that took the connection and then said nothing: named with its address, as a
    refused one is, and with how long it was waited for and what bounds that wait. "did not
    answer in time" alone left a silent proxy at ANTHROPIC_BASE_URL a mystery, its wait too.
    serve's callers are told the wait without the address."""
    unreached = _unreached(error, settings, where)
    failed = _silence(error, settings)
    if unreached == where:
        return ApiError(f"{where} {failed}", retryable=True, timed_out=True)
    # "..., set by ANTHROPIC_BASE_URL," before its verb
    return ApiError(
        f"{unreached}, {failed}", retryable=True, timed_out=True, for_callers=f"{where} {failed}"
    )


def _silence(error: Any, settings: Settings) -> str:
    """What a silent server did not do, and within how long. The wait is the request's own
    (the models list has a shorter one than a reply)."""
    import httpx2

    cause = error.__cause__
    limits = error.request.extensions.get("timeout", {})
    if isinstance(cause, httpx2.WriteTimeout) and limits.get("write") is not None:
        return f"did not take the request within {limits['write']:g} s"
    waited = limits.get("read")
    if not isinstance(cause, httpx2.ReadTimeout) or waited is None:
        return "did not answer in time"
    # A wait shorter than the setting is the models list's own limit, no setting's.
    bound = " (the stream_idle_timeout setting)" if waited == settings.stream_idle_timeout else ""
    return f"did not answer within {waited:g} s{bound}"


def _not_found(error: Any, where: str) -> ApiError:
    """A 404 for an address with no Messages API behind it: the address named, but not to
    serve's callers."""
    from claudechat.secret_masking import mask_url_password

    address = mask_url_password(str(getattr(error.request, "url", ""))).partition("?")[0]
    detail, fix = _error_detail(error), "check ANTHROPIC_BASE_URL"
    return ApiError(
        f"{where} answered 404 (not found) at {address}: {detail}; {fix}",
        status=404,
        # Not even the detail: a server that is not the API may echo the address's path.
        for_callers=f"{where} answered 404 (not found); {fix}",
    )


def _retryable(error: Any) -> bool:
    if error.status_code == 200:  # an error event mid-stream: overloaded and the like
        return _error_kind(error) in TRANSIENT_ERROR_KINDS
    should = error.response.headers.get("x-should-retry")  # the API's own word, as the SDK
    if should in ("true", "false"):
        return should == "true"
    return bool(error.status_code in (408, 409, 429) or error.status_code >= 500)


TRANSIENT_ERROR_KINDS = {
    "overloaded_error",
    "api_error",
    "rate_limit_error",
    # Bedrock's names for the same faults.
    "throttlingException",
    "serviceUnavailableException",
    "internalServerException",
    "modelStreamErrorException",
}


def _error_kind(error: Any) -> str | None:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("type"), str):
            return str(inner["type"])
    return None


def _error_detail(error: Any) -> str:
    """The server's own words, without the full stop that ends them: claudechat's messages
    go on after them ("...; retrying in 2 s"), which read "...again.; retrying"."""
    return _server_words(error).rstrip().removesuffix(".")


def _server_words(error: Any) -> str:
    words = _api_words(error)
    return words if words is not None else short_error(error)


def _api_words(error: Any) -> str | None:
    """The message of an error body in JSON, as the API sends; None for any other body."""
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            kind = inner.get("type")
            return f"{kind}: {inner['message']}" if kind else str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    return None


def short_error(error: BaseException) -> str:
    from claudechat.secret_masking import mask_url_password

    text = mask_url_password(str(error)).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]
