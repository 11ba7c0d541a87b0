"""Placement: the zone rule always holds, load follows weights, and adding a
node moves about 1/N of placements."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.geometry import Geometry
from tessera.ids import new_version_id
from tessera.placement import (
    Candidate,
    NotEnoughNodes,
    default_geometry,
    place,
    zone_cap,
    zone_safe,
)

G42 = Geometry(4, 2, 1024)


def cluster(zones: int, per_zone: int, weight: float = 1.0) -> list[Candidate]:
    return [
        Candidate(node_id=f"n{z}-{i}", zone=f"z{z}", weight=weight)
        for z in range(zones)
        for i in range(per_zone)
    ]


@given(
    zones=st.integers(3, 5),
    per_zone=st.integers(2, 6),
    vid=st.text(min_size=1, max_size=30),
)
def test_zone_rule_always_holds(zones: int, per_zone: int, vid: str) -> None:
    nodes = cluster(zones, per_zone)
    zone_of = {c.node_id: c.zone for c in nodes}
    chosen = place(vid, nodes, G42)
    assert len(chosen) == len(set(chosen)) == 6
    per = Counter(zone_of[n] for n in chosen)
    assert max(per.values()) <= G42.parity_shards


def test_deterministic() -> None:
    nodes = cluster(3, 4)
    assert place("v1", nodes, G42) == place("v1", list(reversed(nodes)), G42)


def test_load_spreads_evenly() -> None:
    nodes = cluster(3, 4)
    counts: Counter[str] = Counter()
    trials = 6000
    for i in range(trials):
        counts.update(place(f"version-{i}", nodes, G42))
    expected = trials * 6 / len(nodes)
    for node in nodes:
        assert abs(counts[node.node_id] - expected) / expected < 0.06, counts


def test_weights_are_honoured() -> None:
    geometry = Geometry(2, 1, 1024)
    nodes = [Candidate(f"n{i}", f"z{i % 3}", weight=2.0 if i == 0 else 1.0) for i in range(9)]
    counts: Counter[str] = Counter()
    for i in range(20000):
        counts.update(place(f"v{i}", nodes, geometry)[:1])  # first choice follows weights
    share = counts["n0"] / 20000
    assert abs(share - 2 / 10) < 0.02, share


def test_adding_a_node_moves_about_one_nth() -> None:
    nodes = cluster(3, 4)
    grown = [*nodes, Candidate("new", "z1")]
    moved = 0
    total = 0
    for i in range(4000):
        vid = f"version-{i}"
        before = place(vid, nodes, G42)
        after = place(vid, grown, G42)
        for shard, (a, b) in enumerate(zip(before, after, strict=True)):
            total += 1
            if a != b:
                moved += 1
                assert "new" in after, (shard, a, b)
    share = moved / total
    assert share < 2.5 / len(grown), share


def test_not_enough_nodes() -> None:
    with pytest.raises(NotEnoughNodes):
        place("v", cluster(3, 1), G42)


def test_two_zones_cannot_be_zone_safe_for_4_plus_2() -> None:
    assert zone_safe(G42, 3)
    assert not zone_safe(G42, 2)
    assert zone_cap(G42, 1) == 6


def test_version_ids_sort_by_time() -> None:
    a = new_version_id(1000.0)
    b = new_version_id(1000.5)
    assert a < b and len(a) == 26


def test_even_spread_keeps_a_spare_after_a_zone_loss() -> None:
    g54 = Geometry(5, 4, 1024)
    nodes = cluster(3, 4)  # more nodes per zone than the even spread needs
    zone_of = {c.node_id: c.zone for c in nodes}
    for i in range(500):
        per = Counter(zone_of[n] for n in place(f"v{i}", nodes, g54))
        assert max(per.values()) == 3  # a zone loss leaves 6 = k + 1


def test_uneven_zones_fall_back_to_the_parity_cap() -> None:
    g54 = Geometry(5, 4, 1024)
    nodes = [*cluster(2, 4), Candidate("lonely", "z9")]  # zones of 4, 4 and 1 nodes
    zone_of = {c.node_id: c.zone for c in nodes}
    per = Counter(zone_of[n] for n in place("v", nodes, g54))
    assert max(per.values()) <= 4 and sum(per.values()) == 9


def test_default_geometry_survives_a_zone_plus_one_node() -> None:
    k, m = default_geometry(3, 9)
    geometry = Geometry(k, m, 1024)
    assert (k, m) == (5, 4) and (k + m) / k == 1.8
    # place() spreads 3 per zone, so a lost zone leaves k + 1 shards: one more node may go.
    for i in range(200):
        chosen = place(f"v{i}", cluster(3, 3), geometry)
        worst_zone = max(Counter(n.split("-")[0] for n in chosen).values())
        assert geometry.total_shards - worst_zone - 1 >= k
    assert default_geometry(3, 6) == (4, 2)
    assert default_geometry(1, 12) == (4, 2)
