"""The fake's Bedrock runtime: InvokeModel(WithResponseStream) as AWS answers it, SigV4 or a
bearer key, the body without model and stream, replies in AWS event-stream frames, errors named
as Bedrock names them. A mixin of the fake's request handler (anthropic_api.py), whose
ReplyStream (reply_stream.py) streams the events themselves.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from typing import TYPE_CHECKING, Any

from fakes.replies import LOGIN_PAGE, ErrorReply, Rejected, validate_messages

# The one anthropic_version the ARN-versioned models take through InvokeModel (Anthropic's
# Bedrock page); the SDK's own API version gets a 400 there.
BEDROCK_API_VERSION = "bedrock-2023-05-31"

if TYPE_CHECKING:
    from fakes.reply_stream import Sink


def eventstream_frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message; every header is string-typed (type 7)."""
    raw_headers = b""
    for name, value in headers.items():
        n, v = name.encode(), value.encode()
        raw_headers += struct.pack(">B", len(n)) + n + b"\x07" + struct.pack(">H", len(v)) + v
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(raw_headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw_headers + payload
    return message + struct.pack(">I", zlib.crc32(message))


# Bedrock names a mid-stream failure by one of the ResponseStream exception members.
_BEDROCK_STREAM_EXCEPTIONS = {
    "rate_limit_error": "throttlingException",
    "overloaded_error": "serviceUnavailableException",
    "api_error": "internalServerException",
    "invalid_request_error": "validationException",
    "timeout_error": "modelTimeoutException",
}

_BEDROCK_ERROR_TYPES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


class BedrockRuntime:
    """Bedrock's half of the handler; `_stream`, `_message`, `_reply_json` and `server` are the
    handler's own."""

    server: Any
    _stream: Any
    _whole_message: Any
    _message: Any
    _reply_json: Any
    _reply_raw: Any

    def _bedrock(
        self, headers: dict[str, str], body: Any, full_body: dict[str, Any], stream: bool
    ) -> None:
        fake = self.server.fake
        auth = headers.get("authorization", "")
        signed = auth.startswith("AWS4-HMAC-SHA256 Credential=") and "x-amz-date" in headers
        if not (signed or auth == f"Bearer {fake.api_key}"):
            kind = "MissingAuthenticationTokenException"
            self._bedrock_error(403, "Missing Authentication Token", kind)
            return
        try:
            if not isinstance(body, dict):
                raise Rejected(400, "ValidationException", "Malformed input request")
            if "anthropic_version" not in body:
                raise Rejected(400, "ValidationException", "anthropic_version: field required")
            if body["anthropic_version"] != BEDROCK_API_VERSION:
                # As Anthropic's Bedrock page warns of the SDK's own (2026-10-21) version.
                message = f"unsupported anthropic_version: {body['anthropic_version']}"
                raise Rejected(400, "ValidationException", message)
            for key in ("model", "stream"):
                if key in body:
                    raise Rejected(
                        400, "ValidationException", f"extraneous key [{key}] is not permitted"
                    )
            validate_messages(body)
        except Rejected as e:
            self._bedrock_error(400, e.message, "ValidationException")
            return

        body = full_body
        reply = fake._next_reply(body)
        if isinstance(reply, ErrorReply):
            generic = "InternalServerException" if reply.status >= 500 else "ValidationException"
            fallback = _BEDROCK_ERROR_TYPES.get(reply.status, generic)
            kind = reply.error_type if reply.error_type.endswith("Exception") else fallback
            self._bedrock_error(reply.status, reply.message, kind, reply.headers)
        elif reply.html_page:
            self._reply_raw("text/html; charset=utf-8", LOGIN_PAGE)
        elif stream:
            self._stream(reply, body, bedrock=True)
        else:
            self._reply_json(200, self._whole_message(reply, body, "msg_bdrk_"))

    def _frame(self, sink: Sink, event: dict[str, Any]) -> None:
        if event["type"] == "error":
            # Real Bedrock reports a mid-stream failure as an exception frame, named by one
            # of the ResponseStream members (camelCase), which botocore looks up verbatim.
            err = event["error"]
            kind = err["type"]
            if kind.endswith("Exception"):
                kind = kind[0].lower() + kind[1:]
            else:
                kind = _BEDROCK_STREAM_EXCEPTIONS.get(kind, "modelStreamErrorException")
            headers = {
                ":exception-type": kind,
                ":content-type": "application/json",
                ":message-type": "exception",
            }
            body = {"message": err["message"]}
        else:
            headers = {
                ":event-type": "chunk",
                ":content-type": "application/json",
                ":message-type": "event",
            }
            body = {"bytes": base64.b64encode(json.dumps(event).encode()).decode()}
        sink.write(eventstream_frame(headers, json.dumps(body).encode()))

    def _bedrock_error(
        self, status: int, message: str, kind: str, extra: dict[str, str] | None = None
    ) -> None:
        self._reply_json(status, {"message": message}, {"x-amzn-errortype": kind, **(extra or {})})
