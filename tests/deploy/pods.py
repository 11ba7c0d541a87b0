"""What each pod of the rendered manifests runs, and running it on loopback.

container_argv and container_env apply Kubernetes' own rules to a container
spec: command/args over the image's ENTRYPOINT/CMD; envFrom, then env in
order, valueFrom (fieldRef, configMapKeyRef, secretKeyRef) and $(VAR)
expansion of earlier variables only. Loopback then changes exactly two kinds of
thing in the result, because every pod shares one host here: addresses (each
pod's ports become free ports on 127.0.0.1, and the cluster DNS names of pods
and Services resolve to those) and paths (each volume mount becomes a folder
of the test). Everything else -- the command, the sub-command, every other
variable -- reaches the process as the manifests give it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from cli.local_cluster import free_ports
from tests.deploy import dockerfile
from tests.deploy.manifests import REPO, Manifests, Obj, Pod

TESSERA_IMAGE = re.compile(r"^(?:.*/)?tessera(?::[^/]*)?$")
CLUSTER_DOMAIN = "cluster.local"
_ADDRESS = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})\b")
_WILDCARDS = ("0.0.0.0", "[::]", "::")


def expand(value: str, defined: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: defined names are replaced, others kept
    as written; $$ is a literal $."""
    out: list[str] = []
    i = 0
    while i < len(value):
        if value.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        if value.startswith("$(", i) and (end := value.find(")", i + 2)) != -1:
            name = value[i + 2 : end]
            out.append(defined.get(name, value[i : end + 1]))
            i = end + 1
            continue
        out.append(value[i])
        i += 1
    return "".join(out)


def is_tessera_image(image: str) -> bool:
    return bool(TESSERA_IMAGE.match(image))


def container_argv(container: Obj, env: dict[str, str]) -> list[str]:
    """The argv the container runs: command replaces the image's ENTRYPOINT,
    args its CMD (the image is the root Dockerfile's for Tessera containers;
    other images must name their command)."""
    if is_tessera_image(container["image"]):
        image = dockerfile.parse()
        entrypoint, cmd = image.entrypoint(), image.cmd()
    else:
        assert "command" in container, (
            f"{container['name']}: name the command of {container['image']}"
        )
        entrypoint, cmd = [], []
    if "command" in container:
        argv = list(container["command"]) + list(container.get("args", []))
    elif "args" in container:
        argv = entrypoint + list(container["args"])
    else:
        argv = entrypoint + cmd
    return [expand(a, env) for a in argv]


def field_value(path: str, pod: Pod, manifests: Manifests) -> str:
    if path == "metadata.name":
        return pod.name
    if path == "metadata.namespace":
        return manifests.namespace
    if path in ("status.podIP", "status.hostIP"):
        return "127.0.0.1"
    if path == "spec.nodeName":
        return "localhost"
    m = re.fullmatch(r"metadata\.labels\['(.+)'\]", path)
    if m:
        return pod.labels[m.group(1)]
    raise AssertionError(f"fieldRef {path} is not supported by this test")


def container_env(manifests: Manifests, pod: Pod, container: Obj) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            cm = manifests.get("ConfigMap", source["configMapRef"]["name"])
            env.update({prefix + k: str(v) for k, v in cm.get("data", {}).items()})
        else:
            name = source["secretRef"]["name"]
            for key in manifests.get("Secret", name).get("data", {}):
                env[prefix + key] = manifests.config_value("Secret", name, key)
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = expand(str(var["value"]), env)
            continue
        ref = var.get("valueFrom", {})
        if "fieldRef" in ref:
            env[var["name"]] = field_value(ref["fieldRef"]["fieldPath"], pod, manifests)
        elif "configMapKeyRef" in ref:
            r = ref["configMapKeyRef"]
            env[var["name"]] = manifests.config_value("ConfigMap", r["name"], r["key"])
        elif "secretKeyRef" in ref:
            r = ref["secretKeyRef"]
            env[var["name"]] = manifests.config_value("Secret", r["name"], r["key"])
        else:
            raise AssertionError(f"{var['name']}: valueFrom {sorted(ref)} is not supported")
    return env


@dataclass
class Process:
    pod: Pod
    container: Obj
    argv: list[str]  # as Kubernetes runs it
    env: dict[str, str]  # as Kubernetes sets it
    local_argv: list[str] = field(default_factory=list)
    local_env: dict[str, str] = field(default_factory=dict)
    ready_url: str = ""
    popen: subprocess.Popen[bytes] | None = None

    @property
    def grace_seconds(self) -> float:
        return float(self.pod.spec.get("terminationGracePeriodSeconds", 30))


