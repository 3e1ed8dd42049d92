"""claudechat's errors as HTTP answers: one JSON shape, the status a client can act on.

Messages are the same one-liners the CLI prints, but where they would name places: a store's
outage (hosts, ports, buckets), a corrupt document (its location) and Claude's API unreached
or silent (its address) go to the log, the client gets the reason alone. They never hold a
secret (database URLs are masked where the error is made) nor any of the user's text.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from claudechat.errors import (
    ApiError,
    ClaudechatError,
    CorruptDocumentError,
    MissingDocumentError,
    NewerFormatError,
    NotFoundError,
    ReplyCutOffError,
    StorageError,
    StoreRefusedError,
    UsageError,
)

log = logging.getLogger("claudechat.serve")

STALE_COPY = (
    "the conversation store is unavailable, and this server's copy of the conversation may be "
    "older than the store's; nothing was saved or sent to Claude: retry when the store is back"
)


class StaleCopyError(StorageError):
    """A turn refused: the store is down and the server's copy of the conversation may be
    behind it (another host saved turns since). Continued from it, the conversation forked."""

    def __init__(self, reason: StorageError) -> None:
        super().__init__(f"{reason}; this server's copy may be older than the store's")


def error_body(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}, **extra}


def describe(error: BaseException) -> tuple[int, str, str, dict[str, str]]:
    """(status, type, message, headers) for an error a request ran into."""
    for note in getattr(error, "__notes__", ()):
        # What followed from it (the conversation going back to a model Claude knows): the
        # operator's to read, as the session's notices are.
        log.warning("%s", note)
    if isinstance(error, ApiError):
        return _api_error(error)
    if isinstance(error, ReplyCutOffError):
        if error.timed_out:
            return 504, "upstream_timeout", str(error), {}
        return 502, "reply_cut_off", str(error), {}
    if isinstance(error, NotFoundError):
        return 404, "not_found", str(error), {}
    if isinstance(error, UsageError):
        return 400, "invalid_request", str(error), {}
    if isinstance(error, NewerFormatError):
        # Not corrupt: written by a newer claudechat than this server's, which the operator
        # upgrades (the CLI says so too); the message names no location.
        log.warning("%s", error)
        return 500, "newer_format", str(error), {}
    if isinstance(error, CorruptDocumentError):
        # Where it is: the operator's to know. A condition of the data (`claudechat doctor`
        # lists it), not a defect of the server: one line, no traceback.
        log.warning("%s; `claudechat doctor` lists it", error)
        return 500, "corrupt_document", f"conversation document is corrupt: {error.reason}", {}
    if isinstance(error, MissingDocumentError):
        # Its message names where the document should be (a path, a bucket): the log's.
        log.warning("%s", error)
        message = "the conversation's document is missing from the store; see the server log"
        return 500, "missing_document", message, {}
    if isinstance(error, StoreRefusedError):
        # A schema to upgrade, a bucket gone, credentials refused: the store answered, and no
        # retry helps until the operator fixes it (it was "unavailable; retry later"). The
        # reason names hosts and buckets: the log's, as an outage's does.
        log.warning("%s", error)
        message = "the conversation store refuses the server's configuration; see the server log"
        return 503, "storage_refused", message, {}
    if isinstance(error, StaleCopyError):
        log.warning("storage unavailable: %s", error)
        return 503, "storage_unavailable", STALE_COPY, {}
    if isinstance(error, StorageError):
        # The operator's business (hosts, ports, buckets), and anyone may cause one: a token
        # is looked up in the database before it can be refused.
        log.warning("storage unavailable: %s", error)
        return 503, "storage_unavailable", "the conversation store is unavailable; retry later", {}
    if isinstance(error, ClaudechatError):
        return 500, "error", str(error), {}
    if isinstance(error, KeyboardInterrupt):  # the turn was stopped: its client left
        return 499, "client_closed_request", "the client left; what arrived is saved", {}
    log.error("unexpected error", exc_info=error)
    return 500, "internal_error", "internal error; see the server log", {}


def _api_error(error: ApiError) -> tuple[int, str, str, dict[str, str]]:
    # Claude's wait, passed on: serve leaves a long one to the caller (turn_retries), for a
    # 529 overloaded (a 502 here) as for a 429.
    headers = _retry_after(error)
    message = str(error)
    if error.for_callers is not None:
        # Where the API is (the operator's ANTHROPIC_BASE_URL, an internal host) is the log's:
        # any token holder got it in the answer.
        log.warning("%s", error)
        message = error.for_callers
    if error.status == 429:
        return 429, "rate_limited", message, headers
    if error.timed_out:
        return 504, "upstream_timeout", message, {}
    if error.unknown_model:
        # The model is unknown to Claude: the caller's to change (with "model"); a 502 would
        # invite the same request again.
        return 400, "unknown_model", message, {}
    return 502, "upstream_error", message, headers


def _retry_after(error: ApiError) -> dict[str, str]:
    """Claude's Retry-After as it came when HTTP allows it (whole seconds, or a date); else the
    wait the session went by (retry-after-ms, or "2.5") in whole seconds, rounded up: a 429
    that gave only milliseconds reached the caller with no wait, and "2.5" as it came."""
    given = error.retry_after
    if given and ((given.isascii() and given.isdigit()) or error.retry_in is None):
        return {"Retry-After": given}  # whole seconds, or a date
    if error.retry_in is not None:
        return {"Retry-After": str(max(0, math.ceil(error.retry_in)))}
    return {}
