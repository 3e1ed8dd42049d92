"""Attachments through the real program: `chat -a`, piped PDFs and images, the limits, what
the fake Messages API received, what is stored (once, by digest) and `attachment get`."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
from pathlib import Path

import pytest

from attachment_files import pdf_bytes, png_bytes, write
from conftest import Backend
from fakes.anthropic_api import FakeAnthropic
from test_faults import swapped_out

PAGES = ["Page one text", "Second page", "Third"]
SOURCE = "def answer():\n    return 42  # ünïcode\n"


def conversation_id(stderr: str) -> str:
    return stderr.split()[-1]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "png": write(tmp_path / "shot.png", png_bytes()),
        "pdf": write(tmp_path / "docs" / "report.pdf", pdf_bytes(PAGES)),
        "py": write(tmp_path / "answer.py", SOURCE.encode()),
        "bad": write(tmp_path / "latin1.txt", "caf\xe9 au lait".encode("latin-1")),
    }


def stored_blob(backend: Backend, home: Path, key: str) -> tuple[bytes, str | None]:
    """An object of the blob store as it is at rest, with its content type (S3 only)."""
    if backend.name == "embedded":
        return (home / "conversations" / key).read_bytes(), None
    import boto3

    assert backend.storage_url is not None
    bucket, _, prefix = backend.storage_url.removeprefix("s3://").partition("/")
    response = boto3.client("s3").get_object(Bucket=bucket, Key=f"{prefix}/{key}")
    return response["Body"].read(), response["ContentType"]


def test_files_go_as_image_document_and_text_blocks_and_are_stored_by_reference(  # type: ignore[no-untyped-def]
    cli, fake_api: FakeAnthropic, backend: Backend, files, isolated_home, tmp_path
) -> None:
    result = cli(
        "chat", "-a", str(files["png"]), "-a", str(files["pdf"]), "-a", str(files["py"]), "what?"
    )
    assert result.returncode == 0, result.stderr
    (message,) = fake_api.requests[-1].body["messages"]
    image, document, source, question = message["content"]
    assert image == {
        "type": "image",
        "source": {
            "type": "base64",
            "media_type": "image/png",
            "data": base64.b64encode(png_bytes()).decode(),
        },
    }
    assert document["source"]["media_type"] == "application/pdf"
    assert base64.b64decode(document["source"]["data"]) == pdf_bytes(PAGES)
    assert document["title"] == "report.pdf"
    assert document["citations"] == {"enabled": True}
    assert source == {"type": "text", "text": "File: answer.py\n\n" + SOURCE}
    assert question == {"type": "text", "text": "what?"}
    # The fake answers with what it decoded: every page of the PDF, the image's size.
    assert f"[image image/png {len(png_bytes())} bytes]" in result.stdout
    assert "[document 'report.pdf' 3 pages citations: Page one text | Second page | Third]" in (
        result.stdout
    )
    # Cited passages follow the answer.
    assert result.stdout.endswith(
        "Cited passages:\n"
        "[1] report.pdf, p. 1: “Page one text”\n"
        "[2] report.pdf, p. 2: “Second page”\n"
        "[3] report.pdf, p. 3: “Third”\n"
    )

    cid = conversation_id(result.stderr)
    shown = cli("show", cid, "--json")
    document_json = json.loads(shown.stdout)
    user, reply = document_json["messages"]
    assert [b["type"] for b in user["content"]] == ["attachment"] * 3 + ["text"]
    assert user["content"][1] == {
        "type": "attachment",
        "sha256": sha(pdf_bytes(PAGES)),
        "media_type": "application/pdf",
        "name": "report.pdf",
        "size": len(pdf_bytes(PAGES)),
        "pages": 3,
    }
    assert reply["content"][0]["citations"][0]["cited_text"] == "Page one text"
    # References only: no base64 in the document.
    assert base64.b64encode(pdf_bytes(PAGES)).decode()[:40] not in shown.stdout

    # Each file is stored once, by digest, under the user's prefix, with its media type.
    data, content_type = stored_blob(
        backend, isolated_home, f"tester/attachments/{sha(pdf_bytes(PAGES))}"
    )
    assert data == pdf_bytes(PAGES)
    assert content_type in (None, "application/pdf")

    listing = cli("show", cid, "--markdown")
    assert "- attachment 1: shot.png · image/png · 73 B" in listing.stdout
    assert "- attachment 2: report.pdf · application/pdf · 1.1 KB · 3 pages" in listing.stdout
    assert "- attachment 3: answer.py · text/plain" in listing.stdout
    # The message's text after a blank line: markdown read it as the list's last item.
    after_list = listing.stdout.split("- attachment 3: answer.py")[1].split("\n", 2)
    assert after_list[1] == "", listing.stdout

    out = tmp_path / "back.pdf"
    got = cli("attachment", "get", f"{cid[:8]}/2", "-o", str(out))
    assert got.returncode == 0, got.stderr
    assert out.read_bytes() == pdf_bytes(PAGES)
    missing = cli("attachment", "get", f"{cid[:8]}/4", "-o", str(out))
    assert missing.returncode == 1 and "has 3 attachments, not 4" in missing.stderr


def test_attachment_get_to_dash_writes_stdout(cli, fake_api, files, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`-o -` wrote a file named "-", where `export -o -` writes to stdout."""
    monkeypatch.chdir(tmp_path)
    cid = conversation_id(cli("chat", "-a", str(files["py"]), "read it").stderr)
    got = cli("attachment", "get", f"{cid[:8]}/1", "-o", "-")
    assert (got.returncode, got.stdout) == (0, SOURCE), got.stderr
    assert not (tmp_path / "-").exists()
    named = cli("attachment", "get", f"{cid[:8]}/1", "-o", "./-")
    assert named.returncode == 0 and named.stdout == "", named.stderr
    assert (tmp_path / "-").read_bytes() == SOURCE.encode()


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("/nonexistent-claudechat/x.py", "No such file or directory"),
        ("/dev/full", "No space left on device"),
    ],
)
def test_attachment_get_to_a_file_that_cannot_be_written_exits_5(  # type: ignore[no-untyped-def]
    cli, fake_api, files, target: str, reason: str
) -> None:
    """As export -o does, by README's table; it exited 2, as if the command were misused."""
    cid = conversation_id(cli("chat", "-a", str(files["py"]), "read it").stderr)
    got = cli("attachment", "get", f"{cid[:8]}/1", "-o", target)
    assert got.returncode == 5, got.stderr
    assert got.stderr.splitlines() == [f"claudechat: cannot write {target}: {reason}"]


