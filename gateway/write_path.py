"""The object write pipeline: body → stripes → zfec → one gRPC call per shard.

store_shard_set stores a body as one shard set (a single-part version's data,
or one part of a multipart upload); write_object stores and then commits it
as a version. A body of at most policy.inline_max_bytes (docs/inline-objects.md)
is not cut into shards at all: it is verified like any body and committed
inside the version record, which the metadata log replicates.

Invariants:
- the body is read one stripe at a time, the next one while the last is
  hashed and encoded; at most sender_queue_chunks() chunks per shard wait in
  memory, so a request holds O(stripe) bytes, never the object;
- the digests are fed the stripes in body order, so the ETag and every
  checksum are those of the body as sent;
- a version is committed to metadata only after at least write_quorum shards
  are durable (each node fsyncs before it answers), and the client hears 200
  only after that commit;
- a body that is short, too long or fails its digest cancels every shard
  stream (nodes keep nothing of a stream that did not Finish) and commits
  nothing;
- every shard's last message (Finish) carries the trailer the caller made
  from the ETag, checksums and time known once the body ended, and the
  committed record is made from the very same values, so the nodes hold what
  rebuilding the record needs (docs/metadata-recovery.md);
- a one-stripe shard goes in one PutWholeShard request, made only once the
  body is verified: over the node's write stream (proto/call_stream.py), as
  a unary call to a node without it, and as a PutShard stream of the one
  WholeShard message to a node that predates PutWholeShard; a longer shard
  is a PutShard stream. Either way the node answers only once the shard is
  durable;
- with a data key, each stripe is sealed (tessera/sse.py) before it is
  erasure coded: no shard, data or parity, receives a plaintext byte. The
  digests (ETag, Content-MD5, checksums) are still those of the plaintext.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace

import grpc.aio

from gateway import metrics
from gateway.admission import sender_queue_chunks
from gateway.body import BodySource
from gateway.cluster import ClusterView
from gateway.deadline import Deadline
from gateway.digests import BodyDigests
from gateway.reclaim import ShardReclaimer
from metadata.client import MetadataClient
from proto import tessera_pb2 as pb
from proto.call_stream import CallFailed
from proto.node_rpc import NodeStub
from proto.wire import PutChunk, WholeShardMessage, WireChunk
from tessera import errors, ids
from tessera.checksum import crc32c
from tessera.codec import encode_stripe
from tessera.geometry import Geometry
from tessera.model import BucketInfo, ObjectVersion, ShardLocation, bucket_fingerprint
from tessera.object_lock import Lock
from tessera.placement import NotEnoughNodes, place
from tessera.recovery import BucketHints, encode_trailer
from tessera.sse import BlockCipher, block_count, block_size_bytes, sealed_size_bytes
from tessera.storage_class import STANDARD, class_record, without_class

log = logging.getLogger(__name__)

# Times a commit refused with BucketChanged is checked again and retried.
BUCKET_RECHECKS_MAX = 2
# Reads the bucket fresh and decides the write again (raising to refuse it).
Recheck = Callable[[], Awaitable[BucketInfo]]
# A shard whose queue stays full this long is dropped (the write goes on while
# the quorum holds): a hung node (SIGSTOP, a cut link) costs a PUT this, not
# the whole failure-detection grace period. Chaos runs measured 10-13 s stalls
# at 10 s; a loaded 2-core machine still moves a 256 KiB chunk well within 4 s.
SLOW_SHARD_SECONDS = 4.0
# What a shard to a node already marked slow (gateway/slow_nodes.py: one
# that made a write wait SLOW_SHARD_SECONDS, or reads hedge around) gets
# once the quorum is durable: SLOW_NODE_GRACE_FACTOR times as long as the
# quorum took from the end of the body, at least SLOW_NODE_GRACE_MIN_SECONDS.
# A node stuck on its disk while its heartbeats go on would otherwise cost
# every PUT SLOW_SHARD_SECONDS; one that has recovered still lands its shard.
SLOW_NODE_GRACE_FACTOR = 4.0
SLOW_NODE_GRACE_MIN_SECONDS = 0.05

# (shard set id, ETag, verified checksums, finished at) -> the shards' trailer
TrailerMaker = Callable[[str, str, dict[str, str], float], bytes]
# What a ShardSender queues: its one message, or a chunk of its stream.
ShardItem = WholeShardMessage | PutChunk


@dataclass(frozen=True)
class WriteRequest:
    bucket: str
    key: str
    content_type: str
    user_metadata: dict[str, str] = field(default_factory=dict)
    system_metadata: dict[str, str] = field(default_factory=dict)
    content_md5: bytes | None = None  # from Content-MD5, decoded
    payload_sha256: str | None = None  # from a signed x-amz-content-sha256
    # x-amz-checksum-<algorithm>: the base64 value, or None when it comes in the trailer
    checksums: dict[str, str | None] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # x-amz-tagging, checked
    # Conditional write, decided by metadata when the commit is applied:
    if_none_match_star: bool = False  # If-None-Match: * (only if the key has no version)
    if_match_etag: str = ""  # If-Match: only if the current version has this ETag
    acl: str = ""  # canned ACL of the new version; "" is private
    lock: Lock = field(default_factory=Lock)  # x-amz-object-lock-* (docs/object-lock.md)
    # Encryption at rest (gateway/sse.py): the data key the stripes are sealed
    # under, None for none; opaque_etag: the ETag is random, not the body's
    # MD5 (S3 does so for SSE-C and SSE-KMS).
    data_key: bytes | None = None
    opaque_etag: bool = False


@dataclass
class WritePolicy:
    """How one storage class writes (docs/storage-classes.md)."""

    geometry: Geometry
    write_quorum: int
    inline_max_bytes: int = 0  # bodies of 1..this many bytes go into the record
    storage_class: str = STANDARD  # recorded in the version by write_object


class ShardSender:
    """Streams one shard to one node; a failure is recorded, never raised to
    the producer (the write goes on while the quorum allows)."""

    def __init__(
        self,
        shard_index: int,
        node_id: str,
        stub: NodeStub | None,
        header: pb.ShardHeader,
        call_metadata: tuple[tuple[str, str], ...],
    ) -> None:
        self.shard_index = shard_index
        self.node_id = node_id
        self._stub = stub
        self._header = header
        self._metadata = call_metadata
        self._queue: asyncio.Queue[ShardItem | None] = asyncio.Queue(
            sender_queue_chunks(header.chunk_size_bytes)
        )
        self.error: BaseException | None = (
            None
            if stub
            else errors.ServiceUnavailable(f"node {node_id} is down or not in the cluster map")
        )
        self.stored = False
        self.timed_out = False  # dropped because its node did not answer in time
        self.trailer = b""  # sent with Finish; set before the finish is queued
        self._sent_chunks = 0
        self.task: asyncio.Task[None] | None = None  # the running stream, once started

    @property
    def whole(self) -> bool:
        """A one-stripe shard goes as one WholeShard message (header, chunk and
        Finish at once) in one unary call, made when the body is complete and
        verified, instead of a stream of three messages."""
        return self._header.stripe_count == 1

    def request(self, stripe_index: int, data: bytes, crc: int) -> ShardItem:
        """The request carrying one of this shard's chunks (queue it with
        send): a WholeShardMessage for a one-stripe shard, whose trailer is
        set when it is sent, else a chunk of the PutShard stream."""
        chunk = WireChunk(stripe_index, data, crc)
        if self.whole:
            return WholeShardMessage(self._header, chunk, b"")
        return PutChunk(chunk)

    async def _whole_request(self) -> WholeShardMessage | None:
        """The one message of a one-stripe shard, once the body is verified:
        waits for the chunk and then for the end of the body (None, queued
        only once the body is verified). None when anything else came."""
        only = await self._queue.get()
        if not isinstance(only, WholeShardMessage) or await self._queue.get() is not None:
            return None
        return replace(only, trailer=self.trailer)  # set before the end was queued

    async def _requests(self):  # type: ignore[no-untyped-def]
        yield pb.PutShardRequest(header=self._header)
        while True:
            request = await self._queue.get()
            if request is None:
                yield pb.PutShardRequest(
                    finish=pb.Finish(chunk_count=self._sent_chunks, trailer=self.trailer)
                )
                return
            self._sent_chunks += 1
            yield request

    async def run(self, timeout_seconds: float) -> None:
        if self.error is not None or self._stub is None:
            return
        try:
            if self.whole:
                await self._put_whole(self._stub, timeout_seconds)
            else:
                await self._stub.PutShard(
                    self._requests(), timeout=timeout_seconds, metadata=self._metadata
                )
            self.stored = self.error is None
        except (grpc.aio.AioRpcError, CallFailed, errors.ServiceUnavailable) as exc:
            self.error = exc
            why = exc.code() if isinstance(exc, grpc.aio.AioRpcError) else exc
            log.warning("shard %d to %s failed: %s", self.shard_index, self.node_id, why)

    async def _put_whole(self, stub: NodeStub, timeout_seconds: float) -> None:
        """Sends the one-stripe shard in one request once the body is
        verified (over the node's write stream, else a unary call, else a
        PutShard stream); the deadline counts from the start of the write, as
        a PutShard stream's does."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        request = await self._whole_request()
        if request is None:  # the producer broke off without cancelling us
            self.error = errors.InternalError("the body ended without its shard")
            return
        if stub.write_stream.usable:
            # over the node's write stream (proto/call_stream.py); a node
            # without it is asked with the unary call below
            answer = stub.write_stream.call(request, self._metadata)
            try:
                await asyncio.wait_for(answer, max(0.001, deadline - loop.time()))
                return
            except TimeoutError:
                self.timed_out = True
                raise errors.ServiceUnavailable(
                    f"node {self.node_id} did not confirm shard {self.shard_index} in time"
                ) from None
            except CallFailed as exc:
                if exc.code != grpc.StatusCode.UNIMPLEMENTED:
                    raise
        try:
            await stub.PutWholeShard(
                request, timeout=max(0.001, deadline - loop.time()), metadata=self._metadata
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            # A node that predates PutWholeShard (the upgrade order is nodes
            # first, then gateways): the same message on a PutShard stream.
            await stub.PutShard(
                iter([request]),
                timeout=max(0.001, deadline - loop.time()),
                metadata=self._metadata,
            )

    @property
    def failed(self) -> bool:
        return self.error is not None

    async def send(self, request: ShardItem | None) -> None:
        """Queues a chunk's request (request(); None: finish); drops this
        shard if its node stalls."""
        if self.failed:
            return
        try:
            await asyncio.wait_for(self._queue.put(request), SLOW_SHARD_SECONDS)
        except TimeoutError:
            self.timed_out = True
            self.drop(f"node {self.node_id} is too slow")

    def drop(self, reason: str) -> None:
        """Gives up on this shard: its stream is cancelled (the node keeps
        nothing of a stream that did not Finish)."""
        if self.error is None:
            self.error = errors.ServiceUnavailable(reason)
            log.warning("shard %d to %s dropped: %s", self.shard_index, self.node_id, reason)
        if self.task is not None:
            self.task.cancel()


async def _await_quorum(
    senders: list[ShardSender], quorum: int, is_slow: Callable[[str], bool]
) -> None:
    """Waits for every shard stream to end, but once the write quorum is
    durable gives the others only SLOW_SHARD_SECONDS more (a node is_slow
    names: the short grace above): one slow disk or hung node does not hold
    the PUT (its shard is repaired later)."""
    pending = {s.task: s for s in senders if s.task is not None and not s.task.done()}
    loop = asyncio.get_running_loop()
    started = loop.time()
    quorum_at: float | None = None

    def grace_ends(sender: ShardSender) -> float:
        assert quorum_at is not None
        if not is_slow(sender.node_id):
            return quorum_at + SLOW_SHARD_SECONDS
        grace = max(SLOW_NODE_GRACE_MIN_SECONDS, SLOW_NODE_GRACE_FACTOR * (quorum_at - started))
        return quorum_at + min(grace, SLOW_SHARD_SECONDS)

    while pending:
        if quorum_at is None and sum(s.stored for s in senders) >= quorum:
            quorum_at = loop.time()
        timeout = None
        if quorum_at is not None:
            timeout = max(0.0, min(grace_ends(s) for s in pending.values()) - loop.time())
        done, _ = await asyncio.wait(pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            del pending[task]
        now = loop.time()
        for task, sender in list(pending.items()):
            if quorum_at is not None and now >= grace_ends(sender):
                sender.timed_out = True
                sender.drop(f"node {sender.node_id} did not confirm in time")
                del pending[task]


@dataclass(frozen=True)
class _Sealing:
    """Seals the blocks of one shard set; blocks: how many it has."""

    cipher: BlockCipher
    blocks: int


def _encode_stripe(
    data: bytes, geometry: Geometry, sealing: _Sealing | None, index: int
) -> list[tuple[bytes, int]]:
    """Seals and encodes one stripe, with each chunk's CRC32C (runs in the
    executor, beside the stripe's digest update: all of it releases the GIL)."""
    if sealing is not None:
        data = sealing.cipher.seal(index, data, index == sealing.blocks - 1)
    return [(chunk, crc32c(chunk)) for chunk in encode_stripe(data, geometry)]


@dataclass(frozen=True)
class StoredShards:
    """A body stored as one shard set, durable on at least the write quorum of
    shards and referenced by no record yet."""

    shard_set_id: str
    size_bytes: int
    geometry: Geometry
    placement: tuple[ShardLocation, ...]
    etag: str  # hex MD5 of the body
    checksums: dict[str, str]  # verified additional checksums: algorithm -> base64
    map_epoch: int
    inline_data: bytes = b""  # the whole body, when it is kept in the record
    finished_at: float = 0.0  # unix seconds, when the body had ended (the record's time)


async def store_inline(
    *, body: BodySource, request: WriteRequest, policy: WritePolicy, cluster: ClusterView
) -> StoredShards:
    """Reads and verifies a small body (every digest and trailer checked as
    for a sharded one) and returns it for the record; nothing goes to nodes."""
    assert 0 < body.size_bytes <= policy.inline_max_bytes
    digests = BodyDigests(request.content_md5, request.payload_sha256, request.checksums)
    data = await body.read_exactly(body.size_bytes)
    digests.update(data)
    verified = digests.check(await body.finish())
    metrics.INLINE_WRITES.inc()
    return StoredShards(
        shard_set_id=ids.new_version_id(),
        size_bytes=len(data),
        geometry=policy.geometry,
        placement=(),
        etag=digests.etag(),
        checksums=verified,
        map_epoch=cluster.map.epoch,
        inline_data=data,
        finished_at=time.time(),
    )


async def store_shard_set(
    *,
    body: BodySource,
    request: WriteRequest,
    policy: WritePolicy,
    cluster: ClusterView,
    executor: Executor,
    deadline: Deadline,
    shard_set_id: str | None = None,
    also_compute: tuple[str, ...] = (),
    make_trailer: TrailerMaker | None = None,
) -> StoredShards:
    """Streams the body into a new shard set (its headers name request.bucket,
    request.key and the shard set id) and returns it once the write quorum of
    shards is durable. Commits nothing: the caller records it (a version, a
    part) or reclaims it. also_compute: checksum algorithms computed for the
    caller without an expected value. make_trailer: what every shard's Finish
    carries (none without it)."""
    geometry = policy.geometry
    size = body.size_bytes
    set_id = shard_set_id or ids.new_version_id()
    sealing: _Sealing | None = None
    stored_size = size
    if request.data_key is not None and size > 0:
        sealing = _Sealing(BlockCipher(request.data_key, set_id), block_count(size, geometry))
        stored_size = sealed_size_bytes(size, geometry)
    digests = BodyDigests(request.content_md5, request.payload_sha256, request.checksums)
    digests.also_compute(also_compute)
    loop = asyncio.get_running_loop()
    node_ids: list[str] = []
    senders: list[ShardSender] = []
    if size > 0:
        node_ids = await _place(set_id, cluster, geometry)
        senders = [
            ShardSender(
                i,
                node_id,
                cluster.stub(node_id) if cluster.is_up(node_id) else None,
                pb.ShardHeader(
                    bucket=request.bucket,
                    key=request.key,
                    version_id=set_id,
                    shard_index=i,
                    data_shards=geometry.data_shards,
                    parity_shards=geometry.parity_shards,
                    chunk_size_bytes=geometry.chunk_size_bytes,
                    object_size_bytes=stored_size,
                    stripe_count=geometry.stripe_count(stored_size),
                ),
                cluster.call_metadata,
            )
            for i, node_id in enumerate(node_ids)
        ]
    failure: Exception | None = None
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(s.run(deadline.remaining())) for s in senders]
        for sender, task in zip(senders, tasks, strict=True):
            sender.task = task
        try:
            await _stream_stripes(body, geometry, senders, policy, digests, sealing, loop, executor)
            trailers = await body.finish()
            verified = digests.check(trailers)
            etag = secrets.token_hex(16) if request.opaque_etag else digests.etag()
            finished_at = time.time()
            if make_trailer is not None and senders:
                trailer = make_trailer(set_id, etag, verified, finished_at)
                for sender in senders:
                    sender.trailer = trailer
            await asyncio.gather(*(s.send(None) for s in senders))
            await _await_quorum(senders, policy.write_quorum, cluster.slow.is_slow)
        except Exception as exc:  # re-raised below, once every stream is cancelled
            failure = exc
            for t in tasks:
                t.cancel()
    for sender in senders:
        if sender.timed_out:
            slow = cluster.slow.is_slow(sender.node_id)
            metrics.SHARD_WRITES_TIMED_OUT.labels(node="slow" if slow else "up").inc()
            if not slow:
                cluster.slow.mark(sender.node_id)
                metrics.NODES_MARKED_SLOW.inc()
    if failure is not None:
        raise failure
    stored = [s for s in senders if s.stored]
    if size > 0 and len(stored) < policy.write_quorum:
        await _delete_shards(cluster, set_id, stored, deadline)
        raise errors.ServiceUnavailable(
            f"only {len(stored)} of {len(senders)} shards were stored; "
            f"{policy.write_quorum} are needed"
        )
    metrics.SHARDS_WRITTEN.inc(len(stored))
    metrics.DEGRADED_WRITES.inc(1 if len(stored) < len(senders) else 0)
    return StoredShards(
        shard_set_id=set_id,
        size_bytes=size,
        geometry=geometry,
        placement=tuple(ShardLocation(s.shard_index, s.node_id) for s in stored),
        etag=etag,
        checksums=verified,
        map_epoch=cluster.map.epoch,
        finished_at=finished_at,
    )


async def write_object(
    *,
    body: BodySource,
    request: WriteRequest,
    policy: WritePolicy,
    cluster: ClusterView,
    metadata: MetadataClient,
    executor: Executor,
    deadline: Deadline,
    reclaimer: ShardReclaimer,
    bucket: BucketInfo | None = None,
    recheck: Recheck | None = None,
) -> tuple[ObjectVersion, ObjectVersion | None]:
    """Stores the body as a new version of bucket/key; returns the committed
    record and the one it replaced (if any). When metadata decides against the
    commit (a quota, a precondition, a bucket gone) the shards are reclaimed:
    the refusal is recorded under the request id, so it can never land later.
    bucket: the bucket as the caller read it; its owner and status go into
    the shards' trailer (docs/metadata-recovery.md).
    recheck: given when bucket may be stale (read from the bucket cache): the
    commit then holds only if the bucket record is still that one, and when
    it is not, recheck() reads it fresh and decides again (raising to refuse
    the write), and the commit is retried against the fresh record."""
    geometry = policy.geometry

    def record(version_id: str, etag: str, checksums: dict[str, str], at: float) -> ObjectVersion:
        return ObjectVersion(
            bucket=request.bucket,
            key=request.key,
            version_id=version_id,
            size_bytes=body.size_bytes,
            etag=etag,
            content_type=request.content_type,
            last_modified=at,
            data_shards=geometry.data_shards,
            parity_shards=geometry.parity_shards,
            chunk_size_bytes=geometry.chunk_size_bytes,
            placement=(),
            user_metadata=dict(request.user_metadata),
            system_metadata={
                **without_class(request.system_metadata),
                **class_record(policy.storage_class),
                **{f"x-amz-checksum-{a}": v for a, v in checksums.items()},
            },
            tags=dict(request.tags),
            acl=request.acl,
            lock_mode=request.lock.mode,
            retain_until=request.lock.retain_until,
            legal_hold=request.lock.legal_hold,
        )

    make_trailer: TrailerMaker | None = None
    if bucket is not None:
        hints = BucketHints(bucket.owner, bucket.versioning, bucket.object_lock_enabled)

        def trailer_of(version_id: str, etag: str, checksums: dict[str, str], at: float) -> bytes:
            return encode_trailer(record(version_id, etag, checksums, at), hints)

        make_trailer = trailer_of

    # An encrypted body is never kept inline: the record would hold plaintext.
    if 0 < body.size_bytes <= policy.inline_max_bytes and request.data_key is None:
        stored = await store_inline(body=body, request=request, policy=policy, cluster=cluster)
    else:
        stored = await store_shard_set(
            body=body,
            request=request,
            policy=policy,
            cluster=cluster,
            executor=executor,
            deadline=deadline,
            make_trailer=make_trailer,
        )
    assert stored.geometry == geometry and stored.size_bytes == body.size_bytes
    version = replace(
        record(stored.shard_set_id, stored.etag, stored.checksums, stored.finished_at),
        placement=stored.placement,
        map_epoch=stored.map_epoch,
        inline_data=stored.inline_data,
        request_id=ids.new_request_id(),
    )
    checked = bucket if recheck is not None else None
    for attempt in range(1, BUCKET_RECHECKS_MAX + 2):
        try:
            replaced = await metadata.put_object(
                version,
                timeout=deadline.remaining(),
                if_none_match_star=request.if_none_match_star,
                if_match_etag=request.if_match_etag,
                if_bucket_fingerprint=bucket_fingerprint(checked) if checked else "",
                keep=stored_as_sent(checked or bucket),
            )
            return version, replaced
        except errors.BucketChanged:
            # decided: refused under this request id, so the shards are ours
            # to reuse under a new one (or to reclaim)
            metrics.BUCKET_RECHECKS.inc()
            assert recheck is not None
            if attempt > BUCKET_RECHECKS_MAX:
                reclaimer.unreferenced(version)
                raise errors.ServiceUnavailable(
                    "The bucket's configuration kept changing during the request."
                ) from None
            try:
                checked = await recheck()
            except BaseException:
                reclaimer.unreferenced(version)
                raise
            version = replace(version, request_id=ids.new_request_id())
        except errors.TesseraError as exc:
            if exc.http_status < 500:  # decided; a 5xx may still land, GC handles those
                reclaimer.unreferenced(version)
            raise
    raise AssertionError("unreachable")


def stored_as_sent(bucket: BucketInfo | None) -> bool:
    """Whether metadata stores a version as the gateway sends it (not in a
    versioned bucket, which gives it a version id, nor with Object Lock,
    which may give it a default retention): only then can the gateway keep
    its record under a record lease (metadata/leased_records.py). Unknown
    bucket: assumed so (the replica then finds out)."""
    return bucket is None or not (bucket.versioning or bucket.object_lock_enabled)


async def _place(version_id: str, cluster: ClusterView, geometry: Geometry) -> list[str]:
    """Nodes for each shard: among the up nodes not marked slow
    (gateway/slow_nodes.py) when they span every zone the up nodes do and are
    enough, else among the up nodes, or, when too few are up, among all
    nodes that are not draining (shards for down nodes are then
    skipped, and the write quorum decides). A map too small for the geometry
    may just be stale (a node that joined a moment ago): it is refreshed once."""
    for attempt in range(2):
        up = cluster.candidates()
        fast = [c for c in up if not cluster.slow.is_slow(c.node_id)]
        lists = [up, cluster.fallback_candidates()]
        if len(fast) < len(up) and {c.zone for c in fast} == {c.zone for c in up}:
            lists.insert(0, fast)  # nodes marked slow only when the others suffice
        for candidates in lists:
            try:
                return place(version_id, candidates, geometry)
            except NotEnoughNodes as exc:
                failure = exc
        if attempt == 0:
            await cluster.refresh()
    raise errors.ServiceUnavailable(f"not enough storage nodes: {failure}")


async def _stream_stripes(
    body: BodySource,
    geometry: Geometry,
    senders: list[ShardSender],
    policy: WritePolicy,
    digests: BodyDigests,
    sealing: _Sealing | None,
    loop: asyncio.AbstractEventLoop,
    executor: Executor,
) -> None:
    """Reads, processes and sends the stripes as a pipeline: stripe i is
    hashed (one executor job) and sealed and encoded (another, in parallel)
    while stripe i + 1 is read from the client, so at most two stripes of the
    body are held at once. The digests see the stripes in order: the job for
    stripe i + 1 is submitted only after the one for stripe i has ended."""
    size = body.size_bytes
    count = sealing.blocks if sealing is not None else geometry.stripe_count(size)
    in_flight: _StripeJobs | None = None
    try:
        for stripe_index in range(count):
            if sealing is not None:
                wanted = block_size_bytes(size, geometry, stripe_index)
            else:
                wanted = geometry.stripe_data_bytes(size, stripe_index)
            data = await body.read_exactly(wanted)
            if in_flight is not None:
                await _send_stripe(in_flight, senders, policy)
            in_flight = _StripeJobs(
                stripe_index,
                loop.run_in_executor(executor, digests.update, data),
                loop.run_in_executor(
                    executor, _encode_stripe, data, geometry, sealing, stripe_index
                ),
            )
        if in_flight is not None:
            await _send_stripe(in_flight, senders, policy)
            in_flight = None
    finally:
        if in_flight is not None:  # failed mid-stripe: let the jobs end, unobserved
            await asyncio.gather(in_flight.digest, in_flight.encoded, return_exceptions=True)


@dataclass(frozen=True)
class _StripeJobs:
    """The executor jobs of one stripe: its digest update and its chunks."""

    stripe_index: int
    digest: asyncio.Future[None]
    encoded: asyncio.Future[list[tuple[bytes, int]]]


async def _send_stripe(jobs: _StripeJobs, senders: list[ShardSender], policy: WritePolicy) -> None:
    await jobs.digest
    chunks = await jobs.encoded
    await asyncio.gather(
        *(
            s.send(s.request(jobs.stripe_index, chunk, crc))
            for s, (chunk, crc) in zip(senders, chunks, strict=True)
        )
    )
    healthy = sum(1 for s in senders if not s.failed)
    if healthy < policy.write_quorum:
        raise errors.ServiceUnavailable(
            f"{len(senders) - healthy} shard streams failed; the write quorum is lost"
        )


async def _delete_shards(
    cluster: ClusterView, shard_set_id: str, senders: list[ShardSender], deadline: Deadline
) -> None:
    """Best effort: removes shards of a write that will not be committed (GC
    collects whatever this misses)."""
    for s in senders:
        stub = cluster.stub(s.node_id)
        if stub is None:
            continue
        with contextlib.suppress(grpc.aio.AioRpcError, errors.RequestTimeout):
            await stub.DeleteShard(
                pb.DeleteShardRequest(version_id=shard_set_id, shard_index=s.shard_index),
                timeout=min(5.0, deadline.remaining()),
                metadata=cluster.call_metadata,
            )
