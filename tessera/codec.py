"""Erasure coding of one stripe with zfec (systematic Reed-Solomon).

encode_stripe turns a stripe's data into n equal-length chunks, the first k
being the data itself; decode_stripe rebuilds the data from any k of them.
Where libisal is present, the parity chunks are computed through it with
zfec's own coefficients: the same bytes, 12-17x less CPU (tessera/isal.py);
lost data chunks are rebuilt through it too, from the inverse of the chosen
rows of the same code.
zfec and ISA-L release the GIL, so callers run these in a thread pool.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import zfec

from tessera import isal
from tessera.geometry import Geometry

Buffer = bytes | bytearray | memoryview


class NotEnoughShards(Exception):
    """Fewer than k distinct chunks were given for a stripe."""


def split_stripe(data: Buffer, geometry: Geometry) -> list[bytes]:
    """Splits a stripe's data into k equal data chunks (zero-padding the last)."""
    size = len(data)
    chunk = geometry.chunk_bytes_for(size)
    view = memoryview(data)
    padded = geometry.data_shards * chunk
    out: list[bytes] = []
    for i in range(geometry.data_shards):
        piece = bytes(view[i * chunk : min((i + 1) * chunk, size)])
        if len(piece) < chunk:
            piece += bytes(chunk - len(piece))
        out.append(piece)
    assert sum(len(p) for p in out) == padded
    return out


def parity_coefficients(data_shards: int, total_shards: int) -> list[list[int]]:
    """zfec's encoding coefficients: rows[j][i] multiplies data chunk i in
    parity chunk j (its code is linear, so encoding a unit vector per data
    chunk reads them off)."""
    encoder = zfec.Encoder(data_shards, total_shards)
    parity_ids = tuple(range(data_shards, total_shards))
    columns = []
    for i in range(data_shards):
        unit = tuple(bytes([int(j == i)]) for j in range(data_shards))
        columns.append([p[0] for p in encoder.encode(unit, parity_ids)])
    return [[column[j] for column in columns] for j in range(len(parity_ids))]


@functools.lru_cache(maxsize=64)
def _isal_tables(data_shards: int, total_shards: int) -> isal.ParityTables:
    return isal.ParityTables(parity_coefficients(data_shards, total_shards))


def zfec_parity(data_chunks: Sequence[bytes], geometry: Geometry) -> list[bytes]:
    """The parity chunks as zfec computes them."""
    encoder = zfec.Encoder(geometry.data_shards, geometry.total_shards)
    parity_ids = tuple(range(geometry.data_shards, geometry.total_shards))
    return [bytes(p) for p in encoder.encode(tuple(data_chunks), parity_ids)]


def encode_stripe(data: Buffer, geometry: Geometry) -> list[bytes]:
    """Returns the n chunks (k data, then m parity) of one stripe."""
    data_chunks = split_stripe(data, geometry)
    if geometry.parity_shards == 0:
        return data_chunks
    if isal.available():
        tables = _isal_tables(geometry.data_shards, geometry.total_shards)
        return data_chunks + tables.encode(data_chunks)
    return data_chunks + zfec_parity(data_chunks, geometry)


def decode_stripe(
    chunks: Mapping[int, bytes | memoryview], geometry: Geometry, data_bytes: int
) -> bytes:
    """Rebuilds a stripe's data_bytes of data from any k chunks (by shard index)."""
    k = geometry.data_shards
    if all(i in chunks for i in range(k)):
        joined = b"".join(chunks[i] for i in range(k))
        return joined[:data_bytes]
    if len(chunks) < k:
        raise NotEnoughShards(f"{len(chunks)} of {k} chunks")
    chosen = sorted(chunks)[:k]
    if isal.available():
        lost = tuple(i for i in range(k) if i not in chunks)
        tables = _isal_decode_tables(k, geometry.total_shards, tuple(chosen), lost)
        rebuilt = dict(zip(lost, tables.encode([bytes(chunks[i]) for i in chosen]), strict=True))
        return b"".join(rebuilt[i] if i in rebuilt else chunks[i] for i in range(k))[:data_bytes]
    # zfec wants primary blocks at their own positions when present.
    primaries = [i for i in chosen if i < k]
    others = [i for i in chosen if i >= k]
    order = primaries + others
    decoder = zfec.Decoder(k, geometry.total_shards)
    parts = decoder.decode(tuple(chunks[i] for i in order), tuple(order))
    return b"".join(parts)[:data_bytes]


@functools.lru_cache(maxsize=256)
def _isal_decode_tables(
    data_shards: int, total_shards: int, chosen: tuple[int, ...], lost: tuple[int, ...]
) -> isal.ParityTables:
    """Tables that turn the chosen chunks (k of them, in order) into the lost
    data chunks: the rows for `lost` of the inverse of the chosen rows of the
    code's generator matrix (identity on top, zfec's coefficients below)."""
    parity = parity_coefficients(data_shards, total_shards)
    generator = [[int(i == j) for j in range(data_shards)] for i in range(data_shards)] + parity
    inverse = isal.invert([generator[i] for i in chosen])
    return isal.ParityTables([inverse[i] for i in lost])


def rebuild_chunks(
    chunks: Mapping[int, bytes | memoryview],
    geometry: Geometry,
    data_bytes: int,
    wanted: Sequence[int],
) -> dict[int, bytes]:
    """Recomputes the chunks at the wanted shard indexes of one stripe from
    any k of its chunks (data_bytes: the stripe's data length)."""
    data = decode_stripe(chunks, geometry, data_bytes)
    full = encode_stripe(data, geometry)
    return {i: full[i] for i in wanted}
