"""The metadata state machine: applies log entries into rocksdict, serves reads.

apply_batch() turns a run of log entries into one WriteBatch (plus the outcome
of each entry) from the current state alone; commit() writes it durably
together with the applied position. Whoever owns the log — the single-replica
CommitLog today, a replica following etcd tomorrow — calls the two in order
from one thread.

Invariants:
- apply is deterministic: the same state and the same entries give the same
  WriteBatch and outcomes on every replica (no clock, no randomness, no I/O
  besides reading this database);
- a batch and its applied position are written atomically, so after a crash
  the state is exactly "every entry up to the applied position";
- an entry whose request id already has an outcome is not applied again: its
  recorded outcome is returned (records are kept for the last
  ``request_retention_positions`` positions);
- an error that is not an S3 outcome (a bug, an I/O error) aborts the whole
  batch unwritten;
- cached_object answers with the database's record or nothing (a batch's
  object keys are not kept while it is written: metadata/record_cache.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rocksdict import Options, Rdict, WriteBatch, WriteOptions

from metadata import (
    access,
    keys,
    kms,
    listing,
    locks,
    preconditions,
    record_cache,
    uploads,
    usage,
    version_listing,
    versions,
)
from metadata import outcome as outcomes
from metadata.list_ahead import BucketWrites, buckets_of
from metadata.mutations import (
    AbortMultipartUpload,
    ClearShardProblem,
    CompleteMultipartUpload,
    CreateAccessKey,
    CreateBucket,
    CreateKmsKey,
    CreateMultipartUpload,
    CreateUser,
    DeleteBucket,
    DeleteObject,
    DeleteUser,
    LogEntry,
    Mutation,
    NodeLiveness,
    NoteStoreAudited,
    PutBucketVersioning,
    PutObject,
    PutObjectTagging,
    PutPart,
    ReadLease,
    ReadmitNode,
    RecordRequestUsage,
    RecountUsage,
    RegisterNode,
    RemoveNode,
    ReportShardProblem,
    RevokeAccessKey,
    SetBucketAccess,
    SetNodeState,
    SetObjectAcl,
    SetObjectLock,
    SetQuota,
    SetRepairRate,
    UpdatePlacement,
)
from metadata.outcome import Outcome, Result
from metadata.overlay import Overlay
from metadata.record_cache import RecordCache
from tessera import errors, fastjson, limits, object_lock
from tessera.access import check_canned_acl
from tessera.model import (
    NODE_DOWN,
    NODE_DRAINING,
    NODE_UP,
    VERSIONING_ENABLED,
    AccessKeyInfo,
    BucketInfo,
    ClusterMapView,
    KmsKeyInfo,
    Listed,
    ListPage,
    MultipartUpload,
    NodeInfo,
    ObjectDeleted,
    ObjectVersion,
    PartsPage,
    Segment,
    ShardLocation,
    UploadsPage,
    UserInfo,
    VersionsPage,
    VersionSummary,
    access_key_from_json,
    bucket_fingerprint,
    bucket_from_json,
    kms_key_from_json,
    node_from_json,
    record_to_json,
    segment_from_json,
    upload_from_json,
    user_from_json,
    version_from_dict,
    version_from_json,
    version_holds_shard_sets,
    version_summary_from_json,
)
from tessera.usage import Quota, StorageUsage

REQUEST_RETENTION_POSITIONS_DEFAULT = 100_000
# Each applied mutation prunes at most this many expired records: more than it
# creates, so the records never outgrow the retention, and the same work for
# the same entries however they are grouped into batches (apply stays
# deterministic).
PRUNE_PER_MUTATION_MAX = 2


def open_db(path: str) -> Rdict:
    """Opens (creating if missing) the state database in raw bytes mode."""
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    return Rdict(path, options)


@dataclass
class AppliedBatch:
    """A batch computed by apply_batch, not yet written."""

    batch: WriteBatch
    outcomes: list[Outcome]
    position: int  # the applied position once written
    objects_written: list[bytes]  # the object-record keys it writes or deletes
    buckets_written: set[str]  # the buckets whose listings it may change
    # Every request-index key before this one is deleted once the batch is
    # written (StateMachine._prune's starting point for the next batches).
    pruned_through: bytes = keys.REQUEST_BY_POSITION
    # Object records it writes whose decoded form the apply had at hand:
    # state key -> (record, its stored length); kept decoded once written.
    objects_decoded: dict[bytes, tuple[ObjectVersion, int]] = field(default_factory=dict)


class StateMachine:
    def __init__(
        self,
        db: Rdict,
        request_retention_positions: int = REQUEST_RETENTION_POSITIONS_DEFAULT,
        record_cache_bytes: int = limits.RECORD_CACHE_BYTES_DEFAULT,
    ) -> None:
        """record_cache_bytes bounds the memory of the object records kept
        decoded for cached_object (metadata/record_cache.py; 0: none)."""
        assert request_retention_positions > 0
        self._db = db
        self._records: RecordCache[ObjectVersion] = RecordCache(record_cache_bytes)
        # which buckets' listings writes changed (for pages read ahead)
        self.bucket_writes = BucketWrites()
        self._retention = request_retention_positions
        raw = db.get(keys.APPLIED)
        self._applied = keys.decode_position(raw) if raw is not None else 0
        self._no_sync = WriteOptions()
        self._no_sync.sync = False
        # Where pruning resumes: every request-index key before it is deleted
        # in the written state (in memory: after a restart it starts over).
        # Seeking past the deleted keys matters: RocksDB keeps them as
        # tombstones until a compaction, and a walk from the start of the
        # index stepped over all of them for every mutation — with the
        # retention reached, applying fell behind the log (docs/metadata.md).
        self._pruned_through = keys.REQUEST_BY_POSITION
        self._prune_from = keys.REQUEST_BY_POSITION  # within the batch being applied

    @property
    def applied_position(self) -> int:
        return self._applied

    @property
    def db(self) -> Rdict:
        """The database (for checkpoints; all changes go through apply/commit)."""
        return self._db

    def items_for_digest(self) -> Iterator[tuple[bytes, bytes]]:
        """Every key and value but the applied position, in key order (replicas
        at the same position hold exactly these). Streams: call from a thread."""
        cursor = self._db.iter()
        cursor.seek_to_first()
        while cursor.valid():
            key: bytes = cursor.key()
            if key != keys.APPLIED:
                yield key, cursor.value()
            cursor.next()

    # ------------------------------------------------------------ writes

    def apply_batch(self, entries: Sequence[LogEntry]) -> AppliedBatch:
        """Applies entries in order into one WriteBatch (not yet written)."""
        overlay = Overlay(self._db)
        results: list[Outcome] = []
        position = self._applied
        self._prune_from = self._pruned_through
        for entry in entries:
            if entry.position <= self._applied:
                # Already applied before a restart: answer from the record if kept.
                raw = self._db.get(keys.request_key(entry.mutation.request_id))
                results.append(outcomes.decode(raw) if raw is not None else Outcome())
                continue
            assert entry.position > position, "log positions must increase"
            position = entry.position
            results.append(self._apply_one(overlay, entry))
        usage.finish_batch(overlay)
        if position > self._applied:
            overlay.put(keys.APPLIED, keys.encode_position(position))
        written = overlay.written()
        objects_written = [k for k in written if k.startswith(keys.OBJECT)]
        return AppliedBatch(
            overlay.batch,
            results,
            position,
            objects_written,
            buckets_of(written),
            self._prune_from,
            {k: v for k, v in overlay.decoded_values().items() if k.startswith(keys.OBJECT)},
        )

    def commit(self, applied: AppliedBatch, sync: bool = True) -> None:
        """Writes the batch (blocking: the follower calls it on the loop for
        a few mutations, else on the writer thread).

        rocksdict holds the GIL through a synchronous write, so the batch is
        written without sync and the WAL is then fsynced by flush_wal, which
        releases the GIL. No caller is answered before both return.

        sync=False leaves the WAL to the OS (a process crash loses nothing, a
        machine crash may lose the last batches): for a replica following the
        shared log, where etcd holds every entry durably and a replica that
        lost some simply applies them again from its durable position.
        """
        with (
            self._records.writing(applied.objects_written),
            self.bucket_writes.writing(applied.buckets_written),
        ):
            self._db.write(applied.batch, self._no_sync)
        # The records just written, as the apply had them decoded: a GetObject
        # soon after a PUT (or a gateway's want_record) finds them on the loop.
        self._records.written(
            {
                key: (version, length * record_cache.MEMORY_PER_STORED_BYTE)
                for key, (version, length) in applied.objects_decoded.items()
            }
        )
        self._applied = max(self._applied, applied.position)
        self._pruned_through = max(self._pruned_through, applied.pruned_through)
        if sync:
            self._db.flush_wal(True)

    def sync_wal(self) -> None:
        """Makes every batch written so far durable (blocking; releases the GIL)."""
        self._db.flush_wal(True)

    def _apply_one(self, overlay: Overlay, entry: LogEntry) -> Outcome:
        mutation = entry.mutation
        request_id = mutation.request_id
        if request_id:
            recorded = overlay.get(keys.request_key(request_id))
            if recorded is not None:
                return outcomes.decode(recorded)
        overlay.begin()
        try:
            was = usage.before(overlay, mutation)
            result = self._effect(overlay, mutation, entry.position)
            usage.account(overlay, mutation, result, was)
        except errors.TesseraError as exc:
            overlay.rollback()  # a refused mutation (a quota, a condition) writes nothing
            done = Outcome.failed(exc)
        else:
            done = Outcome(result=result)
        if request_id:
            overlay.put(keys.request_key(request_id), outcomes.encode(done))
            overlay.put(keys.request_index_key(entry.position, request_id), b"")
        self._prune(overlay, entry.position)
        return done

    def _effect(self, overlay: Overlay, mutation: Mutation, position: int) -> Result:
        match mutation:
            case CreateBucket():
                return _create_bucket(overlay, mutation)
            case DeleteBucket():
                _delete_bucket(overlay, mutation)
                return None
            case PutObject():
                return _put_object(overlay, mutation, position)
            case DeleteObject():
                return _delete_object(overlay, mutation, position)
            case PutBucketVersioning():
                return versions.set_versioning(overlay, mutation, position)
            case PutObjectTagging():
                _require_bucket(overlay, mutation.bucket)
                return versions.set_tags(overlay, mutation)
            case RegisterNode():
                return _register_node(overlay, mutation, position)
            case NodeLiveness():
                _node_liveness(overlay, mutation, position)
                return None
            case CreateMultipartUpload():
                _require_bucket(overlay, mutation.upload.bucket)
                return uploads.create(overlay, mutation)
            case PutPart():
                _require_bucket(overlay, mutation.bucket)
                return uploads.put_part(overlay, mutation)
            case CompleteMultipartUpload():
                _require_bucket(overlay, mutation.bucket)
                return uploads.complete(overlay, mutation, position)
            case AbortMultipartUpload():
                _require_bucket(overlay, mutation.bucket)
                return uploads.abort(overlay, mutation)
            case UpdatePlacement():
                if mutation.upload_id:
                    return uploads.update_part_placement(overlay, mutation)
                return _update_placement(overlay, mutation)
            case ReportShardProblem():
                body = {"problem": mutation.problem, "reported_at": mutation.reported_at}
                m = mutation
                key = keys.problem_key(m.shard_set_id, m.shard_index, m.node_id)
                overlay.put(key, json.dumps(body).encode())
                return None
            case ClearShardProblem():
                overlay.delete(
                    keys.problem_key(mutation.shard_set_id, mutation.shard_index, mutation.node_id)
                )
                return None
            case SetRepairRate():
                if mutation.bytes_per_second < 0:
                    raise errors.InvalidArgument("the repair rate must not be negative")
                overlay.put(keys.REPAIR_RATE, json.dumps(mutation.bytes_per_second).encode())
                return None
            case SetNodeState():
                return _set_node_state(overlay, mutation, position)
            case RemoveNode():
                return _remove_node(overlay, mutation, position)
            case ReadmitNode():
                if overlay.get(keys.removed_node_key(mutation.node_id)) is None:
                    raise errors.InvalidArgument(f"node {mutation.node_id!r} was not removed")
                overlay.delete(keys.removed_node_key(mutation.node_id))
                return None
            case NoteStoreAudited():
                if overlay.get(keys.node_key(mutation.node_id)) is not None:
                    overlay.put(
                        keys.audited_store_key(mutation.node_id), mutation.store_id.encode()
                    )
                return None
            case ReadLease():
                return None  # read by the follower (metadata/read_lease.py), not the state
            case SetBucketAccess():
                return access.set_bucket_access(overlay, mutation)
            case SetObjectAcl():
                return access.set_object_acl(overlay, mutation)
            case SetObjectLock():
                bucket = _require_bucket(overlay, mutation.bucket)
                return locks.set_object_lock(overlay, bucket, mutation)
            case CreateUser():
                return access.create_user(overlay, mutation)
            case DeleteUser():
                access.delete_user(overlay, mutation)
                return None
            case CreateAccessKey():
                return access.create_access_key(overlay, mutation)
            case RevokeAccessKey():
                access.revoke_access_key(overlay, mutation)
                return None
            case CreateKmsKey():
                return kms.create_kms_key(overlay, mutation)
            case SetQuota():
                usage.set_quota(overlay, mutation)
                return None
            case RecordRequestUsage():
                usage.record_requests(overlay, mutation)
                return None
            case RecountUsage():
                usage.recount(overlay, mutation)
                return None
        raise AssertionError(f"unknown mutation {mutation!r}")

    def _prune(self, overlay: Overlay, position: int) -> None:
        """Drops idempotency records older than the retention (bounded per mutation)."""
        oldest_kept = position - self._retention + 1
        if oldest_kept <= 1:
            return
        bound = keys.request_index_bound(oldest_kept)
        cursor = self._db.iter()
        # From where the last pruning stopped: the keys before it are deleted,
        # so the same keys go as from the index's start, without the walk.
        cursor.seek(self._prune_from)
        pruned = 0
        while pruned < PRUNE_PER_MUTATION_MAX and cursor.valid():
            index_key: bytes = cursor.key()
            if not index_key.startswith(keys.REQUEST_BY_POSITION) or index_key >= bound:
                return
            if not overlay.is_deleted(index_key):  # pruned earlier in this batch
                overlay.delete(index_key)
                overlay.delete(keys.request_key(keys.request_id_from_index(index_key)))
                pruned += 1
                self._prune_from = index_key + b"\x00"  # the next key after it
            cursor.next()

    # ------------------------------------------------------------ reads

    def get_bucket(self, name: str) -> BucketInfo:
        raw = self._db.get(keys.bucket_key(name))
        if raw is None:
            raise errors.NoSuchBucket()
        return bucket_from_json(raw)

    def list_buckets(self, owner: str = "") -> list[BucketInfo]:
        """Buckets in name order; all of them when owner is empty."""
        found = []
        for _, raw in self._scan(keys.BUCKET):
            bucket = bucket_from_json(raw)
            if not owner or bucket.owner == owner:
                found.append(bucket)
        return found

    def list_users(self) -> list[UserInfo]:
        return [user_from_json(raw) for _, raw in self._scan(keys.USER)]

    def get_access_key(self, access_key_id: str) -> AccessKeyInfo:
        raw = self._db.get(keys.access_key_key(access_key_id))
        if raw is None:
            raise errors.NoSuchEntity("The access key does not exist.")
        return access_key_from_json(raw)

    def list_access_keys(self, user: str = "") -> list[AccessKeyInfo]:
        """The keys of user (every key when user is empty), by access key id."""
        found = [access_key_from_json(raw) for _, raw in self._scan(keys.ACCESS_KEY)]
        return [k for k in found if not user or k.user == user]

    def get_kms_key(self, id_or_alias: str) -> KmsKeyInfo:
        found = kms.find(self._scan(keys.KMS_KEY), id_or_alias)
        if found is None:
            raise errors.KMS_NotFoundException(f"Key '{id_or_alias}' does not exist.")
        return found

    def list_kms_keys(self) -> list[KmsKeyInfo]:
        return [kms_key_from_json(raw) for _, raw in self._scan(keys.KMS_KEY)]

    def get_object(self, bucket: str, key: str) -> ObjectVersion:
        """The key's current record, read from the database (blocking: call
        from the read executor); kept for cached_object."""
        state_key = keys.object_key(bucket, key)
        ticket = self._records.ticket()
        raw = self._db.get(state_key)
        if raw is None:
            self.get_bucket(bucket)
            raise errors.NoSuchKey()
        version = version_from_json(raw)
        memory_bytes = len(raw) * record_cache.MEMORY_PER_STORED_BYTE
        self._records.fill(state_key, version, memory_bytes, ticket)
        return version

    def cached_object(self, bucket: str, key: str) -> ObjectVersion | None:
        """The key's current record if a recent get_object kept it (None: ask
        get_object). Never blocks: for the event loop. The record is shared:
        do not change it."""
        return self._records.get(keys.object_key(bucket, key))

    def list_objects(
        self, bucket: str, prefix: str, delimiter: str, start_after: str, max_keys: int
    ) -> ListPage[ObjectVersion]:
        return self._list(bucket, prefix, delimiter, start_after, max_keys, version_from_json)

    def list_object_records(
        self, bucket: str, prefix: str, delimiter: str, start_after: str, max_keys: int
    ) -> listing.ListWalk:
        """list_objects' page with each version as its stored JSON, undecoded."""
        return self._walk(bucket, prefix, delimiter, start_after, max_keys)

    def _list(
        self,
        bucket: str,
        prefix: str,
        delimiter: str,
        start_after: str,
        max_keys: int,
        decode: Callable[[bytes], Listed],
    ) -> ListPage[Listed]:
        page = self._walk(bucket, prefix, delimiter, start_after, max_keys)
        return ListPage(
            objects=tuple(decode(raw) for _, raw in page.objects),
            common_prefixes=page.common_prefixes,
            is_truncated=page.is_truncated,
            next_start_after=page.next_start_after,
        )

    def _walk(
        self, bucket: str, prefix: str, delimiter: str, start_after: str, max_keys: int
    ) -> listing.ListWalk:
        self.get_bucket(bucket)
        max_keys = max(0, min(max_keys, limits.LIST_KEYS_MAX))
        namespace = keys.object_namespace(bucket)
        return listing.walk(self._db.iter(), namespace, prefix, delimiter, start_after, max_keys)

    def get_object_version(self, bucket: str, key: str, version_id: str) -> ObjectVersion:
        """A version by id (internal, S3, or "null"), or the newest record of
        the key — a delete marker included — when version_id is empty."""
        if not version_id:
            raw = self._db.get(keys.object_key(bucket, key))
            if raw is None:
                newest = self._scan_first(keys.versions_prefix(bucket, key))
                if newest is None:
                    self.get_bucket(bucket)
                    raise errors.NoSuchKey()
                raw = newest
            return version_from_json(raw)
        found = versions.find(self._db.get, bucket, key, version_id)
        if found is None:
            self.get_bucket(bucket)
            raise errors.NoSuchVersion()
        return found

    def versions_of(self, bucket: str, key: str) -> list[ObjectVersion]:
        """Every version of a key (the current one first when it has no
        version record): what GC and repair must keep."""
        found = [version_from_json(raw) for _, raw in self._scan(keys.versions_prefix(bucket, key))]
        raw = self._db.get(keys.object_key(bucket, key))
        if raw is not None:
            current = version_from_json(raw)
            if all(v.version_id != current.version_id for v in found):
                found.insert(0, current)
        return found

    def list_versions(
        self,
        bucket: str,
        prefix: str,
        delimiter: str,
        key_marker: str,
        version_id_marker: str,
        max_keys: int,
    ) -> VersionsPage[ObjectVersion]:
        return self._list_versions(
            bucket, prefix, delimiter, key_marker, version_id_marker, max_keys, version_from_json
        )

    def list_version_summaries(
        self,
        bucket: str,
        prefix: str,
        delimiter: str,
        key_marker: str,
        version_id_marker: str,
        max_keys: int,
    ) -> VersionsPage[VersionSummary]:
        """list_versions as a listing shows them (see list_object_summaries)."""
        return self._list_versions(
            bucket,
            prefix,
            delimiter,
            key_marker,
            version_id_marker,
            max_keys,
            version_summary_from_json,
        )

    def _list_versions(
        self,
        bucket: str,
        prefix: str,
        delimiter: str,
        key_marker: str,
        version_id_marker: str,
        max_keys: int,
        decode: Callable[[bytes], Listed],
    ) -> VersionsPage[Listed]:
        info = self.get_bucket(bucket)
        max_keys = max(0, min(max_keys, limits.LIST_KEYS_MAX))
        if not info.versioning:
            namespace = keys.object_namespace(bucket)
            start = namespace + key_marker.encode() + b"\x00" if key_marker else namespace
            return version_listing.walk(
                self._db.iter(),
                namespace,
                lambda full: full[len(namespace) :].decode(),
                prefix,
                delimiter,
                start,
                key_marker,
                max_keys,
                decode,
            )
        namespace = keys.version_namespace(bucket)
        start = namespace
        if key_marker:
            start = keys.versions_prefix(bucket, key_marker)[:-1] + b"\x01"
            if version_id_marker:
                inverted = self._db.get(keys.version_id_key(bucket, key_marker, version_id_marker))
                if inverted is None:
                    raise errors.InvalidArgument("Invalid version id specified")
                start = keys.version_key(bucket, key_marker, inverted) + b"\x00"
        return version_listing.walk(
            self._db.iter(),
            namespace,
            lambda full: keys.split_version_key(namespace, full),
            prefix,
            delimiter,
            start,
            key_marker,
            max_keys,
            decode,
        )

    def get_upload(self, bucket: str, key: str, upload_id: str) -> MultipartUpload:
        self.get_bucket(bucket)
        return uploads.get_upload(self._db, bucket, key, upload_id)

    def list_parts(
        self, bucket: str, key: str, upload_id: str, part_number_marker: int, max_parts: int
    ) -> PartsPage:
        self.get_bucket(bucket)
        return uploads.list_parts(self._db, bucket, key, upload_id, part_number_marker, max_parts)

    def pending_parts(self, bucket: str, key: str) -> list[Segment]:
        """The parts of every upload of bucket/key still in progress."""
        parts: list[Segment] = []
        for upload_key, _ in self._scan(keys.upload_namespace(bucket) + key.encode() + b"\x00"):
            _, upload_id = keys.split_upload_key(keys.upload_namespace(bucket), upload_key)
            parts += [segment_from_json(raw) for _, raw in self._scan(keys.parts_prefix(upload_id))]
        return parts

    def list_uploads(
        self,
        bucket: str,
        prefix: str,
        delimiter: str,
        key_marker: str,
        upload_id_marker: str,
        max_uploads: int,
    ) -> UploadsPage:
        self.get_bucket(bucket)
        return uploads.list_uploads(
            self._db.iter(), bucket, prefix, delimiter, key_marker, upload_id_marker, max_uploads
        )

    def list_nodes(self) -> list[NodeInfo]:
        return [node_from_json(raw) for _, raw in self._scan(keys.NODE)]

    def cluster_map(self) -> ClusterMapView:
        """The registered nodes with their effective state, and the map's epoch."""
        alive = {
            key[len(keys.LIVENESS) :].decode(): _Liveness.decode(raw)
            for key, raw in self._scan(keys.LIVENESS)
        }
        nodes = []
        for _, raw in self._scan(keys.NODE):
            node = node_from_json(raw)
            nodes.append(replace(node, state=_effective(node, alive.get(node.node_id))))
        raw_epoch = self._db.get(keys.EPOCH)
        epoch = keys.decode_position(raw_epoch) if raw_epoch is not None else 0
        return ClusterMapView(epoch=epoch, nodes=tuple(nodes))

    def versions_page(self, after: bytes, limit: int) -> tuple[list[ObjectVersion], bytes]:
        """The versions whose data lives in shard sets — what repair, drain,
        rebalance, the store audit and node removal walk — among up to limit
        records after the state key ``after`` (b"" from the start): every
        current version (o/ records, in key order), then every noncurrent one
        (v/ records that are not current); and the key to continue after (b""
        when done). Inline and empty versions and delete markers are skipped
        without being decoded into records, so a page may hold fewer than limit
        versions, or none, before the end: limit bounds the work of one call."""
        found: list[ObjectVersion] = []
        examined = 0
        for namespace in (keys.OBJECT, keys.VERSION):
            if after.startswith(keys.VERSION) and namespace == keys.OBJECT:
                continue
            cursor = self._db.iter()
            cursor.seek(max(after, namespace))
            while cursor.valid():
                key: bytes = cursor.key()
                if not key.startswith(namespace):
                    break
                if key != after:
                    if examined == limit:
                        return found, after
                    examined += 1
                    fields = fastjson.loads(cursor.value())
                    if version_holds_shard_sets(fields) and (
                        namespace == keys.OBJECT or self._is_noncurrent(fields)
                    ):
                        found.append(version_from_dict(fields))
                    after = key
                cursor.next()
        return found, b""

    def _is_noncurrent(self, fields: dict[str, Any]) -> bool:
        raw = self._db.get(keys.object_key(fields["bucket"], fields["key"]))
        return raw is None or fastjson.loads(raw)["version_id"] != fields["version_id"]

    def _scan_first(self, prefix: bytes) -> bytes | None:
        cursor = self._db.iter()
        cursor.seek(prefix)
        if cursor.valid() and cursor.key().startswith(prefix):
            value: bytes = cursor.value()
            return value
        return None

    def is_removed_node(self, node_id: str) -> bool:
        return self._db.get(keys.removed_node_key(node_id)) is not None

    def removed_nodes(self) -> list[str]:
        return [k[len(keys.REMOVED_NODE) :].decode() for k, _ in self._scan(keys.REMOVED_NODE)]

    def audited_stores(self) -> dict[str, str]:
        """node id -> the store id the repair audit last listed."""
        return {
            k[len(keys.AUDITED_STORE) :].decode(): v.decode()
            for k, v in self._scan(keys.AUDITED_STORE)
        }

    def uploads_page(
        self, after: bytes, limit: int
    ) -> tuple[list[tuple[MultipartUpload, list[Segment]]], bytes]:
        """Up to limit uploads in progress (every bucket), each with its
        recorded parts, after the state key ``after`` (b"" from the start);
        and the key to continue after (b"" when done)."""
        found: list[tuple[MultipartUpload, list[Segment]]] = []
        cursor = self._db.iter()
        cursor.seek(max(after, keys.UPLOAD))
        while cursor.valid():
            key: bytes = cursor.key()
            if not key.startswith(keys.UPLOAD):
                break
            if key != after:
                if len(found) == limit:
                    return found, after
                upload = upload_from_json(cursor.value())
                parts = [
                    segment_from_json(raw)
                    for _, raw in self._scan(keys.parts_prefix(upload.upload_id))
                ]
                found.append((upload, parts))
                after = key
            cursor.next()
        return found, b""

    def shard_problems(self) -> list[tuple[str, int, str]]:
        """(shard set id, shard index, node id) of every open problem report."""
        return [keys.problem_from_key(k) for k, _ in self._scan(keys.PROBLEM)]

    def repair_rate(self) -> float:
        """The runtime repair rate in bytes/s (0: use the configured default)."""
        raw = self._db.get(keys.REPAIR_RATE)
        return float(json.loads(raw)) if raw is not None else 0.0

    def usage_report(self, bucket: str, owner: str, from_hour: int, to_hour: int) -> dict[str, Any]:
        """Storage and request usage (metadata/usage.py report)."""
        return usage.report(self._db, bucket, owner, from_hour, to_hour)

    def quota(self, scope: str, name: str) -> Quota | None:
        return usage.read_quota(self._db.get, scope, name)

    def cluster_usage(self) -> StorageUsage:
        return usage.cluster_total(self._db)

    def request_outcome(self, request_id: str) -> Outcome | None:
        """The recorded outcome of a request id, if still kept."""
        raw = self._db.get(keys.request_key(request_id))
        return outcomes.decode(raw) if raw is not None else None

    def _scan(self, prefix: bytes) -> list[tuple[bytes, bytes]]:
        # No ReadOptions iterate bounds: rocksdict 0.3.29 keeps a dangling pointer to
        # the bound once the ReadOptions object is collected (seen returning wrong keys).
        cursor = self._db.iter()
        cursor.seek(prefix)
        found = []
        while cursor.valid():
            key: bytes = cursor.key()
            if not key.startswith(prefix):
                break
            found.append((key, cursor.value()))
            cursor.next()
        return found


