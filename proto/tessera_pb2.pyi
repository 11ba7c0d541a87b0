from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListShardsRequest(_message.Message):
    __slots__ = ("with_trailer",)
    WITH_TRAILER_FIELD_NUMBER: _ClassVar[int]
    with_trailer: bool
    def __init__(self, with_trailer: _Optional[bool] = ...) -> None: ...

class ShardSource(_message.Message):
    __slots__ = ("shard_index", "address")
    SHARD_INDEX_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    shard_index: int
    address: str
    def __init__(self, shard_index: _Optional[int] = ..., address: _Optional[str] = ...) -> None: ...

class RebuildShardRequest(_message.Message):
    __slots__ = ("header", "sources", "timeout_seconds", "trailer")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TRAILER_FIELD_NUMBER: _ClassVar[int]
    header: ShardHeader
    sources: _containers.RepeatedCompositeFieldContainer[ShardSource]
    timeout_seconds: float
    trailer: bytes
    def __init__(self, header: _Optional[_Union[ShardHeader, _Mapping]] = ..., sources: _Optional[_Iterable[_Union[ShardSource, _Mapping]]] = ..., timeout_seconds: _Optional[float] = ..., trailer: _Optional[bytes] = ...) -> None: ...

class RebuildShardResponse(_message.Message):
    __slots__ = ("stored_bytes", "read_bytes")
    STORED_BYTES_FIELD_NUMBER: _ClassVar[int]
    READ_BYTES_FIELD_NUMBER: _ClassVar[int]
    stored_bytes: int
    read_bytes: int
    def __init__(self, stored_bytes: _Optional[int] = ..., read_bytes: _Optional[int] = ...) -> None: ...

class ShardHeader(_message.Message):
    __slots__ = ("bucket", "key", "version_id", "shard_index", "data_shards", "parity_shards", "chunk_size_bytes", "object_size_bytes", "stripe_count", "modified_at", "trailer")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_INDEX_FIELD_NUMBER: _ClassVar[int]
    DATA_SHARDS_FIELD_NUMBER: _ClassVar[int]
    PARITY_SHARDS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    OBJECT_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    STRIPE_COUNT_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_AT_FIELD_NUMBER: _ClassVar[int]
    TRAILER_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    version_id: str
    shard_index: int
    data_shards: int
    parity_shards: int
    chunk_size_bytes: int
    object_size_bytes: int
    stripe_count: int
    modified_at: float
    trailer: bytes
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., version_id: _Optional[str] = ..., shard_index: _Optional[int] = ..., data_shards: _Optional[int] = ..., parity_shards: _Optional[int] = ..., chunk_size_bytes: _Optional[int] = ..., object_size_bytes: _Optional[int] = ..., stripe_count: _Optional[int] = ..., modified_at: _Optional[float] = ..., trailer: _Optional[bytes] = ...) -> None: ...

class Chunk(_message.Message):
    __slots__ = ("stripe_index", "data", "crc32c")
    STRIPE_INDEX_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    CRC32C_FIELD_NUMBER: _ClassVar[int]
    stripe_index: int
    data: bytes
    crc32c: int
    def __init__(self, stripe_index: _Optional[int] = ..., data: _Optional[bytes] = ..., crc32c: _Optional[int] = ...) -> None: ...

class Finish(_message.Message):
    __slots__ = ("chunk_count", "trailer")
    CHUNK_COUNT_FIELD_NUMBER: _ClassVar[int]
    TRAILER_FIELD_NUMBER: _ClassVar[int]
    chunk_count: int
    trailer: bytes
    def __init__(self, chunk_count: _Optional[int] = ..., trailer: _Optional[bytes] = ...) -> None: ...

class PutShardRequest(_message.Message):
    __slots__ = ("header", "chunk", "finish", "whole")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    FINISH_FIELD_NUMBER: _ClassVar[int]
    WHOLE_FIELD_NUMBER: _ClassVar[int]
    header: ShardHeader
    chunk: Chunk
    finish: Finish
    whole: WholeShard
    def __init__(self, header: _Optional[_Union[ShardHeader, _Mapping]] = ..., chunk: _Optional[_Union[Chunk, _Mapping]] = ..., finish: _Optional[_Union[Finish, _Mapping]] = ..., whole: _Optional[_Union[WholeShard, _Mapping]] = ...) -> None: ...

class PutShardResponse(_message.Message):
    __slots__ = ("stored_bytes",)
    STORED_BYTES_FIELD_NUMBER: _ClassVar[int]
    stored_bytes: int
    def __init__(self, stored_bytes: _Optional[int] = ...) -> None: ...

class GetShardRequest(_message.Message):
    __slots__ = ("version_id", "shard_index", "stripe_start", "stripe_count")
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_INDEX_FIELD_NUMBER: _ClassVar[int]
    STRIPE_START_FIELD_NUMBER: _ClassVar[int]
    STRIPE_COUNT_FIELD_NUMBER: _ClassVar[int]
    version_id: str
    shard_index: int
    stripe_start: int
    stripe_count: int
    def __init__(self, version_id: _Optional[str] = ..., shard_index: _Optional[int] = ..., stripe_start: _Optional[int] = ..., stripe_count: _Optional[int] = ...) -> None: ...

class DeleteShardRequest(_message.Message):
    __slots__ = ("version_id", "shard_index", "modified_before")
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_INDEX_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    version_id: str
    shard_index: int
    modified_before: float
    def __init__(self, version_id: _Optional[str] = ..., shard_index: _Optional[int] = ..., modified_before: _Optional[float] = ...) -> None: ...

class DeleteShardResponse(_message.Message):
    __slots__ = ("existed",)
    EXISTED_FIELD_NUMBER: _ClassVar[int]
    existed: bool
    def __init__(self, existed: _Optional[bool] = ...) -> None: ...

class DeleteShardsRequest(_message.Message):
    __slots__ = ("shards",)
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    shards: _containers.RepeatedCompositeFieldContainer[DeleteShardRequest]
    def __init__(self, shards: _Optional[_Iterable[_Union[DeleteShardRequest, _Mapping]]] = ...) -> None: ...

class DeleteShardsResponse(_message.Message):
    __slots__ = ("existed",)
    EXISTED_FIELD_NUMBER: _ClassVar[int]
    existed: _containers.RepeatedScalarFieldContainer[bool]
    def __init__(self, existed: _Optional[_Iterable[bool]] = ...) -> None: ...

class NodeStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NodeStatusResponse(_message.Message):
    __slots__ = ("node_id", "zone", "capacity_bytes", "used_bytes", "shard_count")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_BYTES_FIELD_NUMBER: _ClassVar[int]
    USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHARD_COUNT_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    zone: str
    capacity_bytes: int
    used_bytes: int
    shard_count: int
    def __init__(self, node_id: _Optional[str] = ..., zone: _Optional[str] = ..., capacity_bytes: _Optional[int] = ..., used_bytes: _Optional[int] = ..., shard_count: _Optional[int] = ...) -> None: ...

class ShardProblem(_message.Message):
    __slots__ = ("shard_set_id", "shard_index", "node_id", "kind", "request_id")
    SHARD_SET_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_INDEX_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    shard_set_id: str
    shard_index: int
    node_id: str
    kind: str
    request_id: str
    def __init__(self, shard_set_id: _Optional[str] = ..., shard_index: _Optional[int] = ..., node_id: _Optional[str] = ..., kind: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class MarginCount(_message.Message):
    __slots__ = ("margin", "shard_sets")
    MARGIN_FIELD_NUMBER: _ClassVar[int]
    SHARD_SETS_FIELD_NUMBER: _ClassVar[int]
    margin: str
    shard_sets: int
    def __init__(self, margin: _Optional[str] = ..., shard_sets: _Optional[int] = ...) -> None: ...

class RepairStatusResponse(_message.Message):
    __slots__ = ("is_leader", "replica_id", "margins", "queue_shards", "queue_bytes", "blocked_shards", "repaired_shards_total", "repaired_bytes_total", "read_bytes_total", "cross_zone_bytes_total", "throughput_bytes_per_second", "eta_seconds", "rate_limit_bytes_per_second", "last_scan_at", "gc_deleted_shards_total", "stale_repairs_total", "failed_repairs_total", "rebalance_queue_shards", "rebalance_queue_bytes", "rebalanced_shards_total", "rebalanced_bytes_total")
    IS_LEADER_FIELD_NUMBER: _ClassVar[int]
    REPLICA_ID_FIELD_NUMBER: _ClassVar[int]
    MARGINS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_SHARDS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_BYTES_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_SHARDS_FIELD_NUMBER: _ClassVar[int]
    REPAIRED_SHARDS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    REPAIRED_BYTES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    READ_BYTES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    CROSS_ZONE_BYTES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    THROUGHPUT_BYTES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    ETA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_BYTES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    LAST_SCAN_AT_FIELD_NUMBER: _ClassVar[int]
    GC_DELETED_SHARDS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    STALE_REPAIRS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    FAILED_REPAIRS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    REBALANCE_QUEUE_SHARDS_FIELD_NUMBER: _ClassVar[int]
    REBALANCE_QUEUE_BYTES_FIELD_NUMBER: _ClassVar[int]
    REBALANCED_SHARDS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    REBALANCED_BYTES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    is_leader: bool
    replica_id: str
    margins: _containers.RepeatedCompositeFieldContainer[MarginCount]
    queue_shards: int
    queue_bytes: int
    blocked_shards: int
    repaired_shards_total: int
    repaired_bytes_total: int
    read_bytes_total: int
    cross_zone_bytes_total: int
    throughput_bytes_per_second: float
    eta_seconds: float
    rate_limit_bytes_per_second: float
    last_scan_at: float
    gc_deleted_shards_total: int
    stale_repairs_total: int
    failed_repairs_total: int
    rebalance_queue_shards: int
    rebalance_queue_bytes: int
    rebalanced_shards_total: int
    rebalanced_bytes_total: int
    def __init__(self, is_leader: _Optional[bool] = ..., replica_id: _Optional[str] = ..., margins: _Optional[_Iterable[_Union[MarginCount, _Mapping]]] = ..., queue_shards: _Optional[int] = ..., queue_bytes: _Optional[int] = ..., blocked_shards: _Optional[int] = ..., repaired_shards_total: _Optional[int] = ..., repaired_bytes_total: _Optional[int] = ..., read_bytes_total: _Optional[int] = ..., cross_zone_bytes_total: _Optional[int] = ..., throughput_bytes_per_second: _Optional[float] = ..., eta_seconds: _Optional[float] = ..., rate_limit_bytes_per_second: _Optional[float] = ..., last_scan_at: _Optional[float] = ..., gc_deleted_shards_total: _Optional[int] = ..., stale_repairs_total: _Optional[int] = ..., failed_repairs_total: _Optional[int] = ..., rebalance_queue_shards: _Optional[int] = ..., rebalance_queue_bytes: _Optional[int] = ..., rebalanced_shards_total: _Optional[int] = ..., rebalanced_bytes_total: _Optional[int] = ...) -> None: ...

class SetRepairRateRequest(_message.Message):
    __slots__ = ("bytes_per_second", "request_id")
    BYTES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    bytes_per_second: float
    request_id: str
    def __init__(self, bytes_per_second: _Optional[float] = ..., request_id: _Optional[str] = ...) -> None: ...

class SetNodeStateRequest(_message.Message):
    __slots__ = ("node_id", "state", "request_id")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    state: str
    request_id: str
    def __init__(self, node_id: _Optional[str] = ..., state: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BucketName(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateBucketRequest(_message.Message):
    __slots__ = ("name", "owner", "request_id", "acl", "object_lock")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACL_FIELD_NUMBER: _ClassVar[int]
    OBJECT_LOCK_FIELD_NUMBER: _ClassVar[int]
    name: str
    owner: str
    request_id: str
    acl: str
    object_lock: bool
    def __init__(self, name: _Optional[str] = ..., owner: _Optional[str] = ..., request_id: _Optional[str] = ..., acl: _Optional[str] = ..., object_lock: _Optional[bool] = ...) -> None: ...

class BucketRecord(_message.Message):
    __slots__ = ("name", "owner", "created_at", "acl", "policy", "cors", "versioning", "lifecycle", "tags", "website", "cache_control", "object_lock", "ownership", "public_access_block", "encryption")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ACL_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    CORS_FIELD_NUMBER: _ClassVar[int]
    VERSIONING_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    WEBSITE_FIELD_NUMBER: _ClassVar[int]
    CACHE_CONTROL_FIELD_NUMBER: _ClassVar[int]
    OBJECT_LOCK_FIELD_NUMBER: _ClassVar[int]
    OWNERSHIP_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_ACCESS_BLOCK_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    owner: str
    created_at: float
    acl: str
    policy: str
    cors: str
    versioning: str
    lifecycle: str
    tags: str
    website: str
    cache_control: str
    object_lock: str
    ownership: str
    public_access_block: str
    encryption: str
    def __init__(self, name: _Optional[str] = ..., owner: _Optional[str] = ..., created_at: _Optional[float] = ..., acl: _Optional[str] = ..., policy: _Optional[str] = ..., cors: _Optional[str] = ..., versioning: _Optional[str] = ..., lifecycle: _Optional[str] = ..., tags: _Optional[str] = ..., website: _Optional[str] = ..., cache_control: _Optional[str] = ..., object_lock: _Optional[str] = ..., ownership: _Optional[str] = ..., public_access_block: _Optional[str] = ..., encryption: _Optional[str] = ...) -> None: ...

class SetBucketAccessRequest(_message.Message):
    __slots__ = ("bucket", "field", "value", "request_id")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    field: str
    value: str
    request_id: str
    def __init__(self, bucket: _Optional[str] = ..., field: _Optional[str] = ..., value: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class SetObjectAclRequest(_message.Message):
    __slots__ = ("bucket", "key", "acl", "request_id")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    ACL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    acl: str
    request_id: str
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., acl: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class UserName(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class UserRecord(_message.Message):
    __slots__ = ("name", "created_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    created_at: float
    def __init__(self, name: _Optional[str] = ..., created_at: _Optional[float] = ...) -> None: ...

class ListUsersResponse(_message.Message):
    __slots__ = ("users",)
    USERS_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[UserRecord]
    def __init__(self, users: _Optional[_Iterable[_Union[UserRecord, _Mapping]]] = ...) -> None: ...

class AccessKeyId(_message.Message):
    __slots__ = ("access_key_id", "request_id")
    ACCESS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    access_key_id: str
    request_id: str
    def __init__(self, access_key_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class AccessKeyRecord(_message.Message):
    __slots__ = ("access_key_id", "user", "sealed_secret", "created_at")
    ACCESS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    SEALED_SECRET_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    access_key_id: str
    user: str
    sealed_secret: bytes
    created_at: float
    def __init__(self, access_key_id: _Optional[str] = ..., user: _Optional[str] = ..., sealed_secret: _Optional[bytes] = ..., created_at: _Optional[float] = ...) -> None: ...

class CreateAccessKeyRequest(_message.Message):
    __slots__ = ("key", "request_id")
    KEY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    key: AccessKeyRecord
    request_id: str
    def __init__(self, key: _Optional[_Union[AccessKeyRecord, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ListAccessKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[AccessKeyRecord]
    def __init__(self, keys: _Optional[_Iterable[_Union[AccessKeyRecord, _Mapping]]] = ...) -> None: ...

class BucketVersioningRequest(_message.Message):
    __slots__ = ("name", "status", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    status: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., status: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ListVersionsRequest(_message.Message):
    __slots__ = ("bucket", "prefix", "delimiter", "key_marker", "version_id_marker", "max_keys", "summary")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    DELIMITER_FIELD_NUMBER: _ClassVar[int]
    KEY_MARKER_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_MARKER_FIELD_NUMBER: _ClassVar[int]
    MAX_KEYS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    prefix: str
    delimiter: str
    key_marker: str
    version_id_marker: str
    max_keys: int
    summary: bool
    def __init__(self, bucket: _Optional[str] = ..., prefix: _Optional[str] = ..., delimiter: _Optional[str] = ..., key_marker: _Optional[str] = ..., version_id_marker: _Optional[str] = ..., max_keys: _Optional[int] = ..., summary: _Optional[bool] = ...) -> None: ...

class VersionEntry(_message.Message):
    __slots__ = ("version", "is_latest")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IS_LATEST_FIELD_NUMBER: _ClassVar[int]
    version: ObjectRecord
    is_latest: bool
    def __init__(self, version: _Optional[_Union[ObjectRecord, _Mapping]] = ..., is_latest: _Optional[bool] = ...) -> None: ...

class ListVersionsResponse(_message.Message):
    __slots__ = ("versions", "common_prefixes", "is_truncated", "next_key_marker", "next_version_id_marker")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    COMMON_PREFIXES_FIELD_NUMBER: _ClassVar[int]
    IS_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    NEXT_KEY_MARKER_FIELD_NUMBER: _ClassVar[int]
    NEXT_VERSION_ID_MARKER_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[VersionEntry]
    common_prefixes: _containers.RepeatedScalarFieldContainer[str]
    is_truncated: bool
    next_key_marker: str
    next_version_id_marker: str
    def __init__(self, versions: _Optional[_Iterable[_Union[VersionEntry, _Mapping]]] = ..., common_prefixes: _Optional[_Iterable[str]] = ..., is_truncated: _Optional[bool] = ..., next_key_marker: _Optional[str] = ..., next_version_id_marker: _Optional[str] = ...) -> None: ...

class TaggingRequest(_message.Message):
    __slots__ = ("bucket", "key", "version_id", "tags", "request_id")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    version_id: str
    tags: _containers.ScalarMap[str, str]
    request_id: str
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., version_id: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ListBucketsRequest(_message.Message):
    __slots__ = ("owner",)
    OWNER_FIELD_NUMBER: _ClassVar[int]
    owner: str
    def __init__(self, owner: _Optional[str] = ...) -> None: ...

class ListBucketsResponse(_message.Message):
    __slots__ = ("buckets",)
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    buckets: _containers.RepeatedCompositeFieldContainer[BucketRecord]
    def __init__(self, buckets: _Optional[_Iterable[_Union[BucketRecord, _Mapping]]] = ...) -> None: ...

class ShardPlacement(_message.Message):
    __slots__ = ("shard_index", "node_id")
    SHARD_INDEX_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    shard_index: int
    node_id: str
    def __init__(self, shard_index: _Optional[int] = ..., node_id: _Optional[str] = ...) -> None: ...

class ObjectRecord(_message.Message):
    __slots__ = ("bucket", "key", "version_id", "size_bytes", "etag", "content_type", "user_metadata", "last_modified", "data_shards", "parity_shards", "chunk_size_bytes", "placement", "map_epoch", "request_id", "system_metadata", "inline_data", "segments", "s3_version_id", "delete_marker", "tags", "acl", "lock_mode", "retain_until", "legal_hold", "read_revision")
    class UserMetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class SystemMetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_METADATA_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    DATA_SHARDS_FIELD_NUMBER: _ClassVar[int]
    PARITY_SHARDS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    MAP_EPOCH_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_METADATA_FIELD_NUMBER: _ClassVar[int]
    INLINE_DATA_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    S3_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    DELETE_MARKER_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ACL_FIELD_NUMBER: _ClassVar[int]
    LOCK_MODE_FIELD_NUMBER: _ClassVar[int]
    RETAIN_UNTIL_FIELD_NUMBER: _ClassVar[int]
    LEGAL_HOLD_FIELD_NUMBER: _ClassVar[int]
    READ_REVISION_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    version_id: str
    size_bytes: int
    etag: str
    content_type: str
    user_metadata: _containers.ScalarMap[str, str]
    last_modified: float
    data_shards: int
    parity_shards: int
    chunk_size_bytes: int
    placement: _containers.RepeatedCompositeFieldContainer[ShardPlacement]
    map_epoch: int
    request_id: str
    system_metadata: _containers.ScalarMap[str, str]
    inline_data: bytes
    segments: _containers.RepeatedCompositeFieldContainer[SegmentRecord]
    s3_version_id: str
    delete_marker: bool
    tags: _containers.ScalarMap[str, str]
    acl: str
    lock_mode: str
    retain_until: float
    legal_hold: bool
    read_revision: int
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., version_id: _Optional[str] = ..., size_bytes: _Optional[int] = ..., etag: _Optional[str] = ..., content_type: _Optional[str] = ..., user_metadata: _Optional[_Mapping[str, str]] = ..., last_modified: _Optional[float] = ..., data_shards: _Optional[int] = ..., parity_shards: _Optional[int] = ..., chunk_size_bytes: _Optional[int] = ..., placement: _Optional[_Iterable[_Union[ShardPlacement, _Mapping]]] = ..., map_epoch: _Optional[int] = ..., request_id: _Optional[str] = ..., system_metadata: _Optional[_Mapping[str, str]] = ..., inline_data: _Optional[bytes] = ..., segments: _Optional[_Iterable[_Union[SegmentRecord, _Mapping]]] = ..., s3_version_id: _Optional[str] = ..., delete_marker: _Optional[bool] = ..., tags: _Optional[_Mapping[str, str]] = ..., acl: _Optional[str] = ..., lock_mode: _Optional[str] = ..., retain_until: _Optional[float] = ..., legal_hold: _Optional[bool] = ..., read_revision: _Optional[int] = ...) -> None: ...

class SegmentRecord(_message.Message):
    __slots__ = ("shard_set_id", "part_number", "size_bytes", "etag", "data_shards", "parity_shards", "chunk_size_bytes", "placement", "last_modified", "checksums")
    class ChecksumsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SHARD_SET_ID_FIELD_NUMBER: _ClassVar[int]
    PART_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    DATA_SHARDS_FIELD_NUMBER: _ClassVar[int]
    PARITY_SHARDS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    CHECKSUMS_FIELD_NUMBER: _ClassVar[int]
    shard_set_id: str
    part_number: int
    size_bytes: int
    etag: str
    data_shards: int
    parity_shards: int
    chunk_size_bytes: int
    placement: _containers.RepeatedCompositeFieldContainer[ShardPlacement]
    last_modified: float
    checksums: _containers.ScalarMap[str, str]
    def __init__(self, shard_set_id: _Optional[str] = ..., part_number: _Optional[int] = ..., size_bytes: _Optional[int] = ..., etag: _Optional[str] = ..., data_shards: _Optional[int] = ..., parity_shards: _Optional[int] = ..., chunk_size_bytes: _Optional[int] = ..., placement: _Optional[_Iterable[_Union[ShardPlacement, _Mapping]]] = ..., last_modified: _Optional[float] = ..., checksums: _Optional[_Mapping[str, str]] = ...) -> None: ...

class UploadRecord(_message.Message):
    __slots__ = ("bucket", "key", "upload_id", "initiated", "owner", "content_type", "user_metadata", "system_metadata", "checksum_algorithm", "checksum_type", "tags", "acl", "lock_mode", "retain_until", "legal_hold")
    class UserMetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class SystemMetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    INITIATED_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_METADATA_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_METADATA_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_TYPE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ACL_FIELD_NUMBER: _ClassVar[int]
    LOCK_MODE_FIELD_NUMBER: _ClassVar[int]
    RETAIN_UNTIL_FIELD_NUMBER: _ClassVar[int]
    LEGAL_HOLD_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    upload_id: str
    initiated: float
    owner: str
    content_type: str
    user_metadata: _containers.ScalarMap[str, str]
    system_metadata: _containers.ScalarMap[str, str]
    checksum_algorithm: str
    checksum_type: str
    tags: _containers.ScalarMap[str, str]
    acl: str
    lock_mode: str
    retain_until: float
    legal_hold: bool
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., upload_id: _Optional[str] = ..., initiated: _Optional[float] = ..., owner: _Optional[str] = ..., content_type: _Optional[str] = ..., user_metadata: _Optional[_Mapping[str, str]] = ..., system_metadata: _Optional[_Mapping[str, str]] = ..., checksum_algorithm: _Optional[str] = ..., checksum_type: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., acl: _Optional[str] = ..., lock_mode: _Optional[str] = ..., retain_until: _Optional[float] = ..., legal_hold: _Optional[bool] = ...) -> None: ...

class CreateUploadRequest(_message.Message):
    __slots__ = ("upload", "request_id")
    UPLOAD_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    upload: UploadRecord
    request_id: str
    def __init__(self, upload: _Optional[_Union[UploadRecord, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class UploadKey(_message.Message):
    __slots__ = ("bucket", "key", "upload_id", "request_id")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    upload_id: str
    request_id: str
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., upload_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class PutPartRequest(_message.Message):
    __slots__ = ("bucket", "key", "upload_id", "part", "request_id")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    upload_id: str
    part: SegmentRecord
    request_id: str
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., upload_id: _Optional[str] = ..., part: _Optional[_Union[SegmentRecord, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class PutPartResponse(_message.Message):
    __slots__ = ("replaced", "has_replaced")
    REPLACED_FIELD_NUMBER: _ClassVar[int]
    HAS_REPLACED_FIELD_NUMBER: _ClassVar[int]
    replaced: SegmentRecord
    has_replaced: bool
    def __init__(self, replaced: _Optional[_Union[SegmentRecord, _Mapping]] = ..., has_replaced: _Optional[bool] = ...) -> None: ...

class CompletedPart(_message.Message):
    __slots__ = ("part_number", "etag", "checksums")
    class ChecksumsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PART_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    CHECKSUMS_FIELD_NUMBER: _ClassVar[int]
    part_number: int
    etag: str
    checksums: _containers.ScalarMap[str, str]
    def __init__(self, part_number: _Optional[int] = ..., etag: _Optional[str] = ..., checksums: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CompleteUploadRequest(_message.Message):
    __slots__ = ("bucket", "key", "upload_id", "parts", "version_id", "request_id", "if_none_match_star", "if_match_etag")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    IF_NONE_MATCH_STAR_FIELD_NUMBER: _ClassVar[int]
    IF_MATCH_ETAG_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    upload_id: str
    parts: _containers.RepeatedCompositeFieldContainer[CompletedPart]
    version_id: str
    request_id: str
    if_none_match_star: bool
    if_match_etag: str
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., upload_id: _Optional[str] = ..., parts: _Optional[_Iterable[_Union[CompletedPart, _Mapping]]] = ..., version_id: _Optional[str] = ..., request_id: _Optional[str] = ..., if_none_match_star: _Optional[bool] = ..., if_match_etag: _Optional[str] = ...) -> None: ...

class CompleteUploadResponse(_message.Message):
    __slots__ = ("version", "replaced", "has_replaced", "unreferenced")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REPLACED_FIELD_NUMBER: _ClassVar[int]
    HAS_REPLACED_FIELD_NUMBER: _ClassVar[int]
    UNREFERENCED_FIELD_NUMBER: _ClassVar[int]
    version: ObjectRecord
    replaced: ObjectRecord
    has_replaced: bool
    unreferenced: _containers.RepeatedCompositeFieldContainer[SegmentRecord]
    def __init__(self, version: _Optional[_Union[ObjectRecord, _Mapping]] = ..., replaced: _Optional[_Union[ObjectRecord, _Mapping]] = ..., has_replaced: _Optional[bool] = ..., unreferenced: _Optional[_Iterable[_Union[SegmentRecord, _Mapping]]] = ...) -> None: ...

class AbortUploadResponse(_message.Message):
    __slots__ = ("parts",)
    PARTS_FIELD_NUMBER: _ClassVar[int]
    parts: _containers.RepeatedCompositeFieldContainer[SegmentRecord]
    def __init__(self, parts: _Optional[_Iterable[_Union[SegmentRecord, _Mapping]]] = ...) -> None: ...

class ListPartsRequest(_message.Message):
    __slots__ = ("bucket", "key", "upload_id", "part_number_marker", "max_parts")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    PART_NUMBER_MARKER_FIELD_NUMBER: _ClassVar[int]
    MAX_PARTS_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    upload_id: str
    part_number_marker: int
    max_parts: int
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., upload_id: _Optional[str] = ..., part_number_marker: _Optional[int] = ..., max_parts: _Optional[int] = ...) -> None: ...

class ListPartsResponse(_message.Message):
    __slots__ = ("upload", "parts", "is_truncated")
    UPLOAD_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    IS_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    upload: UploadRecord
    parts: _containers.RepeatedCompositeFieldContainer[SegmentRecord]
    is_truncated: bool
    def __init__(self, upload: _Optional[_Union[UploadRecord, _Mapping]] = ..., parts: _Optional[_Iterable[_Union[SegmentRecord, _Mapping]]] = ..., is_truncated: _Optional[bool] = ...) -> None: ...

class ListUploadsRequest(_message.Message):
    __slots__ = ("bucket", "prefix", "delimiter", "key_marker", "upload_id_marker", "max_uploads")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    DELIMITER_FIELD_NUMBER: _ClassVar[int]
    KEY_MARKER_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_MARKER_FIELD_NUMBER: _ClassVar[int]
    MAX_UPLOADS_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    prefix: str
    delimiter: str
    key_marker: str
    upload_id_marker: str
    max_uploads: int
    def __init__(self, bucket: _Optional[str] = ..., prefix: _Optional[str] = ..., delimiter: _Optional[str] = ..., key_marker: _Optional[str] = ..., upload_id_marker: _Optional[str] = ..., max_uploads: _Optional[int] = ...) -> None: ...

class ListUploadsResponse(_message.Message):
    __slots__ = ("uploads", "common_prefixes", "is_truncated")
    UPLOADS_FIELD_NUMBER: _ClassVar[int]
    COMMON_PREFIXES_FIELD_NUMBER: _ClassVar[int]
    IS_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    uploads: _containers.RepeatedCompositeFieldContainer[UploadRecord]
    common_prefixes: _containers.RepeatedScalarFieldContainer[str]
    is_truncated: bool
    def __init__(self, uploads: _Optional[_Iterable[_Union[UploadRecord, _Mapping]]] = ..., common_prefixes: _Optional[_Iterable[str]] = ..., is_truncated: _Optional[bool] = ...) -> None: ...

class ObjectKey(_message.Message):
    __slots__ = ("bucket", "key", "request_id", "version_id", "marker_version_id", "last_modified", "bypass_governance", "if_bucket_fingerprint")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    MARKER_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    BYPASS_GOVERNANCE_FIELD_NUMBER: _ClassVar[int]
    IF_BUCKET_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    request_id: str
    version_id: str
    marker_version_id: str
    last_modified: float
    bypass_governance: bool
    if_bucket_fingerprint: str
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., request_id: _Optional[str] = ..., version_id: _Optional[str] = ..., marker_version_id: _Optional[str] = ..., last_modified: _Optional[float] = ..., bypass_governance: _Optional[bool] = ..., if_bucket_fingerprint: _Optional[str] = ...) -> None: ...

class PutObjectRequest(_message.Message):
    __slots__ = ("version", "if_none_match_star", "if_match_etag", "if_bucket_fingerprint", "want_record")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IF_NONE_MATCH_STAR_FIELD_NUMBER: _ClassVar[int]
    IF_MATCH_ETAG_FIELD_NUMBER: _ClassVar[int]
    IF_BUCKET_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    WANT_RECORD_FIELD_NUMBER: _ClassVar[int]
    version: ObjectRecord
    if_none_match_star: bool
    if_match_etag: str
    if_bucket_fingerprint: str
    want_record: bool
    def __init__(self, version: _Optional[_Union[ObjectRecord, _Mapping]] = ..., if_none_match_star: _Optional[bool] = ..., if_match_etag: _Optional[str] = ..., if_bucket_fingerprint: _Optional[str] = ..., want_record: _Optional[bool] = ...) -> None: ...

class PutObjectResponse(_message.Message):
    __slots__ = ("replaced", "has_replaced", "stored_revision")
    REPLACED_FIELD_NUMBER: _ClassVar[int]
    HAS_REPLACED_FIELD_NUMBER: _ClassVar[int]
    STORED_REVISION_FIELD_NUMBER: _ClassVar[int]
    replaced: ObjectRecord
    has_replaced: bool
    stored_revision: int
    def __init__(self, replaced: _Optional[_Union[ObjectRecord, _Mapping]] = ..., has_replaced: _Optional[bool] = ..., stored_revision: _Optional[int] = ...) -> None: ...

class DeleteObjectResponse(_message.Message):
    __slots__ = ("deleted", "existed", "marker", "has_marker")
    DELETED_FIELD_NUMBER: _ClassVar[int]
    EXISTED_FIELD_NUMBER: _ClassVar[int]
    MARKER_FIELD_NUMBER: _ClassVar[int]
    HAS_MARKER_FIELD_NUMBER: _ClassVar[int]
    deleted: ObjectRecord
    existed: bool
    marker: ObjectRecord
    has_marker: bool
    def __init__(self, deleted: _Optional[_Union[ObjectRecord, _Mapping]] = ..., existed: _Optional[bool] = ..., marker: _Optional[_Union[ObjectRecord, _Mapping]] = ..., has_marker: _Optional[bool] = ...) -> None: ...

class ListObjectsRequest(_message.Message):
    __slots__ = ("bucket", "prefix", "delimiter", "start_after", "max_keys", "summary", "columns")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    DELIMITER_FIELD_NUMBER: _ClassVar[int]
    START_AFTER_FIELD_NUMBER: _ClassVar[int]
    MAX_KEYS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    prefix: str
    delimiter: str
    start_after: str
    max_keys: int
    summary: bool
    columns: bool
    def __init__(self, bucket: _Optional[str] = ..., prefix: _Optional[str] = ..., delimiter: _Optional[str] = ..., start_after: _Optional[str] = ..., max_keys: _Optional[int] = ..., summary: _Optional[bool] = ..., columns: _Optional[bool] = ...) -> None: ...

class SummaryColumns(_message.Message):
    __slots__ = ("keys", "last_modified", "etags", "size_bytes", "storage_classes")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    ETAGS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    STORAGE_CLASSES_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    last_modified: _containers.RepeatedScalarFieldContainer[float]
    etags: _containers.RepeatedScalarFieldContainer[str]
    size_bytes: _containers.RepeatedScalarFieldContainer[int]
    storage_classes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, keys: _Optional[_Iterable[str]] = ..., last_modified: _Optional[_Iterable[float]] = ..., etags: _Optional[_Iterable[str]] = ..., size_bytes: _Optional[_Iterable[int]] = ..., storage_classes: _Optional[_Iterable[str]] = ...) -> None: ...

class ListObjectsResponse(_message.Message):
    __slots__ = ("objects", "common_prefixes", "is_truncated", "next_start_after", "columns")
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    COMMON_PREFIXES_FIELD_NUMBER: _ClassVar[int]
    IS_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    NEXT_START_AFTER_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[ObjectRecord]
    common_prefixes: _containers.RepeatedScalarFieldContainer[str]
    is_truncated: bool
    next_start_after: str
    columns: SummaryColumns
    def __init__(self, objects: _Optional[_Iterable[_Union[ObjectRecord, _Mapping]]] = ..., common_prefixes: _Optional[_Iterable[str]] = ..., is_truncated: _Optional[bool] = ..., next_start_after: _Optional[str] = ..., columns: _Optional[_Union[SummaryColumns, _Mapping]] = ...) -> None: ...

class NodeRecord(_message.Message):
    __slots__ = ("node_id", "zone", "address", "weight", "capacity_bytes", "used_bytes", "state", "last_heartbeat", "store_id")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_BYTES_FIELD_NUMBER: _ClassVar[int]
    USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    zone: str
    address: str
    weight: float
    capacity_bytes: int
    used_bytes: int
    state: str
    last_heartbeat: float
    store_id: str
    def __init__(self, node_id: _Optional[str] = ..., zone: _Optional[str] = ..., address: _Optional[str] = ..., weight: _Optional[float] = ..., capacity_bytes: _Optional[int] = ..., used_bytes: _Optional[int] = ..., state: _Optional[str] = ..., last_heartbeat: _Optional[float] = ..., store_id: _Optional[str] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("node_id", "capacity_bytes", "used_bytes")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_BYTES_FIELD_NUMBER: _ClassVar[int]
    USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    capacity_bytes: int
    used_bytes: int
    def __init__(self, node_id: _Optional[str] = ..., capacity_bytes: _Optional[int] = ..., used_bytes: _Optional[int] = ...) -> None: ...

class ClusterMap(_message.Message):
    __slots__ = ("epoch", "nodes")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    nodes: _containers.RepeatedCompositeFieldContainer[NodeRecord]
    def __init__(self, epoch: _Optional[int] = ..., nodes: _Optional[_Iterable[_Union[NodeRecord, _Mapping]]] = ...) -> None: ...

class CheckpointRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CheckpointChunk(_message.Message):
    __slots__ = ("file_name", "data", "end_of_file")
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    END_OF_FILE_FIELD_NUMBER: _ClassVar[int]
    file_name: str
    data: bytes
    end_of_file: bool
    def __init__(self, file_name: _Optional[str] = ..., data: _Optional[bytes] = ..., end_of_file: _Optional[bool] = ...) -> None: ...

class WaitAppliedRequest(_message.Message):
    __slots__ = ("revision",)
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    def __init__(self, revision: _Optional[int] = ...) -> None: ...

class RecordLeaseRequest(_message.Message):
    __slots__ = ("ask", "acked", "reads", "release")
    ASK_FIELD_NUMBER: _ClassVar[int]
    ACKED_FIELD_NUMBER: _ClassVar[int]
    READS_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    ask: int
    acked: int
    reads: int
    release: bool
    def __init__(self, ask: _Optional[int] = ..., acked: _Optional[int] = ..., reads: _Optional[int] = ..., release: _Optional[bool] = ...) -> None: ...

class RecordLeaseNotice(_message.Message):
    __slots__ = ("granted", "duration_seconds", "invalidation", "revision", "state_keys", "everything", "pending", "resolves")
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    INVALIDATION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    STATE_KEYS_FIELD_NUMBER: _ClassVar[int]
    EVERYTHING_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    RESOLVES_FIELD_NUMBER: _ClassVar[int]
    granted: int
    duration_seconds: float
    invalidation: int
    revision: int
    state_keys: _containers.RepeatedScalarFieldContainer[bytes]
    everything: bool
    pending: bool
    resolves: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, granted: _Optional[int] = ..., duration_seconds: _Optional[float] = ..., invalidation: _Optional[int] = ..., revision: _Optional[int] = ..., state_keys: _Optional[_Iterable[bytes]] = ..., everything: _Optional[bool] = ..., pending: _Optional[bool] = ..., resolves: _Optional[_Iterable[int]] = ...) -> None: ...

class ReplicaStatusResponse(_message.Message):
    __slots__ = ("replica_id", "applied_revision", "applied_position", "state_digest", "key_count")
    REPLICA_ID_FIELD_NUMBER: _ClassVar[int]
    APPLIED_REVISION_FIELD_NUMBER: _ClassVar[int]
    APPLIED_POSITION_FIELD_NUMBER: _ClassVar[int]
    STATE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    KEY_COUNT_FIELD_NUMBER: _ClassVar[int]
    replica_id: str
    applied_revision: int
    applied_position: int
    state_digest: str
    key_count: int
    def __init__(self, replica_id: _Optional[str] = ..., applied_revision: _Optional[int] = ..., applied_position: _Optional[int] = ..., state_digest: _Optional[str] = ..., key_count: _Optional[int] = ...) -> None: ...

class SetObjectLockRequest(_message.Message):
    __slots__ = ("bucket", "key", "version_id", "field", "mode", "retain_until", "legal_hold", "bypass_governance", "request_id")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    RETAIN_UNTIL_FIELD_NUMBER: _ClassVar[int]
    LEGAL_HOLD_FIELD_NUMBER: _ClassVar[int]
    BYPASS_GOVERNANCE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    key: str
    version_id: str
    field: str
    mode: str
    retain_until: float
    legal_hold: bool
    bypass_governance: bool
    request_id: str
    def __init__(self, bucket: _Optional[str] = ..., key: _Optional[str] = ..., version_id: _Optional[str] = ..., field: _Optional[str] = ..., mode: _Optional[str] = ..., retain_until: _Optional[float] = ..., legal_hold: _Optional[bool] = ..., bypass_governance: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class KmsKeyRecord(_message.Message):
    __slots__ = ("key_id", "alias", "wrapped_key", "created_at")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    WRAPPED_KEY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    alias: str
    wrapped_key: bytes
    created_at: float
    def __init__(self, key_id: _Optional[str] = ..., alias: _Optional[str] = ..., wrapped_key: _Optional[bytes] = ..., created_at: _Optional[float] = ...) -> None: ...

class KmsKeyLookup(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class CreateKmsKeyRequest(_message.Message):
    __slots__ = ("key", "request_id")
    KEY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    key: KmsKeyRecord
    request_id: str
    def __init__(self, key: _Optional[_Union[KmsKeyRecord, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ListKmsKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[KmsKeyRecord]
    def __init__(self, keys: _Optional[_Iterable[_Union[KmsKeyRecord, _Mapping]]] = ...) -> None: ...

class UsageQuery(_message.Message):
    __slots__ = ("bucket", "owner", "from_hour", "to_hour")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    FROM_HOUR_FIELD_NUMBER: _ClassVar[int]
    TO_HOUR_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    owner: str
    from_hour: int
    to_hour: int
    def __init__(self, bucket: _Optional[str] = ..., owner: _Optional[str] = ..., from_hour: _Optional[int] = ..., to_hour: _Optional[int] = ...) -> None: ...

class UsageReport(_message.Message):
    __slots__ = ("report_json",)
    REPORT_JSON_FIELD_NUMBER: _ClassVar[int]
    report_json: str
    def __init__(self, report_json: _Optional[str] = ...) -> None: ...

class QuotaScope(_message.Message):
    __slots__ = ("scope", "name")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    scope: str
    name: str
    def __init__(self, scope: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class QuotaRequest(_message.Message):
    __slots__ = ("scope", "name", "max_bytes", "max_objects", "request_id")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    scope: str
    name: str
    max_bytes: int
    max_objects: int
    request_id: str
    def __init__(self, scope: _Optional[str] = ..., name: _Optional[str] = ..., max_bytes: _Optional[int] = ..., max_objects: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class QuotaRecord(_message.Message):
    __slots__ = ("scope", "name", "max_bytes", "max_objects", "is_set")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    IS_SET_FIELD_NUMBER: _ClassVar[int]
    scope: str
    name: str
    max_bytes: int
    max_objects: int
    is_set: bool
    def __init__(self, scope: _Optional[str] = ..., name: _Optional[str] = ..., max_bytes: _Optional[int] = ..., max_objects: _Optional[int] = ..., is_set: _Optional[bool] = ...) -> None: ...

class RequestUsageRecord(_message.Message):
    __slots__ = ("hour", "bucket", "put_class", "get_class", "delete", "bytes_in", "bytes_out")
    HOUR_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PUT_CLASS_FIELD_NUMBER: _ClassVar[int]
    GET_CLASS_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    BYTES_IN_FIELD_NUMBER: _ClassVar[int]
    BYTES_OUT_FIELD_NUMBER: _ClassVar[int]
    hour: int
    bucket: str
    put_class: int
    get_class: int
    delete: int
    bytes_in: int
    bytes_out: int
    def __init__(self, hour: _Optional[int] = ..., bucket: _Optional[str] = ..., put_class: _Optional[int] = ..., get_class: _Optional[int] = ..., delete: _Optional[int] = ..., bytes_in: _Optional[int] = ..., bytes_out: _Optional[int] = ...) -> None: ...

class RequestUsageBatch(_message.Message):
    __slots__ = ("request_id", "records", "retention_hours")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    RETENTION_HOURS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    records: _containers.RepeatedCompositeFieldContainer[RequestUsageRecord]
    retention_hours: int
    def __init__(self, request_id: _Optional[str] = ..., records: _Optional[_Iterable[_Union[RequestUsageRecord, _Mapping]]] = ..., retention_hours: _Optional[int] = ...) -> None: ...

class RecountUsageRequest(_message.Message):
    __slots__ = ("bucket", "request_id")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    request_id: str
    def __init__(self, bucket: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class WholeShard(_message.Message):
    __slots__ = ("header", "chunk", "trailer")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    TRAILER_FIELD_NUMBER: _ClassVar[int]
    header: ShardHeader
    chunk: Chunk
    trailer: bytes
    def __init__(self, header: _Optional[_Union[ShardHeader, _Mapping]] = ..., chunk: _Optional[_Union[Chunk, _Mapping]] = ..., trailer: _Optional[bytes] = ...) -> None: ...

class RemoveNodeRequest(_message.Message):
    __slots__ = ("node_id", "force", "request_id")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    force: bool
    request_id: str
    def __init__(self, node_id: _Optional[str] = ..., force: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class RemoveNodeResponse(_message.Message):
    __slots__ = ("placements", "shard_sets")
    PLACEMENTS_FIELD_NUMBER: _ClassVar[int]
    SHARD_SETS_FIELD_NUMBER: _ClassVar[int]
    placements: int
    shard_sets: int
    def __init__(self, placements: _Optional[int] = ..., shard_sets: _Optional[int] = ...) -> None: ...

class ReadChunksRequest(_message.Message):
    __slots__ = ("version_id", "shard_index", "stripe_start", "stripe_count")
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_INDEX_FIELD_NUMBER: _ClassVar[int]
    STRIPE_START_FIELD_NUMBER: _ClassVar[int]
    STRIPE_COUNT_FIELD_NUMBER: _ClassVar[int]
    version_id: str
    shard_index: int
    stripe_start: int
    stripe_count: int
    def __init__(self, version_id: _Optional[str] = ..., shard_index: _Optional[int] = ..., stripe_start: _Optional[int] = ..., stripe_count: _Optional[int] = ...) -> None: ...

class ReadChunksResponse(_message.Message):
    __slots__ = ("chunks",)
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    chunks: _containers.RepeatedCompositeFieldContainer[Chunk]
    def __init__(self, chunks: _Optional[_Iterable[_Union[Chunk, _Mapping]]] = ...) -> None: ...

class ReadChunksStreamRequest(_message.Message):
    __slots__ = ("id", "read")
    ID_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    id: int
    read: ReadChunksRequest
    def __init__(self, id: _Optional[int] = ..., read: _Optional[_Union[ReadChunksRequest, _Mapping]] = ...) -> None: ...

class ReadChunksStreamAnswer(_message.Message):
    __slots__ = ("id", "answer", "code", "message")
    ID_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    id: int
    answer: ReadChunksResponse
    code: int
    message: str
    def __init__(self, id: _Optional[int] = ..., answer: _Optional[_Union[ReadChunksResponse, _Mapping]] = ..., code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class PutWholeShardStreamRequest(_message.Message):
    __slots__ = ("id", "whole")
    ID_FIELD_NUMBER: _ClassVar[int]
    WHOLE_FIELD_NUMBER: _ClassVar[int]
    id: int
    whole: WholeShard
    def __init__(self, id: _Optional[int] = ..., whole: _Optional[_Union[WholeShard, _Mapping]] = ...) -> None: ...

class PutWholeShardStreamAnswer(_message.Message):
    __slots__ = ("id", "answer", "code", "message")
    ID_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    id: int
    answer: PutShardResponse
    code: int
    message: str
    def __init__(self, id: _Optional[int] = ..., answer: _Optional[_Union[PutShardResponse, _Mapping]] = ..., code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class ReadChunksPackedRequests(_message.Message):
    __slots__ = ("reads",)
    READS_FIELD_NUMBER: _ClassVar[int]
    reads: _containers.RepeatedCompositeFieldContainer[ReadChunksStreamRequest]
    def __init__(self, reads: _Optional[_Iterable[_Union[ReadChunksStreamRequest, _Mapping]]] = ...) -> None: ...

class ReadChunksPackedAnswers(_message.Message):
    __slots__ = ("answers",)
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    answers: _containers.RepeatedCompositeFieldContainer[ReadChunksStreamAnswer]
    def __init__(self, answers: _Optional[_Iterable[_Union[ReadChunksStreamAnswer, _Mapping]]] = ...) -> None: ...

class PutWholeShardPackedRequests(_message.Message):
    __slots__ = ("writes",)
    WRITES_FIELD_NUMBER: _ClassVar[int]
    writes: _containers.RepeatedCompositeFieldContainer[PutWholeShardStreamRequest]
    def __init__(self, writes: _Optional[_Iterable[_Union[PutWholeShardStreamRequest, _Mapping]]] = ...) -> None: ...

class PutWholeShardPackedAnswers(_message.Message):
    __slots__ = ("answers",)
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    answers: _containers.RepeatedCompositeFieldContainer[PutWholeShardStreamAnswer]
    def __init__(self, answers: _Optional[_Iterable[_Union[PutWholeShardStreamAnswer, _Mapping]]] = ...) -> None: ...

class CallRequests(_message.Message):
    __slots__ = ("calls",)
    CALLS_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.RepeatedCompositeFieldContainer[CallRequest]
    def __init__(self, calls: _Optional[_Iterable[_Union[CallRequest, _Mapping]]] = ...) -> None: ...

class CallAnswers(_message.Message):
    __slots__ = ("answers",)
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    answers: _containers.RepeatedCompositeFieldContainer[CallAnswer]
    def __init__(self, answers: _Optional[_Iterable[_Union[CallAnswer, _Mapping]]] = ...) -> None: ...

class CallRequest(_message.Message):
    __slots__ = ("id", "method", "request", "timeout_seconds")
    ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    id: int
    method: str
    request: bytes
    timeout_seconds: float
    def __init__(self, id: _Optional[int] = ..., method: _Optional[str] = ..., request: _Optional[bytes] = ..., timeout_seconds: _Optional[float] = ...) -> None: ...

class CallAnswer(_message.Message):
    __slots__ = ("id", "answer", "code", "message", "s3_code")
    ID_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    S3_CODE_FIELD_NUMBER: _ClassVar[int]
    id: int
    answer: bytes
    code: int
    message: str
    s3_code: str
    def __init__(self, id: _Optional[int] = ..., answer: _Optional[bytes] = ..., code: _Optional[int] = ..., message: _Optional[str] = ..., s3_code: _Optional[str] = ...) -> None: ...
