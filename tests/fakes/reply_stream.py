"""The fake's streamed reply: a Reply's events (thinking, text deltas, citations, the usage and
stop) written as they come, with the faults a test scripts into them (a cut, a stall, a
malformed or stray event, an error event). A mixin of the fake's request handler
(anthropic_api.py); the events go out as SSE or, for Bedrock, as event-stream frames.
"""

from __future__ import annotations

import time
from typing import Any

from fakes.replies import Reply


class Sink:
    """Writes a response body with the framing chosen for it, one flushed piece at a time."""

    def __init__(self, handler: Any, chunked: bool) -> None:
        self._wfile = handler.wfile
        self._chunked = chunked

    def write(self, data: bytes) -> None:
        if self._chunked:
            data = b"%X\r\n%s\r\n" % (len(data), data)
        self._wfile.write(data)
        self._wfile.flush()

    def end(self) -> None:
        if self._chunked:
            self._wfile.write(b"0\r\n\r\n")
            self._wfile.flush()


class ReplyStream:
    """The streaming half of the handler; the rest (`_message`, `_usage`, `_sse`, `_frame`,
    `_common_headers` and the HTTP methods) is the handler's own."""

    _pinged = False
    _message: Any
    _usage: Any
    _sse: Any
    _frame: Any
    _common_headers: Any
    send_response: Any
    send_header: Any
    end_headers: Any
    close_connection: bool

    def _stream(self, reply: Reply, body: dict[str, Any], bedrock: bool) -> None:
        emit = self._frame if bedrock else self._sse
        cut = reply.cut_after is not None and reply.error_event is None
        # A close-delimited body ends "cleanly" at EOF; a chunked one cut short is an error.
        close_delimited = cut and reply.cut_mode == "close"
        self.send_response(200)
        self._common_headers()
        if bedrock:
            self.send_header("Content-Type", "application/vnd.amazon.eventstream")
            self.send_header("x-amzn-bedrock-content-type", "application/json")
        else:
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
        if close_delimited:
            self.send_header("Connection", "close")
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if cut:
            self.close_connection = True
        sink = Sink(self, chunked=not close_delimited)

        message = self._message(reply, body, "msg_bdrk_" if bedrock else "msg_")
        message.update(content=[], stop_reason=None, usage=self._usage(reply, body, 1))
        emit(sink, {"type": "message_start", "message": message})
        self._pinged = False
        budget = [len(reply.deltas()) + len(reply.thinking_deltas())]
        if reply.cut_after is not None:
            budget[0] = reply.cut_after
        index = self._stream_thinking(reply, emit, sink, budget)
        if index is None:
            self._end_early(reply, emit, sink)
            return
        self._start_block(emit, sink, index, {"type": "text", "text": ""})
        for i, text in enumerate(reply.deltas()[: budget[0]]):
            self._fault_before_delta(sink, emit, reply, i)
            if reply.delay:
                time.sleep(reply.delay)
            delta = {"type": "text_delta", "text": text}
            emit(sink, {"type": "content_block_delta", "index": index, "delta": delta})
        for citation in reply.citations or []:
            delta = {"type": "citations_delta", "citation": citation}
            emit(sink, {"type": "content_block_delta", "index": index, "delta": delta})
        if reply.error_event is not None or cut:
            self._end_early(reply, emit, sink)
            return

        emit(sink, {"type": "content_block_stop", "index": index})
        emit(
            sink,
            {
                "type": "message_delta",
                "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                "usage": (
                    {"output_tokens": reply.out_tokens()}
                    if reply.delta_usage is None
                    else reply.delta_usage
                ),
            },
        )
        stop: dict[str, Any] = {"type": "message_stop"}
        if bedrock:
            stop["amazon-bedrock-invocationMetrics"] = {
                "inputTokenCount": message["usage"]["input_tokens"],
                "outputTokenCount": reply.out_tokens(),
                "invocationLatency": 1,
                "firstByteLatency": 1,
            }
        emit(sink, stop)
        sink.end()

    def _start_block(self, emit: Any, sink: Sink, index: int, block: dict[str, Any]) -> None:
        emit(sink, {"type": "content_block_start", "index": index, "content_block": block})
        if not self._pinged:  # the real API pings once, after the first block starts
            emit(sink, {"type": "ping"})
            self._pinged = True

    def _end_early(self, reply: Reply, emit: Any, sink: Sink) -> None:
        if reply.error_event is not None:
            error_type, error_message = reply.error_event
            error = {"type": error_type, "message": error_message}
            emit(sink, {"type": "error", "error": error})
            sink.end()
        # else cut: no terminating chunk; the socket closes when the handler returns

    def _stream_thinking(
        self, reply: Reply, emit: Any, sink: Sink, budget: list[int]
    ) -> int | None:
        """Emit the thinking blocks; the index of the text block next, None when cut inside."""
        index = 0
        if reply.thinking is not None:
            start = {"type": "thinking", "thinking": "", "signature": ""}
            self._start_block(emit, sink, 0, start)
            for text in reply.thinking_deltas():
                if budget[0] <= 0:
                    return None  # cut (or failing) while thinking: no signature was sent
                budget[0] -= 1
                if reply.delay:
                    time.sleep(reply.delay)
                delta = {"type": "thinking_delta", "thinking": text}
                emit(sink, {"type": "content_block_delta", "index": 0, "delta": delta})
            signature = {"type": "signature_delta", "signature": reply.signature}
            emit(sink, {"type": "content_block_delta", "index": 0, "delta": signature})
            emit(sink, {"type": "content_block_stop", "index": 0})
            index = 1
        if reply.redacted is not None:
            block = {"type": "redacted_thinking", "data": reply.redacted}
            self._start_block(emit, sink, index, block)
            emit(sink, {"type": "content_block_stop", "index": index})
            index += 1
        return index

    def _fault_before_delta(self, sink: Sink, emit: Any, reply: Reply, index: int) -> None:
        if index == reply.malformed_after:
            sink.write(b"event: content_block_delta\ndata: {not json\n\n")
        if index == reply.unopened_block_after:
            delta = {"type": "text_delta", "text": "stray"}
            emit(sink, {"type": "content_block_delta", "index": 1, "delta": delta})
        if index == reply.stall_after:
            time.sleep(reply.stall_seconds)
        if index == reply.held_after and reply.release is not None:
            deadline = time.monotonic() + 60  # a test that never releases still ends
            while not reply.release.wait(0.2) and time.monotonic() < deadline:
                emit(sink, {"type": "ping"})
