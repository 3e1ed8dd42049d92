"""When a turn that failed is asked again, and how long after: a request refused for a while,
or a stream that broke before any text. ChatSession (chat.py) does the asking.
"""

from __future__ import annotations

from claudechat.claude_errors import LONGEST_RETRY_AFTER_SECONDS
from claudechat.errors import ApiError, ReplyCutOffError

# A request refused for a while (429, 529, 5xx, no connection) or a stream that breaks before
# any text is asked again, this many times in all: here, not in the SDK, whose waits nothing
# could end (a serve client leaving, shutdown).
MAX_ATTEMPTS = 3
RETRY_BACKOFF_SECONDS = 0.5

# The longest wait before asking again, by front end. A person in the REPL or running a pipe
# waits what Claude asks, up to a minute (a longer wait is theirs to choose).
LONGEST_WAIT_SECONDS = LONGEST_RETRY_AFTER_SECONDS
# An HTTP caller is given the refusal (a 429 with its Retry-After) instead: a server sitting on
# the request through Claude's wait outlived the caller's timeout (httpx's default is 5 s, and
# both waits of a turn fit in it at this bound) or told one that waited to wait as long again.
# A wait this short is still taken: the caller's own retry would cost it more.
LONGEST_WAIT_OVER_HTTP_SECONDS = 2.0


def retry_delay(
    error: ApiError | ReplyCutOffError,
    attempt: int,
    longest_wait: float = LONGEST_WAIT_SECONDS,
) -> float | None:
    """How long to wait before asking again; None when it is not worth it, or would take
    longer than `longest_wait` (the front end's). As the SDK did: retry-after when Claude
    gives one, else a backoff with jitter, so turns refused together do not come back
    together."""
    delay = _delay(error, attempt)
    return delay if delay is not None and delay <= longest_wait else None


def _delay(error: ApiError | ReplyCutOffError, attempt: int) -> float | None:
    import random

    backoff = RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1) * random.uniform(0.75, 1.0)
    if error.timed_out:
        # Silent for the whole stream_idle_timeout: asked twice more, a server that accepts and
        # never answers held a one-turn run for three times as long (3 minutes).
        return None
    if not isinstance(error, ApiError):
        return backoff  # cut off: the connection broke or closed early
    if not error.retryable:
        return None
    return error.retry_in or backoff


def nothing_arrived(cut_off: ReplyCutOffError) -> ApiError:
    """A stream that broke before any text: no reply could be had, and none is kept. Exit 4
    (and serve's reply_cut_off) promise the part that arrived; this is exit 3, as any other
    failure to answer is."""
    text = str(cut_off)
    for prefix in ("the reply was cut off before the end", "the reply was cut off"):
        if text.startswith(prefix):
            text = "the reply broke off before any text arrived" + text[len(prefix) :]
            break
    return ApiError(text, retryable=True, timed_out=cut_off.timed_out)
