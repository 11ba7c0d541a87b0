"""The rocksdict key layout of the metadata state (raw bytes keys).

    b"b/" + bucket                          -> BucketInfo JSON
    b"o/" + bucket + b"\\x00" + key          -> ObjectVersion JSON (current version)
    b"v/" + bucket + NUL + key + NUL + inverted sequence (8, BE)
                                            -> ObjectVersion JSON (every version and
                                               delete marker of a versioned bucket)
    b"w/" + bucket + NUL + key + NUL + version id
                                            -> the inverted sequence of that version
                                               (by internal id, and by "null")
    b"u/" + bucket + b"\x00" + key + b"\x00" + upload_id
                                            -> MultipartUpload JSON (uploads in progress)
    b"p/" + upload_id + b"/" + part(4, BE)  -> Segment JSON (the parts uploaded so far)
    b"n/" + node_id                         -> NodeInfo JSON (registered nodes)
    b"l/" + node_id                         -> liveness JSON {"alive", "revision"}
    b"s/epoch"                              -> 8-byte big-endian position of the
                                               last cluster map change
    b"s/applied"                            -> 8-byte big-endian log position
    b"p/" + shard_set_id + NUL + index + NUL + node_id
                                            -> problem report JSON {"problem", "reported_at"}
    b"s/repair_rate"                        -> JSON float, repair bytes/s (runtime setting)
    b"s/removed_node/" + node_id            -> JSON {"zone", "forced", "position"}: a node
                                               taken out of the map (it may not register)
    b"s/audited_store/" + node_id           -> store id the repair audit last listed
    b"a/u/" + user name                     -> UserInfo JSON
    b"a/k/" + access key id                 -> AccessKeyInfo JSON (secret sealed)
    b"a/m/" + KMS key id                    -> KmsKeyInfo JSON (key wrapped)
    b"r/" + request_id                      -> Outcome JSON (idempotency record)
    b"q/" + position(8, BE) + request_id    -> b"" (prune index of the r/ records)
    b"g/b/" + bucket                        -> StorageUsage packed (9 x int64 BE) of a bucket
    b"g/o/" + owner id                      -> StorageUsage packed, of an owner's buckets
    b"g/t"                                  -> StorageUsage packed, of the whole cluster
    b"g/qb/" + bucket, b"g/qo/" + owner id  -> Quota JSON
    b"g/h/" + hour(8, BE) + bucket          -> RequestCounters JSON (+ "owner") of
                                               one hour of requests to one bucket

Invariant: a key's versions sort newest first (the sequence is the log
position of the mutation that made the version, inverted). Uploads sort by
bucket, key, then upload id (ListMultipartUploads' order; an upload id is
base32hex, never NUL); parts sort by part number. The order of keys under one
bucket's object namespace is the UTF-8 byte order of the object keys, which
is the order S3 lists in; a bucket name never contains NUL or "/", so a
namespace never overlaps another bucket's.
"""

from __future__ import annotations

BUCKET = b"b/"
OBJECT = b"o/"
UPLOAD = b"u/"
VERSION = b"v/"
VERSION_ID = b"w/"
SEQUENCE_MAX = (1 << 64) - 1
PART = b"p/"
NODE = b"n/"
LIVENESS = b"l/"
APPLIED = b"s/applied"
EPOCH = b"s/epoch"
REQUEST = b"r/"
PROBLEM = b"x/"  # shard problem reports (p/ is multipart parts)
REPAIR_RATE = b"s/repair_rate"
REMOVED_NODE = b"s/removed_node/"  # node ids taken out of the map for good
AUDITED_STORE = b"s/audited_store/"  # node id -> the store id the repair audit listed
REQUEST_BY_POSITION = b"q/"
USER = b"a/u/"
ACCESS_KEY = b"a/k/"
KMS_KEY = b"a/m/"

USAGE_BUCKET = b"g/b/"
USAGE_OWNER = b"g/o/"
USAGE_TOTAL = b"g/t"
QUOTA_BUCKET = b"g/qb/"
QUOTA_OWNER = b"g/qo/"
USAGE_HOURLY = b"g/h/"

POSITION_BYTES = 8


def usage_bucket_key(bucket: str) -> bytes:
    return USAGE_BUCKET + bucket.encode()


def usage_owner_key(owner: str) -> bytes:
    return USAGE_OWNER + owner.encode()


def quota_key(scope: str, name: str) -> bytes:
    """scope: "bucket" or "owner"."""
    assert scope in ("bucket", "owner"), scope
    return (QUOTA_BUCKET if scope == "bucket" else QUOTA_OWNER) + name.encode()


