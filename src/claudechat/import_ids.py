"""The ids an imported conversation gets when it cannot keep its own: drawn at random for
`import --new-ids` (a copy each time), derived from where it came from otherwise (another
user's export, or one whose id another user's conversation has here), so that importing the
same export again finds the first import and merges into it, as importing your own does: with
random ids every such import was one more conversation, and `list` and `usage` counted it
again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from claudechat.conversation import new_conversation_id, new_message_id

# Fixed: every import of one export, on any machine, derives the same ids from it.
_IMPORTS = uuid.uuid5(uuid.NAMESPACE_URL, "https://claudechat/import")


@dataclass
class Renumbering:
    """New ids for one `import` command's conversations. `importer`: the user they go to.
    Random: `--new-ids`, a message's new id shared by every conversation of the command (a fork
    copies its parent's messages, ids and all, and given ids of their own apart from the
    parent's copies, `usage` counted each copied reply twice); derived ids share it anyway."""

    importer: str
    random: bool
    _drawn: dict[str, str] = field(default_factory=dict)

    def conversation_id(self, source_user: str, old: str) -> str:
        if self.random:
            return new_conversation_id()
        return self._derived("conversation", source_user, old)

    def message_id(self, source_user: str, old: str) -> str:
        if self.random:
            return self._drawn.setdefault(old, new_message_id())
        return self._derived("message", source_user, old)

    def _derived(self, kind: str, source_user: str, old: str) -> str:
        # The importer is part of it: two users importing one export get apart ids.
        return str(uuid.uuid5(_IMPORTS, f"{self.importer}\0{source_user}\0{kind}\0{old}"))


def forks_remapped(prepared: list[Any], user: str, derived: Renumbering | None) -> list[Any]:
    """(path, export, imported) with each fork's parent named by its id here: the new id of a
    parent imported with new ids in the same command; for a parent that is another user's,
    the id its import gets (`derived`: the same in any command), or none with `--new-ids`
    (not yours to name, and not found as yours). A fork kept naming the old id."""
    renamed = {e.conversation.id: i.id for _p, e, i in prepared if e.conversation.id != i.id}
    remapped = []
    for path, export, imported in prepared:
        parent, source = imported.parent_id, export.conversation.user_id
        if parent in renamed:
            imported = replace(imported, parent_id=renamed[parent])
        elif parent is not None and source != user:
            here = derived.conversation_id(source, parent) if derived else None
            imported = replace(imported, parent_id=here)
        remapped.append((path, export, imported))
    return remapped
