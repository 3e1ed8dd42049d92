"""`claudechat serve` and a conversation whose document cannot be read: a condition of the
data (`claudechat doctor` lists it, the CLI exits 1), not a defect of the server. The servers
are test_serve.py's (one per storage configuration, --no-auth on loopback)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from fakes.anthropic_api import FakeAnthropic
from serve_harness import Serve, access_lines
from test_serve import fake, server  # noqa: F401  (the fixtures)


def _spoil(
    serve: Serve,
    conversation_id: str,
    monkeypatch: pytest.MonkeyPatch,
    damage: Callable[[bytes], bytes] = lambda data: data[:200],
) -> str:
    """Cut the stored document to its first 200 bytes, as a tester did (or `damage` it);
    returns where it is."""
    from claudechat.settings import load_settings
    from claudechat.storage import open_store

    serve.settled()  # the last turn's push done: it would write the document whole again
    for name, value in serve.env.items():  # the server's store, from this process
        monkeypatch.setenv(name, value)
    store = open_store(load_settings())
    key = store.blob_key("tester", conversation_id)
    data, _ = store.blobs.get_with_etag(key)
    store.blobs.put(key, damage(data))
    return store.blobs.location(key)


def test_a_corrupt_document_is_a_named_conversation_and_a_warning(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The access log said `conversation=-` for it, and the log an ERROR, as for a defect."""
    with server.client() as http:
        made = http.post("/new_chat", json={}).json()["conversation_id"]
        assert http.post("/chat", json={"user_input": "to spoil"}).status_code == 200
        where = _spoil(server, made, monkeypatch)
        before = len(server.log())
        answers = [
            http.get("/get_conversation", params={"conversation_id": made[:8]}),
            http.post("/get_conversation", json={"conversation_id": made.upper()}),
            http.post("/chat", json={"user_input": "more", "conversation_id": made[:8]}),
            http.post("/chat", json={"user_input": "more", "stream": True}),  # the current one
        ]
        http.post("/new_chat", json={})  # the module's later bare /chats: not into this one
    for answer in answers:
        assert answer.status_code == 500, answer.text
        assert answer.json()["error"]["type"] == "corrupt_document"
        assert answer.json()["error"]["message"].startswith("conversation document is corrupt: ")
    named = access_lines(server, 0, rf'" 500 [^\n]* conversation={made}\n', len(answers))
    assert len(named) == len(answers), server.log()[before:]
    log = server.log()[before:]
    assert "WARNING [" in log and where in log
    assert " ERROR " not in log and "Traceback" not in log, log


def test_a_document_of_a_newer_format_is_not_called_corrupt(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Written by a newer claudechat (one host of several upgraded first): it was answered as
    "conversation document is corrupt: newer format", where the CLI says to upgrade."""
    with server.client() as http:
        made = http.post("/new_chat", json={}).json()["conversation_id"]
        assert http.post("/chat", json={"user_input": "from the future"}).status_code == 200
        _spoil(
            server,
            made,
            monkeypatch,
            lambda data: json.dumps(json.loads(data) | {"format": 99}).encode(),
        )
        answer = http.get("/get_conversation", params={"conversation_id": made})
        http.post("/new_chat", json={})  # the module's later bare /chats: not into this one
    assert answer.status_code == 500, answer.text
    error = answer.json()["error"]
    assert error["type"] == "newer_format"
    assert "format 99" in error["message"] and "upgrade claudechat" in error["message"]
    assert "corrupt" not in error["message"]


def test_a_missing_document_is_said_without_where_it_was(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its row is there, its document gone (and no copy on the server's machine): the answer
    was a 500 `error` whose message named the document's path or bucket and key, and the
    access log said `conversation=-`, as if the request had named none."""
    from claudechat.settings import load_settings
    from claudechat.storage import open_store

    with server.client() as http:
        made = http.post("/new_chat", json={}).json()["conversation_id"]
        assert http.post("/chat", json={"user_input": "to lose"}).status_code == 200
        server.settled()
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
        store = open_store(load_settings())
        key = store.blob_key("tester", made)
        where = store.blobs.location(key)
        store.blobs.delete(key)
        if store.cache is not None:  # the server's copy: this process opened its home
            store.cache.forget("tester", made)
        before = len(server.log())
        answer = http.get("/get_conversation", params={"conversation_id": made[:8]})
        http.post("/new_chat", json={})  # the module's later bare /chats: not into this one
    assert answer.status_code == 500, answer.text
    assert answer.json()["error"]["type"] == "missing_document"
    assert access_lines(server, 0, rf'" 500 [^\n]* conversation={made}\n', 1), server.log()[before:]
    assert where not in answer.text and "file:" not in answer.text and "s3:" not in answer.text
    log = server.log()[before:]
    assert "WARNING [" in log and where in log, log


def test_a_corrupt_document_is_named_to_the_log_not_to_the_client(
    server: Serve,  # noqa: F811
    fake: FakeAnthropic,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with server.client() as http:
        http.post("/new_chat", json={})
        made = http.post("/chat", json={"user_input": "to spoil"}).json()["conversation_id"]
        where = _spoil(server, made, monkeypatch, lambda _data: b'{"broken')
        answer = http.get("/get_conversation", params={"conversation_id": made})
        http.post("/new_chat", json={})  # the module's later bare /chats: not into this one
    assert answer.status_code == 500
    assert answer.json()["error"]["type"] == "corrupt_document"
    assert "file:" not in answer.text and "s3:" not in answer.text
    assert where in server.log()
