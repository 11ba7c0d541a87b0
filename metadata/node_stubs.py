"""gRPC channels from a metadata replica to storage nodes (repair and GC calls).

One channel per node address, kept while the address is in use; closed with
the scheduler.
"""

from __future__ import annotations

import grpc.aio

from proto import rpc
from proto.node_rpc import NodeStub


class NodeStubs:
    def __init__(self, secret: str) -> None:
        self.call_metadata = rpc.call_metadata(secret)
        self._channels: dict[str, tuple[grpc.aio.Channel, NodeStub]] = {}

    def stub(self, address: str) -> NodeStub:
        found = self._channels.get(address)
        if found is None:
            channel = rpc.new_channel(address)
            found = (channel, NodeStub(channel))
            self._channels[address] = found
        return found[1]

    async def close(self) -> None:
        for channel, _ in self._channels.values():
            await channel.close(None)
        self._channels.clear()
