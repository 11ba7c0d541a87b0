"""Versioning against a naive reference, on random histories: every key's
versions newest first, null versions replaced, markers hiding keys; the
ListObjectVersions pages, the current versions and what repair scans all
match a model kept as plain lists."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from metadata.mutations import (
    CreateBucket,
    DeleteObject,
    LogEntry,
    Mutation,
    PutBucketVersioning,
    PutObject,
)
from metadata.state import StateMachine, open_db
from tessera import errors
from tessera.model import ObjectVersion, ShardLocation

KEYS = ["a", "a/b", "a/c", "b", "c/d/e"]


@dataclass
class Model:
    status: str = "Enabled"
    versions: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)  # newest first

    def add(self, key: str, s3_id: str, marker: bool) -> None:
        kept = self.versions.get(key, [])
        if s3_id == "null":
            kept = [v for v in kept if v[0] != "null"]
        self.versions[key] = [(s3_id, marker), *kept]

    def listing(self) -> list[tuple[str, str, bool, bool]]:
        return [
            (key, s3_id, marker, i == 0)
            for key in sorted(self.versions, key=str.encode)
            for i, (s3_id, marker) in enumerate(self.versions[key])
        ]


operations = st.lists(
    st.tuples(
        st.sampled_from(["put", "delete", "delete-id", "suspend", "enable"]),
        st.sampled_from(KEYS),
        st.integers(min_value=0, max_value=5),
    ),
    max_size=30,
)


def version(key: str, version_id: str) -> ObjectVersion:
    return ObjectVersion(
        bucket="b",
        key=key,
        version_id=version_id,
        size_bytes=100,
        etag="e",
        content_type="",
        last_modified=1.0,
        data_shards=2,
        parity_shards=1,
        chunk_size_bytes=64,
        placement=(ShardLocation(0, "n1"), ShardLocation(1, "n2"), ShardLocation(2, "n3")),
    )


def replay(state: StateMachine, history: list[tuple[str, str, int]]) -> Model:
    model = Model()
    mutations: list[Mutation] = [PutBucketVersioning("enable-0", "b", "Enabled")]
    for n, (op, key, pick) in enumerate(history):
        vid = f"{n:026d}"
        if op == "put":
            mutations.append(PutObject(f"r{n}", version(key, vid)))
            model.add(key, vid if model.status == "Enabled" else "null", False)
        elif op == "delete":
            mutations.append(DeleteObject(f"r{n}", "b", key, marker_version_id=vid))
            model.add(key, vid if model.status == "Enabled" else "null", True)
        elif op == "delete-id" and model.versions.get(key):
            s3_id = model.versions[key][pick % len(model.versions[key])][0]
            mutations.append(DeleteObject(f"r{n}", "b", key, version_id=s3_id))
            model.versions[key] = [v for v in model.versions[key] if v[0] != s3_id]
            if not model.versions[key]:
                del model.versions[key]
        elif op in ("suspend", "enable"):
            model.status = "Suspended" if op == "suspend" else "Enabled"
            mutations.append(PutBucketVersioning(f"r{n}", "b", model.status))
    entries = [CreateBucket("create", "b", "alice", 0.0), *mutations]
    applied = state.apply_batch([LogEntry(i + 1, m) for i, m in enumerate(entries)])
    state.commit(applied)
    for done in applied.outcomes:
        done.unwrap()
    return model


def flat(state: StateMachine) -> list[tuple[str, str, bool, bool]]:
    page = state.list_versions("b", "", "", "", "", 1000)
    return [(v.key, v.s3_version_id, v.delete_marker, latest) for v, latest in page.versions]


@settings(max_examples=150, deadline=None)
@given(history=operations, page_size=st.integers(min_value=1, max_value=4))
def test_versions_match_the_model(history: list[tuple[str, str, int]], page_size: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(tmp + "/state")
        try:
            state = StateMachine(db)
            model = replay(state, history)
            assert flat(state) == model.listing()
            # paging with the next markers lists everything once, in order
            seen: list[tuple[str, str, bool, bool]] = []
            key_marker = version_marker = ""
            for _ in range(200):
                page = state.list_versions("b", "", "", key_marker, version_marker, page_size)
                seen += [
                    (v.key, v.s3_version_id, v.delete_marker, latest) for v, latest in page.versions
                ]
                if not page.is_truncated:
                    break
                key_marker, version_marker = page.next_key_marker, page.next_version_id_marker
            assert seen == model.listing()
            # the current versions: the newest record of each key, unless a marker
            current = {key: vs[0][0] for key, vs in model.versions.items() if vs and not vs[0][1]}
            listed = state.list_objects("b", "", "", "", 1000).objects
            assert {v.key: v.s3_version_id for v in listed} == current
            for key in KEYS:
                if key not in current:
                    try:
                        state.get_object("b", key)
                        raise AssertionError(f"{key} should be hidden")
                    except errors.NoSuchKey:
                        pass
            # repair scans every version holding data, once
            scanned, _ = state.versions_page(b"", 10_000)
            with_data = sorted(
                (key, s3_id) for key, vs in model.versions.items() for s3_id, m in vs if not m
            )
            assert sorted((v.key, v.s3_version_id) for v in scanned) == with_data
        finally:
            db.close()
