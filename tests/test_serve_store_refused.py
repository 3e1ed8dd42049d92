"""`claudechat serve` and a store that refuses the server's configuration while it runs (here:
its bucket deleted). It answered 503 `storage_unavailable`, "retry later", which no retry
fixes: the operator must fix the configuration first."""

from __future__ import annotations

import pytest

from fakes.anthropic_api import FakeAnthropic
from s3_server import S3Server
from serve_harness import Serve, api_env, team_env
from test_serve_lifecycle import fake  # noqa: F401  (the fixture)


def _delete_bucket(s3: S3Server, bucket: str) -> None:
    client = s3.client()
    for listed in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=listed["Key"])
    client.delete_bucket(Bucket=bucket)


def test_a_bucket_gone_is_a_refused_configuration_not_an_outage(
    request: pytest.FixtureRequest,
    fake: FakeAnthropic,  # noqa: F811
) -> None:
    s3 = request.getfixturevalue("s3")
    env = {**api_env(fake), **team_env(request.getfixturevalue("postgres"), s3)}
    bucket = env["CLAUDECHAT_STORAGE_URL"].removeprefix("s3://").split("/", 1)[0]
    with Serve(env, "--no-auth") as server:
        with server.client() as http:
            made = http.post("/new_chat", json={}).json()["conversation_id"]
            _delete_bucket(s3, bucket)
            before = len(server.log())
            # A delete: a read may be answered from the copy the server keeps.
            answer = http.delete(f"/conversations/{made}")
        log = server.log()[before:]
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == {
        "type": "storage_refused",
        "message": "the conversation store refuses the server's configuration; see the server log",
    }
    assert bucket not in answer.text
    assert "WARNING [" in log and bucket in log and "does not exist" in log, log
    assert "Traceback" not in log, log
