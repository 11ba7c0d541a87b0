"""The rendered Kubernetes manifests of deploy/k8s, and lookups over them.

render(overlay, workdir) runs the real kustomize (`kubectl kustomize`, or a
standalone `kustomize build`) on a copy of deploy/k8s in which
generate-secrets.sh has written any Secret inputs the overlay lacks, exactly as
an operator does before the first apply.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())

Obj = dict[str, Any]


def kustomize_command(directory: Path) -> list[str]:
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize", str(directory)]
    if kustomize := shutil.which("kustomize"):
        return [kustomize, "build", str(directory)]
    raise RuntimeError(
        "neither kubectl nor kustomize is on PATH: the manifests cannot be rendered "
        "(install kubectl, which embeds kustomize)"
    )


def render(overlay: str, workdir: Path) -> Manifests:
    copy = workdir / "k8s"
    if not copy.exists():
        shutil.copytree(K8S, copy)
    overlay_dir = copy / "overlays" / overlay
    subprocess.run(
        ["sh", str(copy / "generate-secrets.sh"), str(overlay_dir)],
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        kustomize_command(overlay_dir), check=True, capture_output=True, text=True
    ).stdout
    return Manifests(overlay, [d for d in yaml.safe_load_all(out) if d])


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@dataclass
class Pod:
    """One pod a workload makes: its name, template and the workload."""

    name: str
    ordinal: int
    workload: Obj

    @property
    def template(self) -> Obj:
        return self.workload["spec"]["template"]  # type: ignore[no-any-return]

    @property
    def spec(self) -> Obj:
        return self.template["spec"]  # type: ignore[no-any-return]

    @property
    def labels(self) -> dict[str, str]:
        return self.template["metadata"]["labels"]  # type: ignore[no-any-return]

    @property
    def component(self) -> str:
        return self.labels["app.kubernetes.io/component"]

    @property
    def containers(self) -> list[Obj]:
        return self.spec["containers"]  # type: ignore[no-any-return]

    def container_ports(self) -> dict[str, int]:
        """Named container ports of all containers."""
        return {
            p["name"]: int(p["containerPort"])
            for c in self.containers
            for p in c.get("ports", [])
            if "name" in p
        }


class Manifests:
    def __init__(self, overlay: str, objects: list[Obj]) -> None:
        self.overlay = overlay
        self.objects = objects

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> Obj:
        for o in self.of_kind(kind):
            if o["metadata"]["name"] == name:
                return o
        raise KeyError(f"no {kind} {name} in the {self.overlay} render")

    @property
    def namespace(self) -> str:
        namespaces = {
            o["metadata"].get("namespace") for o in self.objects if o["kind"] != "Namespace"
        }
        assert len(namespaces) == 1, namespaces
        return str(namespaces.pop())

    def workloads(self) -> list[Obj]:
        return [o for o in self.objects if o["kind"] in ("StatefulSet", "Deployment")]

    def replicas(self, workload: Obj) -> int:
        """Pods a workload runs: its replicas, or its autoscaler's minimum."""
        for hpa in self.of_kind("HorizontalPodAutoscaler"):
            ref = hpa["spec"]["scaleTargetRef"]
            if (ref["kind"], ref["name"]) == (workload["kind"], workload["metadata"]["name"]):
                return int(hpa["spec"].get("minReplicas", 1))
        return int(workload["spec"].get("replicas", 1))

    def pods(self) -> Iterator[Pod]:
        for w in self.workloads():
            for i in range(self.replicas(w)):
                # StatefulSet pods are <name>-<ordinal>; Deployment pods get a
                # random suffix, any stable stand-in will do.
                yield Pod(f"{w['metadata']['name']}-{i}", i, w)

    def pods_of(self, component: str) -> list[Pod]:
        return [p for p in self.pods() if p.component == component]

    def services_selecting(self, pod: Pod) -> list[Obj]:
        return [
            s
            for s in self.of_kind("Service")
            if s["spec"].get("selector") and labels_match(s["spec"]["selector"], pod.labels)
        ]

    def selected_by(self, selector: dict[str, str]) -> list[Pod]:
        return [p for p in self.pods() if labels_match(selector, p.labels)]

    def config_value(self, kind: str, name: str, key: str) -> str:
        obj = self.get(kind, name)
        if kind == "Secret":
            if key in obj.get("stringData", {}):
                return str(obj["stringData"][key])
            return base64.b64decode(obj["data"][key]).decode()
        return str(obj["data"][key])