def test_a_piped_pdf_or_image_is_attached_other_binary_refused(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    pdf = cli("chat", "summarise", input=pdf_bytes(PAGES))
    assert pdf.returncode == 0, pdf.stderr
    content = fake_api.requests[-1].body["messages"][0]["content"]
    assert [b["type"] for b in content] == ["document", "text"]
    assert content[0]["title"] == "stdin.pdf"
    assert content[1]["text"] == "summarise"

    image = cli("chat", input=png_bytes())  # no prompt: the image alone is the message
    assert image.returncode == 0, image.stderr
    (block,) = fake_api.requests[-1].body["messages"][0]["content"]
    assert block["source"]["media_type"] == "image/png"

    sent = len(fake_api.requests)
    binary = cli("chat", "what", input=b"\x7fELF\x02\x01\x01\x00\x00\x00binary")
    assert binary.returncode == 2
    assert "binary" in binary.stderr and "Traceback" not in binary.stderr
    assert len(fake_api.requests) == sent


def test_a_piped_pdf_is_taken_up_to_the_size_a_request_takes(cli, fake_api) -> None:  # type: ignore[no-untyped-def]
    """A 22 MB PDF went with -a, but piped it was "larger than 20 MB", a cap of stdin's own."""
    small = pdf_bytes(PAGES)
    at = small.index(b"\n") + 1  # a comment line after the header: the PDF is still whole
    big = small[:at] + b"%" + b"x" * (22 * 2**20) + b"\n" + small[at:]
    piped = cli("chat", "summarise", input=big)
    assert piped.returncode == 0, piped.stderr
    (document, _) = fake_api.requests[-1].body["messages"][0]["content"]
    assert document["title"] == "stdin.pdf"
    sent = len(fake_api.requests)
    too_big = cli("chat", "summarise", input=b"x" * (32 * 2**20 + 1))
    assert too_big.returncode == 2
    assert too_big.stderr.strip() == (
        "claudechat: standard input is larger than 32 MB, the most one request takes"
    )
    assert len(fake_api.requests) == sent


def test_the_second_question_about_a_pdf_reads_it_from_the_cache(cli, fake_api, files) -> None:  # type: ignore[no-untyped-def]
    fake_api.prompt_cache = True
    first = cli("chat", "-a", str(files["pdf"]), "first question")
    assert first.returncode == 0, first.stderr
    second = cli("chat", "--continue", "second question", input=b"")
    assert second.returncode == 0, second.stderr
    one, two = (r.body for r in fake_api.requests[-2:])
    # The document is in the cached prefix: the same first message, the breakpoint after it.
    assert two["messages"][0] == one["messages"][0]
    assert two["cache_control"] == {"type": "ephemeral"}
    document = json.loads(cli("show", conversation_id(second.stderr), "--json").stdout)
    usage = [m["usage"] for m in document["messages"] if m["role"] == "assistant"]
    pdf_tokens = len(base64.b64encode(pdf_bytes(PAGES))) // 4
    assert usage[0]["cache_read_tokens"] == 0
    assert usage[0]["cache_creation_tokens"] >= pdf_tokens
    assert usage[1]["cache_read_tokens"] >= pdf_tokens


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (None, ["-a", "{tmp}/nowhere.pdf"], "nowhere.pdf: no such file"),
        ("bad", ["-a", "{bad}"], "latin1.txt: not an image, a PDF or UTF-8 text"),
        (None, ["-a", "{tmp}"], "is a folder"),
        ("png", ["-m", "claude-2.1", "-a", "{png}"], "shot.png: model claude-2.1 does not take"),
        ("big", ["-a", "{tmp}/big.png"], "big.png: images may be at most 5.0 MB"),
        ("long", ["-a", "{tmp}/long.pdf"], "long.pdf: 101 pages, more than the 100"),
        ("huge", ["-a", "{tmp}/huge.pdf"], "huge.pdf: the attachments in this request come to"),
    ],
)
def test_a_file_that_cannot_be_sent_is_exit_2_and_nothing_is_sent_or_saved(  # type: ignore[no-untyped-def]
    cli, fake_api, files, tmp_path, isolated_home, make, args, message
) -> None:
    if make == "big":
        write(tmp_path / "big.png", png_bytes() + b"\0" * (5 * 1024 * 1024))
    if make == "long":
        write(tmp_path / "long.pdf", pdf_bytes([f"p{i}" for i in range(101)]))
    if make == "huge":  # 25 MB is within the PDF limit, but base64 makes 33 MB of request
        padding = b"%" * (25 * 1024 * 1024) + b"\n%%EOF\n"  # a PDF still ends with its marker
        write(tmp_path / "huge.pdf", pdf_bytes(["big"]) + padding)
    values = {"tmp": str(tmp_path), "bad": str(files["bad"]), "png": str(files["png"])}
    result = cli("chat", *[a.format(**values) for a in args], "hello")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert fake_api.requests == []
    assert cli("list", "--json").stdout.strip() in ("", "[]")
    assert not (isolated_home / "attachments").exists() or not any(
        p.is_file() and not p.name.startswith(".")
        for p in (isolated_home / "attachments").rglob("*")
    )


