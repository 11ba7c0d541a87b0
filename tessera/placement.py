"""Zone-aware placement by weighted rendezvous (highest-random-weight) hashing.

place(version_id, nodes, geometry) picks n = k + m distinct nodes for a
version: nodes are ranked by a weighted rendezvous score of (version id, node
id) and taken best-first, skipping a node whose zone already holds its cap of
shards. The cap is the even spread, ceil(n / zones), so that losing a zone
costs as few shards as possible (5+4 over three zones: 3, leaving a spare);
when the nodes are too unevenly spread over zones for that, the cap is m
(losing a zone still loses no data), and with too few zones for even that,
the smallest spread the zones allow.

Properties (tested in tests/unit/tessera/test_placement.py):
- deterministic: same version id and same candidate nodes, same answer;
- adding a node moves about 1/N of the placements, and only onto the new node;
- load follows weights within a few percent.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from tessera.geometry import Geometry


@dataclass(frozen=True, slots=True)
class Candidate:
    """A node that may receive shards: only nodes that are up and not draining."""

    node_id: str
    zone: str
    weight: float = 1.0


class NotEnoughNodes(Exception):
    """The cluster has too few eligible nodes or zones for the geometry."""


def zone_caps(geometry: Geometry, zone_count: int) -> list[int]:
    """Per-zone shard caps to try, strictest first."""
    assert zone_count >= 1
    even_spread = -(-geometry.total_shards // zone_count)
    if even_spread >= geometry.parity_shards:
        return [even_spread]
    return [even_spread, geometry.parity_shards]


def zone_cap(geometry: Geometry, zone_count: int) -> int:
    """The most shards of one version that a single zone may hold."""
    return zone_caps(geometry, zone_count)[-1]


def zone_safe(geometry: Geometry, zone_count: int) -> bool:
    """True when losing any one whole zone leaves at least k shards."""
    return zone_cap(geometry, zone_count) <= geometry.parity_shards


def default_geometry(zone_count: int, node_count: int) -> tuple[int, int]:
    """(k, m) for a cluster layout (docs/erasure-coding.md has the arithmetic).

    With 3 or more zones and at least 9 nodes: 5+4 (1.8x). Spread at most
    3 per zone, losing a whole zone leaves 6 shards, one spare: a zone plus
    one more node may fail with no data unreadable. Smaller layouts get 4+2
    (1.5x), which survives any two nodes but a zone loss only with nothing
    to spare.
    """
    if zone_count >= 3 and node_count >= 9:
        return 5, 4
    return 4, 2


def score(version_id: str, candidate: Candidate) -> float:
    """Weighted rendezvous score: -weight / ln(u), u uniform in (0, 1)."""
    digest = hashlib.blake2b(
        f"{version_id}\x00{candidate.node_id}".encode(), digest_size=8
    ).digest()
    u = (int.from_bytes(digest, "big") + 1) / (2**64 + 1)
    return -candidate.weight / math.log(u)


def place(version_id: str, candidates: Sequence[Candidate], geometry: Geometry) -> list[str]:
    """Returns the node id for each shard index 0..n-1 of a version."""
    n = geometry.total_shards
    if len({c.node_id for c in candidates}) < n:
        raise NotEnoughNodes(f"need {n} distinct nodes, have {len(candidates)}")
    zones = {c.zone for c in candidates}
    ranked = sorted(candidates, key=lambda c: (-score(version_id, c), c.node_id))
    for cap in zone_caps(geometry, len(zones)):
        chosen = _take(ranked, n, cap)
        if chosen is not None:
            return chosen
    raise NotEnoughNodes(
        f"need {n} nodes with at most {zone_cap(geometry, len(zones))} per zone; "
        f"zones: {sorted(zones)}"
    )


def _take(ranked: Sequence[Candidate], n: int, cap: int) -> list[str] | None:
    chosen: list[str] = []
    per_zone: Counter[str] = Counter()
    for c in ranked:
        if per_zone[c.zone] >= cap or c.node_id in chosen:
            continue
        chosen.append(c.node_id)
        per_zone[c.zone] += 1
        if len(chosen) == n:
            return chosen
    return None
