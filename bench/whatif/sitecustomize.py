"""What-ifs for bench_serve.py --what-if: a part of the service taken out (or cheated) in
serve's processes only, to see how much of the added latency it accounts for. Never a way to
run claudechat: each breaks what the part is for. Python imports this module at start when
its folder is on PYTHONPATH (bench_serve.py puts it there for `serve` alone); it does nothing
unless CLAUDECHAT_BENCH_WHAT_IF names what-ifs:

- no-rows: a save writes its document, but a conversation's row and search entries only once
  per worker (so that reads find it): every later save writes nothing to SQL;
- no-search: a save writes no search entries;
- cached-tokens: a token's user is looked up once per worker, never again (revoking fails);
- inline-store-calls: store calls run on the caller's thread, without their deadline;
- no-gc: the cyclic garbage collector off in each worker;
- no-fsync: os.fsync does nothing (the journal, the blob folder): what waiting for the disk
  costs (SQLite's own syncs are left);
- no-push: a turn answered first is never pushed, by the worker or by the journal's drain:
  the journal alone keeps it (what pushing after the answer costs the next requests);
- whole-replies: a JSON turn asks Claude for the whole message, not a stream
  (whole_replies.py);
- phases: nothing taken out; where each /chat's time goes is recorded (phases.py), and
  bench_serve.py prints it beside each request's added latency.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

WHAT_IFS = set(filter(None, os.environ.get("CLAUDECHAT_BENCH_WHAT_IF", "").split(",")))
KNOWN = {
    "no-rows",
    "no-search",
    "cached-tokens",
    "inline-store-calls",
    "no-gc",
    "no-fsync",
    "no-push",
    "phases",
    "whole-replies",
}


def _store(module: ModuleType) -> None:
    if "no-rows" not in WHAT_IFS:
        return
    record = module.ConversationStore.record
    recorded: set[str] = set()

    def once(self: Any, document: Any) -> bool:
        if document.id in recorded:
            return True
        recorded.add(document.id)
        return bool(record(self, document))

    module.ConversationStore.record = once


def _search(module: ModuleType) -> None:
    if "no-search" in WHAT_IFS:
        module.index_new_messages = lambda _connection, _conversation: None


def _service(module: ModuleType) -> None:
    if "no-push" in WHAT_IFS:
        module.Service._push_after_answer = lambda _self, _push: None
    if "cached-tokens" not in WHAT_IFS:
        return
    looked_up = module.Service.user_for
    users: dict[str, Any] = {}

    async def user_for(self: Any, token: str) -> Any:
        if token not in users:
            users[token] = await looked_up(self, token)
        return users[token]

    module.Service.user_for = user_for


def _guard(module: ModuleType) -> None:
    if "inline-store-calls" not in WHAT_IFS:
        return

    def inline(operation: Callable[[], Any], _timeout: float) -> Any:
        call = module.Call(operation)
        call.run()
        return call

    module._run_with_deadline = inline


def _app(_module: ModuleType) -> None:
    if "no-gc" in WHAT_IFS:
        import gc

        gc.disable()  # heap.settle() collects once, and changes only the thresholds


def _drain(module: ModuleType) -> None:
    if "no-push" in WHAT_IFS:
        module.push_journal = lambda _store, _busy, _told: []


PATCHES: dict[str, list[Callable[[ModuleType], None]]] = {
    "claudechat.server.journal_drain": [_drain],
    "claudechat.storage.store": [_store],
    "claudechat.storage.search": [_search],
    "claudechat.server.service": [_service],
    "claudechat.storage.guard": [_guard],
    "claudechat.server.app": [_app],
}


class _PatchOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in PATCHES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        load = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            load(module)
            for patch in PATCHES[fullname]:
                patch(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if WHAT_IFS:
    unknown = WHAT_IFS - KNOWN
    if unknown:
        known = ", ".join(sorted(KNOWN))
        sys.exit(f"unknown what-if: {', '.join(sorted(unknown))} (known: {known})")
    if "no-fsync" in WHAT_IFS:
        os.fsync = lambda _fd: None
    if "phases" in WHAT_IFS:
        import phases  # beside this file, on the path with it

        for name, patch in phases.PATCHES.items():
            PATCHES.setdefault(name, []).append(patch)
    if "whole-replies" in WHAT_IFS:
        import whole_replies  # beside this file

        PATCHES.setdefault("claudechat.server.turns", []).append(whole_replies.patch_turns)
        PATCHES.setdefault("claudechat.claude", []).append(whole_replies.patch_claude)
    sys.meta_path.insert(0, _PatchOnImport())
