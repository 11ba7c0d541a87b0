"""Versioning in the state machine: version records, null versions, delete
markers, ListObjectVersions, tags, and what repair and GC are shown."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from metadata.mutations import (
    DeleteBucket,
    DeleteObject,
    PutBucketVersioning,
    PutObject,
    PutObjectTagging,
    UpdatePlacement,
)
from metadata.state import StateMachine
from tessera import errors
from tessera.model import ObjectDeleted, ObjectVersion
from tests.unit.metadata.test_state import create, one

VersionFactory = Callable[..., ObjectVersion]


def versioned(state: StateMachine, status: str = "Enabled") -> None:
    one(state, create("b"))
    one(state, PutBucketVersioning("pv-" + status, "b", status))


def put(state: StateMachine, make: VersionFactory, key: str, n: int) -> ObjectVersion:
    version = make("b", key, version_id=f"{n:026d}")
    one(state, PutObject(f"put-{key}-{n}", version))
    return version


def delete(state: StateMachine, key: str, n: int, version_id: str = "") -> ObjectDeleted:
    done = one(
        state,
        DeleteObject(f"del-{key}-{n}", "b", key, version_id, marker_version_id=f"m{n:025d}"),
    )
    assert isinstance(done, ObjectDeleted)
    return done


def listed(state: StateMachine, **kw: object) -> list[tuple[str, str, bool, bool]]:
    args = {"prefix": "", "delimiter": "", "key_marker": "", "version_id_marker": ""}
    args.update(kw)  # type: ignore[arg-type]
    page = state.list_versions("b", max_keys=int(kw.pop("max_keys", 1000)), **args)  # type: ignore[arg-type]
    return [(v.key, v.s3_version_id, v.delete_marker, latest) for v, latest in page.versions]


def test_enabled_keeps_every_version(state: StateMachine, make_version: VersionFactory) -> None:
    versioned(state)
    v1 = put(state, make_version, "k", 1)
    assert one(state, PutObject("again", make_version("b", "k", version_id="2" * 26))) is None
    assert state.get_object("b", "k").version_id == "2" * 26
    assert state.get_object_version("b", "k", v1.version_id).version_id == v1.version_id
    assert listed(state) == [("k", "2" * 26, False, True), ("k", v1.version_id, False, False)]
    with pytest.raises(errors.NoSuchVersion):
        state.get_object_version("b", "k", "9" * 26)


def test_delete_marker_hides_the_key(state: StateMachine, make_version: VersionFactory) -> None:
    versioned(state)
    v1 = put(state, make_version, "k", 1)
    done = delete(state, "k", 2)
    assert done.removed is None and done.marker is not None and done.marker.delete_marker
    with pytest.raises(errors.NoSuchKey):
        state.get_object("b", "k")
    assert state.get_object_version("b", "k", "").delete_marker
    assert state.list_objects("b", "", "", "", 1000).objects == ()
    assert [e[2:] for e in listed(state)] == [(True, True), (False, False)]
    # removing the marker by id brings v1 back
    removed = delete(state, "k", 3, version_id=done.marker.version_id).removed
    assert removed is not None and removed.delete_marker
    assert state.get_object("b", "k").version_id == v1.version_id


def test_delete_by_id_returns_the_version(
    state: StateMachine, make_version: VersionFactory
) -> None:
    versioned(state)
    v1 = put(state, make_version, "k", 1)
    v2 = put(state, make_version, "k", 2)
    removed = delete(state, "k", 3, version_id=v2.version_id).removed
    assert removed is not None and removed.version_id == v2.version_id
    assert state.get_object("b", "k").version_id == v1.version_id
    assert delete(state, "k", 4, version_id="7" * 26).removed is None


def test_suspended_replaces_the_null_version(
    state: StateMachine, make_version: VersionFactory
) -> None:
    one(state, create("b"))
    v0 = put(state, make_version, "k", 0)  # before versioning: becomes the null version
    one(state, PutBucketVersioning("pv", "b", "Enabled"))
    assert state.get_object("b", "k").s3_version_id == "null"
    v1 = put(state, make_version, "k", 1)
    one(state, PutBucketVersioning("ps", "b", "Suspended"))
    replaced = one(state, PutObject("p2", make_version("b", "k", version_id="2" * 26)))
    assert isinstance(replaced, ObjectVersion) and replaced.version_id == v0.version_id
    assert listed(state) == [("k", "null", False, True), ("k", v1.version_id, False, False)]
    marker = delete(state, "k", 3)
    assert marker.removed is not None and marker.removed.version_id == "2" * 26
    assert listed(state)[0] == ("k", "null", True, True)


def test_bucket_not_empty_counts_versions(
    state: StateMachine, make_version: VersionFactory
) -> None:
    versioned(state)
    put(state, make_version, "k", 1)
    delete(state, "k", 2)
    with pytest.raises(errors.BucketNotEmpty):
        one(state, DeleteBucket("db", "b"))


def test_listing_markers_and_delimiter(state: StateMachine, make_version: VersionFactory) -> None:
    versioned(state)
    for n, key in enumerate(["a", "a", "d/x", "d/y", "z"]):
        put(state, make_version, key, n)
    page = state.list_versions("b", "", "", "", "", 1)
    assert page.is_truncated and (page.next_key_marker, page.next_version_id_marker) == (
        "a",
        f"{1:026d}",
    )
    rest = listed(state, key_marker="a", version_id_marker=f"{1:026d}")
    assert rest[0] == ("a", f"{0:026d}", False, False)
    assert [e[0] for e in listed(state, key_marker="a")] == ["d/x", "d/y", "z"]
    page = state.list_versions("b", "", "/", "", "", 1000)
    assert page.common_prefixes == ("d/",) and [v.key for v, _ in page.versions] == ["a", "a", "z"]


def test_unversioned_bucket_lists_null_versions(
    state: StateMachine, make_version: VersionFactory
) -> None:
    one(state, create("b"))
    put(state, make_version, "k", 1)
    assert listed(state) == [("k", "null", False, True)]


def test_repair_sees_noncurrent_versions(state: StateMachine, make_version: VersionFactory) -> None:
    versioned(state)
    v1 = put(state, make_version, "k", 1)
    v2 = put(state, make_version, "k", 2)
    delete(state, "j", 3)  # a marker alone: no data to repair
    found, after = state.versions_page(b"", 1000)
    assert sorted(v.version_id for v in found) == sorted([v1.version_id, v2.version_id])
    assert after == b""
    # one record examined per call: the marker's and v2's current record
    # are examined too, and pages without a version come back empty
    walked, pages, after = [], 0, b""
    while True:
        page, after = state.versions_page(after, 1)
        assert len(page) <= 1
        walked.extend(v.version_id for v in page)
        pages += 1
        if not after:
            break
    assert sorted(walked) == sorted([v1.version_id, v2.version_id])
    assert pages > len(walked)
    one(state, UpdatePlacement("up", "b", "k", v1.version_id, v1.version_id, 0, "n1", "n9"))
    moved = state.get_object_version("b", "k", v1.version_id)
    assert moved.node_for_shard(0) == "n9"
    assert {v.version_id for v in state.versions_of("b", "k")} == {v1.version_id, v2.version_id}


def test_tags(state: StateMachine, make_version: VersionFactory) -> None:
    versioned(state)
    v1 = put(state, make_version, "k", 1)
    put(state, make_version, "k", 2)
    one(state, PutObjectTagging("t1", "b", "k", v1.version_id, {"a": "1"}))
    assert state.get_object_version("b", "k", v1.version_id).tags == {"a": "1"}
    assert state.get_object("b", "k").tags == {}
    one(state, PutObjectTagging("t2", "b", "k", "", {"c": "3"}))
    assert state.get_object("b", "k").tags == {"c": "3"}
    assert state.list_versions("b", "", "", "", "", 10).versions[0][0].tags == {"c": "3"}
    with pytest.raises(errors.InvalidTag):
        one(state, PutObjectTagging("t3", "b", "k", "", {str(i): "" for i in range(11)}))


@pytest.mark.parametrize("versioning", ["Enabled", ""])
def test_summaries_list_what_whole_records_list(
    state: StateMachine, make_version: VersionFactory, versioning: str
) -> None:
    if versioning:
        versioned(state, versioning)
    else:
        one(state, create("b"))
    for n, key in enumerate(["a", "a", "d/x", "z"]):
        put(state, make_version, key, n)
    # a delete marker when versioned, the key gone when not
    one(state, DeleteObject("del-z", "b", "z", "", marker_version_id=f"m{9:025d}"))
    for args in [("", "", "", "", 1000), ("", "/", "", "", 1000), ("", "", "a", "", 2)]:
        whole = state.list_versions("b", *args)
        summaries = state.list_version_summaries("b", *args)
        assert [
            (s.key, s.s3_version_id, s.delete_marker, s.etag, s.size_bytes, latest)
            for s, latest in summaries.versions
        ] == [
            (v.key, v.s3_version_id, v.delete_marker, v.etag, v.size_bytes, latest)
            for v, latest in whole.versions
        ]
        assert (summaries.common_prefixes, summaries.is_truncated) == (
            whole.common_prefixes,
            whole.is_truncated,
        )
        assert (summaries.next_key_marker, summaries.next_version_id_marker) == (
            whole.next_key_marker,
            whole.next_version_id_marker,
        )
