"""Log entries and outcomes round-trip through their JSON form exactly."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from metadata import mutations, outcome
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
from metadata.outcome import Outcome
from tessera import errors
from tessera.model import (
    BucketInfo,
    CompletedUpload,
    KmsKeyInfo,
    MultipartUpload,
    NodeInfo,
    ObjectDeleted,
    ObjectVersion,
    PartsReleased,
    Segment,
    ShardLocation,
)
from tessera.multipart import ListedPart


def a_segment(number: int = 3) -> Segment:
    return Segment(
        shard_set_id="0" * 26,
        part_number=number,
        size_bytes=5 * 1024 * 1024,
        etag="d41d8cd98f00b204e9800998ecf8427e",
        data_shards=4,
        parity_shards=2,
        chunk_size_bytes=256 * 1024,
        placement=(ShardLocation(0, "n1"), ShardLocation(5, "n6")),
        last_modified=1.5,
        checksums={"crc32": "AAAAAA=="},
    )


def an_upload() -> MultipartUpload:
    return MultipartUpload(
        bucket="b",
        key="dir/ключ",
        upload_id="1" * 26,
        initiated=2.5,
        owner="alice",
        content_type="text/plain",
        user_metadata={"a": "1"},
        system_metadata={"cache-control": "x"},
        checksum_algorithm="crc32",
        checksum_type="COMPOSITE",
    )


VersionFactory = Callable[..., ObjectVersion]


def every_mutation(make_version: VersionFactory) -> list[Mutation]:
    version = make_version(
        "b",
        "dir/ключ \U0001f600",
        inline_data=b"\x00\xffhi",
        system_metadata={"cache-control": "x"},
    )
    return [
        CreateBucket("r1", "photos", "alice", 1_700_000_000.25),
        DeleteBucket("r2", "photos"),
        PutObject("r3", version),
        PutObject("r3b", version, if_none_match_star=True),
        PutObject("r3c", version, if_match_etag='"abc"'),
        DeleteObject("r4", "photos", "a\x00b"),
        DeleteObject("r4b", "photos", "k", version_id="null", marker_version_id="3" * 26),
        DeleteObject("r4c", "photos", "k", marker_version_id="3" * 26, last_modified=4.5),
        PutBucketVersioning("r4d", "photos", "Enabled"),
        PutObjectTagging("r4e", "photos", "k", "", {"a": "1", "ключ": ""}),
        RegisterNode("", NodeInfo("n1", "zone-a", "10.0.0.1:9200", 2.5, 10, 3, "draining", 7.0)),
        RegisterNode("r5", NodeInfo("n2", "zone-b", "h:1"), live_revision=77),
        NodeLiveness("", "n1", False, 12),
        CreateMultipartUpload("r6", an_upload()),
        PutPart("r7", "b", "k", "1" * 26, a_segment()),
        CompleteMultipartUpload(
            "r8",
            "b",
            "k",
            "1" * 26,
            (ListedPart(1, '"abc"'), ListedPart(2, "def", {"crc32": "AAAAAA=="})),
            "2" * 26,
            3.5,
            5 * 1024 * 1024,
            if_match_etag="x",
        ),
        AbortMultipartUpload("r9", "b", "k", "1" * 26),
        UpdatePlacement("r16", "b", "k", "v1", "v1", 3, "n1", "n2"),
        ReportShardProblem("r17", "v1", 2, "n1", "corrupt", 1.5),
        ClearShardProblem("r18", "v1", 2, "n1"),
        SetRepairRate("r19", 1e6),
        SetNodeState("r20", "n1", "draining"),
        SetBucketAccess("r21", "b", "acl", "public-read"),
        SetObjectAcl("r22", "b", "k", "public-read"),
        SetObjectLock("r22b", "b", "k", "", "retention", "GOVERNANCE", 2.0e9, False, True, 1.9e9),
        CreateUser("r23", "alice", 1.0),
        DeleteUser("r24", "alice", "user:alice"),
        CreateAccessKey("r25", "AKID", "alice", "00ff", 2.0),
        RevokeAccessKey("r26", "AKID"),
        CreateKmsKey("r27", "0f8e", "team-key", "00ff", 3.0),
        SetBucketAccess("r28", "b", "encryption", '{"algorithm": "AES256", "kms_key_id": ""}'),
        SetQuota("r29", "bucket", "b", 1000, None),
        RecordRequestUsage("r30", ((490_000, "b", {"put_class": 2, "bytes_in": 10}),), 2160),
        RecountUsage("r31", "b"),
        RemoveNode("r32", "n1", True),
        ReadmitNode("r33", "n1"),
        NoteStoreAudited("r34", "n1", "store-1"),
        ReadLease("", "replica-1", "127.0.0.1:9100", 2000, "0011aabb"),
        UpdatePlacement("r35", "b", "k", "", "set", 1, "n1", "n2", "upload-1"),
    ]


def test_every_kind_is_covered() -> None:
    assert set(mutations.KINDS) == {
        "CreateBucket",
        "DeleteBucket",
        "PutObject",
        "DeleteObject",
        "PutBucketVersioning",
        "PutObjectTagging",
        "RegisterNode",
        "NodeLiveness",
        "CreateMultipartUpload",
        "PutPart",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
        "UpdatePlacement",
        "ReportShardProblem",
        "ClearShardProblem",
        "SetRepairRate",
        "SetNodeState",
        "RemoveNode",
        "ReadmitNode",
        "NoteStoreAudited",
        "ReadLease",
        "SetBucketAccess",
        "SetObjectAcl",
        "SetObjectLock",
        "CreateUser",
        "DeleteUser",
        "CreateAccessKey",
        "RevokeAccessKey",
        "CreateKmsKey",
        "SetQuota",
        "RecordRequestUsage",
        "RecountUsage",
    }


def test_mutations_round_trip(make_version: VersionFactory) -> None:
    for mutation in every_mutation(make_version):
        raw = mutations.encode(mutation)
        assert mutations.decode(raw) == mutation
        assert mutations.encode(mutations.decode(raw)) == raw


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError):
        mutations.decode(b'{"kind":"Format","request_id":"x"}')


def test_outcomes_round_trip(make_version: VersionFactory) -> None:
    for done in [
        Outcome(),
        Outcome(result=BucketInfo("b", "alice", 1.5)),
        Outcome(result=make_version("b", "k", inline_data=b"abc")),
        Outcome(result=NodeInfo("n1", "z", "h:1")),
        Outcome(result=an_upload()),
        Outcome(result=a_segment()),
        Outcome(result=PartsReleased((a_segment(1), a_segment(2)))),
        Outcome(
            result=CompletedUpload(
                version=make_version("b", "k", segments=(a_segment(1), a_segment(2))),
                replaced=make_version("b", "k"),
                unreferenced=(a_segment(3),),
            )
        ),
        Outcome(result=CompletedUpload(version=make_version("b", "k"), replaced=None)),
        Outcome(result=ObjectDeleted(removed=make_version("b", "k"), marker=None)),
        Outcome(
            result=ObjectDeleted(
                removed=None,
                marker=make_version("b", "k", delete_marker=True, s3_version_id="null"),
            )
        ),
        Outcome(result=BucketInfo("b", "alice", 1.5, versioning="Suspended")),
        Outcome(result=BucketInfo("b", "alice", 1.5, encryption='{"algorithm": "AES256"}')),
        Outcome(result=KmsKeyInfo("id-1", "team", b"\x00\xffwrapped", 2.5)),
        Outcome.failed(errors.BucketNotEmpty()),
        Outcome.failed(errors.KMS_NotFoundException("Key 'x' does not exist.")),
    ]:
        assert outcome.decode(outcome.encode(done)) == done


def test_a_failed_outcome_raises_the_same_error() -> None:
    done = outcome.decode(outcome.encode(Outcome.failed(errors.NoSuchBucket("gone"))))
    assert not done.ok
    with pytest.raises(errors.NoSuchBucket, match="gone"):
        done.unwrap()
