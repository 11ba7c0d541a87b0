"""`tessera up` and local clusters: the storage classes they give the gateway,
and the refusal of a class the layout cannot place before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.local_cluster import Layout, LocalCluster
from cli.main import build_parser
from cli.up import run_up
from tessera.storage_class import StorageClassError


def test_up_refuses_a_class_the_layout_cannot_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(
        [
            "up",
            "--data-dir",
            str(tmp_path / "data"),
            "--zones",
            "3",
            "--nodes-per-zone",
            "2",
            "--storage-classes",
            "WIDE=8+4",
        ]
    )
    assert run_up(args) == 2
    err = capsys.readouterr().err
    assert "WIDE" in err and "12 nodes" in err
    assert not (tmp_path / "data" / "logs").exists()  # nothing was started


def test_default_layout_of_up_offers_both_classes_with_their_promises(tmp_path: Path) -> None:
    layout = Layout(data_dir=tmp_path, zones=3, nodes_per_zone=4, data_shards=5, parity_shards=4)
    lines = [fit.describe() for fit in layout.storage_class_fits()]
    assert lines == [
        "REDUCED_REDUNDANCY 4+2 (1.50x): survives a whole zone with nothing to spare, "
        "or any 2 nodes",
        "STANDARD 5+4 (1.80x): survives a whole zone plus 1 more node, or any 4 nodes",
    ]


def test_local_cluster_passes_its_classes_to_the_gateway_and_checks_them(tmp_path: Path) -> None:
    layout = Layout(data_dir=tmp_path, storage_classes="STANDARD=4+2,COLD=3+1")
    cluster = LocalCluster(layout)
    assert cluster._role_env("gateway")["TESSERA_STORAGE_CLASSES"] == "STANDARD=4+2,COLD=3+1"
    assert {f.storage_class.name for f in layout.storage_class_fits()} == {"STANDARD", "COLD"}
    layout.storage_classes = "STANDARD=4+2,WIDE=7+2"  # 9 shards on 6 nodes
    with pytest.raises(StorageClassError):
        cluster.start()
    assert cluster.processes == {}
