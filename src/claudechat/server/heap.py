"""Garbage collection for a worker whose requests each hold their objects for seconds.

CPython's cyclic collector stops every thread while it runs. In a worker, the objects it walks
are the start-up heap (modules, the SDK's and pydantic's classes: about 200,000 objects) and
the objects of the requests in flight (each turn's conversation and stream, held for the
length of a reply). With the default thresholds, a full collection walked all of it several
times a minute under load, holding up every request for 30 to 150 ms, and the collection of
the middle generation ran every few hundred milliseconds for 5 to 10 ms.

So, once a worker has started: the start-up heap is frozen (never walked again: it is not
garbage), and the younger generations are collected less often. Requests leave almost no
cycles behind (a chat session is freed by reference counting alone; see
tests/test_serve_heap.py), so collecting them less often costs little memory.
"""

from __future__ import annotations

import gc

# Allocations before a young collection (at least), and young collections before a middle one
# (CPython 3.11's defaults: 700 and 10). Full collections keep their default pace.
YOUNG = 1000
MIDDLE = 100


def settle() -> None:
    """Call once start-up is over: the heap as it is now is never collected again."""
    gc.collect()
    gc.freeze()
    young, _middle, *old = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG), MIDDLE, *old)
