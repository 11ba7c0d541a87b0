"""MetadataClient: the async client the gateway and the nodes use to reach metadata.

``address`` is one replica's host:port or a comma-separated list of them; any
replica serves any call (writes go through the shared log, strong reads wait
for the log's head). Every method takes a required ``timeout`` (seconds: the
caller's remaining deadline — gRPC has none by default) and raises
TesseraError subclasses: the exact S3 error the service decided on,
ServiceUnavailable when no replica could answer in time.

Invariants: a call that failed in transport (UNAVAILABLE: a replica down,
restarting, cut off from etcd, or the connection cut) or that one replica did
not answer within its share of the deadline is retried on the next replica,
with backoff, within the timeout and with the same request id, so a mutation
that did land the first time is not applied twice; nothing is retried past
the caller's deadline.
"""

# Every method takes the caller's remaining deadline as `timeout` and hands it to
# gRPC as the call's deadline (STYLE: one deadline per request, set at the edge).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import grpc
import grpc.aio

from metadata.bucket_cache import BucketCache
from metadata.leased_records import LeasedRecords
from proto import convert
from proto import tessera_pb2 as pb
from proto import tessera_pb2_grpc as pb_grpc
from proto.call_stream import CallFailed
from proto.convert import quota_from_pb
from proto.metadata_calls import MetadataCalls
from proto.rpc import call_metadata, error_from_rpc, error_from_status, new_channel, s3_code_of
from tessera import errors
from tessera.ids import new_request_id, new_version_id
from tessera.model import (
    AccessKeyInfo,
    BucketInfo,
    ClusterMapView,
    CompletedUpload,
    KmsKeyInfo,
    ListPage,
    MultipartUpload,
    NodeInfo,
    ObjectDeleted,
    ObjectVersion,
    PartsPage,
    Segment,
    UploadsPage,
    UserInfo,
    VersionsPage,
    VersionSummary,
)
from tessera.multipart import ListedPart
from tessera.usage import Quota, RequestCounters

T = TypeVar("T")

RETRY_BACKOFF_FIRST_SECONDS = 0.05
RETRY_BACKOFF_MAX_SECONDS = 1.0
# One replica gets this share of the remaining time, within [min, max], before
# the call moves on: a hung replica costs seconds of latency, not the call.
# (Every metadata call takes milliseconds; seconds only across an etcd election.)
ATTEMPT_SHARE = 0.35
ATTEMPT_SECONDS_MIN = 2.0
ATTEMPT_SECONDS_MAX = 6.0


def parse_addresses(address: str) -> list[str]:
    """'host:port' or 'h1:p1,h2:p2,...' (blanks ignored)."""
    found = [a.strip() for a in address.split(",") if a.strip()]
    if not found:
        raise ValueError("no metadata address given")
    return found


