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


def retry_delay(error: ApiError | ReplyCutOffError, attempt: int) -> float | None:
    """How long to wait before asking again; None when it is not worth it. As the SDK did:
    retry-after when Claude gives one (0 < s <= 60), else a backoff with jitter, so turns
    refused together do not come back together."""
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
    if not error.retry_in:
        return backoff
    return error.retry_in if error.retry_in <= LONGEST_RETRY_AFTER_SECONDS else None


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
