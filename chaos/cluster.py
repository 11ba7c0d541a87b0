"""The cluster a chaos run breaks: a LocalCluster whose processes are started
through per-process wrappers (a cgroup to partition it, libfaketime to skew
its clock, an advertised proxy port to slow it down, a tmpfs as its disk),
plus what the harness reads from it: the etcd leader, the cluster map,
replica status, metrics, and each version's shards.

Invariant: close() removes everything the harness created (processes,
iptables rules, cgroups, mounts, proxies), even after a failure; what it could
not remove is returned so the report says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc

from chaos.faults import clock, diskfull, partition, proxy
from cli.local_cluster import Layout, LocalCluster
from metadata.client import MetadataClient
from proto import rpc
from proto import tessera_pb2 as pb
from proto import tessera_pb2_grpc as pb_grpc
from tessera import placement
from tessera.model import NODE_UP, ClusterMapView, ObjectVersion

T = TypeVar("T")
CALL_SECONDS = 10.0


@dataclass(frozen=True)
class Redundancy:
    """Where every version of a bucket stands against the cluster map."""

    versions: int
    full: int  # every shard on a distinct up node, zone rule kept
    min_margin: int  # fewest spare shards (shards on up nodes - k) over all versions
    zone_rule_broken: tuple[str, ...]
    shard_problems: tuple[str, ...] = ()  # from a full shard read (verify=True)
    bad_shards: frozenset[tuple[str, int]] = frozenset()  # (version id, shard index)
    current: frozenset[str] = frozenset()  # version ids listed

    @property
    def all_full(self) -> bool:
        return self.versions == self.full


class ChaosCluster:
    def __init__(self, data_dir: Path, seed: int) -> None:
        self.local = LocalCluster(Layout.with_free_ports(data_dir))
        self.layout = self.local.layout
        self.seed = seed
        self.prefixes: dict[str, list[str]] = {}
        self.cgroups = partition.Cgroups() if partition.unavailable_reason() is None else None
        self.cuts: list[partition.Cut] = []
        self.proxies: dict[str, proxy.LossyProxy] = {}
        self.disks = diskfull.SmallDisks()

    # ------------------------------------------------------------ wrappers, lifecycle

    def skew_clock(self, name: str, offset: str) -> None:
        self.prefixes[name] = [*clock.prefix(offset), *self.prefixes.get(name, [])]

    def put_behind_proxy(self, node_id: str) -> proxy.LossyProxy:
        grpc_port = int(self.local.grpc_address_of(node_id).rsplit(":", 1)[1])
        p = proxy.LossyProxy("127.0.0.1", grpc_port, seed=self.seed)
        port = p.start()
        self.proxies[node_id] = p
        env = ["env", f"TESSERA_ADVERTISE_ADDRESS=127.0.0.1:{port}"]
        self.prefixes[node_id] = [*env, *self.prefixes.get(node_id, [])]
        return p

    def small_disk(self, node_id: str, size_bytes: int, free_bytes: int) -> None:
        self.disks.mount(self.local.node_data_dir(node_id), size_bytes, free_bytes)

    def start_process(self, name: str) -> None:
        prefix = list(self.prefixes.get(name, []))
        if self.cgroups is not None and self.local.role_of(name) != "etcd":
            prefix = [*self.cgroups.prefix(name), *prefix]
        self.local.start_process(name, command_prefix=prefix or None)

    def start(self, ready_seconds: float = 90.0) -> None:
        self.local.start(start_one=self.start_process)  # in stages (docs/local-cluster.md)
        self.local.wait_ready(ready_seconds)

    def partition(self, names: list[str]) -> partition.Cut:
        assert self.cgroups is not None
        cut = partition.Cut([self.cgroups.name(n) for n in names])
        self.cuts.append(cut)
        cut.apply()
        return cut

    def close(self) -> list[str]:
        """Stops everything and removes what the harness created; returns leftovers."""
        leftovers: list[str] = []
        for cut in self.cuts:
            cut.lift()
        self.local.stop()
        for p in self.proxies.values():
            p.close()
        if self.cgroups is not None:
            leftovers += self.cgroups.close()
        leftovers += self.disks.close()
        return leftovers

    # ------------------------------------------------------------ reading the cluster

    def _run(self, make: Callable[[MetadataClient], Awaitable[T]]) -> T:
        async def go() -> T:
            addresses = self.layout.metadata_addresses()
            async with MetadataClient(addresses, self.local.credentials.cluster_secret) as c:
                return await make(c)

        return asyncio.run(go())

    def cluster_map(self) -> ClusterMapView:
        return self._run(lambda c: c.get_cluster_map(timeout=CALL_SECONDS))

    def etcd_leader(self, timeout_seconds: float = 20.0) -> str:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            for name in self.layout.etcd_names():
                url = f"http://127.0.0.1:{self.local.http_port_of(name)}/v3/maintenance/status"
                with contextlib.suppress(OSError, ValueError, KeyError):
                    request = urllib.request.Request(url, data=b"{}", method="POST")
                    with urllib.request.urlopen(request, timeout=3) as reply:
                        status = json.load(reply)
                    if status.get("leader") == status["header"]["member_id"]:
                        return name
            time.sleep(0.2)
        raise TimeoutError("no etcd leader")

    def replica_statuses(self) -> dict[str, dict[str, Any]]:
        async def ask() -> dict[str, dict[str, Any]]:
            found = {}
            for name in self.layout.metadata_names():
                address = self.local.grpc_address_of(name)
                async with MetadataClient(address, self.local.credentials.cluster_secret) as c:
                    found[name] = await c.replica_status(timeout=CALL_SECONDS)
            return found

        return asyncio.run(ask())

    def metrics(self, name: str) -> dict[str, float]:
        """One process's Prometheus samples (name{labels} -> value); {} when unreachable."""
        url = f"http://127.0.0.1:{self.local.http_port_of(name)}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=3) as reply:
                text = reply.read().decode()
        except (urllib.error.URLError, OSError):
            return {}
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                sample, _, value = line.rpartition(" ")
                with contextlib.suppress(ValueError):
                    samples[sample] = float(value)
        return samples

    def versions(self, bucket: str) -> list[ObjectVersion]:
        async def walk(c: MetadataClient) -> list[ObjectVersion]:
            found: list[ObjectVersion] = []
            after = ""
            while True:
                page = await c.list_objects(bucket, "", "", after, 1000, timeout=CALL_SECONDS)
                found += page.objects
                if not page.is_truncated:
                    return found
                after = page.next_start_after

        return self._run(walk)

    def redundancy(self, bucket: str, verify: bool = False) -> Redundancy:
        """Every version's shards against the cluster map (and, with verify, a full
        checksummed read of every shard from its node)."""
        cmap = self.cluster_map()
        versions = self.versions(bucket)
        problems: set[tuple[str, int]] = set()
        notes: list[str] = []
        if verify:
            problems, notes = asyncio.run(self._read_every_shard(cmap, versions))
        zones = len({n.zone for n in cmap.nodes})
        full = 0
        margins = []
        broken = []
        for v in versions:
            if not v.placement:  # inline: replicated by the metadata log itself
                full += 1
                continue
            up = {n.node_id for n in cmap.nodes if n.state == NODE_UP}
            healthy = {
                loc.shard_index
                for loc in v.placement
                if loc.node_id in up and (v.version_id, loc.shard_index) not in problems
            }
            per_zone: dict[str, int] = {}
            for loc in v.placement:
                node = cmap.node(loc.node_id)
                zone = node.zone if node else "?"
                per_zone[zone] = per_zone.get(zone, 0) + 1
            cap = placement.zone_cap(v.geometry, zones)
            zone_ok = max(per_zone.values()) <= cap and len(
                {loc.node_id for loc in v.placement}
            ) == len(v.placement)
            if not zone_ok:
                broken.append(f"{v.key} ({v.version_id}): {per_zone}, cap {cap}")
            margins.append(len(healthy) - v.data_shards)
            if zone_ok and len(healthy) == v.geometry.total_shards:
                full += 1
        return Redundancy(
            len(versions),
            full,
            min(margins, default=0),
            tuple(broken),
            tuple(notes),
            frozenset(problems),
            frozenset(v.version_id for v in versions),
        )

    async def _read_every_shard(
        self, cmap: ClusterMapView, versions: list[ObjectVersion]
    ) -> tuple[set[tuple[str, int]], list[str]]:
        secret = rpc.call_metadata(self.local.credentials.cluster_secret)
        channels: dict[str, grpc.aio.Channel] = {}
        bad: set[tuple[str, int]] = set()
        notes: list[str] = []
        limit = asyncio.Semaphore(8)

        async def read(v: ObjectVersion, index: int, node_id: str) -> None:
            node = cmap.node(node_id)
            if node is None:
                bad.add((v.version_id, index))
                notes.append(f"{v.key} shard {index}: node {node_id} not in the map")
                return
            channel = channels.setdefault(node.address, rpc.new_channel(node.address))
            stub = pb_grpc.NodeStub(channel)
            async with limit:
                try:
                    call = stub.GetShard(
                        pb.GetShardRequest(version_id=v.version_id, shard_index=index),
                        metadata=secret,
                        timeout=CALL_SECONDS,
                    )
                    async for _ in call:
                        pass
                except grpc.aio.AioRpcError as exc:
                    bad.add((v.version_id, index))
                    notes.append(f"{v.key} shard {index} on {node_id}: {exc.code().name}")

        try:
            await asyncio.gather(
                *(read(v, loc.shard_index, loc.node_id) for v in versions for loc in v.placement)
            )
        finally:
            for channel in channels.values():
                await channel.close(None)
        return bad, notes
