"""tune_malloc(): set in a fresh process on glibc, and left alone when the
operator set glibc's own variables or turned it off. Each case runs in a new
interpreter, since glibc reads its environment once, at start."""

from __future__ import annotations

import sys

import pytest

from tests.unit.service.fresh_interpreter import run_probe

# Ask glibc what it does now: after tune_malloc(), a 1 MiB block must come
# from the heap (below the new mmap threshold), so freeing it and allocating
# again must not map anything new. mallinfo2's hblkhd counts mmapped bytes.
PROBE = """
import ctypes, ctypes.util, sys
from service.malloc_tuning import tune_malloc

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
        "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
tuned = tune_malloc()
block = libc.malloc(1 << 20)
mapped = libc.mallinfo2().hblkhd
libc.free(block)
print(tuned, mapped >= (1 << 20))
"""


def _probe(**env: str) -> str:
    return run_probe(PROBE, env, drop=("MALLOC_", "TESSERA_MALLOC_TUNING"))


pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="glibc's mallopt and mallinfo2"
)


def test_tuned_a_big_block_comes_from_the_heap() -> None:
    assert _probe() == "True False"


def test_glibc_default_maps_a_big_block_of_its_own() -> None:
    # the control: the same probe with tuning off sees the 1 MiB block mmapped
    assert _probe(TESSERA_MALLOC_TUNING="0") == "False True"


def test_operator_thresholds_win() -> None:
    assert _probe(MALLOC_MMAP_THRESHOLD_="131072").split()[0] == "False"
    assert _probe(MALLOC_TRIM_THRESHOLD_="131072").split()[0] == "False"
