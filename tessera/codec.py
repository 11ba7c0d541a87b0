"""Erasure coding of one stripe with zfec (systematic Reed-Solomon).

encode_stripe turns a stripe's data into n equal-length chunks, the first k
being the data itself; decode_stripe rebuilds the data from any k of them.
zfec releases the GIL, so callers run these in a thread pool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import zfec

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


def encode_stripe(data: Buffer, geometry: Geometry) -> list[bytes]:
    """Returns the n chunks (k data, then m parity) of one stripe."""
    data_chunks = split_stripe(data, geometry)
    if geometry.parity_shards == 0:
        return data_chunks
    encoder = zfec.Encoder(geometry.data_shards, geometry.total_shards)
    parity_ids = tuple(range(geometry.data_shards, geometry.total_shards))
    parity = encoder.encode(tuple(data_chunks), parity_ids)
    return data_chunks + [bytes(p) for p in parity]


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
    # zfec wants primary blocks at their own positions when present.
    primaries = [i for i in chosen if i < k]
    others = [i for i in chosen if i >= k]
    order = primaries + others
    decoder = zfec.Decoder(k, geometry.total_shards)
    parts = decoder.decode(tuple(chunks[i] for i in order), tuple(order))
    return b"".join(parts)[:data_bytes]


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