# ---------------------------------------------------------------- effects


def _require_bucket(overlay: Overlay, name: str) -> BucketInfo:
    raw = overlay.get(keys.bucket_key(name))
    if raw is None:
        raise errors.NoSuchBucket()
    return bucket_from_json(raw)


def _create_bucket(overlay: Overlay, m: CreateBucket) -> BucketInfo:
    raw = overlay.get(keys.bucket_key(m.name))
    if raw is not None:
        if bucket_from_json(raw).owner == m.owner:
            raise errors.BucketAlreadyOwnedByYou()
        raise errors.BucketAlreadyExists()
    bucket = BucketInfo(
        name=m.name, owner=m.owner, created_at=m.created_at, acl=check_canned_acl(m.acl)
    )
    if m.object_lock:
        # Object Lock needs every version kept: versioning is on for good.
        bucket = replace(
            bucket, versioning=VERSIONING_ENABLED, object_lock=object_lock.config_to_json(None)
        )
    overlay.put(keys.bucket_key(m.name), record_to_json(bucket))
    return bucket


def _delete_bucket(overlay: Overlay, m: DeleteBucket) -> None:
    bucket = _require_bucket(overlay, m.name)
    if overlay.has_prefix(keys.object_namespace(m.name)):
        raise errors.BucketNotEmpty()
    if overlay.has_prefix(keys.version_namespace(m.name)):
        raise errors.BucketNotEmpty("The bucket holds noncurrent versions or delete markers.")
    if overlay.has_prefix(keys.upload_namespace(m.name)):
        raise errors.BucketNotEmpty("The bucket has multipart uploads in progress.")
    overlay.delete(keys.bucket_key(m.name))
    usage.forget_bucket(overlay, m.name, bucket.owner)


