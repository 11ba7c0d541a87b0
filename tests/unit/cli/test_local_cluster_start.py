"""LocalCluster.start's stages: etcd members one at a time, then the metadata
replicas, then the nodes and the gateway; a stage that does not come up only
delays the next one (wait_ready decides whether the cluster started)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from cli import local_cluster
from cli.local_cluster import Layout, LocalCluster
from tessera.storage_class import StorageClassError


class _Process:
    def __init__(self, exited: bool) -> None:
        self._exited = exited

    def poll(self) -> int | None:
        return 1 if self._exited else None


class _Recorder(LocalCluster):
    """Starts nothing: records what was started and what each stage's check saw."""

    def __init__(self, layout: Layout, up: set[str], exited: frozenset[str] = frozenset()) -> None:
        super().__init__(layout)
        self.events: list[str] = []
        self.up = up
        self.exited = exited

    def start_process(self, name: str, command_prefix: list[str] | None = None) -> _Process:  # type: ignore[override]
        self.events.append(f"start {name}")
        process = _Process(name in self.exited)
        self.processes[name] = process  # type: ignore[assignment]
        return process

    def _etcd_serves(self, name: str) -> bool:
        self.events.append(f"serves? {name}")
        return name in self.up

    def is_ready(self, name: str) -> bool:
        self.events.append(f"ready? {name}")
        return name in self.up


def _layout(tmp_path: Path) -> Layout:
    return Layout(data_dir=tmp_path)


def test_each_stage_starts_once_the_one_before_answers(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    everyone = {*layout.etcd_names(), *layout.metadata_names()}
    cluster = _Recorder(layout, up=everyone)
    cluster.start()
    starts = [e.removeprefix("start ") for e in cluster.events if e.startswith("start ")]
    assert starts == cluster.names()
    etcd = layout.etcd_names()
    for before, after in itertools.pairwise(etcd):  # one member at a time
        assert cluster.events.index(f"serves? {before}") < cluster.events.index(f"start {after}")
    first_node = f"start {layout.node_names()[0][0]}"
    for replica in layout.metadata_names():
        assert cluster.events.index(f"start {etcd[-1]}") < cluster.events.index(f"start {replica}")
        assert cluster.events.index(f"ready? {replica}") < cluster.events.index(first_node)


def test_a_stage_that_never_answers_delays_the_next_by_the_stage_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_cluster, "STAGE_WAIT_SECONDS", 0.3)
    layout = _layout(tmp_path)
    cluster = _Recorder(layout, up=set(layout.etcd_names()))  # no replica gets ready
    started = time.monotonic()
    cluster.start()
    assert time.monotonic() - started >= 0.3  # waited out the stage
    assert cluster.events.count(f"ready? {layout.metadata_names()[0]}") > 1  # kept asking
    assert cluster.events[-1] == "start gateway"  # everything was started anyway


def test_a_process_that_exited_ends_its_stage_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_cluster, "STAGE_WAIT_SECONDS", 60.0)
    layout = _layout(tmp_path)
    cluster = _Recorder(
        layout, up=set(layout.metadata_names()), exited=frozenset(layout.etcd_names())
    )
    cluster.start()
    # an exited member is not asked (the stage ends at once; wait_ready reports the exit)
    assert not [e for e in cluster.events if e.startswith("serves?")]
    assert cluster.events[-1] == "start gateway"


def test_named_roles_start_alone_in_the_same_order(tmp_path: Path) -> None:
    """What the tests that restart etcd and metadata use; a layout whose
    storage classes do not fit is fine when the gateway is not started."""
    layout = Layout(data_dir=tmp_path, zones=1, nodes_per_zone=1)
    cluster = _Recorder(layout, up={*layout.etcd_names(), *layout.metadata_names()})
    cluster.start([*layout.metadata_names(), *layout.etcd_names()])
    starts = [e.removeprefix("start ") for e in cluster.events if e.startswith("start ")]
    assert starts == [*layout.etcd_names(), *layout.metadata_names()]
    with pytest.raises(StorageClassError):  # with the gateway, the classes must fit
        cluster.start()
