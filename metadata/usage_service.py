"""The usage and quota RPCs of the Metadata servicer (docs/usage-and-quotas.md).

A mixin of MetadataService (service.py): writes become mutations (SetQuota,
RecordRequestUsage, RecountUsage) submitted to the log like every other
write, reads wait for the read index first. Invariant as in service_core.py:
every S3 error reaches the caller with its exact code.
"""

from __future__ import annotations

import json
from typing import Any

from metadata import mutations
from metadata.service_core import ServiceCore, rpc
from proto import tessera_pb2 as pb
from proto.convert import quota_to_pb
from tessera import errors
from tessera.ids import new_request_id
from tessera.usage import REQUEST_CLASSES

RECORDS_PER_FLUSH_MAX = 4096  # keeps one flush well inside one log entry


class UsageRpcs(ServiceCore):
    @rpc
    async def GetUsage(self, request: pb.UsageQuery, context: Any) -> pb.UsageReport:
        if request.from_hour > request.to_hour:
            raise errors.InvalidArgument("the usage range ends before it starts")
        report = await self._strong_read(
            context,
            self._state.usage_report,
            request.bucket,
            request.owner,
            request.from_hour,
            request.to_hour,
        )
        return pb.UsageReport(report_json=json.dumps(report, sort_keys=True))

    @rpc
    async def SetQuota(self, request: pb.QuotaRequest, context: Any) -> pb.QuotaRecord:
        await self._log.submit(
            mutations.SetQuota(
                request_id=request.request_id or new_request_id(),
                scope=request.scope,
                name=request.name,
                max_bytes=request.max_bytes if request.HasField("max_bytes") else None,
                max_objects=request.max_objects if request.HasField("max_objects") else None,
            )
        )
        quota = await self._strong_read(context, self._state.quota, request.scope, request.name)
        return quota_to_pb(request.scope, request.name, quota)

    @rpc
    async def GetQuota(self, request: pb.QuotaScope, context: Any) -> pb.QuotaRecord:
        if request.scope not in ("bucket", "owner"):
            raise errors.InvalidArgument(f"no quota scope {request.scope!r}")
        quota = await self._strong_read(context, self._state.quota, request.scope, request.name)
        return quota_to_pb(request.scope, request.name, quota)

    @rpc
    async def RecordRequestUsage(self, request: pb.RequestUsageBatch, context: Any) -> pb.Empty:
        if not request.request_id:
            raise errors.InvalidArgument("a usage flush needs its request id")
        if len(request.records) > RECORDS_PER_FLUSH_MAX:
            raise errors.InvalidArgument("too many usage records in one flush")
        records = tuple(
            (r.hour, r.bucket, {name: getattr(r, name) for name in _COUNTER_FIELDS})
            for r in request.records
        )
        await self._log.submit(
            mutations.RecordRequestUsage(
                request_id=request.request_id,
                records=records,
                retention_hours=request.retention_hours,
            )
        )
        return pb.Empty()

    @rpc
    async def RecountUsage(self, request: pb.RecountUsageRequest, context: Any) -> pb.Empty:
        await self._log.submit(
            mutations.RecountUsage(request.request_id or new_request_id(), request.bucket)
        )
        return pb.Empty()


_COUNTER_FIELDS = (*REQUEST_CLASSES, "bytes_in", "bytes_out")