def _put_object(overlay: Overlay, m: PutObject, position: int) -> ObjectVersion | None:
    """Outcome: the version whose shards nothing references any more (None
    in a bucket with versioning enabled)."""
    version = m.version
    bucket = _require_bucket(overlay, version.bucket)
    if m.if_bucket_fingerprint and m.if_bucket_fingerprint != bucket_fingerprint(bucket):
        raise errors.BucketChanged()
    raw = overlay.get(keys.object_key(version.bucket, version.key))
    current = version_from_json(raw) if raw is not None else None
    preconditions.check(current, m.if_none_match_star, m.if_match_etag)
    return versions.commit(overlay, bucket, version, position, m.now)


def _update_placement(overlay: Overlay, m: UpdatePlacement) -> ObjectVersion:
    version = versions.find(overlay.get, m.bucket, m.key, m.version_id)
    if version is None or version.version_id != m.version_id:
        raise errors.PreconditionFailed("the version is gone")
    shard_set = next((s for s in version.shard_sets() if s.shard_set_id == m.shard_set_id), None)
    if shard_set is None:
        raise errors.PreconditionFailed("no such shard set in this version")
    current = next(
        (loc.node_id for loc in shard_set.placement if loc.shard_index == m.shard_index), ""
    )
    if current != m.expected_node_id:
        raise errors.PreconditionFailed("the shard has moved since repair planned it")
    assert 0 <= m.shard_index < shard_set.geometry.total_shards, m
    others = [loc for loc in shard_set.placement if loc.shard_index != m.shard_index]
    placement = tuple(
        sorted([*others, ShardLocation(m.shard_index, m.new_node_id)], key=lambda s: s.shard_index)
    )
    if version.segments:
        segments = tuple(
            replace(seg, placement=placement) if seg.shard_set_id == m.shard_set_id else seg
            for seg in version.segments
        )
        updated = replace(version, segments=segments)
    else:
        updated = replace(version, placement=placement)
    versions.rewrite(overlay, updated)
    overlay.delete(keys.problem_key(m.shard_set_id, m.shard_index, m.expected_node_id))
    return updated


