"""The Node servicer over a real grpc.aio server and channel on 127.0.0.1."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
import grpc.aio
import pytest
from prometheus_client import REGISTRY

from node import errors
from node.service import STATUS_FOR, NodeIdentity, NodeServicer, status_for
from node.shard_format import PREFIX, RECORD, ShardMeta, encode_header
from node.store import ShardStore, ShardWriter
from proto import tessera_pb2 as pb
from proto import tessera_pb2_grpc as pb_grpc
from proto import wire
from proto.node_rpc import NodeStub, add_node_servicer
from proto.rpc import call_metadata, new_channel, new_server
from tessera import limits
from tests.unit.node.test_page_cache import evict, require_cached_reads

SECRET = "test-secret"
TIMEOUT_SECONDS = 10.0
pytestmark = pytest.mark.usefixtures("loop_watchdog")


@dataclass
class Node:
    store: ShardStore
    stub: pb_grpc.NodeStub  # the generated stub
    channel: grpc.aio.Channel

    def temp_files(self) -> list[Path]:
        return list(self.store.tmp_dir.iterdir())

    def shard_files(self) -> list[Path]:
        return [p for p in self.store.shards_dir.rglob("*") if p.is_file()]


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    store = ShardStore(tmp_path)
    executor = ThreadPoolExecutor(max_workers=4)
    server = new_server(SECRET)
    identity = NodeIdentity("node-test", "zone-a", 10**12)
    add_node_servicer(NodeServicer(store, executor, identity), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = new_channel(f"127.0.0.1:{port}")
    try:
        yield Node(store, pb_grpc.NodeStub(channel), channel)
    finally:
        await channel.close(None)
        await server.stop(None)
        executor.shutdown(wait=True)
        store.close()


def header_pb(meta: ShardMeta) -> pb.ShardHeader:
    return pb.ShardHeader(
        bucket=meta.bucket,
        key=meta.key,
        version_id=meta.version_id,
        shard_index=meta.shard_index,
        data_shards=meta.data_shards,
        parity_shards=meta.parity_shards,
        chunk_size_bytes=meta.chunk_size_bytes,
        object_size_bytes=meta.object_size_bytes,
        stripe_count=meta.stripe_count,
    )


def put_messages(shard, *, finish: bool = True, crcs=None) -> list[pb.PutShardRequest]:
    crcs = crcs or shard.crcs
    messages = [pb.PutShardRequest(header=header_pb(shard.meta))]
    for i, (chunk, crc) in enumerate(zip(shard.chunks, crcs, strict=True)):
        messages.append(pb.PutShardRequest(chunk=pb.Chunk(stripe_index=i, data=chunk, crc32c=crc)))
    if finish:
        messages.append(pb.PutShardRequest(finish=pb.Finish(chunk_count=len(shard.chunks))))
    return messages


async def stream(messages: list[pb.PutShardRequest]) -> AsyncIterator[pb.PutShardRequest]:
    for message in messages:
        yield message


async def put(node: Node, messages: list[pb.PutShardRequest]) -> pb.PutShardResponse:
    return await node.stub.PutShard(
        stream(messages), metadata=call_metadata(SECRET), timeout=TIMEOUT_SECONDS
    )


async def get(node: Node, version_id: str, shard_index: int = 0, start: int = 0, count: int = 0):
    request = pb.GetShardRequest(
        version_id=version_id, shard_index=shard_index, stripe_start=start, stripe_count=count
    )
    return node.stub.GetShard(request, metadata=call_metadata(SECRET), timeout=TIMEOUT_SECONDS)


async def get_all(node: Node, version_id: str, **kwargs) -> list[pb.Chunk]:
    return [chunk async for chunk in await get(node, version_id, **kwargs)]


def overwrite(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


async def eventually(condition: Callable[[], bool]) -> None:
    """Polls the file system, which has nothing to await on."""
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_round_trip_with_full_size_chunks(node, make_shard):
    chunk_size = limits.CHUNK_SIZE_DEFAULT_BYTES
    shard = make_shard(
        object_size_bytes=4 * 3 * chunk_size + 1000,
        data_shards=4,
        parity_shards=2,
        chunk_size_bytes=chunk_size,
        shard_index=5,
    )
    response = await put(node, put_messages(shard))
    path = node.store.shard_path(shard.meta.version_id, 5)
    assert response.stored_bytes == path.stat().st_size
    chunks = await get_all(node, shard.meta.version_id, shard_index=5)
    assert [c.stripe_index for c in chunks] == [0, 1, 2, 3]
    assert [c.data for c in chunks] == shard.chunks
    assert [c.crc32c for c in chunks] == shard.crcs
    assert node.temp_files() == []


async def test_range_of_stripes(node, make_shard):
    shard = make_shard(object_size_bytes=1000)
    await put(node, put_messages(shard))
    chunks = await get_all(node, shard.meta.version_id, start=3, count=2)
    assert [(c.stripe_index, c.data) for c in chunks] == [
        (3, shard.chunks[3]),
        (4, shard.chunks[4]),
    ]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await get_all(node, shard.meta.version_id, start=7, count=5)
    assert caught.value.code() == grpc.StatusCode.OUT_OF_RANGE


async def test_crc_mismatch_on_receipt_stores_nothing(node, make_shard):
    shard = make_shard(object_size_bytes=1000)
    crcs = list(shard.crcs)
    crcs[4] ^= 0xFFFF
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await put(node, put_messages(shard, crcs=crcs))
    assert caught.value.code() == grpc.StatusCode.DATA_LOSS
    assert node.shard_files() == [] and node.temp_files() == []
    assert node.store.shard_count == 0


async def test_stream_without_finish_stores_nothing(node, make_shard):
    shard = make_shard(object_size_bytes=1000)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await put(node, put_messages(shard, finish=False))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Finish" in (caught.value.details() or "")
    assert node.shard_files() == [] and node.temp_files() == []


@pytest.mark.parametrize("mistake", ["no_header", "two_headers", "wrong_count", "out_of_order"])
async def test_protocol_mistakes_store_nothing(node, make_shard, mistake):
    shard = make_shard(object_size_bytes=1000)
    messages = put_messages(shard)
    if mistake == "no_header":
        messages = messages[1:]
    elif mistake == "two_headers":
        messages.insert(2, messages[0])
    elif mistake == "wrong_count":
        messages[-1] = pb.PutShardRequest(finish=pb.Finish(chunk_count=3))
    else:
        messages[2], messages[3] = messages[3], messages[2]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await put(node, messages)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert node.shard_files() == [] and node.temp_files() == []


async def test_finish_is_answered_before_the_client_half_closes(node, make_shard):
    shard = make_shard(object_size_bytes=1000)
    call = node.stub.PutShard(metadata=call_metadata(SECRET), timeout=TIMEOUT_SECONDS)
    for message in put_messages(shard):
        await call.write(message)
    response = await call  # no done_writing()
    assert response.stored_bytes > 0
    assert node.store.shard_count == 1


async def test_cancelled_put_stores_nothing(node, make_shard):
    shard = make_shard(object_size_bytes=1000)
    messages = put_messages(shard, finish=False)
    call = node.stub.PutShard(metadata=call_metadata(SECRET), timeout=TIMEOUT_SECONDS)
    for message in messages[:4]:
        await call.write(message)
    # Once the header is in, the writer exists (or is being created in its thread).
    await eventually(lambda: bool(node.temp_files()))
    call.cancel()
    await eventually(lambda: not node.temp_files())
    assert node.shard_files() == []


async def test_corrupt_chunk_ends_stream_with_data_loss(node, make_shard, caplog):
    shard = make_shard(object_size_bytes=1000)
    await put(node, put_messages(shard))
    path = node.store.shard_path(shard.meta.version_id, 0)
    header_length = len(encode_header(shard.meta)) - PREFIX.size
    offset = PREFIX.size + header_length + 2 * (RECORD.size + 64) + RECORD.size
    overwrite(path, offset, bytes([shard.chunks[2][0] ^ 1]))
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for chunk in await get(node, shard.meta.version_id):
            received.append(chunk.data)
    assert caught.value.code() == grpc.StatusCode.DATA_LOSS
    assert received == shard.chunks[:2]
    # Moved aside for repair and forensics, never served again, never deleted.
    assert not path.exists()
    assert [p.name.split(".")[0] for p in node.store.quarantine_dir.iterdir()] == [
        shard.meta.version_id
    ]
    assert str(path) in caplog.text


async def test_missing_shard_is_not_found(node):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await get_all(node, "0" * 26)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_path_traversal_is_invalid_argument(node, make_shard):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await get_all(node, "../../../etc/passwd")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    shard = make_shard()
    messages = put_messages(shard)
    messages[0].header.version_id = "../../../../tmp/evil" + "0" * 6
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await put(node, messages)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_delete_and_status(node, make_shard):
    shard = make_shard(object_size_bytes=1000)
    stored = (await put(node, put_messages(shard))).stored_bytes
    md = call_metadata(SECRET)
    status = await node.stub.NodeStatus(pb.NodeStatusRequest(), metadata=md, timeout=5)
    assert (status.node_id, status.zone, status.capacity_bytes) == ("node-test", "zone-a", 10**12)
    assert (status.used_bytes, status.shard_count) == (stored, 1)
    request = pb.DeleteShardRequest(version_id=shard.meta.version_id, shard_index=0)
    assert (await node.stub.DeleteShard(request, metadata=md, timeout=5)).existed
    assert not (await node.stub.DeleteShard(request, metadata=md, timeout=5)).existed
    status = await node.stub.NodeStatus(pb.NodeStatusRequest(), metadata=md, timeout=5)
    assert (status.used_bytes, status.shard_count) == (0, 0)


async def test_delete_shards_removes_many_in_one_call(node, make_shard):
    first = make_shard(object_size_bytes=1000)
    shards = [first] + [
        make_shard(object_size_bytes=1000, shard_index=i, version_id=first.meta.version_id)
        for i in (1, 2)
    ]
    for shard in shards:
        await put(node, put_messages(shard))
    md = call_metadata(SECRET)
    version_id = shards[0].meta.version_id

    def request(*indexes: int, version: str = version_id) -> pb.DeleteShardsRequest:
        return pb.DeleteShardsRequest(
            shards=[pb.DeleteShardRequest(version_id=version, shard_index=i) for i in indexes]
        )

    answer = await node.stub.DeleteShards(request(0, 5, 2), metadata=md, timeout=5)
    assert list(answer.existed) == [True, False, True]  # in request order
    # one id that is not valid fails the call before anything is removed
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await node.stub.DeleteShards(
            pb.DeleteShardsRequest(
                shards=[
                    pb.DeleteShardRequest(version_id=version_id, shard_index=1),
                    pb.DeleteShardRequest(version_id="../evil", shard_index=0),
                ]
            ),
            metadata=md,
            timeout=5,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = await node.stub.NodeStatus(pb.NodeStatusRequest(), metadata=md, timeout=5)
    assert status.shard_count == 1  # shard 1 is still there
    answer = await node.stub.DeleteShards(request(1), metadata=md, timeout=5)
    assert list(answer.existed) == [True]
    assert (await node.stub.DeleteShards(request(), metadata=md, timeout=5)).existed == []


async def test_calls_without_the_secret_are_refused(node):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await node.stub.NodeStatus(pb.NodeStatusRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def _subclasses(cls: type[errors.StoreError]) -> list[type[errors.StoreError]]:
    found = [cls]
    for sub in type.__subclasses__(cls):
        found.extend(_subclasses(sub))
    return found


def test_every_store_error_has_its_own_status():
    for cls in _subclasses(errors.StoreError):
        assert cls in STATUS_FOR, cls
    assert status_for(errors.ChunkCorrupt("x", "/p", 3)) == grpc.StatusCode.DATA_LOSS
    assert status_for(errors.RangeNotSatisfiable()) == grpc.StatusCode.OUT_OF_RANGE


def open_descriptors(path: Path) -> int:
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            if fd.readlink() == path:
                count += 1
        except OSError:
            pass
    return count


async def test_cancelled_get_closes_the_shard(node, make_shard):
    shard = make_shard(object_size_bytes=64 * 2 * 50)  # 50 stripes
    await put(node, put_messages(shard))
    path = node.store.shard_path(shard.meta.version_id, 0)
    call = await get(node, shard.meta.version_id)
    first = await call.read()
    assert isinstance(first, pb.Chunk) and first.data == shard.chunks[0]
    assert open_descriptors(path) == 1
    call.cancel()
    await eventually(lambda: open_descriptors(path) == 0)


async def test_full_disk_is_resource_exhausted_and_stores_nothing(node, make_shard, monkeypatch):
    def no_space(self, stripe_index, data, chunk_crc32c):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ShardWriter, "append", no_space)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await put(node, put_messages(make_shard()))
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert node.shard_files() == [] and node.temp_files() == []


def whole_message(shard, crc: int | None = None, trailer: bytes = b"") -> pb.PutShardRequest:
    return pb.PutShardRequest(
        whole=pb.WholeShard(
            header=header_pb(shard.meta),
            chunk=pb.Chunk(
                stripe_index=0,
                data=shard.chunks[0],
                crc32c=shard.crcs[0] if crc is None else crc,
            ),
            trailer=trailer,
        )
    )


async def test_a_one_stripe_shard_in_one_whole_message(node, make_shard):
    shard = make_shard(object_size_bytes=100, data_shards=2, chunk_size_bytes=64)
    assert shard.meta.stripe_count == 1
    response = await put(node, [whole_message(shard)])
    path = node.store.shard_path(shard.meta.version_id, 0)
    assert response.stored_bytes == path.stat().st_size
    assert [c.data for c in await get_all(node, shard.meta.version_id)] == shard.chunks
    assert node.temp_files() == []


async def test_a_whole_message_writes_its_trailer(node, make_shard):
    shard = make_shard(object_size_bytes=100, data_shards=2, chunk_size_bytes=64)
    await put(node, [whole_message(shard, trailer=b'{"kind":"version"}')])
    _, trailer = node.store.read_trailer(shard.meta.version_id, 0)
    assert trailer == b'{"kind":"version"}'


async def test_a_whole_message_with_a_bad_checksum_stores_nothing(node, make_shard):
    shard = make_shard(object_size_bytes=100, data_shards=2, chunk_size_bytes=64)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await put(node, [whole_message(shard, crc=shard.crcs[0] ^ 1)])
    assert raised.value.code() == grpc.StatusCode.DATA_LOSS
    assert node.shard_files() == [] and node.temp_files() == []


async def test_a_whole_message_for_more_than_one_stripe_is_refused(node, make_shard):
    shard = make_shard(object_size_bytes=1000, data_shards=2, chunk_size_bytes=64)
    assert shard.meta.stripe_count > 1
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await put(node, [whole_message(shard)])
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"{shard.meta.stripe_count}-stripe" in raised.value.details()
    assert node.shard_files() == [] and node.temp_files() == []


async def test_a_whole_message_after_a_header_is_refused(node, make_shard):
    shard = make_shard(object_size_bytes=100, data_shards=2, chunk_size_bytes=64)
    messages = [pb.PutShardRequest(header=header_pb(shard.meta)), whole_message(shard)]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await put(node, messages)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert node.shard_files() == [] and node.temp_files() == []


# PutWholeShard: a one-stripe shard in one unary call.


async def put_whole(node: Node, whole: pb.WholeShard) -> pb.PutShardResponse:
    return await node.stub.PutWholeShard(
        whole, metadata=call_metadata(SECRET), timeout=TIMEOUT_SECONDS
    )


async def test_put_whole_shard_stores_the_shard_durably_named(node, make_shard):
    shard = make_shard(object_size_bytes=100, data_shards=2, chunk_size_bytes=64, shard_index=1)
    response = await put_whole(node, whole_message(shard).whole)
    path = node.store.shard_path(shard.meta.version_id, 1)
    assert path.parent.parent == node.store.shards_dir and path.is_file()
    assert response.stored_bytes == path.stat().st_size
    assert node.store.read_meta(shard.meta.version_id, 1) == shard.meta
    assert list(node.store.read_stripes(shard.meta.version_id, 1)) == shard.chunks
    assert node.temp_files() == [] and node.store.shard_count == 1


async def test_put_whole_shard_writes_its_trailer(node, make_shard):
    shard = make_shard(object_size_bytes=100, data_shards=2, chunk_size_bytes=64)
    await put_whole(node, whole_message(shard, trailer=b'{"kind":"version","n":1}').whole)
    _, trailer = node.store.read_trailer(shard.meta.version_id, 0)
    assert trailer == b'{"kind":"version","n":1}'


async def test_put_whole_shard_with_a_bad_checksum_stores_nothing(node, make_shard):
    shard = make_shard(object_size_bytes=100, data_shards=2, chunk_size_bytes=64)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await put_whole(node, whole_message(shard, crc=shard.crcs[0] ^ 1).whole)
    assert raised.value.code() == grpc.StatusCode.DATA_LOSS
    assert node.shard_files() == [] and node.temp_files() == []
    assert node.store.shard_count == 0


async def test_put_whole_shard_refuses_a_shard_of_more_than_one_stripe(node, make_shard):
    shard = make_shard(object_size_bytes=1000, data_shards=2, chunk_size_bytes=64)
    assert shard.meta.stripe_count > 1
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await put_whole(node, whole_message(shard).whole)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"{shard.meta.stripe_count}-stripe" in raised.value.details()
    assert node.shard_files() == [] and node.temp_files() == []


async def test_put_whole_shard_refuses_a_bad_header(node, make_shard):
    shard = make_shard(object_size_bytes=100, data_shards=2, chunk_size_bytes=64)
    whole = whole_message(shard).whole
    whole.header.version_id = "../../../../tmp/evil" + "0" * 6
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await put_whole(node, whole)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert node.shard_files() == [] and node.temp_files() == []


# ReadChunks: a short stripe range in one message.


class RecordingReporter:
    def __init__(self) -> None:
        self.reports: list[tuple[str, int]] = []

    def report_nowait(self, shard_set_id: str, shard_index: int) -> None:
        self.reports.append((shard_set_id, shard_index))


@pytest.fixture
async def reporting_node(tmp_path: Path) -> AsyncIterator[tuple[Node, RecordingReporter]]:
    store = ShardStore(tmp_path)
    executor = ThreadPoolExecutor(max_workers=2)
    reporter = RecordingReporter()
    server = new_server(SECRET)
    identity = NodeIdentity("node-test", "zone-a", 10**12)
    servicer = NodeServicer(store, executor, identity, reporter=reporter)  # type: ignore[arg-type]
    add_node_servicer(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = new_channel(f"127.0.0.1:{port}")
    try:
        yield Node(store, pb_grpc.NodeStub(channel), channel), reporter
    finally:
        await channel.close(None)
        await server.stop(None)
        executor.shutdown(wait=True)
        store.close()


async def read_chunks(node: Node, version_id: str, shard_index: int = 0, start=0, count=1):
    request = pb.ReadChunksRequest(
        version_id=version_id, shard_index=shard_index, stripe_start=start, stripe_count=count
    )
    return await node.stub.ReadChunks(
        request, metadata=call_metadata(SECRET), timeout=TIMEOUT_SECONDS
    )


async def test_read_chunks_answers_the_verified_chunks_of_a_range(node, make_shard):
    shard = make_shard(object_size_bytes=1000)  # 8 stripes of 64-byte chunks, the last shorter
    await put(node, put_messages(shard))
    response = await read_chunks(node, shard.meta.version_id, start=6, count=2)
    assert [(c.stripe_index, c.data, c.crc32c) for c in response.chunks] == [
        (6, shard.chunks[6], shard.crcs[6]),
        (7, shard.chunks[7], shard.crcs[7]),
    ]
    one = await read_chunks(node, shard.meta.version_id, start=0, count=1)
    assert [c.data for c in one.chunks] == [shard.chunks[0]]


async def test_read_chunks_of_a_whole_one_stripe_shard(node, make_shard):
    chunk_size = limits.CHUNK_SIZE_DEFAULT_BYTES
    shard = make_shard(
        object_size_bytes=4 * chunk_size,
        data_shards=4,
        parity_shards=2,
        chunk_size_bytes=chunk_size,
        shard_index=4,
    )
    await put_whole(node, whole_message(shard).whole)
    response = await read_chunks(node, shard.meta.version_id, shard_index=4)
    assert [c.data for c in response.chunks] == shard.chunks
    assert [c.crc32c for c in response.chunks] == shard.crcs


@pytest.mark.parametrize(
    ("start", "count", "code"),
    [
        (0, 0, grpc.StatusCode.INVALID_ARGUMENT),  # no "to the end" here
        (7, 2, grpc.StatusCode.OUT_OF_RANGE),
        (9, 1, grpc.StatusCode.OUT_OF_RANGE),
    ],
)
async def test_read_chunks_refuses_ranges_outside_the_shard(node, make_shard, start, count, code):
    shard = make_shard(object_size_bytes=1000)
    await put(node, put_messages(shard))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await read_chunks(node, shard.meta.version_id, start=start, count=count)
    assert raised.value.code() == code


async def test_read_chunks_refuses_more_than_its_bound(node, make_shard):
    chunk_size = limits.CHUNK_SIZE_DEFAULT_BYTES
    stripes = limits.READ_CHUNKS_MAX_BYTES // chunk_size + 1
    shard = make_shard(
        object_size_bytes=2 * chunk_size * stripes, data_shards=2, chunk_size_bytes=chunk_size
    )
    assert shard.meta.stripe_count == stripes
    await put(node, put_messages(shard))
    response = await read_chunks(node, shard.meta.version_id, count=stripes - 1)
    assert len(response.chunks) == stripes - 1
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await read_chunks(node, shard.meta.version_id, count=stripes)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "GetShard" in raised.value.details()


async def test_read_chunks_of_a_missing_shard_is_not_found(node):
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await read_chunks(node, "0" * 26)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_read_chunks_refuses_a_corrupt_chunk_and_quarantines_the_shard(
    reporting_node, make_shard, caplog
):
    node, reporter = reporting_node
    shard = make_shard(object_size_bytes=1000)
    await put(node, put_messages(shard))
    path = node.store.shard_path(shard.meta.version_id, 0)
    header_length = len(encode_header(shard.meta)) - PREFIX.size
    offset = PREFIX.size + header_length + 2 * (RECORD.size + 64) + RECORD.size
    overwrite(path, offset, bytes([shard.chunks[2][0] ^ 1]))
    # A range that does not touch the bad chunk is still served.
    response = await read_chunks(node, shard.meta.version_id, start=0, count=2)
    assert [c.data for c in response.chunks] == shard.chunks[:2]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await read_chunks(node, shard.meta.version_id, start=1, count=2)
    assert raised.value.code() == grpc.StatusCode.DATA_LOSS
    # Moved aside (never deleted, never served again) and reported for repair.
    assert not path.exists()
    assert [p.name.split(".")[0] for p in node.store.quarantine_dir.iterdir()] == [
        shard.meta.version_id
    ]
    assert reporter.reports == [(shard.meta.version_id, 0)]
    assert str(path) in caplog.text
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await read_chunks(node, shard.meta.version_id, start=0, count=1)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


# Reads from the page cache run on the event loop; the others in the executor.


def chunk_reads(served: str) -> float:
    value = REGISTRY.get_sample_value("tessera_node_chunk_reads_total", {"served": served})
    return value or 0.0


async def test_cached_shards_are_read_on_the_loop_and_evicted_ones_in_the_executor(
    node, make_shard
):
    require_cached_reads(node.store.data_dir)
    shard = make_shard(object_size_bytes=1000)
    await put(node, put_messages(shard))
    version_id = shard.meta.version_id
    loop_before, executor_before = chunk_reads("loop"), chunk_reads("executor")
    response = await read_chunks(node, version_id, start=0, count=3)
    assert [c.data for c in response.chunks] == shard.chunks[:3]
    assert chunk_reads("loop") == loop_before + 1  # just written: in the page cache
    assert chunk_reads("executor") == executor_before

    evict(node.store.shard_path(version_id, 0))
    response = await read_chunks(node, version_id, start=3, count=3)
    assert [c.data for c in response.chunks] == shard.chunks[3:6]
    assert chunk_reads("executor") == executor_before + 1
    assert chunk_reads("loop") == loop_before + 1


async def test_get_shard_streams_the_same_chunks_from_the_cache_or_the_disk(node, make_shard):
    require_cached_reads(node.store.data_dir)
    shard = make_shard(object_size_bytes=1000)
    await put(node, put_messages(shard))
    version_id = shard.meta.version_id
    loop_before, executor_before = chunk_reads("loop"), chunk_reads("executor")
    assert [c.data for c in await get_all(node, version_id)] == shard.chunks
    assert chunk_reads("loop") == loop_before + shard.meta.stripe_count
    assert chunk_reads("executor") == executor_before

    # Evicted, the header read misses and the shard is opened in the executor
    # (the miss starts readahead, so its small chunks may be cached by then).
    evict(node.store.shard_path(version_id, 0))
    assert [c.data for c in await get_all(node, version_id)] == shard.chunks


async def test_a_corrupt_chunk_read_from_the_cache_is_never_sent(node, make_shard):
    shard = make_shard(object_size_bytes=1000)
    await put(node, put_messages(shard))
    path = node.store.shard_path(shard.meta.version_id, 0)
    header_length = len(encode_header(shard.meta)) - PREFIX.size
    offset = PREFIX.size + header_length + 4 * (RECORD.size + 64) + RECORD.size
    overwrite(path, offset, bytes([shard.chunks[4][0] ^ 1]))  # through the page cache
    received: list[pb.Chunk] = []
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for chunk in await get(node, shard.meta.version_id):
            received.append(chunk)
    assert raised.value.code() == grpc.StatusCode.DATA_LOSS
    assert [c.data for c in received] == shard.chunks[:4]  # the chunks before it, then the error


# The chunk-carrying methods with proto/wire.py's encoding (proto/node_rpc.py).


async def test_the_hand_encoded_stub_writes_and_reads_what_the_generated_one_does(node, make_shard):
    stub = NodeStub(node.channel)
    shard = make_shard(object_size_bytes=100, data_shards=2, chunk_size_bytes=64, shard_index=1)
    generated = whole_message(shard).whole
    whole = wire.whole_from_pb(generated)
    await stub.PutWholeShard(whole, metadata=call_metadata(SECRET), timeout=TIMEOUT_SECONDS)
    assert list(node.store.read_stripes(shard.meta.version_id, 1)) == shard.chunks
    answer = await stub.ReadChunks(
        pb.ReadChunksRequest(version_id=shard.meta.version_id, shard_index=1, stripe_count=1),
        metadata=call_metadata(SECRET),
        timeout=TIMEOUT_SECONDS,
    )
    assert isinstance(answer, wire.ChunksAnswer)
    assert [(c.stripe_index, bytes(c.data), c.crc32c) for c in answer.chunks] == [
        (0, shard.chunks[0], shard.crcs[0])
    ]
    streamed = [
        chunk
        async for chunk in stub.GetShard(
            pb.GetShardRequest(version_id=shard.meta.version_id, shard_index=1),
            metadata=call_metadata(SECRET),
            timeout=TIMEOUT_SECONDS,
        )
    ]
    assert [(c.stripe_index, bytes(c.data)) for c in streamed] == [(0, shard.chunks[0])]


async def test_a_put_stream_of_hand_encoded_chunks_is_stored(node, make_shard):
    stub = NodeStub(node.channel)
    shard = make_shard(object_size_bytes=1000, data_shards=2, chunk_size_bytes=64)
    items: list[wire.PutChunk | pb.PutShardRequest] = [
        pb.PutShardRequest(header=header_pb(shard.meta))
    ]
    items += [
        wire.PutChunk(wire.WireChunk(i, data, crc))
        for i, (data, crc) in enumerate(zip(shard.chunks, shard.crcs, strict=True))
    ]
    items.append(pb.PutShardRequest(finish=pb.Finish(chunk_count=len(shard.chunks))))
    await stub.PutShard(iter(items), metadata=call_metadata(SECRET), timeout=TIMEOUT_SECONDS)
    assert list(node.store.read_stripes(shard.meta.version_id, 0)) == shard.chunks


@pytest.mark.parametrize("method", ["PutWholeShard", "PutShard"])
async def test_a_malformed_message_is_refused_and_stores_nothing(node, method):
    channel = node.channel
    garbage = b"\x12\x7fshort"  # a chunk field that runs past the end
    if method == "PutWholeShard":
        call = channel.unary_unary("/tessera.Node/PutWholeShard")(
            garbage, metadata=call_metadata(SECRET), timeout=TIMEOUT_SECONDS
        )
    else:
        call = channel.stream_unary("/tessera.Node/PutShard")(
            iter([garbage]), metadata=call_metadata(SECRET), timeout=TIMEOUT_SECONDS
        )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    assert raised.value.code() != grpc.StatusCode.OK
    assert node.shard_files() == [] and node.temp_files() == []
    status = await node.stub.NodeStatus(
        pb.NodeStatusRequest(), metadata=call_metadata(SECRET), timeout=TIMEOUT_SECONDS
    )
    assert status.node_id == "node-test"  # the node still answers
