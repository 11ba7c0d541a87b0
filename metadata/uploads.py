"""Multipart uploads in the metadata state: the effects of the four upload
mutations (applied through an Overlay) and the reads behind GetMultipartUpload,
ListParts and ListMultipartUploads (on the applied database).

Invariants:
- a part record exists only while its upload does: completing or aborting an
  upload deletes the upload and every part record in the same batch;
- completing never copies data: the new version's segments are the part
  records themselves (shard set id, placement, geometry);
- whatever stops being referenced (a replaced part, parts an upload's
  completion left out, an aborted upload's parts, the replaced version) is
  returned in the outcome, so the caller can reclaim its shards;
- a completed upload leaves a small record under the request id
  ``complete/<upload id>`` (pruned like every idempotency record), so a client
  that retries the same completion with its own new request gets the same
  answer instead of NoSuchUpload, as long as that version is still current.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from metadata import keys, preconditions, versions
from metadata import outcome as outcomes
from metadata.listing import Cursor
from metadata.mutations import (
    AbortMultipartUpload,
    CompleteMultipartUpload,
    CreateMultipartUpload,
    PutPart,
    UpdatePlacement,
)
from metadata.outcome import Outcome
from metadata.overlay import Overlay
from tessera import errors, limits
from tessera.model import (
    CompletedUpload,
    MultipartUpload,
    ObjectVersion,
    PartsPage,
    PartsReleased,
    Segment,
    ShardLocation,
    UploadsPage,
    bucket_from_json,
    segment_from_json,
    segment_to_json,
    upload_from_json,
    upload_to_json,
    version_from_json,
)
from tessera.multipart import choose_parts, multipart_etag, object_checksum
from tessera.tagging import check_tags

COMPLETED_RECORD_PREFIX = "complete/"


def completed_record_id(upload_id: str) -> str:
    """The idempotency-record id under which a completed upload is remembered."""
    return COMPLETED_RECORD_PREFIX + upload_id


# ---------------------------------------------------------------- effects


def create(overlay: Overlay, m: CreateMultipartUpload) -> MultipartUpload:
    u = m.upload
    check_tags(u.tags)
    overlay.put(keys.upload_key(u.bucket, u.key, u.upload_id), upload_to_json(u))
    return u


def _upload(overlay: Overlay, bucket: str, key: str, upload_id: str) -> MultipartUpload:
    raw = overlay.get(keys.upload_key(bucket, key, upload_id))
    if raw is None:
        raise errors.NoSuchUpload(UploadId=upload_id)
    return upload_from_json(raw)


def _parts(overlay: Overlay, upload_id: str) -> list[tuple[bytes, Segment]]:
    return [(k, segment_from_json(v)) for k, v in overlay.scan(keys.parts_prefix(upload_id))]


def put_part(overlay: Overlay, m: PutPart) -> Segment | None:
    _upload(overlay, m.bucket, m.key, m.upload_id)
    number = m.part.part_number
    if not limits.PART_NUMBER_MIN <= number <= limits.PART_NUMBER_MAX:
        raise errors.InvalidArgument("Part number must be an integer between 1 and 10000.")
    part_key = keys.part_key(m.upload_id, number)
    raw = overlay.get(part_key)
    overlay.put(part_key, segment_to_json(m.part))
    if raw is None:
        return None
    replaced = segment_from_json(raw)
    return None if replaced.shard_set_id == m.part.shard_set_id else replaced


def update_part_placement(overlay: Overlay, m: UpdatePlacement) -> Segment:
    """Repair's compare-and-set on a part of an upload in progress: applied
    only while the upload holds a part with that shard set and the slot still
    names the expected node (a completed, aborted or replaced part wins)."""
    if overlay.get(keys.upload_key(m.bucket, m.key, m.upload_id)) is None:
        raise errors.PreconditionFailed("the upload is gone")
    found = next(
        ((k, p) for k, p in _parts(overlay, m.upload_id) if p.shard_set_id == m.shard_set_id), None
    )
    if found is None:
        raise errors.PreconditionFailed("no such part in this upload")
    part_key, part = found
    current = next((loc.node_id for loc in part.placement if loc.shard_index == m.shard_index), "")
    if current != m.expected_node_id:
        raise errors.PreconditionFailed("the shard has moved since repair planned it")
    assert 0 <= m.shard_index < part.geometry.total_shards, m
    others = [loc for loc in part.placement if loc.shard_index != m.shard_index]
    placement = tuple(
        sorted([*others, ShardLocation(m.shard_index, m.new_node_id)], key=lambda s: s.shard_index)
    )
    updated = replace(part, placement=placement)
    overlay.put(part_key, segment_to_json(updated))
    overlay.delete(keys.problem_key(m.shard_set_id, m.shard_index, m.expected_node_id))
    return updated


def complete(overlay: Overlay, m: CompleteMultipartUpload, position: int) -> CompletedUpload:
    upload_key = keys.upload_key(m.bucket, m.key, m.upload_id)
    raw = overlay.get(upload_key)
    if raw is None:
        return _completed_before(overlay, m)
    upload = upload_from_json(raw)
    stored = _parts(overlay, m.upload_id)
    chosen = choose_parts(m.parts, {p.part_number: p for _, p in stored}, m.part_size_min_bytes)
    object_key = keys.object_key(m.bucket, m.key)
    raw_current = overlay.get(object_key)
    current = version_from_json(raw_current) if raw_current is not None else None
    preconditions.check(current, m.if_none_match_star, m.if_match_etag)
    system = dict(upload.system_metadata)
    checksum = object_checksum(upload.checksum_algorithm, upload.checksum_type, chosen)
    if checksum:
        system[f"x-amz-checksum-{upload.checksum_algorithm}"] = checksum
        system["x-amz-checksum-type"] = upload.checksum_type
    first = chosen[0]
    version = ObjectVersion(
        bucket=m.bucket,
        key=m.key,
        version_id=m.version_id,
        size_bytes=sum(p.size_bytes for p in chosen),
        etag=multipart_etag([p.etag for p in chosen]),
        content_type=upload.content_type,
        last_modified=m.last_modified,
        data_shards=first.data_shards,
        parity_shards=first.parity_shards,
        chunk_size_bytes=first.chunk_size_bytes,
        placement=(),
        user_metadata=dict(upload.user_metadata),
        system_metadata=system,
        request_id=m.request_id,
        segments=tuple(chosen),
        tags=dict(upload.tags),
        acl=upload.acl,
        lock_mode=upload.lock_mode,
        retain_until=upload.retain_until,
        legal_hold=upload.legal_hold,
    )
    bucket = bucket_from_json(_bucket_record(overlay, m.bucket))
    replaced = versions.commit(overlay, bucket, version, position)
    version = versions.find(overlay.get, m.bucket, m.key, m.version_id) or version
    overlay.delete(upload_key)
    for key, _ in stored:
        overlay.delete(key)
    chosen_ids = {p.shard_set_id for p in chosen}
    left_out = tuple(p for _, p in stored if p.shard_set_id not in chosen_ids)
    _remember_completion(overlay, m.upload_id, version, position)
    return CompletedUpload(version=version, replaced=replaced, unreferenced=left_out)


def _bucket_record(overlay: Overlay, name: str) -> bytes:
    raw = overlay.get(keys.bucket_key(name))
    if raw is None:
        raise errors.NoSuchBucket()
    return raw


def _remember_completion(
    overlay: Overlay, upload_id: str, version: ObjectVersion, position: int
) -> None:
    record_id = completed_record_id(upload_id)
    light = CompletedUpload(version=replace(version, segments=()), replaced=None)
    overlay.put(keys.request_key(record_id), outcomes.encode(Outcome(result=light)))
    overlay.put(keys.request_index_key(position, record_id), b"")


def _completed_before(overlay: Overlay, m: CompleteMultipartUpload) -> CompletedUpload:
    """A completion of an upload that is already complete: the same answer if
    it lists the same parts and that version is still current (nothing to
    reclaim this time); NoSuchUpload otherwise."""
    raw = overlay.get(keys.request_key(completed_record_id(m.upload_id)))
    raw_current = overlay.get(keys.object_key(m.bucket, m.key))
    if raw is not None and raw_current is not None:
        done = outcomes.decode(raw).result
        current = version_from_json(raw_current)
        listed = [(p.part_number, p.etag.strip().strip('"')) for p in m.parts]
        if (
            isinstance(done, CompletedUpload)
            and current.version_id == done.version.version_id
            and [(s.part_number, s.etag) for s in current.segments] == listed
        ):
            return CompletedUpload(version=current, replaced=None)
    raise errors.NoSuchUpload(UploadId=m.upload_id)


def abort(overlay: Overlay, m: AbortMultipartUpload) -> PartsReleased:
    _upload(overlay, m.bucket, m.key, m.upload_id)
    stored = _parts(overlay, m.upload_id)
    overlay.delete(keys.upload_key(m.bucket, m.key, m.upload_id))
    for key, _ in stored:
        overlay.delete(key)
    return PartsReleased(tuple(p for _, p in stored))


# ---------------------------------------------------------------- reads


class _Db(Protocol):
    """What the reads need of rocksdict (get and iter)."""

    def get(self, key: bytes) -> bytes | None: ...
    def iter(self) -> Cursor: ...


def get_upload(db: _Db, bucket: str, key: str, upload_id: str) -> MultipartUpload:
    raw = db.get(keys.upload_key(bucket, key, upload_id))
    if raw is None:
        raise errors.NoSuchUpload(UploadId=upload_id)
    return upload_from_json(raw)


def list_parts(
    db: _Db, bucket: str, key: str, upload_id: str, part_number_marker: int, max_parts: int
) -> PartsPage:
    """Parts after part_number_marker, at most max_parts (capped at S3's 1000)."""
    upload = get_upload(db, bucket, key, upload_id)
    max_parts = max(0, min(max_parts, limits.LIST_PARTS_MAX))
    prefix = keys.parts_prefix(upload_id)
    cursor = db.iter()
    cursor.seek(keys.part_key(upload_id, min(part_number_marker, limits.PART_NUMBER_MAX) + 1))
    parts: list[Segment] = []
    truncated = False
    while cursor.valid() and cursor.key().startswith(prefix):
        if len(parts) == max_parts:
            truncated = True
            break
        parts.append(segment_from_json(cursor.value()))
        cursor.next()
    return PartsPage(upload=upload, parts=tuple(parts), is_truncated=truncated)


def list_uploads(
    cursor: Cursor,
    bucket: str,
    prefix: str,
    delimiter: str,
    key_marker: str,
    upload_id_marker: str,
    max_uploads: int,
) -> UploadsPage:
    """ListMultipartUploads: uploads in (key, upload id) order after the
    markers (with key_marker alone, after every upload of that key), keys
    holding the delimiter past the prefix rolled up into common prefixes (one
    seek each); max_uploads counts both."""
    max_uploads = max(0, min(max_uploads, limits.LIST_UPLOADS_MAX))
    namespace = keys.upload_namespace(bucket)
    base = namespace + prefix.encode()
    if not key_marker:
        start = base
    elif upload_id_marker:
        start = max(base, keys.upload_key(bucket, key_marker, upload_id_marker) + b"\x00")
    else:
        start = max(base, namespace + key_marker.encode() + b"\x01")
    found: list[MultipartUpload] = []
    prefixes: list[str] = []
    truncated = False
    cursor.seek(start)
    while cursor.valid():
        full: bytes = cursor.key()
        if not full.startswith(base):
            break
        key, _ = keys.split_upload_key(namespace, full)
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        if cut >= 0:
            common = key[: cut + len(delimiter)]
            if common != key_marker:
                if len(found) + len(prefixes) == max_uploads:
                    truncated = True
                    break
                prefixes.append(common)
            end = keys.prefix_end(namespace + common.encode())
            if end is None:
                break
            cursor.seek(end)
            continue
        if len(found) + len(prefixes) == max_uploads:
            truncated = True
            break
        found.append(upload_from_json(cursor.value()))
        cursor.next()
    return UploadsPage(
        uploads=tuple(found), common_prefixes=tuple(prefixes), is_truncated=truncated
    )
