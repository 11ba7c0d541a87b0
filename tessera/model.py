"""Plain records shared by the roles: buckets, object versions, nodes, the map.

Protobuf messages stay at the gRPC edges (proto/convert.py turns them into
these); metadata stores these records as JSON (to_json / from_json).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from tessera.geometry import Geometry

NODE_UP = "up"
NODE_DOWN = "down"
NODE_DRAINING = "draining"


@dataclass(frozen=True, slots=True)
class BucketInfo:
    name: str
    owner: str
    created_at: float


@dataclass(frozen=True, slots=True)
class ShardLocation:
    shard_index: int
    node_id: str


@dataclass(frozen=True)
class ObjectVersion:
    """One committed version of a key: what GET needs to find and check its data."""

    bucket: str
    key: str
    version_id: str
    size_bytes: int
    etag: str  # hex MD5 for single-part objects, without quotes
    content_type: str
    last_modified: float
    data_shards: int
    parity_shards: int
    chunk_size_bytes: int
    placement: tuple[ShardLocation, ...]
    map_epoch: int = 0
    user_metadata: dict[str, str] = field(default_factory=dict)
    system_metadata: dict[str, str] = field(default_factory=dict)
    request_id: str = ""
    inline_data: bytes = b""

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.data_shards, self.parity_shards, self.chunk_size_bytes)

    def node_for_shard(self, shard_index: int) -> str | None:
        for loc in self.placement:
            if loc.shard_index == shard_index:
                return loc.node_id
        return None


@dataclass(frozen=True, slots=True)
class NodeInfo:
    node_id: str
    zone: str
    address: str
    weight: float = 1.0
    capacity_bytes: int = 0
    used_bytes: int = 0
    state: str = NODE_UP
    last_heartbeat: float = 0.0


@dataclass(frozen=True, slots=True)
class ClusterMapView:
    epoch: int
    nodes: tuple[NodeInfo, ...]

    def node(self, node_id: str) -> NodeInfo | None:
        for n in self.nodes:
            if n.node_id == node_id:
                return n
        return None


@dataclass(frozen=True, slots=True)
class ListPage:
    objects: tuple[ObjectVersion, ...]
    common_prefixes: tuple[str, ...]
    is_truncated: bool
    next_start_after: str


def version_to_json(v: ObjectVersion) -> bytes:
    d: dict[str, Any] = dataclasses.asdict(v)
    d["placement"] = [[loc.shard_index, loc.node_id] for loc in v.placement]
    d["inline_data"] = v.inline_data.hex()
    return json.dumps(d, separators=(",", ":")).encode()


def version_from_json(raw: bytes) -> ObjectVersion:
    d = json.loads(raw)
    d["placement"] = tuple(ShardLocation(int(i), str(n)) for i, n in d["placement"])
    d["inline_data"] = bytes.fromhex(d.get("inline_data", ""))
    return ObjectVersion(**d)


def record_to_json(record: BucketInfo | NodeInfo) -> bytes:
    return json.dumps(dataclasses.asdict(record), separators=(",", ":")).encode()


def bucket_from_json(raw: bytes) -> BucketInfo:
    return BucketInfo(**json.loads(raw))


def node_from_json(raw: bytes) -> NodeInfo:
    return NodeInfo(**json.loads(raw))
