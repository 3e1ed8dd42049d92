"""The fake Messages API, checked against the real anthropic SDK (no mocking); its Bedrock
runtime: test_fake_bedrock.py."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest

try:
    from fakes.anthropic_api import ErrorReply, FakeAnthropic, Reply
except ImportError:  # tests/ became a package
    from tests.fakes.anthropic_api import ErrorReply, FakeAnthropic, Reply

MODEL = "claude-sonnet-4-6"
HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeAnthropic) -> FakeAnthropic:
    server.reset()
    return server


@pytest.fixture
def client(fake: FakeAnthropic) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test-key", base_url=fake.base_url, max_retries=0)


def stream(
    client: anthropic.Anthropic | anthropic.AnthropicBedrock,
    messages: list[dict[str, Any]] = HI,
    model: str = MODEL,
    extra_body: dict[str, Any] | None = None,
) -> tuple[list[str], anthropic.types.Message]:
    with client.messages.stream(
        model=model, max_tokens=100, messages=messages, extra_body=extra_body
    ) as s:
        deltas = list(s.text_stream)
        return deltas, s.get_final_message()


def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict, bytes]:
    """A raw request, for what the SDK would not send."""
    req = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


# -- Messages API ---------------------------------------------------------------------------


def test_stream_yields_queued_text_and_usage(fake: FakeAnthropic, client: anthropic.Anthropic):
    fake.queue(Reply("Hello there, world!", input_tokens=42, cache_read_input_tokens=7))

    deltas, message = stream(client)

    assert deltas == ["Hello ", "there, ", "world!"]
    assert message.content[0].text == "Hello there, world!"
    assert message.stop_reason == "end_turn"
    assert message.model == MODEL
    assert message.id.startswith("msg_")
    assert message.usage.input_tokens == 42
    assert message.usage.output_tokens == len("Hello there, world!") // 4
    assert message.usage.cache_read_input_tokens == 7
    [request] = fake.requests
    assert request.path == "/v1/messages"
    assert request.body["messages"] == HI
    assert request.body["stream"] is True
    assert request.headers["authorization"] == "Bearer test-key"
    assert "anthropic-version" in request.headers


def test_explicit_chunks_and_stop_reason(fake: FakeAnthropic, client: anthropic.Anthropic):
    fake.queue(Reply("ab", chunks=["a", "b"], output_tokens=99, stop_reason="max_tokens"))

    deltas, message = stream(client)

    assert deltas == ["a", "b"]
    assert (message.stop_reason, message.usage.output_tokens) == ("max_tokens", 99)


def test_wire_format_is_the_real_sse_sequence(fake: FakeAnthropic):
    fake.queue(Reply("one two"))
    headers = {"x-api-key": "test-key", "anthropic-version": "2023-06-01"}
    body = {"model": MODEL, "max_tokens": 10, "messages": HI, "stream": True}

    status, resp_headers, raw = post(f"{fake.base_url}/v1/messages", body, headers)

    assert status == 200
    assert resp_headers["Content-Type"].startswith("text/event-stream")
    assert resp_headers["request-id"].startswith("req_")
    events = [block.split("\n") for block in raw.decode().strip().split("\n\n")]
    names = [lines[0].removeprefix("event: ") for lines in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    data = [json.loads(lines[1].removeprefix("data: ")) for lines in events]
    assert [d["type"] for d in data] == names
    start = data[0]["message"]
    assert (start["stop_reason"], start["content"], start["usage"]["output_tokens"]) == (
        None,
        [],
        1,
    )
    assert data[3]["delta"] == {"type": "text_delta", "text": "one "}
    assert data[6]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}


def test_empty_queue_echoes_the_last_user_message(fake: FakeAnthropic, client: anthropic.Anthropic):
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "se"}, {"type": "text", "text": "cond"}],
        },
    ]

    deltas, message = stream(client, messages)

    assert "".join(deltas) == "echo: second"
    assert message.stop_reason == "end_turn"


def test_non_streaming_create(fake: FakeAnthropic, client: anthropic.Anthropic):
    fake.queue(Reply("whole"))

    message = client.messages.create(model=MODEL, max_tokens=10, messages=HI)

    assert (message.content[0].text, message.stop_reason) == ("whole", "end_turn")


def test_close_cut_ends_silently_without_stop_reason(
    fake: FakeAnthropic, client: anthropic.Anthropic
):
    fake.queue(Reply("a b c d", cut_after=2, cut_mode="close"))

    deltas, message = stream(client)

    assert deltas == ["a ", "b "]
    assert message.stop_reason is None


def test_abort_cut_raises_remote_protocol_error(fake: FakeAnthropic, client: anthropic.Anthropic):
    fake.queue(Reply("a b c d", cut_after=2, cut_mode="abort"))
    seen: list[str] = []

    # Raised by the SDK's HTTP layer as is: not an anthropic.APIConnectionError.
    with (
        pytest.raises(httpx2.RemoteProtocolError),
        client.messages.stream(model=MODEL, max_tokens=100, messages=HI) as s,
    ):
        seen.extend(s.text_stream)

    assert seen == ["a ", "b "]


def test_error_event_raises_api_status_error(fake: FakeAnthropic, client: anthropic.Anthropic):
    fake.queue(Reply("a b c", cut_after=1, error_event=("overloaded_error", "Overloaded")))

    with pytest.raises(anthropic.APIStatusError) as info:
        stream(client)

    assert info.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }


def test_error_reply_maps_to_sdk_exception(fake: FakeAnthropic, client: anthropic.Anthropic):
    fake.queue(
        ErrorReply(429, "rate_limit_error", "slow down", {"retry-after": "0"}),
        ErrorReply(529, "overloaded_error"),
    )

    with pytest.raises(anthropic.RateLimitError) as info:
        stream(client)
    assert info.value.response.headers["retry-after"] == "0"
    assert info.value.body["error"]["message"] == "slow down"
    assert info.value.request_id.startswith("req_")
    with pytest.raises(anthropic.OverloadedError):
        stream(client)


def test_sdk_retries_against_the_script(fake: FakeAnthropic):
    # "retry-after: 0" would not help: the SDK ignores non-positive waits and backs off ~0.5 s.
    fake.queue(ErrorReply(429, "rate_limit_error", headers={"retry-after-ms": "10"}), Reply("ok"))
    client = anthropic.Anthropic(api_key="test-key", base_url=fake.base_url, max_retries=1)

    deltas, _ = stream(client)

    assert deltas == ["ok"]
    assert len(fake.requests) == 2


def test_wrong_key_is_401(fake: FakeAnthropic):
    fake.queue(Reply("not consumed"))
    client = anthropic.Anthropic(api_key="wrong", base_url=fake.base_url, max_retries=0)

    with pytest.raises(anthropic.AuthenticationError) as info:
        stream(client)

    assert info.value.body["error"] == {
        "type": "authentication_error",
        "message": "invalid x-api-key",
    }
    assert info.value.body["request_id"].startswith("req_")
    assert len(fake.requests) == 1  # rejected requests are recorded too


def test_x_api_key_accepted_and_version_required(fake: FakeAnthropic):
    url = f"{fake.base_url}/v1/messages"
    body = {"model": MODEL, "max_tokens": 10, "messages": HI}

    status, _, raw = post(url, body, {"x-api-key": "test-key", "anthropic-version": "2023-06-01"})
    assert status == 200
    assert json.loads(raw)["content"][0]["text"] == "echo: Hi"

    status, _, raw = post(url, body, {"x-api-key": "test-key"})
    assert status == 400
    assert json.loads(raw)["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("messages", "fragment"),
    [
        ([], "at least one message"),
        ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "alternate"),
        ([{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}], "first"),
        ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "final"),
        ([{"role": "user", "content": ""}], "non-empty"),
        ([{"role": "user", "content": [{"type": "text", "text": ""}]}], "non-empty"),
        ([{"role": "system", "content": "a"}], "role"),
    ],
)
def test_invalid_context_is_400(
    fake: FakeAnthropic, client: anthropic.Anthropic, messages: list[dict[str, Any]], fragment: str
):
    fake.queue(Reply("kept for the next valid request"))

    with pytest.raises(anthropic.BadRequestError) as info:
        stream(client, messages)

    assert info.value.body["error"]["type"] == "invalid_request_error"
    assert fragment in info.value.body["error"]["message"]
    assert "".join(stream(client)[0]) == "kept for the next valid request"


def test_missing_max_tokens_or_model_is_400(fake: FakeAnthropic, client: anthropic.Anthropic):
    with pytest.raises(anthropic.BadRequestError, match="max_tokens"):
        client.post("/v1/messages", body={"model": MODEL, "messages": HI}, cast_to=object)
    with pytest.raises(anthropic.BadRequestError, match="model"):
        client.post("/v1/messages", body={"max_tokens": 5, "messages": HI}, cast_to=object)


def test_a_reply_asked_for_whole_takes_as_long_as_its_stream(
    fake: FakeAnthropic, client: anthropic.Anthropic
):
    """A bench comparing the two must not find the whole message free of the model's time."""
    fake.queue(Reply("a b c d e", delay=0.06))

    started = time.monotonic()
    message = client.messages.create(model=MODEL, max_tokens=10, messages=HI)

    assert time.monotonic() - started >= 0.3  # five deltas' worth
    assert message.content[0].text == "a b c d e"