def _set_node_state(overlay: Overlay, m: SetNodeState, position: int) -> NodeInfo:
    if m.state not in (NODE_UP, NODE_DRAINING):
        raise errors.InvalidArgument(f"a node can be set up or draining, not {m.state!r}")
    node, liveness = _read_node(overlay, m.node_id)
    if node is None:
        raise errors.InvalidArgument(f"no node {m.node_id!r}")
    updated = replace(node, state=m.state)
    overlay.put(keys.node_key(m.node_id), record_to_json(updated))
    _note_map_change(overlay, _map_fields(node, liveness), _map_fields(updated, liveness), position)
    return replace(updated, state=_effective(updated, liveness))


def _remove_node(overlay: Overlay, m: RemoveNode, position: int) -> NodeInfo:
    """Drops the node from the map (and its liveness and audit records) and
    remembers its id as removed. The placement checks are the service's
    (metadata/removal.py); the state only insists on the node's state."""
    node, liveness = _read_node(overlay, m.node_id)
    if node is None:
        raise errors.InvalidArgument(f"no node {m.node_id!r} in the cluster map")
    state = _effective(node, liveness)
    if m.force and state != NODE_DOWN:
        raise errors.InvalidRequest(
            f"node {m.node_id!r} is {state}, not down: --force is for a node that is gone "
            "for good; drain a live node instead"
        )
    if not m.force and state not in (NODE_DRAINING, NODE_DOWN):
        raise errors.InvalidRequest(
            f"node {m.node_id!r} is {state}: drain it first (tessera admin node drain {m.node_id})"
        )
    overlay.delete(keys.node_key(m.node_id))
    overlay.delete(keys.liveness_key(m.node_id))
    overlay.delete(keys.audited_store_key(m.node_id))
    record = {"zone": node.zone, "forced": m.force, "position": position}
    overlay.put(keys.removed_node_key(m.node_id), json.dumps(record).encode())
    overlay.put(keys.EPOCH, keys.encode_position(position))
    return replace(node, state=state)


