"""The call edge every Metadata RPC runs through (metadata/service_core.py): the
@rpc decorator's answer, error mapping and metric label, called directly with a
recording context; and the handlers no other unit test calls (KMS keys, the
replica's and the repair leader's status). test_service.py covers the rest end
to end over gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest
from prometheus_client import REGISTRY

from metadata.commit import CommitLog, MutationLog
from metadata.liveness import LocalLiveness
from metadata.service import LocalLivenessSource, MetadataService, _digest
from metadata.service_core import ServiceCore, rpc
from metadata.state import StateMachine
from proto import tessera_pb2 as pb
from proto.rpc import S3_CODE_HEADER
from tessera import errors

pytestmark = pytest.mark.usefixtures("loop_watchdog")


class RecordingContext:
    """Records what a handler's error edge tells the call (a real context's
    abort raises; this one returns, so the handler's own exception surfaces)."""

    def __init__(self) -> None:
        self.trailers: tuple[tuple[str, str], ...] = ()
        self.status: grpc.StatusCode | None = None

    def time_remaining(self) -> float:
        return 5.0

    def set_trailing_metadata(self, trailers: tuple[tuple[str, str], ...]) -> None:
        self.trailers = trailers

    async def abort(self, status: grpc.StatusCode, message: str) -> None:
        self.status = status


def calls(method: str, code: str) -> float:
    found = REGISTRY.get_sample_value(
        "tessera_metadata_rpc_duration_seconds_count", {"method": method, "code": code}
    )
    return found or 0.0


Parts = tuple[StateMachine, MutationLog, LocalLivenessSource, ThreadPoolExecutor]


@pytest.fixture
async def parts(state: StateMachine) -> AsyncIterator[Parts]:
    """What a servicer is built from."""
    reads = ThreadPoolExecutor(max_workers=1)
    async with CommitLog(state, window_seconds=0.001) as commit_log:
        liveness = LocalLivenessSource(LocalLiveness(10.0), lambda: 1_700_000_000.0)
        yield state, commit_log, liveness, reads
    reads.shutdown(wait=True)


NOW = 1_700_000_000.0


@pytest.fixture
def service(parts: Parts) -> MetadataService:
    return MetadataService(*parts, clock=lambda: NOW)


async def test_an_answer_is_counted_under_the_method_name(service: MetadataService) -> None:
    context = RecordingContext()
    before = calls("CreateBucket", "OK")
    record = await service.CreateBucket(pb.CreateBucketRequest(name="b", owner="o"), context)
    assert (record.name, record.owner, record.acl) == ("b", "o", "private")
    assert calls("CreateBucket", "OK") == before + 1
    assert context.status is None


async def test_an_s3_error_reaches_the_call_with_its_code(service: MetadataService) -> None:
    context = RecordingContext()
    before = calls("GetBucket", "NoSuchBucket")
    with pytest.raises(errors.NoSuchBucket):
        await service.GetBucket(pb.BucketName(name="a/b"), context)
    assert context.trailers == ((S3_CODE_HEADER, "NoSuchBucket"),)
    assert context.status == grpc.StatusCode.NOT_FOUND
    assert calls("GetBucket", "NoSuchBucket") == before + 1


class Failing(ServiceCore):
    @rpc
    async def Explode(self, request: Any, context: Any) -> None:
        raise RuntimeError("a bug")


async def test_anything_else_is_answered_as_internal_error(parts: Parts) -> None:
    failing = Failing(*parts)
    context = RecordingContext()
    before = calls("Explode", "InternalError")
    with pytest.raises(RuntimeError):
        await failing.Explode(None, context)
    assert context.trailers == ((S3_CODE_HEADER, "InternalError"),)
    assert context.status == grpc.StatusCode.INTERNAL
    assert calls("Explode", "InternalError") == before + 1


async def test_kms_keys_are_created_found_and_listed(service: MetadataService) -> None:
    context = RecordingContext()
    key = pb.KmsKeyRecord(key_id="k-1", alias="invoices", wrapped_key=b"\x01\x02")
    created = await service.CreateKmsKey(pb.CreateKmsKeyRequest(key=key), context)
    assert (created.key_id, created.alias, created.wrapped_key) == ("k-1", "invoices", b"\x01\x02")
    assert created.created_at == NOW
    assert await service.GetKmsKey(pb.KmsKeyLookup(key="invoices"), context) == created
    assert await service.GetKmsKey(pb.KmsKeyLookup(key="k-1"), context) == created
    assert list((await service.ListKmsKeys(pb.Empty(), context)).keys) == [created]
    with pytest.raises(errors.KMS_NotFoundException):
        await service.GetKmsKey(pb.KmsKeyLookup(key="k-2"), context)
    assert context.trailers == ((S3_CODE_HEADER, "KMS.NotFoundException"),)


async def test_a_single_replica_reports_its_position_and_no_repair_leader(
    service: MetadataService, state: StateMachine
) -> None:
    context = RecordingContext()
    await service.CreateBucket(pb.CreateBucketRequest(name="b", owner="o"), context)
    status = await service.ReplicaStatus(pb.Empty(), context)
    assert status.replica_id == ""
    assert status.applied_position == status.applied_revision == state.applied_position > 0
    assert (status.state_digest, status.key_count) == _digest(state)
    assert status.key_count > 0
    repair = await service.RepairStatus(pb.Empty(), context)
    assert (repair.is_leader, repair.replica_id) == (False, "single")
