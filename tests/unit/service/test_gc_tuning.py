"""freeze_startup_objects(): the objects alive at the call leave the
collector's walks (gc.freeze), the garbage made before it is freed rather
than frozen, and TESSERA_GC_TUNING=0 leaves the collector alone. Each case
runs in a new interpreter: a freeze lasts for the process."""

from __future__ import annotations

from tests.unit.service.fresh_interpreter import run_probe

PROBE = """
import gc, weakref
from service.gc_tuning import freeze_startup_objects

class Node:
    pass

kept = [Node() for _ in range(1000)]  # alive at the call: frozen
cycle = Node()
cycle.self = cycle  # garbage only a collection can free
gone = weakref.ref(cycle)
del cycle
tuned = freeze_startup_objects()
tracked = len(gc.get_objects())  # what a full collection would walk
print(tuned, gc.get_freeze_count() > 1000, gone() is None, tracked < 1000)
"""


def _probe(**env: str) -> str:
    return run_probe(PROBE, env, drop=("TESSERA_GC_TUNING",))


def test_startup_objects_leave_the_full_walks_and_startup_garbage_is_freed() -> None:
    assert _probe() == "True True True True"


def test_the_switch_leaves_the_collector_alone() -> None:
    tuned, frozen, _freed, walked_few = _probe(TESSERA_GC_TUNING="0").split()
    assert (tuned, frozen, walked_few) == ("False", "False", "False")