def _delete_object(
    overlay: Overlay, m: DeleteObject, position: int
) -> ObjectVersion | ObjectDeleted | None:
    bucket = _require_bucket(overlay, m.bucket)
    if m.if_bucket_fingerprint and m.if_bucket_fingerprint != bucket_fingerprint(bucket):
        raise errors.BucketChanged()
    if m.if_newest_version_id or m.if_not_newest:
        _check_delete_guard(overlay, bucket, m)
    if bucket.versioning:
        return versions.delete(overlay, bucket, m, position)
    if m.version_id:
        current = versions.find(overlay.get, m.bucket, m.key, m.version_id)
        if current is None:
            return ObjectDeleted(removed=None, marker=None)
    key = keys.object_key(m.bucket, m.key)
    deleted = overlay.get(key)
    if deleted is None:
        return None
    object_lock.check_removable(
        version_from_json(deleted).lock,
        m.now or m.last_modified,
        bypass_governance=m.bypass_governance,
    )
    overlay.delete(key)
    return version_from_json(deleted)


def _check_delete_guard(overlay: Overlay, bucket: BucketInfo, m: DeleteObject) -> None:
    if bucket.versioning:
        newest = versions.newest(overlay, m.bucket, m.key)
    else:
        raw = overlay.get(keys.object_key(m.bucket, m.key))
        newest = version_from_json(raw) if raw is not None else None
    newest_id = newest.version_id if newest is not None else ""
    if m.if_newest_version_id and newest_id != m.if_newest_version_id:
        raise errors.PreconditionFailed("The key's newest version has changed.")
    if (
        m.if_not_newest
        and newest is not None
        and m.version_id
        in (
            newest.version_id,
            newest.s3_version_id,
        )
    ):
        raise errors.PreconditionFailed("The version is the key's newest.")


