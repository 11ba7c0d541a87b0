"""The pure and local edges of replication: conditional puts in the state
machine, checkpoints streamed and installed, etcd's watch messages and
endpoints, and the client's address list and retry rule."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest
from rocksdict import Rdict

from metadata import checkpoint
from metadata.client import _retryable, parse_addresses
from metadata.etcd import (
    EtcdCompacted,
    EtcdError,
    EtcdUnavailable,
    _refusal,
    _watch_batch,
    grpc_target,
    prefix_end,
)
from metadata.mutations import CreateBucket, LogEntry, Mutation, PutObject
from metadata.state import StateMachine, open_db
from proto.call_stream import CallFailed
from proto.etcd import kv_pb2, rpc_pb2
from tessera import errors
from tessera.model import ObjectVersion

VersionFactory = Callable[..., ObjectVersion]


def one(state: StateMachine, mutation: Mutation) -> object:
    applied = state.apply_batch([LogEntry(state.applied_position + 1, mutation)])
    state.commit(applied)
    return applied.outcomes[0].unwrap()


def test_conditional_puts(state: StateMachine, make_version: VersionFactory) -> None:
    one(state, CreateBucket("c", "b", "o", 1.0))
    with pytest.raises(errors.NoSuchKey):  # If-Match on a key without a version
        one(state, PutObject("m0", make_version("b", "k"), if_match_etag="abc"))
    one(state, PutObject("a1", make_version("b", "k", etag="abc"), if_none_match_star=True))
    with pytest.raises(errors.PreconditionFailed):
        one(state, PutObject("a2", make_version("b", "k"), if_none_match_star=True))
    with pytest.raises(errors.PreconditionFailed):
        one(state, PutObject("m1", make_version("b", "k"), if_match_etag='"xyz"'))
    replaced = one(
        state, PutObject("m2", make_version("b", "k", etag="def"), if_match_etag='"abc"')
    )
    assert isinstance(replaced, ObjectVersion) and replaced.etag == "abc"
    assert state.get_object("b", "k").etag == "def"


async def test_a_checkpoint_streams_and_installs_whole(
    tmp_path: Path, db: Rdict, state: StateMachine, make_version: VersionFactory
) -> None:
    one(state, CreateBucket("c", "b", "o", 1.0))
    for i in range(50):
        one(state, PutObject(f"p{i}", make_version("b", f"k{i}", inline_data=b"x" * 3000)))
    target = tmp_path / "copy"
    target.mkdir()
    (target / "stale-file").write_text("replaced wholesale")
    await checkpoint.install(checkpoint.stream(db, tmp_path / "scratch"), target)
    assert not (target / "stale-file").exists()
    assert list((tmp_path / "scratch").iterdir()) == []  # the scratch checkpoint is gone
    copy = open_db(str(target))
    try:
        copied = StateMachine(copy)
        assert copied.applied_position == state.applied_position
        assert list(copied.items_for_digest()) == list(state.items_for_digest())
    finally:
        copy.close()


async def test_a_checkpoint_never_writes_outside_its_folder(tmp_path: Path) -> None:
    async def evil() -> AsyncIterator[checkpoint.Chunk]:
        yield "../escape", b"x", True

    with pytest.raises(ValueError):
        await checkpoint.install(evil(), tmp_path / "data")
    assert not (tmp_path / "escape").exists()
    assert not (tmp_path / "data").exists()


def test_watch_messages() -> None:
    kv = kv_pb2.KeyValue(key=b"/l", value=b"v", mod_revision=7, create_revision=2, version=3)
    header = rpc_pb2.ResponseHeader(revision=7)
    batch = _watch_batch(rpc_pb2.WatchResponse(header=header, events=[kv_pb2.Event(kv=kv)]))
    assert batch is not None
    revision, events = batch
    assert revision == 7 and events[0].kind == "PUT" and events[0].kv.value == b"v"
    assert events[0].kv.mod_revision == 7 and events[0].kv.create_revision == 2
    deleted = rpc_pb2.WatchResponse(
        header=header, events=[kv_pb2.Event(type=kv_pb2.Event.DELETE, kv=kv)]
    )
    batch = _watch_batch(deleted)
    assert batch is not None and batch[1][0].kind == "DELETE"
    assert _watch_batch(rpc_pb2.WatchResponse(header=header, created=True)) is None
    with pytest.raises(EtcdCompacted) as info:
        _watch_batch(rpc_pb2.WatchResponse(canceled=True, compact_revision=5))
    assert info.value.compact_revision == 5
    with pytest.raises(EtcdUnavailable):
        _watch_batch(rpc_pb2.WatchResponse(canceled=True, cancel_reason="gone"))


def rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details, debug_error_string=""
    )


def test_which_etcd_answers_are_refusals() -> None:
    compacted = _refusal(
        rpc_error(
            grpc.StatusCode.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted"
        )
    )
    assert isinstance(compacted, EtcdCompacted)
    future = _refusal(
        rpc_error(
            grpc.StatusCode.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision"
        )
    )
    assert type(future) is EtcdError and "future" in str(future)
    lease = _refusal(rpc_error(grpc.StatusCode.NOT_FOUND, "etcdserver: requested lease not found"))
    assert type(lease) is EtcdError and "not found" in str(lease)
    too_large = _refusal(
        rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: request is too large")
    )
    assert type(too_large) is EtcdError
    # Another member may answer these: the client moves on to it.
    for code, details in [
        (grpc.StatusCode.UNAVAILABLE, "etcdserver: no leader"),
        (grpc.StatusCode.UNAVAILABLE, "etcdserver: request timed out"),
        (grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "etcdserver: too many requests"),
        (grpc.StatusCode.CANCELLED, "etcdserver: request cancelled"),
        (grpc.StatusCode.UNKNOWN, "etcdserver: leader changed"),
        (grpc.StatusCode.INTERNAL, "stream terminated by RST_STREAM"),
    ]:
        assert _refusal(rpc_error(code, details)) is None, (code, details)
    refused = {c for c in grpc.StatusCode if _refusal(rpc_error(c, "x")) is not None}
    assert refused == {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
    }


def test_endpoints_become_grpc_targets() -> None:
    assert grpc_target("http://127.0.0.1:2379") == ("127.0.0.1:2379", False)
    assert grpc_target("https://etcd-0.etcd:2379/") == ("etcd-0.etcd:2379", True)
    assert grpc_target("http://[::1]:2379") == ("[::1]:2379", False)
    assert grpc_target("10.0.0.1:2379") == ("10.0.0.1:2379", False)
    with pytest.raises(ValueError):
        grpc_target("unix:///run/etcd.sock")


def test_prefix_end() -> None:
    assert prefix_end(b"/a/") == b"/a0"
    assert prefix_end(b"a\xff") == b"b"


def test_addresses() -> None:
    assert parse_addresses("h1:1, h2:2,,") == ["h1:1", "h2:2"]
    with pytest.raises(ValueError):
        parse_addresses(" , ")


def test_what_the_client_retries() -> None:
    unavailable = CallFailed(grpc.StatusCode.UNAVAILABLE, "x")
    chose_503 = CallFailed(grpc.StatusCode.UNAVAILABLE, "x", s3_code="ServiceUnavailable")
    slow = CallFailed(grpc.StatusCode.DEADLINE_EXCEEDED, "x")
    s3_error = CallFailed(grpc.StatusCode.NOT_FOUND, "x", s3_code="NoSuchKey")
    refused = CallFailed(grpc.StatusCode.UNAUTHENTICATED, "bad cluster secret")
    assert _retryable(unavailable, many_replicas=False)
    assert not _retryable(chose_503, many_replicas=False)
    assert _retryable(chose_503, many_replicas=True)  # another replica may reach etcd
    assert not _retryable(slow, many_replicas=False)
    assert _retryable(slow, many_replicas=True)  # a hung replica: move on
    assert not _retryable(s3_error, many_replicas=True)
    assert not _retryable(CallFailed(grpc.StatusCode.CANCELLED, "x"), many_replicas=True)
    assert not _retryable(refused, many_replicas=True)
