"""Parity through Intel's ISA-L (libisal), when the machine has it.

zfec multiplies in GF(2^8) one byte at a time (its `_addmul1` loop: ~0.65 ms
of CPU for the two parity chunks of a 1 MiB stripe at 4+2 here); ISA-L's
`ec_encode_data` does the same multiply-and-add over the same field (both
use the polynomial 0x11d) with SIMD table lookups, ~30x faster: a whole
stripe's encoding (split included) takes 12-17x less CPU. Given the very
coefficients zfec's encoder uses (tessera/codec.py reads them off zfec by
encoding unit vectors), it produces byte for byte the parity zfec would: the
code on disk is zfec's. Lost data chunks are rebuilt the same way, with the
rows of an inverted matrix (invert(), gf_invert_matrix) as coefficients.
tests/unit/tessera/test_codec.py checks the two agree for any geometry up to
k + m = 256, and decoding with either engine.

The library is Debian's libisal2 (scripts/bootstrap.sh installs it; the
Docker image carries it in its virtualenv and names it in
TESSERA_ISAL_LIBRARY), loaded with ctypes; ctypes releases the GIL during
the call. Without it, or with TESSERA_EC_ISAL=0 in the environment, zfec
encodes and decodes. Measured in docs/benchmarks.md, "Parity through ISA-L".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Sequence

SWITCH_ENV = "TESSERA_EC_ISAL"
LIBRARY_ENV = "TESSERA_ISAL_LIBRARY"  # a path to libisal.so.2, else the linker's search
GF_TABLE_BYTES = 32  # ec_init_tables: 32 bytes of tables per coefficient


def _load() -> ctypes.CDLL | None:
    if os.environ.get(SWITCH_ENV, "1") == "0":
        return None
    name = os.environ.get(LIBRARY_ENV) or ctypes.util.find_library("isal")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
        init, encode = lib.ec_init_tables, lib.ec_encode_data
    except (OSError, AttributeError):
        return None
    init.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    init.restype = None
    invert = lib.gf_invert_matrix
    invert.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    invert.restype = ctypes.c_int
    encode.argtypes = [
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    encode.restype = None
    return lib


_lib = _load()


def available() -> bool:
    """Whether ISA-L encodes and decodes in this process."""
    return _lib is not None


def invert(matrix: Sequence[Sequence[int]]) -> list[list[int]]:
    """The inverse of a square matrix over GF(2^8) (ISA-L's gf_invert_matrix);
    ValueError if it is singular."""
    if _lib is None:
        raise RuntimeError("libisal is not loaded")
    size = len(matrix)
    flat = [c for row in matrix for c in row]
    source = (ctypes.c_ubyte * len(flat))(*flat)  # the call overwrites its input
    out = (ctypes.c_ubyte * len(flat))()
    if _lib.gf_invert_matrix(source, out, size) != 0:
        raise ValueError("singular matrix")
    return [list(out[r * size : (r + 1) * size]) for r in range(size)]


class ParityTables:
    """ISA-L's expanded tables for one coefficient matrix: rows[j][i] is
    source chunk i's coefficient in output chunk j (the parity of the data
    chunks, or lost data chunks from the chunks that survive). Immutable once
    made, so threads share one."""

    def __init__(self, rows: Sequence[Sequence[int]]) -> None:
        if _lib is None:
            raise RuntimeError("libisal is not loaded")
        self.outputs = len(rows)
        self.sources = len(rows[0])
        flat = [c for row in rows for c in row]
        matrix = (ctypes.c_ubyte * len(flat))(*flat)
        self._tables = (ctypes.c_ubyte * (GF_TABLE_BYTES * len(flat)))()
        _lib.ec_init_tables(self.sources, self.outputs, matrix, self._tables)

    def encode(self, chunks: Sequence[bytes]) -> list[bytes]:
        """The output chunks made from the source chunks (all of one
        length: ISA-L reads that many bytes of each, so a shorter one is
        refused here, never read past)."""
        assert _lib is not None
        if len(chunks) != self.sources:
            raise ValueError(f"{len(chunks)} chunks for {self.sources} sources")
        length = len(chunks[0])
        if any(len(c) != length for c in chunks):
            raise ValueError("chunks of different lengths")
        if length == 0:
            return [b""] * self.outputs
        sources = (ctypes.c_char_p * self.sources)(*chunks)
        outputs = [bytearray(length) for _ in range(self.outputs)]
        targets = (ctypes.c_void_p * self.outputs)(
            *(ctypes.addressof((ctypes.c_char * length).from_buffer(out)) for out in outputs)
        )
        _lib.ec_encode_data(length, self.sources, self.outputs, self._tables, sources, targets)
        return [bytes(out) for out in outputs]