def test_deltas_arrive_live(fake: FakeAnthropic, client: anthropic.Anthropic):
    """The first delta reaches the client while the fake still holds the rest: not one burst
    at the end (a check of the gaps between arrivals failed on a busy machine)."""
    release = threading.Event()
    fake.queue(Reply("a b c d e", delay=0.01, held_after=1, release=release))
    texts: list[str] = []

    start = time.monotonic()
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HI) as s:
        for text in s.text_stream:
            if not texts:
                # Before the rest was let go (the fake lets it go by itself after 60 s).
                assert time.monotonic() - start < 30 and not release.is_set()
                release.set()
            texts.append(text)

    assert len(texts) == 5


def test_client_disconnect_mid_stream_leaves_server_healthy(
    fake: FakeAnthropic, client: anthropic.Anthropic
):
    fake.queue(Reply("x " * 50, delay=0.02))

    with client.messages.stream(model=MODEL, max_tokens=100, messages=HI) as s:
        next(iter(s.text_stream))
    client.close()
    time.sleep(0.1)  # let the server hit the broken pipe

    fresh = anthropic.Anthropic(api_key="test-key", base_url=fake.base_url, max_retries=0)
    assert "".join(stream(fresh)[0]) == "echo: Hi"


def test_concurrent_streams(fake: FakeAnthropic):
    n = 8
    fake.queue(*(Reply(f"r{i} a b c", delay=0.05) for i in range(n)))
    results: list[str] = []

    def run() -> None:
        c = anthropic.Anthropic(api_key="test-key", base_url=fake.base_url, max_retries=0)
        results.append("".join(stream(c)[0]))

    start = time.monotonic()
    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

    assert sorted(results) == sorted(f"r{i} a b c" for i in range(n))
    assert time.monotonic() - start < n * 0.2  # overlapped, not served one by one


def test_stop_closes_pooled_connections():
    with FakeAnthropic() as fake:
        client = anthropic.Anthropic(api_key="test-key", base_url=fake.base_url, max_retries=0)
        stream(client)  # leaves a keep-alive connection in the pool
    with pytest.raises(anthropic.APIConnectionError):
        stream(client)


def test_reset_clears_queue_and_requests(fake: FakeAnthropic, client: anthropic.Anthropic):
    fake.queue(Reply("queued"))
    stream(client, [{"role": "user", "content": "one"}])
    fake.queue(Reply("dropped"))

    fake.reset()

    assert fake.requests == []
    assert "".join(stream(client)[0]) == "echo: Hi"
