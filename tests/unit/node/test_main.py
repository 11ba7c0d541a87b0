"""serve(): a whole node process in the test's event loop, with a fake metadata."""

from __future__ import annotations

import asyncio
import dataclasses
import socket

import aiohttp
import pytest

from node.main import serve
from node.store import ShardStore
from proto import tessera_pb2 as pb
from proto import tessera_pb2_grpc as pb_grpc
from proto.rpc import call_metadata, new_channel
from tessera.config import NodeSettings
from tessera.model import ClusterMapView, NodeInfo

pytestmark = pytest.mark.usefixtures("loop_watchdog")


class FakeMetadata:
    def __init__(self) -> None:
        self.registered = asyncio.Event()
        self.info: NodeInfo | None = None

    async def register_node(
        self,
        info: NodeInfo,
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> ClusterMapView:
        self.info = info
        self.registered.set()
        return ClusterMapView(epoch=1, nodes=(info,))

    async def heartbeat(
        self,
        node_id: str,
        capacity_bytes: int,
        used_bytes: int,
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> None:
        pass


async def test_serve_registers_answers_and_stops(tmp_path):
    settings = NodeSettings(
        cluster_secret="s3cret",
        zone="zone-b",
        data_dir=str(tmp_path),
        listen="127.0.0.1:0",
        http_listen="127.0.0.1:0",
        capacity_bytes=5 * 10**9,
    )
    fake = FakeMetadata()
    stop = asyncio.Event()
    node = asyncio.create_task(serve(settings, stop, metadata_client=fake))
    async with asyncio.timeout(10):
        await fake.registered.wait()
    assert fake.info is not None
    assert fake.info.zone == "zone-b" and fake.info.capacity_bytes == 5 * 10**9
    assert fake.info.address.startswith("127.0.0.1:")
    assert not fake.info.address.endswith(":0")
    node_id = (tmp_path / "node_id").read_text().strip()
    assert fake.info.node_id == node_id

    async with new_channel(fake.info.address) as channel:
        status = await pb_grpc.NodeStub(channel).NodeStatus(
            pb.NodeStatusRequest(), metadata=call_metadata("s3cret"), timeout=5
        )
    assert (status.node_id, status.zone, status.shard_count) == (node_id, "zone-b", 0)

    stop.set()
    async with asyncio.timeout(15):
        await node
    ShardStore(tmp_path).close()  # the folder lock was released

    # A restart keeps the identity.
    fake_again = FakeMetadata()
    stop_again = asyncio.Event()
    again = asyncio.create_task(
        serve(dataclasses.replace(settings), stop_again, metadata_client=fake_again)
    )
    async with asyncio.timeout(10):
        await fake_again.registered.wait()
    assert fake_again.info is not None and fake_again.info.node_id == node_id
    stop_again.set()
    async with asyncio.timeout(15):
        await again


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_waits_for_metadata_and_stops_promptly(tmp_path):
    http_port = free_port()
    settings = NodeSettings(
        cluster_secret="s3cret",
        data_dir=str(tmp_path),
        listen="127.0.0.1:0",
        http_listen=f"127.0.0.1:{http_port}",
        metadata_address=f"127.0.0.1:{free_port()}",  # nothing listens there
    )
    stop = asyncio.Event()
    node = asyncio.create_task(serve(settings, stop))
    async with aiohttp.ClientSession() as http:
        async with asyncio.timeout(10):
            while True:
                try:
                    async with http.get(f"http://127.0.0.1:{http_port}/readyz") as response:
                        assert response.status == 503
                        assert "registered" in await response.text()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.02)
    stop.set()
    async with asyncio.timeout(10):
        await node