class MetadataClient:
    def __init__(
        self,
        address: str,
        secret: str,
        *,
        bucket_cache_seconds: float = 0.0,
        streams: bool | None = None,
        record_lease_bytes: int = 0,
    ) -> None:
        """bucket_cache_seconds: how long get_bucket may answer from this
        client's cache (metadata/bucket_cache.py); 0, the default, never.
        streams: whether unary calls go over each replica's Calls stream
        (proto/metadata_calls.py; None: unless TESSERA_METADATA_STREAMS=0).
        record_lease_bytes: how much memory get_object's records may take,
        answered under record leases (metadata/leased_records.py; 0: none)."""
        self.addresses = parse_addresses(address)
        self.buckets = BucketCache(bucket_cache_seconds)
        self._channels = [new_channel(a) for a in self.addresses]
        self._stubs = [pb_grpc.MetadataStub(c) for c in self._channels]
        self._calls = [MetadataCalls(stub, enabled=streams) for stub in self._stubs]
        self._current = 0
        self._metadata = call_metadata(secret)
        self.records: LeasedRecords | None = None
        if record_lease_bytes > 0:
            self.records = LeasedRecords(
                lambda: self._stubs[self._current], self._metadata, record_lease_bytes
            )

    async def __aenter__(self) -> MetadataClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self.records is not None:
            await self.records.close()
        for channel in self._channels:
            await channel.close(None)

    # ------------------------------------------------------------ buckets

    async def create_bucket(
        self,
        name: str,
        owner: str,
        *,
        timeout: float,
        request_id: str = "",
        acl: str = "",
        object_lock: bool = False,
    ) -> BucketInfo:
        request = pb.CreateBucketRequest(
            name=name,
            owner=owner,
            request_id=request_id or new_request_id(),
            acl=acl,
            object_lock=object_lock,
        )
        return convert.bucket_from_pb(await self._call("CreateBucket", request, timeout))

    async def delete_bucket(self, name: str, *, timeout: float, request_id: str = "") -> None:
        request = pb.BucketName(name=name, request_id=request_id or new_request_id())
        await self._call("DeleteBucket", request, timeout)

    async def get_bucket(self, name: str, *, timeout: float, cached: bool = False) -> BucketInfo:
        """The bucket record; with cached, possibly from this client's cache
        (at most bucket_cache_seconds old, or as this client last changed it)."""
        found_cached = self.buckets.get(name) if cached else None
        if found_cached is not None:
            return found_cached
        generation = self.buckets.generation(name)
        reply = await self._call("GetBucket", pb.BucketName(name=name), timeout, cache=False)
        found = convert.bucket_from_pb(reply)
        self.buckets.read(found, generation)
        return found

    async def list_buckets(self, owner: str, *, timeout: float) -> list[BucketInfo]:
        """The owner's buckets in name order (every bucket when owner is empty)."""
        reply = await self._call("ListBuckets", pb.ListBucketsRequest(owner=owner), timeout)
        return [convert.bucket_from_pb(b) for b in reply.buckets]

    async def set_bucket_access(
        self, bucket: str, field: str, value: str, *, timeout: float
    ) -> BucketInfo:
        """Sets a bucket's "acl", "policy", "cors", "lifecycle", "tags", "website" or
        "cache-control" ("" removes any but the ACL)."""
        request = pb.SetBucketAccessRequest(
            bucket=bucket, field=field, value=value, request_id=new_request_id()
        )
        return convert.bucket_from_pb(await self._call("SetBucketAccess", request, timeout))

    async def set_object_acl(
        self, bucket: str, key: str, acl: str, *, timeout: float
    ) -> ObjectVersion:
        request = pb.SetObjectAclRequest(
            bucket=bucket, key=key, acl=acl, request_id=new_request_id()
        )
        return convert.version_from_pb(await self._call("SetObjectAcl", request, timeout))

    async def set_object_lock(
        self,
        bucket: str,
        key: str,
        version_id: str,
        *,
        timeout: float,
        field: str,
        mode: str = "",
        retain_until: float = 0.0,
        legal_hold: bool = False,
        bypass_governance: bool = False,
    ) -> ObjectVersion:
        """PutObjectRetention (field "retention") or PutObjectLegalHold
        ("legal_hold") on one version ("" version_id: the current one)."""
        request = pb.SetObjectLockRequest(
            bucket=bucket,
            key=key,
            version_id=version_id,
            field=field,
            mode=mode,
            retain_until=retain_until,
            legal_hold=legal_hold,
            bypass_governance=bypass_governance,
            request_id=new_request_id(),
        )
        return convert.version_from_pb(await self._call("SetObjectLock", request, timeout))

    # ------------------------------------------------------------ users and keys

    async def create_user(self, name: str, *, timeout: float) -> UserInfo:
        request = pb.UserName(name=name, request_id=new_request_id())
        return convert.user_from_pb(await self._call("CreateUser", request, timeout))

    async def delete_user(self, name: str, *, timeout: float) -> None:
        await self._call("DeleteUser", pb.UserName(name=name, request_id=new_request_id()), timeout)

    async def list_users(self, *, timeout: float) -> list[UserInfo]:
        reply = await self._call("ListUsers", pb.Empty(), timeout)
        return [convert.user_from_pb(u) for u in reply.users]

    async def create_access_key(self, key: AccessKeyInfo, *, timeout: float) -> AccessKeyInfo:
        request = pb.CreateAccessKeyRequest(
            key=convert.access_key_to_pb(key), request_id=new_request_id()
        )
        return convert.access_key_from_pb(await self._call("CreateAccessKey", request, timeout))

    async def create_kms_key(self, key: KmsKeyInfo, *, timeout: float) -> KmsKeyInfo:
        """Creates key; returns the existing key instead when its alias is taken."""
        request = pb.CreateKmsKeyRequest(
            key=convert.kms_key_to_pb(key), request_id=new_request_id()
        )
        return convert.kms_key_from_pb(await self._call("CreateKmsKey", request, timeout))

    async def get_kms_key(self, id_or_alias: str, *, timeout: float) -> KmsKeyInfo:
        """KMS.NotFoundException when no key has that id or alias."""
        reply = await self._call("GetKmsKey", pb.KmsKeyLookup(key=id_or_alias), timeout)
        return convert.kms_key_from_pb(reply)

    async def list_kms_keys(self, *, timeout: float) -> list[KmsKeyInfo]:
        reply = await self._call("ListKmsKeys", pb.Empty(), timeout)
        return [convert.kms_key_from_pb(k) for k in reply.keys]

    async def revoke_access_key(self, access_key_id: str, *, timeout: float) -> None:
        request = pb.AccessKeyId(access_key_id=access_key_id, request_id=new_request_id())
        await self._call("RevokeAccessKey", request, timeout)

    async def get_access_key(self, access_key_id: str, *, timeout: float) -> AccessKeyInfo:
        """The key (NoSuchEntity when there is no such key, or it was revoked)."""
        request = pb.AccessKeyId(access_key_id=access_key_id)
        return convert.access_key_from_pb(await self._call("GetAccessKey", request, timeout))

    async def list_access_keys(self, user: str, *, timeout: float) -> list[AccessKeyInfo]:
        """user's keys (every key when user is empty)."""
        reply = await self._call("ListAccessKeys", pb.UserName(name=user), timeout)
        return [convert.access_key_from_pb(k) for k in reply.keys]

    # ------------------------------------------------------------ objects

    async def put_object(
        self,
        version: ObjectVersion,
        *,
        timeout: float,
        if_none_match_star: bool = False,
        if_match_etag: str = "",
        if_bucket_fingerprint: str = "",
        keep: bool = True,
    ) -> ObjectVersion | None:
        """Commits version as its key's current one; returns the record it replaced.

        version.request_id is the idempotency key (one is generated when empty):
        set it yourself to make your own retries of the same commit safe.
        if_none_match_star / if_match_etag make the commit conditional
        (PreconditionFailed when the condition does not hold; NoSuchKey for
        If-Match on a key with no current version); if_bucket_fingerprint
        too (BucketChanged when the bucket record is no longer that one).
        keep=False: the replica stores the version changed (a versioned
        bucket's version id, an Object Lock default retention), so asking it
        to read the record back for the gateway's records is wasted.
        """
        if not version.request_id:
            version = dataclasses.replace(version, request_id=new_request_id())
        records = self.records
        ticket = records.ticket(opening=True) if records is not None else None
        request = pb.PutObjectRequest(
            version=convert.version_to_pb(version),
            if_none_match_star=if_none_match_star,
            if_match_etag=if_match_etag,
            if_bucket_fingerprint=if_bucket_fingerprint,
            want_record=keep and ticket is not None and ticket.session > 0,
        )
        reply = await self._call("PutObject", request, timeout)
        if reply.stored_revision and records is not None and ticket is not None:
            # the replica found the version as sent (it round-trips through
            # the wire unchanged: tests/unit/proto)
            records.fill(ticket, version, reply.stored_revision)
        return convert.version_from_pb(reply.replaced) if reply.has_replaced else None

    async def get_object(self, bucket: str, key: str, *, timeout: float) -> ObjectVersion:
        """The key's current version: from a leased record when this client
        keeps one, else asked (and, leases allowing, kept)."""
        records = self.records
        if records is not None:
            found = records.get(bucket, key)
            if found is not None:
                return found
            ticket = records.ticket()
        request = pb.ObjectKey(bucket=bucket, key=key)
        reply = await self._call("GetObject", request, timeout)
        version = convert.version_from_pb(reply)
        if records is not None:
            records.fill(ticket, version, reply.read_revision)
        return version

    async def delete_object(
        self, bucket: str, key: str, *, timeout: float, request_id: str = ""
    ) -> ObjectVersion | None:
        """Deletes the key's current version; returns it (None if there was none).
        In a versioned bucket this adds a delete marker (see delete_versioned)."""
        deleted = await self.delete_versioned(bucket, key, timeout=timeout, request_id=request_id)
        return deleted.removed

    async def delete_versioned(
        self,
        bucket: str,
        key: str,
        *,
        timeout: float,
        version_id: str = "",
        request_id: str = "",
        bypass_governance: bool = False,
        if_bucket_fingerprint: str = "",
    ) -> ObjectDeleted:
        """DeleteObject with versioning: one version by id, or (without an id,
        in a versioned bucket) a new delete marker. ``removed`` is the record
        whose shards nothing references any more. A version under Object Lock
        is AccessDenied (bypass_governance: the caller checked the requester
        may bypass a GOVERNANCE retention). if_bucket_fingerprint: as
        put_object's (BucketChanged when the bucket record is no longer that one)."""
        now = time.time()
        request = pb.ObjectKey(
            bucket=bucket,
            key=key,
            request_id=request_id or new_request_id(),
            version_id=version_id,
            marker_version_id=new_version_id(now),
            last_modified=now,
            bypass_governance=bypass_governance,
            if_bucket_fingerprint=if_bucket_fingerprint,
        )
        reply = await self._call("DeleteObject", request, timeout)
        return ObjectDeleted(
            removed=convert.version_from_pb(reply.deleted) if reply.existed else None,
            marker=convert.version_from_pb(reply.marker) if reply.has_marker else None,
        )

    async def put_bucket_versioning(self, name: str, status: str, *, timeout: float) -> BucketInfo:
        request = pb.BucketVersioningRequest(name=name, status=status, request_id=new_request_id())
        return convert.bucket_from_pb(await self._call("PutBucketVersioning", request, timeout))

    async def get_object_version(
        self, bucket: str, key: str, version_id: str, *, timeout: float
    ) -> ObjectVersion:
        """A version by id, or the newest record (a delete marker included) for ""."""
        request = pb.ObjectKey(bucket=bucket, key=key, version_id=version_id)
        return convert.version_from_pb(await self._call("GetObjectVersion", request, timeout))

    async def list_object_versions(
        self,
        bucket: str,
        prefix: str,
        delimiter: str,
        key_marker: str,
        version_id_marker: str,
        max_keys: int,
        *,
        timeout: float,
    ) -> VersionsPage[VersionSummary]:
        """A page of ListObjectVersions, each version as a listing shows it
        (no placement, segments, inline data, user metadata or tags)."""
        request = pb.ListVersionsRequest(
            bucket=bucket,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            version_id_marker=version_id_marker,
            max_keys=max_keys,
            summary=True,
        )
        reply = await self._call("ListObjectVersions", request, timeout)
        return convert.summary_versions_page_from_pb(reply)

    async def put_object_tagging(
        self, bucket: str, key: str, version_id: str, tags: dict[str, str], *, timeout: float
    ) -> ObjectVersion:
        request = pb.TaggingRequest(
            bucket=bucket, key=key, version_id=version_id, tags=tags, request_id=new_request_id()
        )
        return convert.version_from_pb(await self._call("PutObjectTagging", request, timeout))

    async def list_objects(
        self,
        bucket: str,
        prefix: str,
        delimiter: str,
        start_after: str,
        max_keys: int,
        *,
        timeout: float,
    ) -> ListPage[ObjectVersion]:
        """A page of current versions, whole records."""
        request = _list_request(bucket, prefix, delimiter, start_after, max_keys, summary=False)
        return convert.page_from_pb(await self._call("ListObjects", request, timeout))

    async def list_object_summaries(
        self,
        bucket: str,
        prefix: str,
        delimiter: str,
        start_after: str,
        max_keys: int,
        decode: Callable[[pb.ListObjectsResponse], T],
        *,
        timeout: float,
    ) -> T:
        """A page of current versions as a listing shows them (key, time,
        ETag, size, storage class), decoded by the caller: a listing renders a
        thousand records a page, and building each as a VersionSummary first
        would cost as much as rendering it. Asked for as columns (the answer's
        ``columns``); a replica that predates them answers with ``objects``,
        which decode must read as well."""
        request = _list_request(bucket, prefix, delimiter, start_after, max_keys, summary=True)
        request.columns = True
        return decode(await self._call("ListObjects", request, timeout))

    # ------------------------------------------------------------ multipart

    async def create_multipart_upload(
        self, upload: MultipartUpload, *, timeout: float, request_id: str = ""
    ) -> MultipartUpload:
        request = pb.CreateUploadRequest(
            upload=convert.upload_to_pb(upload), request_id=request_id or new_request_id()
        )
        return convert.upload_from_pb(await self._call("CreateMultipartUpload", request, timeout))

    async def get_multipart_upload(
        self, bucket: str, key: str, upload_id: str, *, timeout: float
    ) -> MultipartUpload:
        """The upload (NoSuchUpload when it is not in progress for bucket/key)."""
        request = pb.UploadKey(bucket=bucket, key=key, upload_id=upload_id)
        return convert.upload_from_pb(await self._call("GetMultipartUpload", request, timeout))

    async def put_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part: Segment,
        *,
        timeout: float,
        request_id: str = "",
    ) -> Segment | None:
        """Records a stored part; returns the part it replaced (same number), if any."""
        request = pb.PutPartRequest(
            bucket=bucket,
            key=key,
            upload_id=upload_id,
            part=convert.segment_to_pb(part),
            request_id=request_id or new_request_id(),
        )
        reply = await self._call("PutPart", request, timeout)
        return convert.segment_from_pb(reply.replaced) if reply.has_replaced else None

    async def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: list[ListedPart],
        version_id: str,
        *,
        timeout: float,
        if_none_match_star: bool = False,
        if_match_etag: str = "",
        request_id: str = "",
    ) -> CompletedUpload:
        request = pb.CompleteUploadRequest(
            bucket=bucket,
            key=key,
            upload_id=upload_id,
            parts=[
                pb.CompletedPart(part_number=p.part_number, etag=p.etag, checksums=p.checksums)
                for p in parts
            ],
            version_id=version_id,
            request_id=request_id or new_request_id(),
            if_none_match_star=if_none_match_star,
            if_match_etag=if_match_etag,
        )
        reply = await self._call("CompleteMultipartUpload", request, timeout)
        return CompletedUpload(
            version=convert.version_from_pb(reply.version),
            replaced=convert.version_from_pb(reply.replaced) if reply.has_replaced else None,
            unreferenced=tuple(convert.segment_from_pb(s) for s in reply.unreferenced),
        )

    async def abort_multipart_upload(
        self, bucket: str, key: str, upload_id: str, *, timeout: float, request_id: str = ""
    ) -> list[Segment]:
        """Removes the upload; returns its parts (their shards can be reclaimed)."""
        request = pb.UploadKey(
            bucket=bucket, key=key, upload_id=upload_id, request_id=request_id or new_request_id()
        )
        reply = await self._call("AbortMultipartUpload", request, timeout)
        return [convert.segment_from_pb(s) for s in reply.parts]

    async def list_parts(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number_marker: int,
        max_parts: int,
        *,
        timeout: float,
    ) -> PartsPage:
        request = pb.ListPartsRequest(
            bucket=bucket,
            key=key,
            upload_id=upload_id,
            part_number_marker=part_number_marker,
            max_parts=max_parts,
        )
        return convert.parts_page_from_pb(await self._call("ListParts", request, timeout))

    async def list_multipart_uploads(
        self,
        bucket: str,
        prefix: str,
        delimiter: str,
        key_marker: str,
        upload_id_marker: str,
        max_uploads: int,
        *,
        timeout: float,
    ) -> UploadsPage:
        request = pb.ListUploadsRequest(
            bucket=bucket,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
            max_uploads=max_uploads,
        )
        return convert.uploads_page_from_pb(
            await self._call("ListMultipartUploads", request, timeout)
        )

    # ------------------------------------------------------------ nodes

    async def register_node(self, info: NodeInfo, *, timeout: float) -> ClusterMapView:
        reply = await self._call("RegisterNode", convert.node_to_pb(info), timeout)
        return convert.map_from_pb(reply)

    async def heartbeat(
        self, node_id: str, capacity_bytes: int, used_bytes: int, *, timeout: float
    ) -> None:
        request = pb.HeartbeatRequest(
            node_id=node_id, capacity_bytes=capacity_bytes, used_bytes=used_bytes
        )
        await self._call("Heartbeat", request, timeout)

    async def get_cluster_map(self, *, timeout: float) -> ClusterMapView:
        return convert.map_from_pb(await self._call("GetClusterMap", pb.Empty(), timeout))

    # ------------------------------------------------------------ repair

    async def report_shard_problem(
        self, shard_set_id: str, shard_index: int, node_id: str, kind: str, *, timeout: float
    ) -> None:
        request = pb.ShardProblem(
            shard_set_id=shard_set_id,
            shard_index=shard_index,
            node_id=node_id,
            kind=kind,
            request_id=new_request_id(),
        )
        await self._call("ReportShardProblem", request, timeout)

    async def set_repair_rate(self, bytes_per_second: float, *, timeout: float) -> None:
        request = pb.SetRepairRateRequest(
            bytes_per_second=bytes_per_second, request_id=new_request_id()
        )
        await self._call("SetRepairRate", request, timeout)

    async def set_node_state(self, node_id: str, state: str, *, timeout: float) -> None:
        request = pb.SetNodeStateRequest(node_id=node_id, state=state, request_id=new_request_id())
        await self._call("SetNodeState", request, timeout)

    async def remove_node(
        self, node_id: str, *, force: bool, timeout: float
    ) -> pb.RemoveNodeResponse:
        request = pb.RemoveNodeRequest(node_id=node_id, force=force, request_id=new_request_id())
        reply: pb.RemoveNodeResponse = await self._call("RemoveNode", request, timeout)
        return reply

    async def readmit_node(self, node_id: str, *, timeout: float) -> None:
        request = pb.SetNodeStateRequest(node_id=node_id, request_id=new_request_id())
        await self._call("ReadmitNode", request, timeout)

    # ------------------------------------------------------------ usage and quotas

    async def get_usage(
        self, bucket: str, owner: str, from_hour: int, to_hour: int, *, timeout: float
    ) -> dict[str, Any]:
        """The usage report (metadata/usage.py report) as a JSON-ready dict."""
        request = pb.UsageQuery(bucket=bucket, owner=owner, from_hour=from_hour, to_hour=to_hour)
        reply = await self._call("GetUsage", request, timeout)
        report: dict[str, Any] = json.loads(reply.report_json)
        return report

    async def set_quota(
        self,
        scope: str,
        name: str,
        max_bytes: int | None,
        max_objects: int | None,
        *,
        timeout: float,
    ) -> Quota | None:
        """Sets the quota (both None: clears it); returns the quota now in force."""
        request = pb.QuotaRequest(scope=scope, name=name, request_id=new_request_id())
        if max_bytes is not None:
            request.max_bytes = max_bytes
        if max_objects is not None:
            request.max_objects = max_objects
        return quota_from_pb(await self._call("SetQuota", request, timeout))

    async def get_quota(self, scope: str, name: str, *, timeout: float) -> Quota | None:
        reply = await self._call("GetQuota", pb.QuotaScope(scope=scope, name=name), timeout)
        return quota_from_pb(reply)

    async def recount_usage(self, bucket: str, *, timeout: float) -> None:
        request = pb.RecountUsageRequest(bucket=bucket, request_id=new_request_id())
        await self._call("RecountUsage", request, timeout)

    async def record_request_usage(
        self,
        request_id: str,
        records: list[tuple[int, str, RequestCounters]],
        retention_hours: int,
        *,
        timeout: float,
    ) -> None:
        """Adds one flush of hourly request counters; retry with the same request_id."""
        request = pb.RequestUsageBatch(
            request_id=request_id,
            retention_hours=retention_hours,
            records=[
                pb.RequestUsageRecord(hour=hour, bucket=bucket, **counters.to_dict())
                for hour, bucket, counters in records
            ],
        )
        await self._call("RecordRequestUsage", request, timeout)

    async def repair_status(self, *, timeout: float) -> pb.RepairStatusResponse | None:
        """The repair leader's status (asks every replica; None: no leader answered)."""
        for stub in self._stubs:
            try:
                reply = await stub.RepairStatus(
                    pb.Empty(), timeout=timeout, metadata=self._metadata
                )
            except grpc.aio.AioRpcError:
                continue
            if reply.is_leader:
                return reply
        return None

    # ------------------------------------------------------------ replicas

    async def replica_status(self, *, timeout: float) -> dict[str, Any]:
        """The current replica's place in the log and a digest of its state."""
        return _replica_fields(await self._call("ReplicaStatus", pb.Empty(), timeout))

    async def wait_applied(self, revision: int, *, timeout: float) -> None:
        """Returns once the current replica applied the log up to revision."""
        await self._call("WaitApplied", pb.WaitAppliedRequest(revision=revision), timeout)

    async def replica_statuses(self, *, timeout: float) -> list[dict[str, Any]]:
        """Every configured replica's status (those that answer), each with its
        address; asked at once, so a hung replica costs one timeout, not one each."""

        async def ask(stub: pb_grpc.MetadataStub) -> pb.ReplicaStatusResponse | None:
            try:
                reply: pb.ReplicaStatusResponse = await stub.ReplicaStatus(
                    pb.Empty(), timeout=timeout, metadata=self._metadata
                )
                return reply
            except grpc.aio.AioRpcError:
                return None

        replies = await asyncio.gather(*(ask(stub) for stub in self._stubs))
        return [
            {"address": address, **_replica_fields(reply)}
            for address, reply in zip(self.addresses, replies, strict=True)
            if reply is not None
        ]

    async def fetch_checkpoint(self, *, timeout: float) -> AsyncIterator[tuple[str, bytes, bool]]:
        """A checkpoint of the first address's state, as (file, data, last) chunks.

        No failover: a checkpoint must come whole from one replica.
        """
        call = self._stubs[0].FetchCheckpoint(
            pb.CheckpointRequest(), timeout=timeout, metadata=self._metadata
        )
        try:
            async for chunk in call:
                yield chunk.file_name, bytes(chunk.data), chunk.end_of_file
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from exc

    # ------------------------------------------------------------ transport

    async def _call(self, method: str, request: Any, timeout: float, *, cache: bool = True) -> Any:
        """Calls the named RPC on the current replica, moving on as the docstring
        says. A bucket record in the answer (a bucket-changing call's) refreshes
        the bucket cache unless cache is False; any other change (a call with a
        request id) naming a bucket drops that bucket's entry, whatever it
        changed and whether or not its answer arrived."""
        bucket = _changed_bucket(method, request)
        try:
            reply = await self._call_once_answered(method, request, timeout)
        finally:
            if bucket:
                self.buckets.deleted(bucket)
        if cache and isinstance(reply, pb.BucketRecord):
            self.buckets.changed(convert.bucket_from_pb(reply))
        return reply

    async def _call_once_answered(self, method: str, request: Any, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        backoff = RETRY_BACKOFF_FIRST_SECONDS
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise errors.ServiceUnavailable("metadata call ran out of time")
            attempt = remaining
            if len(self._stubs) > 1:
                share = max(ATTEMPT_SECONDS_MIN, remaining * ATTEMPT_SHARE)
                attempt = min(remaining, ATTEMPT_SECONDS_MAX, share)
            replica = self._current
            try:
                return await self._attempt(replica, method, request, attempt)
            except CallFailed as failed:
                retry = _retryable(failed, many_replicas=len(self._stubs) > 1)
                if not retry or deadline - time.monotonic() <= backoff:
                    error = error_from_status(failed.code, failed.message or None, failed.s3_code)
                    raise error from failed
            if replica == self._current:  # another call may have moved on already
                self._current = (replica + 1) % len(self._stubs)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RETRY_BACKOFF_MAX_SECONDS)

    async def _attempt(self, replica: int, method: str, request: Any, timeout: float) -> Any:
        """One replica's answer: over its Calls stream, or as a unary call
        (streams off, or a replica without them). CallFailed: how it failed."""
        calls = self._calls[replica]
        if calls.usable:
            try:
                return await calls.call(method, request, timeout, self._metadata)
            except CallFailed as failed:
                if failed.code != grpc.StatusCode.UNIMPLEMENTED or calls.usable:
                    raise
                # a replica that predates Calls: this and later calls are unary
        stub_method = getattr(self._stubs[replica], method)
        try:
            return await stub_method(request, timeout=timeout, metadata=self._metadata)
        except grpc.aio.AioRpcError as exc:
            raise CallFailed(exc.code(), exc.details() or "", s3_code=s3_code_of(exc)) from exc


