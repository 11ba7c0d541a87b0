"""Who this node is: its stable id and the address other processes dial.

Invariant: once a data folder has a node id (in <data_dir>/node_id) it keeps
it across restarts, so the shards placed on it stay addressable; a damaged id
file stops the node rather than silently minting a new identity.

The store id (<data_dir>/store_id) is made once with the shard store and
never changes while the folder lives: a node that registers under a known
node id with a new store id has an empty or replaced disk, and the repair
leader audits it (metadata/audit.py).
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from pathlib import Path

from tessera.config import host_port

NODE_ID_FILE = "node_id"
STORE_ID_FILE = "store_id"
_NODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_WILDCARD_HOSTS = ("", "0.0.0.0", "::")


class BadNodeId(ValueError):
    """A configured or stored node id is not a safe name."""


def new_node_id() -> str:
    return "node-" + secrets.token_hex(4)


def resolve_node_id(data_dir: Path, configured: str) -> str:
    """The node's id: the configured one, else the one stored in the data
    folder, else a new one (stored before it is returned). Blocking I/O."""
    path = data_dir / NODE_ID_FILE
    try:
        stored: str | None = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        stored = None
    if stored is not None and not _NODE_ID.fullmatch(stored):
        raise BadNodeId(f"{path} holds {stored[:80]!r}, not a node id; fix or remove it")
    if configured:
        if not _NODE_ID.fullmatch(configured):
            raise BadNodeId(f"configured node id {configured[:80]!r} is not a safe name")
        if stored is None:
            _write_durably(path, configured)
        return configured
    if stored is not None:
        return stored
    node_id = new_node_id()
    _write_durably(path, node_id)
    return node_id


def resolve_store_id(data_dir: Path) -> str:
    """The shard store's id: the stored one, else a new one (stored durably
    before it is returned). Blocking I/O."""
    path = data_dir / STORE_ID_FILE
    try:
        stored = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        stored = ""
    if stored:
        return stored
    store_id = secrets.token_hex(8)
    _write_durably(path, store_id)
    return store_id


def advertised_address(advertise_address: str, listen: str, bound_port: int) -> str:
    """The host:port to register: advertise_address if set, else the listen
    host (the host name when it is a wildcard) with the port actually bound."""
    if advertise_address:
        return advertise_address
    host, _ = host_port(listen)
    if host in _WILDCARD_HOSTS:
        host = socket.gethostname()
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{bound_port}"


def _write_durably(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
