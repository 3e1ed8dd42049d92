"""With `auto_migrate = false`, an embedded database that does not exist yet is refused (run
`claudechat db upgrade`) without being made: each start that said so left an empty
claudechat.db (and its -wal and -shm) behind, a database with no schema for the next start
to find."""

from __future__ import annotations

from pathlib import Path

import pytest

from claudechat.storage import migrate
from claudechat.storage.metadata import MetadataStore

REFUSAL = (
    f"the database has no schema yet, this claudechat needs schema {migrate.HEAD_REVISION}: "
    "run `claudechat db upgrade`"
)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_missing_database_is_refused_and_not_made(tmp_path: Path) -> None:
    database = tmp_path / "data" / "chat.db"
    with pytest.raises(migrate.SchemaError) as refused:
        MetadataStore(f"sqlite:///{database}", auto_migrate=False)
    assert str(refused.value) == REFUSAL
    assert leftovers(database.parent) == []


def test_list_without_auto_migrate_leaves_no_database_behind(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    database = tmp_path / "ops" / "claudechat.db"
    env = {"CLAUDECHAT_DATABASE_URL": f"sqlite:///{database}", "CLAUDECHAT_AUTO_MIGRATE": "false"}
    for _ in range(2):  # the second start found the first one's empty file, refused it again
        refused = cli("list", env=env)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr == f"claudechat: {REFUSAL}\n"
        assert leftovers(database.parent) == []
    upgraded = cli("db", "upgrade", env=env)
    assert "upgraded from an empty database" in upgraded.stderr, upgraded.stderr
    assert cli("list", env=env).returncode == 0
