"""Errors the user can act on. Each carries the exit code the CLI returns for it.

The CLI turns these into one line on stderr; anything else is a bug and gets a traceback.
"""

from __future__ import annotations


class ExitCode:
    OK = 0  # also when a reader closed stdout early (`| head -1`): not a failure
    NOT_FOUND = 1  # unknown or ambiguous id, corrupt or unreadable document
    USAGE = 2  # bad arguments, missing configuration, empty input
    API = 3  # Claude answered with an error or could not be reached
    CUT_OFF = 4  # the reply stopped before the end; what arrived was kept
    STORAGE = 5  # the database or blob store failed
    INTERRUPTED = 130  # Ctrl-C
    HANGUP = 129  # SIGHUP: the terminal closed
    TERMINATED = 143  # SIGTERM


class ClaudechatError(Exception):
    exit_code = ExitCode.NOT_FOUND

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(ClaudechatError):
    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    pass


class NotFoundError(ClaudechatError):
    exit_code = ExitCode.NOT_FOUND


class ConversationDeletedError(NotFoundError):
    """A save found the conversation deleted meanwhile (another session, a DELETE)."""


class CorruptDocumentError(ClaudechatError):
    exit_code = ExitCode.NOT_FOUND
    conversation_id: str | None = None  # the full id, set where the load resolved it

    def __init__(self, reason: str, location: str | None = None) -> None:
        where = f" ({location})" if location else ""
        super().__init__(f"conversation document is corrupt{where}: {reason}")
        self.reason = reason

    def name_the_copy_here(self) -> None:
        """This machine keeps a copy: the line said only that the document was corrupt."""
        self.message += (
            "; this machine keeps a copy, which may be older: `claudechat doctor` sets this "
            "document aside and puts the copy back"
        )


class NewerFormatError(CorruptDocumentError):
    def __init__(self, found: int, supported: int) -> None:
        ClaudechatError.__init__(
            self,
            f"conversation document has format {found}, newer than this claudechat "
            f"understands ({supported}); upgrade claudechat to read it",
        )
        self.reason = "newer format"


class MissingDocumentError(ClaudechatError):
    """A conversation's row is there and its document is not: the store answered, so it did
    not fail (exit 5 said it had); the document cannot be read, as a corrupt one cannot."""

    exit_code = ExitCode.NOT_FOUND
    conversation_id: str | None = None  # the full id, set where the load resolved it

    def __init__(self, missing: str, copy_here: bool = False) -> None:
        if copy_here:  # the only data left: say where it is, and how to store it again
            super().__init__(
                f"{missing}; this machine keeps a copy, which may be older: "
                "`claudechat doctor` puts it back in the store"
            )
        else:
            super().__init__(f"{missing}; `claudechat doctor` lists the conversations without one")


class StorageError(ClaudechatError):
    exit_code = ExitCode.STORAGE


class StoreRefusedError(StorageError):
    """The store answered, and refused this configuration: a wrong database password, user or
    name, an option it does not know, a missing bucket, S3 credentials it rejects. Still a
    StorageError, so a save falls back to the journal as in an outage; but waiting does not fix
    it, so it is said so ("fix ..."), and a command ends with the configuration's exit code: a
    chat said "pushed when the store is back" and exited 0."""

    exit_code = ExitCode.USAGE


class ApiError(ClaudechatError):
    """Claude could not answer. `retryable` says whether trying again later may help."""

    exit_code = ExitCode.API

    def __init__(
        self,
        message: str,
        retryable: bool = False,
        mid_stream: bool = False,
        *,
        status: int | None = None,
        retry_after: str | None = None,
        retry_in: float | None = None,
        timed_out: bool = False,
        unknown_model: bool = False,
        for_callers: str | None = None,
    ) -> None:
        super().__init__(message)
        # The message without the API's address (ANTHROPIC_BASE_URL's, which the person at the
        # terminal is helped by): what `serve` tells its callers, any token holder, while the
        # whole message goes to its log. None: the message names no address.
        self.for_callers = for_callers
        self.retryable = retryable
        # Claude does not know the model asked for (not merely an address that is not found).
        self.unknown_model = unknown_model
        # Raised by an error event inside a stream that had started, not by a refused request.
        self.mid_stream = mid_stream
        # What Claude answered, for front ends that pass it on (`serve` maps 429 and its
        # Retry-After through); None when no answer came.
        self.status = status
        self.retry_after = retry_after
        # Seconds to wait before asking again, as Claude said (retry-after-ms or retry-after).
        self.retry_in = retry_in
        self.timed_out = timed_out


class CredentialsRefusedError(ApiError):
    """Bedrock refused the AWS credentials (expired, unknown, badly signed): a setup problem
    as missing ones are, so the same exit code, found only once the request went out."""

    exit_code = ExitCode.USAGE


# The context budget, by every way to set it: `serve` has no --max-context-tokens, and its
# errors told API callers to use it.
BUDGET_SETTING = (
    "max_context_tokens (--max-context-tokens, CLAUDECHAT_MAX_CONTEXT_TOKENS or the config file)"
)


class ContextTooLargeError(UsageError):
    def __init__(self, message: str, beyond_window: bool = False) -> None:
        super().__init__(message)
        # Larger than the model's whole window: no budget can take it, only less can.
        self.beyond_window = beyond_window


class ReplyCutOffError(ClaudechatError):
    """The stream ended before message_stop. The partial text was kept, marked incomplete."""

    exit_code = ExitCode.CUT_OFF

    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out  # the stream went silent, rather than breaking


class Stopped(KeyboardInterrupt):
    """A reply stopped on purpose from another thread (serve: its client left, the server is
    shutting down). To the session, the same as Ctrl-C."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the process was, so it is handled as Ctrl-C is (what
    arrived is kept, marked interrupted, and saved); the process then exits with exit_code."""

    def __init__(self, reason: str, exit_code: int) -> None:
        super().__init__(reason)
        self.reason = reason
        # What a turn it stopped kept, as the session says it (None: no turn was under way).
        self.kept: str | None = None
        self.exit_code = exit_code
