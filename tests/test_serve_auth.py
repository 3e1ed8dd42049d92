"""Tokens for `claudechat serve`: who may call it, and that users never see each other's data."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from conftest import API_KEY
from fakes.anthropic_api import FakeAnthropic
from serve_harness import Serve, clean_env, team_env, text_of


@pytest.fixture(scope="module", params=["embedded", "team"])
def server(request: pytest.FixtureRequest, fake_server: FakeAnthropic) -> Iterator[Serve]:
    env = clean_env(ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake_server.base_url)
    if request.param == "team":
        env.update(team_env(request.getfixturevalue("postgres"), request.getfixturevalue("s3")))
    with Serve(env) as serve:
        yield serve


@pytest.fixture(scope="module")
def tokens(server: Serve) -> dict[str, str]:
    return {user: server.token(user) for user in ("alice", "bob")}


@pytest.fixture
def fake(fake_server: FakeAnthropic) -> FakeAnthropic:
    fake_server.reset()
    return fake_server


def test_requests_need_a_valid_bearer_token(server: Serve, tokens: dict[str, str]) -> None:
    with server.client() as http:
        answers = [
            http.post("/new_chat", json={}),
            http.get("/conversations", headers={"Authorization": "Bearer cct_wrong"}),
            http.get("/conversations", headers={"Authorization": f"Basic {tokens['alice']}"}),
            http.get("/conversations", headers={"Authorization": "Bearer"}),
            http.post("/chat", json={"user_input": "hi"}),
        ]
        for answer in answers:
            assert answer.status_code == 401, answer.text
            assert answer.headers["www-authenticate"] == "Bearer"
            assert answer.json()["error"]["type"] == "unauthorized"
            assert answer.content.endswith(b"}\n")  # as every JSON answer: see test_serve.py
        # Load balancers probe health without a token, and the API's description is public.
        assert http.get("/health").status_code == 200
        assert http.head("/health").status_code == 200
        described = http.get("/openapi.json")
        assert described.status_code == 200
        # Described as needing the token, on the routes that need it (/docs: Authorize).
        assert set(described.json()["components"]["securitySchemes"]) == {"HTTPBearer"}
        assert described.json()["paths"]["/chat"]["post"]["security"] == [{"HTTPBearer": []}]
        assert "security" not in described.json()["paths"]["/health"]["get"]
        # And with the 401 such routes answer without one (gone under --no-auth: test_serve.py).
        paths = described.json()["paths"]
        unauthorized = paths["/chat"]["post"]["responses"]["401"]
        assert unauthorized["description"] == "A missing or wrong bearer token"
        assert "401" in paths["/conversations/{conversation_id}"]["delete"]["responses"]
        assert "401" not in paths["/health"]["get"]["responses"]
        assert described.content.endswith(b"}\n")
        # An unknown route is 401 without a token (it was 404, as README promised it not to
        # be) and 404 with one.
        unknown = [http.post("/nope"), http.post("/chat/", json={"user_input": "hi"})]
        assert [answer.status_code for answer in unknown] == [401] * 2
        alice = {"Authorization": f"Bearer {tokens['alice']}"}
        assert http.get("/nowhere", headers=alice).status_code == 404
        # The token comes first: without one, a caller learns nothing of what a body must be
        # (it got 400, 413 or 415, and its body was read).
        wrong = {"Authorization": "Bearer cct_wrong"}
        refused = [
            http.post("/chat", content=b"{not json", headers=wrong),
            http.post("/chat", content=b"x" * 2_000_000, headers=wrong),
            http.post("/chat", content=b"hi", headers={**wrong, "Content-Type": "text/plain"}),
            http.delete("/conversations/123", headers=wrong),
        ]
        assert [answer.status_code for answer in refused] == [401] * 4


def test_two_tokens_never_see_each_others_data(
    server: Serve, tokens: dict[str, str], fake: FakeAnthropic
) -> None:
    with server.client(tokens["alice"]) as alice, server.client(tokens["bob"]) as bob:
        alice.post("/new_chat", json={})
        mine = alice.post("/chat", json={"user_input": "alice's plans"}).json()["conversation_id"]
        for reference in (mine, mine[:8]):
            seen = bob.get("/get_conversation", params={"conversation_id": reference})
            assert seen.status_code == 404
            assert seen.json()["error"]["type"] == "not_found"
        taken = bob.post("/chat", json={"user_input": "mine now", "conversation_id": mine})
        assert taken.status_code == 404
        assert mine not in {
            c["conversation_id"] for c in bob.get("/conversations").json()["conversations"]
        }
        # Bob's bare /chat starts his own conversation, not Alice's current one.
        bobs = bob.post("/chat", json={"user_input": "bob here"}).json()["conversation_id"]
        assert bobs != mine
        again = alice.post("/chat", json={"user_input": "more plans"}).json()
        assert again["conversation_id"] == mine
        document = alice.get("/get_conversation", params={"conversation_id": mine}).json()
        # Bob cannot delete it either: his answer is the one for a missing id.
        refused = bob.delete(f"/conversations/{mine}")
        assert refused.status_code == 404
        assert refused.json()["error"]["type"] == "not_found"
        assert bob.delete("/conversations/not-an-id").status_code == 404
        assert alice.get("/get_conversation", params={"conversation_id": mine}).status_code == 200
        deleted = alice.delete(f"/conversations/{mine[:8]}")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["deleted"] == mine
        assert alice.get("/get_conversation", params={"conversation_id": mine}).status_code == 404
        assert bob.get("/conversations").json()["conversations"] != []  # his own is untouched
    assert document["user_id"] == "alice"
    assert [text_of(m["content"]) for m in document["messages"] if m["role"] == "user"] == [
        "alice's plans",
        "more plans",
    ]


def test_tokens_are_listed_without_the_secret_stored_as_hashes_and_revoked(
    server: Serve, tokens: dict[str, str]
) -> None:
    carol = server.token("carol")
    listed = server.cli("token", "list")
    assert listed.returncode == 0
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert {"alice", "bob", "carol"} <= {row[1] for row in rows}
    assert carol not in listed.stdout and tokens["alice"] not in listed.stdout
    stored = _token_table(server)
    assert all(carol not in str(row) for row in stored)
    assert len(stored) == len(rows)

    carol_id = next(row[0] for row in rows if row[1] == "carol")
    with server.client(carol) as http:
        # Asked several times: a worker keeps a token it checked (checked_tokens.py) from its
        # second lookup on, and must forget it at the revocation.
        for _ in range(3):
            assert http.get("/conversations").status_code == 200
        revoked = server.cli("token", "revoke", carol_id)
        assert revoked.returncode == 0, revoked.stderr
        assert http.get("/conversations").status_code == 401
    again = server.cli("token", "revoke", carol_id)
    assert again.returncode == 1 and again.stderr.count("\n") == 1


def test_access_log_names_user_and_conversation_never_text_or_secrets(
    server: Serve, tokens: dict[str, str], fake: FakeAnthropic
) -> None:
    with server.client(tokens["alice"]) as alice:
        alice.post("/new_chat", json={})
        answer = alice.post("/chat", json={"user_input": "the-secret-sauce-42"}).json()
        assert alice.get("/x%0Aforged INFO line").status_code == 404
    log = server.log()
    assert not any(line.startswith("forged") for line in log.splitlines())
    assert f"user=alice conversation={answer['conversation_id']}" in log
    for secret in ("the-secret-sauce-42", tokens["alice"], tokens["bob"], API_KEY):
        assert secret not in log


def test_no_auth_is_refused_off_loopback(server: Serve) -> None:
    refused = server.cli("serve", "--host", "0.0.0.0", "--no-auth", "--port", "1")
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "loopback" in refused.stderr


def test_a_port_in_use_is_one_line_before_anything_says_serving(server: Serve) -> None:
    """It printed "serving on ...", started, then failed to bind and exited 3 ("Claude could
    not be reached")."""
    taken = server.cli("serve", "--no-auth", "--port", str(server.port))  # the fixture's own
    assert taken.returncode == 2, taken.stderr
    assert (
        taken.stderr
        == f"claudechat: cannot listen on 127.0.0.1:{server.port}: Address already in use\n"
    )


def _token_table(server: Serve) -> list[tuple[object, ...]]:
    url = server.env.get("CLAUDECHAT_DATABASE_URL") or f"sqlite:///{server.home}/claudechat.db"
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(text("SELECT * FROM api_tokens"))]
    engine.dispose()
    return rows


def test_behind_a_path_prefix_the_token_is_still_checked_first() -> None:
    """Behind a proxy's prefix (uvicorn --root-path) the request's path starts with it: the
    check let /api/chat through unchecked, and a valid token was then refused."""
    from claudechat.server.middleware import Authenticate

    reached: list[str] = []
    sent: list[dict[str, object]] = []

    async def app(scope: dict[str, object], _receive: object, _send: object) -> None:
        reached.append(str(scope["path"]))

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def user_for(token: str) -> str | None:
        return "alice" if token == "good" else None

    guard = Authenticate(app, user_for, {"/health"})

    def call(path: str, token: str | None = None) -> dict[str, object]:
        headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
        scope: dict[str, object] = {
            "type": "http",
            "path": path,
            "root_path": "/api",
            "headers": headers,
        }
        asyncio.run(guard(scope, None, send))
        return scope

    call("/api/chat")
    assert sent[0]["status"] == 401 and reached == []
    answered = call("/api/conversations", "good")
    assert reached == ["/api/conversations"]
    assert answered["state"] == {"user": "alice"}
    call("/api/health")  # no token needed, as without the prefix
    assert reached[-1] == "/api/health"
