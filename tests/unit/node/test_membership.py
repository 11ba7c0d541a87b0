"""Registration with retries, heartbeats, and re-registration after a failure."""

from __future__ import annotations

import asyncio

import pytest

from node.membership import Membership
from tessera.model import ClusterMapView, NodeInfo

pytestmark = pytest.mark.usefixtures("loop_watchdog")

INFO = NodeInfo(node_id="node-1", zone="zone-a", address="10.0.0.1:9200", capacity_bytes=1000)


class FakeMetadata:
    """Fails the calls whose (1-based) numbers are in failing_calls."""

    def __init__(self, failing_calls: set[int]) -> None:
        self.failing_calls = failing_calls
        self.calls: list[tuple[str, int]] = []  # (kind, used bytes)
        self.registered: list[NodeInfo] = []
        self.progress = asyncio.Event()

    def _record(self, kind: str, used_bytes: int) -> None:
        self.calls.append((kind, used_bytes))
        self.progress.set()
        if len(self.calls) in self.failing_calls:
            raise ConnectionError("metadata unavailable")

    async def register_node(
        self,
        info: NodeInfo,
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> ClusterMapView:
        self._record("register", info.used_bytes)
        self.registered.append(info)
        return ClusterMapView(epoch=1, nodes=(info,))

    async def heartbeat(
        self,
        node_id: str,
        capacity_bytes: int,
        used_bytes: int,
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> None:
        assert (node_id, capacity_bytes) == ("node-1", 1000)
        self._record("heartbeat", used_bytes)


async def run_until(membership: Membership, fake: FakeMetadata, calls: int) -> None:
    task = asyncio.create_task(membership.run())
    try:
        async with asyncio.timeout(5):
            while len(fake.calls) < calls:
                fake.progress.clear()
                await fake.progress.wait()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def fast(fake: FakeMetadata, used: list[int]) -> Membership:
    return Membership(
        fake,
        INFO,
        lambda: used[0],
        interval_seconds=0.01,
        backoff_min_seconds=0.001,
        backoff_max_seconds=0.004,
    )


async def test_registers_after_metadata_comes_up_then_heartbeats():
    fake = FakeMetadata(failing_calls={1, 2, 3})
    used = [42]
    membership = fast(fake, used)
    assert not membership.registered_once
    await run_until(membership, fake, calls=6)
    kinds = [kind for kind, _ in fake.calls]
    assert kinds[:5] == ["register"] * 4 + ["heartbeat"]
    assert membership.registered_once and membership.healthy
    assert fake.registered[-1].used_bytes == 42
    assert fake.registered[-1].address == "10.0.0.1:9200"
    assert membership.last_map is not None and membership.last_map.epoch == 1


async def test_a_failed_heartbeat_leads_to_registering_again():
    fake = FakeMetadata(failing_calls={3})
    used = [7]
    membership = fast(fake, used)
    await run_until(membership, fake, calls=5)
    kinds = [kind for kind, _ in fake.calls]
    assert kinds[:5] == ["register", "heartbeat", "heartbeat", "register", "heartbeat"]
    assert membership.registered_once  # readiness never goes back


async def test_heartbeats_report_current_usage():
    fake = FakeMetadata(failing_calls=set())
    used = [0]
    membership = fast(fake, used)
    task = asyncio.create_task(membership.run())
    try:
        async with asyncio.timeout(5):
            while len(fake.calls) < 2:
                fake.progress.clear()
                await fake.progress.wait()
            used[0] = 999
            while fake.calls[-1] != ("heartbeat", 999):
                fake.progress.clear()
                await fake.progress.wait()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
