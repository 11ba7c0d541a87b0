"""Log entries and outcomes round-trip through their JSON form exactly."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from metadata import mutations, outcome
from metadata.mutations import (
    ClearShardProblem,
    CreateBucket,
    DeleteBucket,
    DeleteObject,
    Mutation,
    NodeLiveness,
    PutObject,
    RegisterNode,
    ReportShardProblem,
    SetNodeState,
    SetRepairRate,
    UpdatePlacement,
)
from metadata.outcome import Outcome
from tessera import errors
from tessera.model import BucketInfo, NodeInfo, ObjectVersion

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
        RegisterNode("", NodeInfo("n1", "zone-a", "10.0.0.1:9200", 2.5, 10, 3, "draining", 7.0)),
        RegisterNode("r5", NodeInfo("n2", "zone-b", "h:1"), live_revision=77),
        NodeLiveness("", "n1", False, 12),
        UpdatePlacement("r6", "b", "k", "v1", "v1", 3, "n1", "n2"),
        ReportShardProblem("r7", "v1", 2, "n1", "corrupt", 1.5),
        ClearShardProblem("r8", "v1", 2, "n1"),
        SetRepairRate("r9", 1e6),
        SetNodeState("r10", "n1", "draining"),
    ]


def test_every_kind_is_covered() -> None:
    assert set(mutations.KINDS) == {
        "CreateBucket",
        "DeleteBucket",
        "PutObject",
        "DeleteObject",
        "RegisterNode",
        "NodeLiveness",
        "UpdatePlacement",
        "ReportShardProblem",
        "ClearShardProblem",
        "SetRepairRate",
        "SetNodeState",
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
        Outcome.failed(errors.BucketNotEmpty()),
    ]:
        assert outcome.decode(outcome.encode(done)) == done


def test_a_failed_outcome_raises_the_same_error() -> None:
    done = outcome.decode(outcome.encode(Outcome.failed(errors.NoSuchBucket("gone"))))
    assert not done.ok
    with pytest.raises(errors.NoSuchBucket, match="gone"):
        done.unwrap()
