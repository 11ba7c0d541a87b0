"""The core every Metadata RPC is written on: construction, the call edge, reads and submits.

ServiceCore holds what the servicer is built from (the state, the mutation
log, the liveness source, the read executor, the clock, the replica and the
repair scheduler) and the steps every handler is made of: a strong read
(_consistent, then _read on the bounded read executor), a submit whose
result has a known type (_submit), and the request checks. The RPCs
themselves live in one mixin per area (bucket_service, object_service,
upload_service, user_service, cluster_service, usage_service), composed into
MetadataService in service.py.

Invariants: every handler runs through serve (the @rpc decorator), so every
S3 error reaches the caller through proto.rpc.abort_with with its exact code,
anything else is logged and answered as InternalError, and every call is
timed under its method's name; a bucket name that could alias another
bucket's keyspace (empty, or holding NUL or "/") never reaches the state; no
strong read answers from a state older than the log's head at the time the
read arrived.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Protocol, TypeVar

from metadata import metrics
from metadata.commit import MutationLog
from metadata.list_ahead import PagesAhead
from metadata.liveness import LiveSet
from metadata.logformat import revision_of
from metadata.mutations import Mutation
from metadata.read_lease import ReadIndex, StrongReads
from metadata.record_leases import RecordLeases
from metadata.repair import RepairScheduler
from metadata.state import StateMachine
from proto import tessera_pb2 as pb
from proto.rpc import abort_with
from tessera import errors, limits
from tessera.ids import is_version_id
from tessera.model import ClusterMapView, NodeInfo, ObjectVersion

log = logging.getLogger(__name__)

T = TypeVar("T")
Request = TypeVar("Request")
Reply = TypeVar("Reply")
Core = TypeVar("Core", bound="ServiceCore")

BUCKET_NAME_MAX_BYTES = 255  # S3 allows 63; legacy names up to 255 — the gateway decides
SERVER_TIMEOUT_DEFAULT_SECONDS = 10.0


class LivenessSource(Protocol):
    async def register(self, node: NodeInfo, *, timeout: float) -> int: ...  # noqa: ASYNC109
    async def heartbeat(self, node_id: str, *, timeout: float) -> None: ...  # noqa: ASYNC109
    async def live_set(self, *, timeout: float) -> LiveSet: ...  # noqa: ASYNC109


WaitApplied = Callable[[int, float], Awaitable[None]]  # (revision, timeout)


@dataclasses.dataclass
class Replica:
    """What a replicated service knows about itself (None for a single replica)."""

    replica_id: str
    read_index: ReadIndex  # etcd's: for the replica's own decisions
    scratch_dir: Path
    reads: StrongReads  # what clients see: under the read lease, or settled
    wait_applied: WaitApplied
    record_leases: RecordLeases | None = None  # gateways' (None: read leases are off)


class ServiceCore:
    def __init__(
        self,
        state: StateMachine,
        mutation_log: MutationLog,
        liveness_source: LivenessSource,
        reads: Executor,
        clock: Callable[[], float] = time.time,
        replica: Replica | None = None,
        repair: RepairScheduler | None = None,
    ) -> None:
        self._state = state
        self._log = mutation_log
        self._liveness = liveness_source
        self._reads = reads
        self._clock = clock
        self._replica = replica
        self.repair = repair
        self._usage: dict[str, tuple[int, int, float]] = {}  # node: capacity, used, seen at
        # Set when the replica starts to stop: its Calls streams take no new
        # call and end once the ones taken are answered (proto/call_stream.py).
        self.closing = asyncio.Event()
        # listing pages read ahead (metadata/list_ahead.py)
        self._pages_ahead: PagesAhead[pb.ListObjectsResponse] = PagesAhead(state.bucket_writes)

    async def _consistent(self, timeout: float) -> None:  # noqa: ASYNC109
        """The read index: waits until the log's current head is applied here
        (for this replica's own decisions; what a client sees goes through
        _strong)."""
        if self._replica is None:
            return
        started = time.perf_counter()
        await self._replica.read_index(timeout)
        metrics.READ_INDEX_DURATION.observe(time.perf_counter() - started)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reads, fn, *args)

    async def _strong(self, context: Any, read: Callable[[], Awaitable[T]]) -> T:
        """read()'s result, linearizable (within the call's remaining deadline)."""
        if self._replica is None:
            return await read()
        return await self._replica.reads.run(read, remaining(context))

    async def _strong_read(self, context: Any, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) on the state, linearizable."""
        return await self._strong(context, lambda: self._read(fn, *args))

    async def _object(self, bucket: str, key: str) -> ObjectVersion:
        """The key's current record: on the loop when the state keeps it
        decoded (metadata/record_cache.py), else read on the read executor."""
        found = self._state.cached_object(bucket, key)
        if found is not None:
            return found
        return await self._read(self._state.get_object, bucket, key)

    def _applied_revision(self) -> int:
        """The last log revision this replica applied (0 for a single replica)."""
        if self._replica is None:
            return 0
        return revision_of(self._state.applied_position)

    async def _submit(self, mutation: Mutation, result_type: type[T]) -> T:
        """Submits mutation to the log; its effect's result, which has result_type."""
        result = await self._log.submit(mutation)
        assert isinstance(result, result_type)
        return result

    async def _map(self) -> ClusterMapView:
        """The applied cluster map, with each node's latest reported usage."""
        view = await self._read(self._state.cluster_map)
        nodes = []
        for node in view.nodes:
            usage = self._usage.get(node.node_id)
            if usage is not None:
                node = dataclasses.replace(
                    node, capacity_bytes=usage[0], used_bytes=usage[1], last_heartbeat=usage[2]
                )
            nodes.append(node)
        self._count_nodes(view)
        return ClusterMapView(epoch=view.epoch, nodes=tuple(nodes))

    def _count_nodes(self, view: ClusterMapView) -> None:
        counts: dict[str, int] = {}
        for node in view.nodes:
            counts[node.state] = counts.get(node.state, 0) + 1
        for state in ("up", "down", "draining"):
            metrics.NODES.labels(state).set(counts.get(state, 0))