def test_bedrock_gets_the_same_blocks_inline(cli, bedrock, files) -> None:  # type: ignore[no-untyped-def]
    fake_api = bedrock  # the conftest fixture: the fake as Bedrock's runtime
    result = cli("chat", "-a", str(files["pdf"]), "-a", str(files["png"]), "compare")
    assert result.returncode == 0, result.stderr
    request = fake_api.requests[-1]
    assert request.path.endswith("/invoke-with-response-stream")
    document, image, text = request.body["messages"][0]["content"]
    assert base64.b64decode(document["source"]["data"]) == pdf_bytes(PAGES)
    assert image["source"] == {
        "type": "base64",
        "media_type": "image/png",
        "data": base64.b64encode(png_bytes()).decode(),
    }
    # Bedrock's breakpoint on the newest block covers the attachments before it.
    assert text == {"type": "text", "text": "compare", "cache_control": {"type": "ephemeral"}}


def test_an_attachment_sent_during_a_store_outage_is_kept_and_pushed_later(  # type: ignore[no-untyped-def]
    cli, fake_api, backend, files, isolated_home, tmp_path
) -> None:
    """The blob store goes away (the folder is swapped out; S3 refuses connections) while the
    database stays up: the turn is answered, the PDF waits on disk, `sync` pushes both."""
    digest = sha(pdf_bytes(PAGES))
    waiting = isolated_home / "attachments" / "tester" / "attachments" / digest
    if backend.name == "team":
        outage = contextlib.nullcontext()
        env = {"AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{closed_port()}"}
    else:
        outage, env = swapped_out(isolated_home / "conversations"), {}
    with outage:
        result = cli("chat", "-a", str(files["pdf"]), "during the outage", env=env)
        assert result.returncode == 0, result.stderr
        assert "saved locally" in result.stderr
        assert "echo: during the outage [document 'report.pdf' 3 pages" in result.stdout
        assert waiting.read_bytes() == pdf_bytes(PAGES)
    synced = cli("sync")
    assert synced.returncode == 0 and "pushed 1" in synced.stderr, synced.stderr
    assert not waiting.exists()
    blob = stored_blob(backend, isolated_home, f"tester/attachments/{digest}")
    assert blob[0] == pdf_bytes(PAGES)
    out = tmp_path / "again.pdf"
    cid = conversation_id(result.stderr)
    assert cli("attachment", "get", f"{cid}/1", "-o", str(out)).returncode == 0
    assert out.read_bytes() == pdf_bytes(PAGES)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_delete_keeps_a_shared_attachment_until_its_last_conversation_goes(  # type: ignore[no-untyped-def]
    cli, fake_api, files, backend
) -> None:
    from claudechat.settings import load_settings
    from claudechat.storage import open_blob_store

    key = f"tester/attachments/{sha(files['pdf'].read_bytes())}"

    def stored() -> bool:
        return key in open_blob_store(load_settings()).list("tester/")

    first = conversation_id(cli("chat", "-a", str(files["pdf"]), "one").stderr)
    second = conversation_id(cli("chat", "-a", str(files["pdf"]), "two").stderr)
    assert stored()
    deleted = cli("delete", first, "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert "attachment" not in deleted.stderr  # the other conversation still uses it
    assert stored()
    assert cli("attachment", "get", f"{second[:8]}/1").returncode == 0
    deleted = cli("delete", second, "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert "1 attachment no other conversation uses" in deleted.stderr
    assert not stored()


def test_what_a_model_takes_comes_from_the_models_api(cli, fake_api, files) -> None:  # type: ignore[no-untyped-def]
    from fakes.models_catalogue import model_entry

    fake_api.models.append(
        model_entry("claude-words-only-1", "Words only", "2026-01-01T00:00:00Z", images=False)
    )
    result = cli("chat", "-m", "claude-words-only-1", "-a", str(files["png"]), "what is this?")
    assert result.returncode == 2, result.stderr
    assert "shot.png: model claude-words-only-1 does not take" in result.stderr
    assert [r for r in fake_api.requests if r.body.get("messages")] == []
    # The same model takes a PDF, as the Models API says.
    fake_api.reset()
    fake_api.models.append(
        model_entry("claude-words-only-1", "Words only", "2026-01-01T00:00:00Z", images=False)
    )
    result = cli("chat", "-m", "claude-words-only-1", "-a", str(files["pdf"]), "summarise")
    assert result.returncode == 0, result.stderr


def test_the_same_content_attached_twice_is_sent_once(cli, fake_api, files, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two -a of one file, or of two files with the same bytes: Claude reads it once (it was
    sent twice, and `show` numbered one attachment)."""
    copy = tmp_path / "copy.pdf"
    copy.write_bytes(files["pdf"].read_bytes())
    result = cli("chat", "-a", str(files["pdf"]), "-a", str(copy), "twice?", input="")
    assert result.returncode == 0, result.stderr
    assert "the same content as" in result.stderr and "sent once" in result.stderr
    content = fake_api.requests[-1].body["messages"][0]["content"]
    assert [block["type"] for block in content] == ["document", "text"]