def hourly_prefix(hour: int) -> bytes:
    return USAGE_HOURLY + hour.to_bytes(8, "big")


def hourly_key(hour: int, bucket: str) -> bytes:
    return hourly_prefix(hour) + bucket.encode()


def split_hourly_key(key: bytes) -> tuple[int, str]:
    body = key[len(USAGE_HOURLY) :]
    return int.from_bytes(body[:8], "big"), body[8:].decode()


def bucket_key(bucket: str) -> bytes:
    return BUCKET + bucket.encode()


def object_namespace(bucket: str) -> bytes:
    """Prefix of every object key of one bucket."""
    return OBJECT + bucket.encode() + b"\x00"


def object_key(bucket: str, key: str) -> bytes:
    return object_namespace(bucket) + key.encode()


def version_namespace(bucket: str) -> bytes:
    """Prefix of every version record of one bucket."""
    return VERSION + bucket.encode() + b"\x00"


def versions_prefix(bucket: str, key: str) -> bytes:
    """Prefix of every version record of one key (newest first under it)."""
    return version_namespace(bucket) + key.encode() + b"\x00"


def inverted_sequence(sequence: int) -> bytes:
    assert 0 <= sequence <= SEQUENCE_MAX, sequence
    return (SEQUENCE_MAX - sequence).to_bytes(8, "big")


def version_key(bucket: str, key: str, inverted: bytes) -> bytes:
    return versions_prefix(bucket, key) + inverted


def split_version_key(namespace: bytes, full: bytes) -> str:
    """The object key of a version record key under namespace."""
    return full[len(namespace) : -9].decode()


def version_id_key(bucket: str, key: str, version_id: str) -> bytes:
    return VERSION_ID + bucket.encode() + b"\x00" + key.encode() + b"\x00" + version_id.encode()


def upload_namespace(bucket: str) -> bytes:
    """Prefix of every upload of one bucket."""
    return UPLOAD + bucket.encode() + b"\x00"


def upload_key(bucket: str, key: str, upload_id: str) -> bytes:
    return upload_namespace(bucket) + key.encode() + b"\x00" + upload_id.encode()


def split_upload_key(namespace: bytes, full: bytes) -> tuple[str, str]:
    """(object key, upload id) of an upload key under namespace."""
    key, _, upload_id = full[len(namespace) :].rpartition(b"\x00")
    return key.decode(), upload_id.decode()


def parts_prefix(upload_id: str) -> bytes:
    return PART + upload_id.encode() + b"/"


def part_key(upload_id: str, part_number: int) -> bytes:
    return parts_prefix(upload_id) + part_number.to_bytes(4, "big")


def user_key(name: str) -> bytes:
    return USER + name.encode()


def access_key_key(access_key_id: str) -> bytes:
    return ACCESS_KEY + access_key_id.encode()


def node_key(node_id: str) -> bytes:
    return NODE + node_id.encode()


def removed_node_key(node_id: str) -> bytes:
    return REMOVED_NODE + node_id.encode()


def audited_store_key(node_id: str) -> bytes:
    return AUDITED_STORE + node_id.encode()


def liveness_key(node_id: str) -> bytes:
    return LIVENESS + node_id.encode()


def request_key(request_id: str) -> bytes:
    return REQUEST + request_id.encode()


def problem_key(shard_set_id: str, shard_index: int, node_id: str) -> bytes:
    return PROBLEM + f"{shard_set_id}\x00{shard_index}\x00{node_id}".encode()


def problem_from_key(key: bytes) -> tuple[str, int, str]:
    shard_set_id, index, node_id = key[len(PROBLEM) :].decode().split("\x00")
    return shard_set_id, int(index), node_id


def encode_position(position: int) -> bytes:
    return position.to_bytes(POSITION_BYTES, "big")


def decode_position(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


def request_index_key(position: int, request_id: str) -> bytes:
    return REQUEST_BY_POSITION + encode_position(position) + request_id.encode()


def request_index_bound(position: int) -> bytes:
    """Every prune-index key of a position below ``position`` sorts before this."""
    return REQUEST_BY_POSITION + encode_position(position)


def request_id_from_index(index_key: bytes) -> str:
    return index_key[len(REQUEST_BY_POSITION) + POSITION_BYTES :].decode()


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with prefix (None: no such key)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


def kms_key_key(key_id: str) -> bytes:
    return KMS_KEY + key_id.encode()