@dataclass(frozen=True)
class _Liveness:
    alive: bool
    revision: int

    def encode(self) -> bytes:
        return json.dumps({"alive": self.alive, "revision": self.revision}).encode()

    @staticmethod
    def decode(raw: bytes) -> _Liveness:
        body = json.loads(raw)
        return _Liveness(bool(body["alive"]), int(body["revision"]))


def _effective(node: NodeInfo, liveness: _Liveness | None) -> str:
    """down when the liveness source last saw it gone, else its registered state."""
    if liveness is not None and not liveness.alive:
        return NODE_DOWN
    return node.state


def _map_fields(node: NodeInfo | None, liveness: _Liveness | None) -> tuple[object, ...]:
    if node is None:
        return ()
    return (node.zone, node.address, node.weight, _effective(node, liveness))


def _read_node(overlay: Overlay, node_id: str) -> tuple[NodeInfo | None, _Liveness | None]:
    raw_node = overlay.get(keys.node_key(node_id))
    raw_live = overlay.get(keys.liveness_key(node_id))
    return (
        node_from_json(raw_node) if raw_node is not None else None,
        _Liveness.decode(raw_live) if raw_live is not None else None,
    )


def _note_map_change(
    overlay: Overlay, before: tuple[object, ...], after: tuple[object, ...], position: int
) -> None:
    if before != after:
        overlay.put(keys.EPOCH, keys.encode_position(position))