def rpc(
    handler: Callable[[Core, Request, Any], Awaitable[Reply]],
) -> Callable[[Core, Request, Any], Awaitable[Reply]]:
    """A unary RPC handler served through serve, under the handler's name."""
    method = handler.__name__

    @functools.wraps(handler)
    async def served(self: Core, request: Request, context: Any) -> Reply:
        return await serve(context, method, lambda: handler(self, request, context))

    return served


async def serve(context: Any, method: str, work: Callable[[], Awaitable[T]]) -> T:
    """Runs a handler body; TesseraErrors become the call's status and S3 code."""
    started = time.perf_counter()
    code = "OK"
    try:
        return await work()
    except errors.TesseraError as exc:
        code = exc.code
        await abort_with(context, exc)
        raise
    except asyncio.CancelledError:
        code = "Cancelled"
        raise
    except Exception:
        code = "InternalError"
        log.exception("metadata %s failed", method)
        await abort_with(context, errors.InternalError())
        raise
    finally:
        metrics.RPC_DURATION.labels(method, code).observe(time.perf_counter() - started)


def remaining(context: Any) -> float:
    """The call's remaining deadline (a default when the caller set none)."""
    left = context.time_remaining() if context is not None else None
    if left is None:
        return SERVER_TIMEOUT_DEFAULT_SECONDS
    return max(0.0, min(float(left), limits.METADATA_CALL_TIMEOUT_SECONDS * 6))


def check_bucket(name: str, error: type[errors.TesseraError]) -> None:
    if not name or "\x00" in name or "/" in name or len(name.encode()) > BUCKET_NAME_MAX_BYTES:
        raise error()


def check_key(key: str) -> None:
    if not key:
        raise errors.InvalidArgument("object key must not be empty")
    if len(key.encode()) > limits.KEY_LENGTH_MAX_BYTES:
        raise errors.KeyTooLongError()


def check_upload_id(upload_id: str) -> None:
    if not is_version_id(upload_id):
        raise errors.NoSuchUpload("The upload id is not one this service issued.")


def check_upload_key(request: Any) -> None:
    """bucket, key and upload_id of a request naming one upload."""
    check_bucket(request.bucket, errors.NoSuchBucket)
    check_key(request.key)
    check_upload_id(request.upload_id)
