"""Repair planning: which shards of a shard set to rebuild, from where, onto where.

Pure: given one shard set (its geometry and placement), the cluster map and the
shards reported corrupt, plan() says which shard indexes are missing, the
remaining margin (healthy shards - k), the healthy sources, and a target node
for each missing index chosen by the placement rules (rendezvous order, no node
that already holds a shard of the set, the zone cap of tessera.placement).

Invariants:
- a target never already holds a shard of the set, and after every planned
  rebuild no zone holds more than the cap place() would have allowed;
- a slot whose node is down or unknown, or which was reported corrupt, is not
  a source; a draining node's shard is a source and is moved (kind "drain")
  only after everything with a smaller margin;
- a corrupt shard on a node that is up is rebuilt on that same node (its slot
  keeps its node, so nothing else moves);
- a rebalance (plan_rebalance) is planned only for a whole set on up or
  draining-free nodes, moves a shard only from a node outside the set's ideal
  placement to a node inside it, and every move on its own keeps the zone cap;
  a set already on its ideal nodes needs nothing, so repeated passes converge.

shard_sets_of() is the one place that knows how a version is cut into shard
sets: a single-part version is one shard set whose id is its version id, a
multipart version one per part (`version.shard_sets()`).
shard_sets_of_upload() gives the parts of an upload still in progress: they
are repaired, drained, rebalanced and audited like a version's sets, and their
placement changes by the same compare-and-set on the part record.

readable_without() says whether a set stays readable if a node leaves the map
for good (`tessera admin node remove --force`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from tessera.geometry import Geometry
from tessera.model import (
    NODE_DOWN,
    NODE_DRAINING,
    NODE_UP,
    MultipartUpload,
    NodeInfo,
    ObjectVersion,
    Segment,
    ShardLocation,
)
from tessera.placement import Candidate, score, zone_caps

KIND_REPAIR = "repair"
KIND_DRAIN = "drain"
KIND_REBALANCE = "rebalance"
KIND_ORDER = {KIND_REPAIR: 0, KIND_DRAIN: 1, KIND_REBALANCE: 2}
KINDS = tuple(KIND_ORDER)


@dataclass(frozen=True, slots=True)
class ShardSet:
    """Shards coded together: one geometry, one placement (single-part: the
    version). A part of an upload in progress has no version id but its
    upload id."""

    bucket: str
    key: str
    version_id: str
    shard_set_id: str
    size_bytes: int
    geometry: Geometry
    placement: tuple[ShardLocation, ...]
    upload_id: str = ""


def shard_sets_of(version: ObjectVersion) -> list[ShardSet]:
    """The shard sets of a version (none for an inline or empty one)."""
    if version.size_bytes == 0 or version.inline_data:
        return []
    return [
        ShardSet(
            bucket=version.bucket,
            key=version.key,
            version_id=version.version_id,
            shard_set_id=s.shard_set_id,
            size_bytes=s.size_bytes,
            geometry=s.geometry,
            placement=s.placement,
        )
        for s in version.shard_sets()
    ]


def shard_sets_of_upload(upload: MultipartUpload, parts: Sequence[Segment]) -> list[ShardSet]:
    """The shard sets of an upload's recorded parts (none for an empty part).
    An encrypted upload's parts hold sealed streams, as its version will."""
    sealed = upload.is_encrypted
    found = []
    for part in parts:
        if part.size_bytes == 0 or not part.placement:
            continue
        s = part.shard_set(sealed=sealed)
        found.append(
            ShardSet(
                bucket=upload.bucket,
                key=upload.key,
                version_id="",
                shard_set_id=s.shard_set_id,
                size_bytes=s.size_bytes,
                geometry=s.geometry,
                placement=s.placement,
                upload_id=upload.upload_id,
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class Rebuild:
    shard_index: int
    old_node_id: str  # "" when the slot was never written
    target_node_id: str  # "" when no node fits the rules right now


@dataclass(frozen=True, slots=True)
class RepairTask:
    shard_set: ShardSet
    margin: int  # healthy shards - k (negative: unreadable until a node returns)
    kind: str  # KIND_REPAIR, KIND_DRAIN or KIND_REBALANCE
    rebuilds: tuple[Rebuild, ...]
    sources: tuple[tuple[int, str], ...]  # (shard index, node id) of healthy shards

    @property
    def shard_bytes(self) -> int:
        return self.shard_set.geometry.shard_size_bytes(self.shard_set.size_bytes)

    def sort_key(self) -> tuple[int, int, str]:
        return (KIND_ORDER[self.kind], self.margin, self.shard_set.shard_set_id)


def margin_of(
    shard_set: ShardSet, nodes: Mapping[str, NodeInfo], corrupt: Collection[tuple[int, str]]
) -> int:
    """Healthy shards - k."""
    return len(_healthy(shard_set, nodes, corrupt)) - shard_set.geometry.data_shards


def plan(
    shard_set: ShardSet,
    nodes: Mapping[str, NodeInfo],
    corrupt: Collection[tuple[int, str]] = (),
) -> RepairTask | None:
    """The repair a shard set needs, or None when it is whole and on good nodes.

    nodes: the cluster map by node id; corrupt: (shard index, node id) pairs
    reported corrupt.
    """
    geometry = shard_set.geometry
    healthy = _healthy(shard_set, nodes, corrupt)
    margin = len(healthy) - geometry.data_shards
    by_index = {loc.shard_index: loc.node_id for loc in shard_set.placement}
    missing = [i for i in range(geometry.total_shards) if i not in healthy]
    draining = [i for i, n in sorted(healthy.items()) if nodes[n].state == NODE_DRAINING]
    kind = KIND_REPAIR if missing else KIND_DRAIN
    moving = missing if missing else draining
    if not moving:
        return None
    if margin < 0:
        # Unreadable right now: nothing can be rebuilt until a node returns.
        return RepairTask(shard_set, margin, kind, (), tuple(sorted(healthy.items())))
    # A drain keeps the draining shards as sources while their copies are made.
    staying = {i: n for i, n in healthy.items() if i not in moving}
    targets = _targets(shard_set, nodes, corrupt, staying, moving, by_index)
    rebuilds = tuple(Rebuild(i, by_index.get(i, ""), targets.get(i, "")) for i in moving)
    return RepairTask(shard_set, margin, kind, rebuilds, tuple(sorted(healthy.items())))


def readable_without(shard_set: ShardSet, nodes: Mapping[str, NodeInfo], node_id: str) -> bool:
    """True when the set keeps k healthy shards with node_id gone for good."""
    rest = {n: info for n, info in nodes.items() if n != node_id}
    return len(_healthy(shard_set, rest, ())) >= shard_set.geometry.data_shards


def _healthy(
    shard_set: ShardSet, nodes: Mapping[str, NodeInfo], corrupt: Collection[tuple[int, str]]
) -> dict[int, str]:
    found: dict[int, str] = {}
    for loc in shard_set.placement:
        node = nodes.get(loc.node_id)
        if node is None or node.state == NODE_DOWN:
            continue
        if (loc.shard_index, loc.node_id) in corrupt:
            continue
        if 0 <= loc.shard_index < shard_set.geometry.total_shards:
            found[loc.shard_index] = loc.node_id
    return found


def _targets(
    shard_set: ShardSet,
    nodes: Mapping[str, NodeInfo],
    corrupt: Collection[tuple[int, str]],
    staying: Mapping[int, str],
    moving: Sequence[int],
    by_index: Mapping[int, str],
) -> dict[int, str]:
    """A target per moving index: the same node for a corrupt shard on an up
    node, else the best-ranked eligible node within the zone cap."""
    chosen: dict[int, str] = {}
    holders = set(by_index.values())
    per_zone: Counter[str] = Counter(nodes[n].zone for n in staying.values())
    rest = []
    for i in moving:
        old = by_index.get(i, "")
        node = nodes.get(old)
        if (i, old) in corrupt and node is not None and node.state == NODE_UP:
            chosen[i] = old
            per_zone[node.zone] += 1
        else:
            rest.append(i)
    if not rest:
        return chosen
    zones = {n.zone for n in nodes.values() if n.state != NODE_DOWN}
    candidates = [
        Candidate(n.node_id, n.zone, n.weight)
        for n in nodes.values()
        if n.state == NODE_UP and n.node_id not in holders and n.weight > 0
    ]
    ranked = sorted(candidates, key=lambda c: (-score(shard_set.shard_set_id, c), c.node_id))
    for cap in zone_caps(shard_set.geometry, max(1, len(zones))):
        picked = _pick(ranked, len(rest), cap, per_zone)
        if picked is not None:
            chosen.update(zip(rest, picked, strict=True))
            return chosen
    # Not all fit: place as many as the loosest cap allows, the rest wait.
    cap = zone_caps(shard_set.geometry, max(1, len(zones)))[-1]
    zone_count = Counter(per_zone)
    picked_some: list[str] = []
    for c in ranked:
        if len(picked_some) == len(rest):
            break
        if zone_count[c.zone] < cap:
            picked_some.append(c.node_id)
            zone_count[c.zone] += 1
    chosen.update(zip(rest, picked_some, strict=False))
    return chosen


def _pick(
    ranked: Sequence[Candidate], count: int, cap: int, per_zone: Counter[str]
) -> list[str] | None:
    zone_count = Counter(per_zone)
    picked: list[str] = []
    for c in ranked:
        if zone_count[c.zone] >= cap:
            continue
        picked.append(c.node_id)
        zone_count[c.zone] += 1
        if len(picked) == count:
            return picked
    return None


def ideal_nodes(shard_set: ShardSet, nodes: Mapping[str, NodeInfo]) -> list[str] | None:
    """Where place() would put this set on today's map, or None when it cannot
    be placed with the cap of every zone in the map (a zone that is down still
    counts: the set must not crowd into the zones that are left).

    Candidates are the up nodes with weight, as for a new write."""
    candidates = [
        Candidate(n.node_id, n.zone, n.weight)
        for n in nodes.values()
        if n.state == NODE_UP and n.weight > 0
    ]
    zones = {n.zone for n in nodes.values()}
    ranked = sorted(candidates, key=lambda c: (-score(shard_set.shard_set_id, c), c.node_id))
    for cap in zone_caps(shard_set.geometry, max(1, len(zones))):
        picked = _pick(ranked, shard_set.geometry.total_shards, cap, Counter())
        if picked is not None:
            return picked
    return None


def plan_rebalance(shard_set: ShardSet, nodes: Mapping[str, NodeInfo]) -> RepairTask | None:
    """Moves that bring a whole, healthy set onto its ideal nodes, or None.

    Only for a set plan() left alone (every slot healthy, none draining). A
    leaving shard is paired with an arriving node of its own zone first; the
    rest go to zones that gain shards on net, so each move alone keeps every
    zone within the count of the ideal placement (itself within the cap)."""
    geometry = shard_set.geometry
    by_node = {loc.node_id: loc.shard_index for loc in shard_set.placement}
    if len(by_node) != geometry.total_shards or len(shard_set.placement) != len(by_node):
        return None
    if any(
        nodes.get(n) is None or nodes[n].state != NODE_UP or not 0 <= i < geometry.total_shards
        for n, i in by_node.items()
    ):
        return None
    ideal = ideal_nodes(shard_set, nodes)
    if ideal is None:
        return None
    ideal_set = set(ideal)
    leaving = sorted((i, n) for n, i in by_node.items() if n not in ideal_set)
    arriving = [n for n in ideal if n not in by_node]
    if not leaving:
        return None
    assert len(leaving) == len(arriving)
    moves: list[Rebuild] = []
    unpaired: list[tuple[int, str]] = []
    for index, old in leaving:
        same_zone = next((n for n in arriving if nodes[n].zone == nodes[old].zone), None)
        if same_zone is None:
            unpaired.append((index, old))
            continue
        arriving.remove(same_zone)
        moves.append(Rebuild(index, old, same_zone))
    moves.extend(
        Rebuild(index, old, new) for (index, old), new in zip(unpaired, arriving, strict=True)
    )
    sources = tuple(sorted((i, n) for n, i in by_node.items()))
    margin = geometry.total_shards - geometry.data_shards
    return RepairTask(shard_set, margin, KIND_REBALANCE, tuple(moves), sources)


MARGIN_LABELS = ("lost", "0", "1", "2", "3", "4+")


def margin_label(margin: int) -> str:
    if margin < 0:
        return "lost"
    return str(margin) if margin < 4 else "4+"