class Loopback:
    """The pods of a render as local processes on 127.0.0.1.

    Every pod of the render gets its loopback ports and names; only those of
    `components` are run (an address of a pod not run leads nowhere, as it
    would in a cluster where that pod is down)."""

    def __init__(self, manifests: Manifests, workdir: Path, components: set[str]) -> None:
        self.manifests = manifests
        self.workdir = workdir
        self.pods = list(manifests.pods())
        wanted = [(p.name, port) for p in self.pods for port in p.container_ports().values()]
        self.ports = dict(zip(wanted, free_ports(len(wanted)), strict=True))
        self.names = self._dns_names()
        self.processes = {p.name: self._plan(p) for p in self.pods if p.component in components}

    # ------------------------------------------------------------ addresses

    def _dns_names(self) -> dict[str, tuple[str, Obj | None]]:
        """Cluster DNS name -> (pod name, the Service when it is a Service name)."""
        ns = self.manifests.namespace
        names: dict[str, tuple[str, Obj | None]] = {}

        def add(short: str, target: tuple[str, Obj | None]) -> None:
            for name in (
                short,
                f"{short}.{ns}",
                f"{short}.{ns}.svc",
                f"{short}.{ns}.svc.{CLUSTER_DOMAIN}",
            ):
                names[name] = target

        for pod in self.pods:
            service_name = pod.workload["spec"].get("serviceName")
            if service_name is None:
                continue
            # <pod>.<service> exists only if that Service selects the pod.
            selecting = {s["metadata"]["name"] for s in self.manifests.services_selecting(pod)}
            if service_name in selecting:
                add(f"{pod.name}.{service_name}", (pod.name, None))
        for service in self.manifests.of_kind("Service"):
            selected = [p for p in self.pods if service in self.manifests.services_selecting(p)]
            if selected:
                add(service["metadata"]["name"], (selected[0].name, service))
        return names

    def local_port(self, pod_name: str, port: int, service: Obj | None) -> int:
        pod = next(p for p in self.pods if p.name == pod_name)
        if service is not None and service["spec"].get("ports"):
            matching = [sp for sp in service["spec"]["ports"] if int(sp["port"]) == port]
            assert matching, f"Service {service['metadata']['name']} has no port {port}"
            target = matching[0].get("targetPort", port)
            port = pod.container_ports()[target] if isinstance(target, str) else int(target)
        assert (pod_name, port) in self.ports, f"{pod_name} declares no container port {port}"
        return self.ports[(pod_name, port)]

    def translate(self, value: str, pod: Pod, container: Obj) -> str:
        def address(m: re.Match[str]) -> str:
            host, port = m.group("host"), int(m.group("port"))
            if host in _WILDCARDS:
                assert (pod.name, port) in self.ports, (
                    f"{pod.name} listens on undeclared port {port}"
                )
                return f"127.0.0.1:{self.ports[(pod.name, port)]}"
            if host in self.names:
                pod_name, service = self.names[host]
                return f"127.0.0.1:{self.local_port(pod_name, port, service)}"
            raise AssertionError(f"{pod.name}: {host}:{port} names nothing in the render")

        value = _ADDRESS.sub(address, value)
        for mount in container.get("volumeMounts", []):
            path = mount["mountPath"].rstrip("/")
            if value == path or value.startswith(path + "/"):
                local = self.workdir / "pods" / pod.name / mount["name"]
                local.mkdir(parents=True, exist_ok=True)
                self._fill_secret_volume(pod, mount["name"], local)
                value = str(local) + value[len(path) :]
        return value

    def _fill_secret_volume(self, pod: Pod, volume_name: str, local: Path) -> None:
        """A Secret volume holds one file per key of its Secret, as the kubelet writes it."""
        volume = next((v for v in pod.spec.get("volumes", []) if v["name"] == volume_name), {})
        if "secret" not in volume:  # a claim of volumeClaimTemplates, an emptyDir, ...
            return
        name = volume["secret"]["secretName"]
        for key in self.manifests.get("Secret", name).get("data", {}):
            (local / key).write_text(self.manifests.config_value("Secret", name, key))

    def url(self, host: str, port_name: str) -> str:
        """http://127.0.0.1:<port> for a Service or pod DNS name and a port name."""
        pod_name, service = self.names[host]
        pod = next(p for p in self.pods if p.name == pod_name)
        if service is None:
            return f"http://127.0.0.1:{self.ports[(pod_name, pod.container_ports()[port_name])]}"
        port = next(int(p["port"]) for p in service["spec"]["ports"] if p["name"] == port_name)
        return f"http://127.0.0.1:{self.local_port(pod_name, port, service)}"

    # ------------------------------------------------------------ processes

    def _plan(self, pod: Pod) -> Process:
        assert len(pod.containers) == 1, f"{pod.name}: one container per pod expected"
        container = pod.containers[0]
        env = container_env(self.manifests, pod, container)
        argv = container_argv(container, env)
        proc = Process(pod=pod, container=container, argv=argv, env=env)
        proc.local_env = {k: self.translate(v, pod, container) for k, v in env.items()}
        proc.local_argv = [
            self.local_program(argv[0]),
            *(self.translate(a, pod, container) for a in argv[1:]),
        ]
        probe = container.get("readinessProbe", {}).get("httpGet")
        if probe:
            port = probe["port"]
            number = pod.container_ports()[port] if isinstance(port, str) else int(port)
            proc.ready_url = f"http://127.0.0.1:{self.ports[(pod.name, number)]}{probe['path']}"
        return proc

    @staticmethod
    def local_program(program: str) -> str:
        if program == "tessera":
            # The console script of this checkout's environment.
            script = Path(sys.executable).with_name("tessera")
            assert script.exists(), f"{script}: the tessera console script is not installed"
            return str(script)
        if Path(program).name == "etcd" and os.environ.get("TESSERA_ETCD_BINARY"):
            return os.environ["TESSERA_ETCD_BINARY"]  # as scripts/bootstrap.sh allows
        found = shutil.which(Path(program).name)
        assert found, f"{program} is not installed here (scripts/bootstrap.sh installs etcd)"
        return found

    def start(self, name: str) -> None:
        proc = self.processes[name]
        pod_dir = self.workdir / "pods" / name
        pod_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(pod_dir),
            # Run this checkout's code whatever the environment's install points at.
            "PYTHONPATH": str(REPO),
        }
        if is_tessera_image(proc.container["image"]):
            env.update({k: v for k, v in dockerfile.parse().final.env().items() if k != "PATH"})
        env.update(proc.local_env)
        log = open(pod_dir / "log", "ab")
        proc.popen = subprocess.Popen(
            proc.local_argv,
            env=env,
            cwd=pod_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def start_all(self) -> None:
        for name in self.processes:  # all at once, in no order: as Kubernetes does
            self.start(name)

    def log(self, name: str) -> str:
        path = self.workdir / "pods" / name / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    def is_ready(self, name: str) -> bool:
        try:
            with urllib.request.urlopen(self.processes[name].ready_url, timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout_seconds: float, names: list[str] | None = None) -> None:
        pending = list(names or self.processes)
        deadline = time.monotonic() + timeout_seconds
        while pending:
            for name in list(pending):
                popen = self.processes[name].popen
                if popen is not None and popen.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {popen.returncode}:\n{self.log(name)[-3000:]}"
                    )
                if self.is_ready(name):
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                logs = "\n".join(f"--- {n}\n{self.log(n)[-1500:]}" for n in pending)
                raise TimeoutError(f"not ready after {timeout_seconds}s: {pending}\n{logs}")
            time.sleep(0.2)

    def stop(self, name: str) -> int | None:
        """SIGTERM, then the pod's terminationGracePeriodSeconds, then SIGKILL
        (what the kubelet does); the exit code, None if it had to be killed."""
        popen = self.processes[name].popen
        if popen is None:
            return None
        if popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(self.processes[name].grace_seconds)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
                return None
        return popen.returncode

    def kill_all(self) -> None:
        for proc in self.processes.values():
            if proc.popen is not None and proc.popen.poll() is None:
                proc.popen.kill()
                proc.popen.wait()

    def stop_order(self) -> list[str]:
        """Gateways first, then nodes, metadata, etcd: how a drain of the
        whole cluster goes when every PodDisruptionBudget is honoured."""
        rank = {"gateway": 0, "node": 1, "metadata": 2, "etcd": 3}
        return sorted(self.processes, key=lambda n: rank.get(self.processes[n].pod.component, 9))
