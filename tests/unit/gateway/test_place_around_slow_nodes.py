"""gateway/write_path.py _place: new shard sets avoid a node marked slow
(gateway/slow_nodes.py) when the other up nodes are enough and span every
zone the up nodes do; otherwise the slow node is placed on as before (its
shard then gets only the short grace: tests/integration/test_durability.py)."""

from __future__ import annotations

from gateway.slow_nodes import SlowNodes
from gateway.write_path import _place
from tessera.geometry import Geometry
from tessera.ids import new_version_id
from tessera.placement import Candidate

GEOMETRY = Geometry(4, 2, 1 << 20)


class Cluster:
    """The part of ClusterView that _place reads."""

    def __init__(self, zones: int, per_zone: int) -> None:
        self.nodes = [
            Candidate(f"{zone}{i}", zone) for zone in "abc"[:zones] for i in range(per_zone)
        ]
        self.slow = SlowNodes()

    def candidates(self) -> list[Candidate]:
        return list(self.nodes)

    def fallback_candidates(self) -> list[Candidate]:
        return list(self.nodes)

    async def refresh(self) -> None:
        pass


async def placements(cluster: Cluster, count: int = 60) -> list[list[str]]:
    return [await _place(new_version_id(), cluster, GEOMETRY) for _ in range(count)]  # type: ignore[arg-type]


async def test_a_slow_node_gets_no_new_shards_while_the_others_suffice() -> None:
    cluster = Cluster(zones=3, per_zone=3)
    assert any("a0" in p for p in await placements(cluster))
    cluster.slow.mark("a0")
    chosen = await placements(cluster)
    assert all("a0" not in p and len(set(p)) == 6 for p in chosen)
    # still two shards a zone at most: the zone spread is unchanged
    assert all(max(sum(n[0] == z for n in p) for z in "abc") == 2 for p in chosen)


async def test_a_slow_node_is_placed_on_when_it_is_needed() -> None:
    cluster = Cluster(zones=3, per_zone=2)  # six nodes, six shards
    cluster.slow.mark("a0")
    assert all("a0" in p for p in await placements(cluster))


async def test_a_zone_of_slow_nodes_is_not_left_out() -> None:
    """Avoiding them would leave two zones for six shards: worse spread."""
    cluster = Cluster(zones=3, per_zone=3)
    for node in ("a0", "a1", "a2"):
        cluster.slow.mark(node)
    chosen = await placements(cluster)
    assert all(sum(n.startswith("a") for n in p) == 2 for p in chosen)
