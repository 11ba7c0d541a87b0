"""The node's stable id and advertised address."""

from __future__ import annotations

import re
import socket

import pytest

from node.identity import BadNodeId, advertised_address, resolve_node_id, resolve_store_id


def test_generated_id_is_stable(tmp_path):
    first = resolve_node_id(tmp_path, "")
    assert re.fullmatch(r"node-[0-9a-f]{8}", first)
    assert resolve_node_id(tmp_path, "") == first
    assert (tmp_path / "node_id").read_text().strip() == first


def test_configured_id_wins_and_is_stored_when_none_is(tmp_path):
    assert resolve_node_id(tmp_path, "rack3-disk2") == "rack3-disk2"
    assert resolve_node_id(tmp_path, "") == "rack3-disk2"


def test_damaged_id_file_stops_the_node(tmp_path):
    (tmp_path / "node_id").write_text("../../bad id\n")
    with pytest.raises(BadNodeId):
        resolve_node_id(tmp_path, "")


def test_unsafe_configured_id_is_refused(tmp_path):
    with pytest.raises(BadNodeId):
        resolve_node_id(tmp_path, "a/b")


def test_advertised_address():
    assert advertised_address("node-0.nodes:9200", "0.0.0.0:9200", 9200) == "node-0.nodes:9200"
    assert advertised_address("", "127.0.0.1:0", 43123) == "127.0.0.1:43123"
    assert advertised_address("", "0.0.0.0:9200", 9200) == f"{socket.gethostname()}:9200"
    assert advertised_address("", "[::1]:9200", 9200) == "[::1]:9200"


def test_store_id_is_stable_until_the_folder_is_wiped(tmp_path):
    first = resolve_store_id(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{16}", first)
    assert resolve_store_id(tmp_path) == first
    (tmp_path / "store_id").unlink()  # an empty disk under the same node id
    assert resolve_store_id(tmp_path) != first
