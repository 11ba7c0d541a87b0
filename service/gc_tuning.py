"""The garbage collector and a role's start-up objects: every role calls
freeze_startup_objects() before it serves (service/process.py, run_role).

Why: a full collection (generation 2) walks every object the collector
tracks. After start-up a role holds ~55,000-63,000 of them (modules,
classes, functions, protobuf descriptors, the libraries' tables) that live
as long as the process, and each full collection walked them all on the
event loop: 21-38 ms in the gateway, 20-31 ms in a metadata replica, during
which no request moved (measured with gc.callbacks in benchmark runs:
docs/benchmarks.md, "Full collections off the start-up heap").
gc.freeze() moves them to the collector's permanent generation, so a full
collection walks only what was made since: 1-4 ms. The younger
generations' collections are unchanged.

It collects once first, so start-up garbage is freed rather than frozen.
The cost: a cycle among the frozen objects that became garbage later would
never be freed — they are the program itself, kept until exit anyway.

TESSERA_GC_TUNING=0 in the environment leaves the collector as Python sets
it (A/B runs).

Invariant: which objects are freed never changes for anything made after the
call; only how often the collector looks at what was made before it.
"""

from __future__ import annotations

import gc
import os

SWITCH_ENV = "TESSERA_GC_TUNING"


def freeze_startup_objects() -> bool:
    """Moves every object alive now out of the collector's reach; True when
    it did."""
    if os.environ.get(SWITCH_ENV, "1") == "0":
        return False
    gc.collect()
    gc.freeze()
    return True