# Mutations of versions, uploads and usage counters: they never change a
# bucket record, so they leave the bucket cache alone (an object PUT must not
# cost the next GET its cached bucket). Any other mutation naming a bucket,
# including ones added later, drops the bucket's entry.
OBJECT_MUTATIONS = frozenset(
    {
        "PutObject",
        "DeleteObject",
        "PutObjectTagging",
        "SetObjectAcl",
        "SetObjectLock",
        "CreateMultipartUpload",
        "PutPart",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
        "RecordRequestUsage",
    }
)


def _changed_bucket(method: str, request: Any) -> str:
    """The bucket a mutation (a request carrying a request id) that may change
    a bucket record names, or ""."""
    if method in OBJECT_MUTATIONS:
        return ""
    fields = request.DESCRIPTOR.fields_by_name
    if "request_id" not in fields or not request.request_id:
        return ""
    for name in ("bucket", "name"):
        if name in fields:
            value = getattr(request, name)
            if isinstance(value, str):
                return value
    return ""


def _retryable(failed: CallFailed, *, many_replicas: bool) -> bool:
    """Worth another attempt: the connection failed (a stream the call was
    on ends UNAVAILABLE when its replica stops or goes away), or (with other
    replicas to try) this replica was unavailable or too slow to answer."""
    code = failed.code
    if code == grpc.StatusCode.UNAVAILABLE:
        return not failed.s3_code or (many_replicas and failed.s3_code == "ServiceUnavailable")
    return many_replicas and code == grpc.StatusCode.DEADLINE_EXCEEDED


def _replica_fields(reply: pb.ReplicaStatusResponse) -> dict[str, Any]:
    return {
        "replica_id": reply.replica_id,
        "applied_revision": reply.applied_revision,
        "applied_position": reply.applied_position,
        "state_digest": reply.state_digest,
        "key_count": reply.key_count,
    }


def _list_request(
    bucket: str, prefix: str, delimiter: str, start_after: str, max_keys: int, *, summary: bool
) -> pb.ListObjectsRequest:
    return pb.ListObjectsRequest(
        bucket=bucket,
        prefix=prefix,
        delimiter=delimiter,
        start_after=start_after,
        max_keys=max_keys,
        summary=summary,
    )
