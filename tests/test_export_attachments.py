"""A JSON export carries its attachments' bytes, and import puts them back into the store:
exported, deleted and imported, or moved from a laptop to a fresh team store, a conversation
still hands out its attachments and goes on with `chat -r`."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

from conftest import conversation_id
from fakes.anthropic_api import FakeAnthropic

EXPORT_1 = Path(__file__).parent / "data" / "export1" / "with_attachment.json"
CONTENT = b"x\n"
DIGEST = hashlib.sha256(CONTENT).hexdigest()


def chat_with_an_attachment(cli, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    attached = tmp_path / "uniq.txt"
    attached.write_bytes(CONTENT)
    result = cli("chat", "-a", str(attached), "-n", "with uniq", input="see")
    assert result.returncode == 0, result.stderr
    return conversation_id(result.stderr)


def export_json(cli, reference: str, path: Path) -> dict:  # type: ignore[no-untyped-def,type-arg]
    result = cli("export", reference, "-o", str(path))
    assert result.returncode == 0, result.stderr
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def still_usable(cli, fake_api: FakeAnthropic, reference: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`attachment get` hands out the bytes and `chat -r` sends them again."""
    got = tmp_path / "got.txt"
    result = cli("attachment", "get", f"{reference}/1", "-o", str(got))
    assert result.returncode == 0, result.stderr
    assert got.read_bytes() == CONTENT
    again = cli("chat", "-r", reference, input="again")
    assert again.returncode == 0, again.stderr
    (first, *_rest) = fake_api.requests[-1].body["messages"]
    assert {"type": "text", "text": "File: uniq.txt\n\nx\n"} in first["content"]


def test_export_carries_the_attachments_and_import_brings_them_back(  # type: ignore[no-untyped-def]
    cli, fake_api, backend, tmp_path
) -> None:
    cid = chat_with_an_attachment(cli, tmp_path)
    exported = export_json(cli, cid, tmp_path / "u.json")
    assert exported["version"] == 2
    assert exported["attachments"] == {
        DIGEST: {"media_type": "text/plain", "data": base64.b64encode(CONTENT).decode()}
    }
    deleted = cli("delete", "--yes", cid)
    assert "1 attachment no other conversation uses" in deleted.stderr, deleted.stderr
    imported = cli("import", str(tmp_path / "u.json"))
    assert imported.returncode == 0, imported.stderr
    assert "missing" not in imported.stderr
    still_usable(cli, fake_api, cid, tmp_path)


def test_a_laptops_history_moves_to_a_fresh_team_store(  # type: ignore[no-untyped-def]
    cli, fake_api, request, monkeypatch, tmp_path
) -> None:
    cid = chat_with_an_attachment(cli, tmp_path)
    export_json(cli, cid, tmp_path / "u.json")
    request.getfixturevalue("team")  # from here on: PostgreSQL and S3, and a new home
    monkeypatch.setenv("CLAUDECHAT_HOME", str(tmp_path / "team-home"))
    imported = cli("import", str(tmp_path / "u.json"))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == f"imported {cid}\twith uniq\n"
    still_usable(cli, fake_api, cid, tmp_path)


def test_an_export_whose_bytes_do_not_match_is_refused_before_anything_is_written(  # type: ignore[no-untyped-def]
    cli, fake_api, backend, tmp_path
) -> None:
    cid = chat_with_an_attachment(cli, tmp_path)
    exported = export_json(cli, cid, tmp_path / "u.json")
    cli("delete", "--yes", cid)
    exported["attachments"][DIGEST]["data"] = base64.b64encode(b"y\n").decode()
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(exported))
    fine = tmp_path / "fine.json"
    shutil.copyfile(EXPORT_1, fine)
    for bad in (tampered, tmp_path / "not-base64.json"):
        if bad.name == "not-base64.json":
            exported["attachments"][DIGEST]["data"] = "not base64!"
            bad.write_text(json.dumps(exported))
        result = cli("import", str(fine), str(bad))
        assert result.returncode == 2, result.stderr
        assert f"{bad}: attachment {DIGEST[:12]}" in result.stderr
        assert "Traceback" not in result.stderr
    assert cli("list").stdout == ""


def test_an_older_export_without_the_bytes_still_imports_and_says_what_is_missing(  # type: ignore[no-untyped-def]
    cli, fake_api, backend, tmp_path
) -> None:
    result = cli("import", str(EXPORT_1))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("imported ba1ba100-e849-4e7b-82d9-6109be4c6c66\twith uniq")
    assert "1 attachment it references is missing from the store" in result.stderr
    shown = cli("show", "ba1ba100")
    assert shown.returncode == 0 and "uniq.txt" in shown.stdout


def test_an_older_export_whose_attachment_the_store_holds_says_nothing(  # type: ignore[no-untyped-def]
    cli, fake_api, tmp_path
) -> None:
    chat_with_an_attachment(cli, tmp_path)  # the same bytes, stored for this user
    result = cli("import", str(EXPORT_1))
    assert result.returncode == 0, result.stderr
    assert "missing" not in result.stderr
    still_usable(cli, fake_api, "ba1ba100", tmp_path)


def test_an_attachment_missing_at_export_is_named_and_the_rest_exported(  # type: ignore[no-untyped-def]
    cli, fake_api, isolated_home, tmp_path
) -> None:
    cid = chat_with_an_attachment(cli, tmp_path)
    (isolated_home / "conversations" / "tester" / "attachments" / DIGEST).unlink()
    result = cli("export", cid, "-f", "json", "-o", str(tmp_path / "u.json"))
    assert result.returncode == 0, result.stderr
    assert "1 attachment it references is missing from the store" in result.stderr
    assert json.loads((tmp_path / "u.json").read_text())["attachments"] == {}