def removed_message(node_id: str) -> str:
    return (
        f"node {node_id!r} was removed from the cluster map; "
        f"`tessera admin node readmit {node_id}` lets it join again (as an empty node)"
    )


def _register_node(overlay: Overlay, m: RegisterNode, position: int) -> NodeInfo:
    """Upserts the node; an operator's "draining" survives the node re-registering.
    A removed node's id is refused until it is readmitted."""
    if overlay.get(keys.removed_node_key(m.node.node_id)) is not None:
        raise errors.InvalidRequest(removed_message(m.node.node_id))
    previous, liveness = _read_node(overlay, m.node.node_id)
    state = NODE_UP
    if previous is not None and previous.state == NODE_DRAINING:
        state = NODE_DRAINING
    node = replace(m.node, state=state)
    overlay.put(keys.node_key(node.node_id), record_to_json(node))
    new_liveness = liveness
    if liveness is None or m.live_revision >= liveness.revision:
        new_liveness = _Liveness(True, m.live_revision)
        overlay.put(keys.liveness_key(node.node_id), new_liveness.encode())
    _note_map_change(
        overlay, _map_fields(previous, liveness), _map_fields(node, new_liveness), position
    )
    return replace(node, state=_effective(node, new_liveness))


def _node_liveness(overlay: Overlay, m: NodeLiveness, position: int) -> None:
    node, liveness = _read_node(overlay, m.node_id)
    if node is None:
        return
    if liveness is not None and m.observed_revision <= liveness.revision:
        return  # a stale observation
    new_liveness = _Liveness(m.alive, m.observed_revision)
    overlay.put(keys.liveness_key(m.node_id), new_liveness.encode())
    _note_map_change(
        overlay, _map_fields(node, liveness), _map_fields(node, new_liveness), position
    )
