"""Mutations: every change to the metadata state, as plain records.

They are the entries of the metadata log: the single-replica commit log applies
them as they arrive, the replicated one appends them to etcd and every replica
applies them in log order. encode()/decode() give their log form (JSON).

Invariant: a mutation carries every input its effect depends on (timestamps
included, chosen by the submitter), so applying it is deterministic; its
request_id names it, and a request_id already applied is not applied again.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from tessera.model import NodeInfo, ObjectVersion, version_from_json, version_to_json


@dataclass(frozen=True, slots=True)
class CreateBucket:
    request_id: str
    name: str
    owner: str
    created_at: float


@dataclass(frozen=True, slots=True)
class DeleteBucket:
    request_id: str
    name: str


@dataclass(frozen=True, slots=True)
class PutObject:
    """Makes ``version`` the current version of its key."""

    request_id: str
    version: ObjectVersion


@dataclass(frozen=True, slots=True)
class DeleteObject:
    request_id: str
    bucket: str
    key: str


@dataclass(frozen=True, slots=True)
class RegisterNode:
    request_id: str
    node: NodeInfo


Mutation = CreateBucket | DeleteBucket | PutObject | DeleteObject | RegisterNode

KINDS: dict[str, type[Mutation]] = {
    cls.__name__: cls for cls in (CreateBucket, DeleteBucket, PutObject, DeleteObject, RegisterNode)
}


def kind_of(mutation: Mutation) -> str:
    """The mutation's kind name (a bounded set, usable as a metric label)."""
    return type(mutation).__name__


def encode(mutation: Mutation) -> bytes:
    body: dict[str, Any]
    match mutation:
        case CreateBucket():
            body = {
                "name": mutation.name,
                "owner": mutation.owner,
                "created_at": mutation.created_at,
            }
        case DeleteBucket():
            body = {"name": mutation.name}
        case PutObject():
            body = {"version": json.loads(version_to_json(mutation.version))}
        case DeleteObject():
            body = {"bucket": mutation.bucket, "key": mutation.key}
        case RegisterNode():
            body = {"node": dataclasses.asdict(mutation.node)}
    body["kind"] = kind_of(mutation)
    body["request_id"] = mutation.request_id
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def decode(raw: bytes) -> Mutation:
    body = json.loads(raw)
    kind = body.pop("kind")
    if kind == "PutObject":
        version = version_from_json(json.dumps(body["version"]).encode())
        return PutObject(request_id=body["request_id"], version=version)
    if kind == "RegisterNode":
        return RegisterNode(request_id=body["request_id"], node=NodeInfo(**body["node"]))
    if kind not in KINDS:
        raise ValueError(f"unknown mutation kind {kind!r}")
    return KINDS[kind](**body)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A mutation at its place in the log; positions increase strictly along the log."""

    position: int
    mutation: Mutation
