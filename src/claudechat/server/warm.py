"""A worker's first requests cost what its later ones do.

Left cold, a freshly started worker's first /chat paid for work done once per process: the SDK
sets up its request helpers and stream decoding on its first reply, SQLAlchemy compiles each
statement on its first run, modules on the request's path are imported, and the model
catalogue (limits, capabilities) is read from its cache file, or fetched from the Models API
when the cache is old. Measured with bench/bench_serve_start.py (a restarted worker, the
catalogue cached): its first /chat added 51 ms where later ones added 15. So a worker does
this work at start, before it takes requests (the first /chat then adds 23 ms); the catalogue
in the background, since the Models API may be slow or down, and a worker must start
regardless.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from claudechat.server.service import Service

log = logging.getLogger("claudechat.serve")


def warm_up(service: Service) -> threading.Thread:
    """Call before heap.settle(), so what the steps in this thread build is frozen with the
    start-up heap. Returns the thread describing the default model (it may still run)."""
    from claudechat.claude_warmup import warm_up as warm_up_sdk

    _quietly("the SDK", lambda: warm_up_sdk(service.settings))
    # Connecting is part of it: a database down at start is an outage, and the worker starts.
    _quietly("the database", lambda: service.store.metadata.warm_up())
    _quietly("the documents", _documents)
    describing = threading.Thread(
        target=_quietly,
        args=("the model catalogue", lambda: _describe_model(service)),
        name="warm-up-models",
        daemon=True,
    )
    describing.start()
    return describing


def _documents() -> None:
    """What a save computes from a document, on one that is never saved: its encoding, its
    row (with the cost, from the price table) and its search entries."""
    from claudechat.conversation import Conversation, Usage
    from claudechat.storage.documents import decode_document, encode_document, row_for
    from claudechat.storage.search import index_row

    conversation = Conversation.new("warm-up", "claude-warm-up")
    conversation.append("user", "warm-up")
    conversation.append("assistant", "warm-up", usage=Usage(input_tokens=1, output_tokens=1))
    decode_document(encode_document(conversation), "warm-up")
    row_for(conversation, "warm-up")
    for message in conversation.messages:
        index_row(conversation, message)


def _describe_model(service: Service) -> None:
    """What each turn asks first: the default model's limits, from the process's catalogue."""
    service.catalogue.describe(service.settings.model)


def _quietly(what: str, work: Callable[[], object]) -> None:
    """A warm-up that fails costs the first request its time, nothing else: the worker starts
    whatever went wrong here."""
    try:
        work()
    except Exception as exc:
        log.warning("warming up %s at start failed (%s); the first request will do it", what, exc)
