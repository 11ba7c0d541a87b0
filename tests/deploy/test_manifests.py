"""The rendered Kubernetes manifests, checked against the Kubernetes API
schemas and against the code they run.

Every overlay is rendered by the real kustomize; every object is validated
offline (kubernetes-validate, strict: unknown fields are errors) for the oldest
and the newest Kubernetes we support; then the invariants that make a
deployment work and stay durable are checked on the render: zone spread,
disruption budgets, network reachability, probes on the paths and ports the
code serves, sub-commands and settings the console script really has.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import subprocess
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import prometheus_client
import pytest
from aiohttp import web

from cli.main import build_parser
from gateway import main as gateway_main
from metadata import main as metadata_main
from node import main as node_main
from service.ops_http import add_ops_routes
from tessera import config, placement, storage_class
from tessera.geometry import Geometry
from tests.deploy import dockerfile
from tests.deploy.manifests import OVERLAYS, REPO, Manifests, Obj, Pod, labels_match
from tests.deploy.pods import container_argv, container_env, expand, is_tessera_image

Render = Callable[[str], Manifests]

KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.latest_version())  # minDomains is GA from 1.30
NOT_IN_KUBERNETES_SCHEMAS = {"ServiceMonitor"}  # a CRD: checked by test_service_monitor
ZONE_LABEL = "topology.kubernetes.io/zone"
ROLES = ("metadata", "node", "gateway")

overlays = pytest.mark.parametrize("overlay", OVERLAYS)


def settings_type(role: str) -> type[config.CommonSettings]:
    return build_parser().parse_args([role]).settings_type  # type: ignore[no-any-return]


def tessera_pods(m: Manifests) -> list[Pod]:
    return [p for p in m.pods() if is_tessera_image(p.containers[0]["image"])]


def env_of(m: Manifests, pod: Pod) -> dict[str, str]:
    return container_env(m, pod, pod.containers[0])


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def resolve_port(pod: Pod, port: int | str) -> int:
    return pod.container_ports()[port] if isinstance(port, str) else int(port)


def test_every_overlay_is_tested() -> None:
    assert {"dev", "production"} <= set(OVERLAYS)


# ------------------------------------------------------------ schemas


@overlays
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_for_kubernetes(overlay: str, version: str, rendered: Render) -> None:
    problems = []
    for obj in rendered(overlay).objects:
        if obj["kind"] in NOT_IN_KUBERNETES_SCHEMAS:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = "/".join(str(p) for p in exc.path)
            problems.append(f"{obj['kind']}/{obj['metadata']['name']} {where}: {exc.message}")
    assert not problems, "\n".join(problems)


def test_the_schema_check_rejects_mistakes(rendered: Render) -> None:
    """The validation above is not vacuous: typical slips are caught."""
    deployment = rendered("dev").get("Deployment", "tessera-gateway")
    version = KUBERNETES_VERSIONS[-1]
    kubernetes_validate.validate(deployment, version, strict=True)
    unknown_field = copy.deepcopy(deployment)
    unknown_field["spec"]["template"]["spec"]["containers"][0]["readynessProbe"] = {}
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "s3"
    for broken in (unknown_field, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, version, strict=True)


# ------------------------------------------------------------ commands and settings


@overlays
def test_tessera_containers_run_a_real_role_of_the_console_script(
    overlay: str, rendered: Render
) -> None:
    m = rendered(overlay)
    seen = set()
    for pod in tessera_pods(m):
        argv = container_argv(pod.containers[0], env_of(m, pod))
        assert argv[0] == "tessera", (pod.name, argv)
        args = build_parser().parse_args(argv[1:])  # exits on an unknown sub-command or flag
        assert args.command == pod.component, (pod.name, argv)
        seen.add(args.command)
    assert seen == set(ROLES)
    images = {p.containers[0]["image"] for p in tessera_pods(m)}
    assert len(images) == 1, f"one image for every role: {images}"


@overlays
def test_every_variable_is_a_setting_of_its_role(overlay: str, rendered: Render) -> None:
    m = rendered(overlay)
    for pod in tessera_pods(m):
        kind = settings_type(pod.component)
        known = {config.env_name(f.name) for f in dataclasses.fields(kind)}
        env = env_of(m, pod)
        unknown = set(env) - known
        assert not unknown, f"{pod.name}: {sorted(unknown)} are not settings of {pod.component}"
        settings: Any = config.load(kind, {}, env)  # converts every value to its type
        if pod.component == "gateway":
            Geometry(settings.data_shards, settings.parity_shards, settings.chunk_size_bytes)
            assert settings.access_key and settings.secret_key
        assert settings.cluster_secret, f"{pod.name}: internal gRPC without the cluster secret"


@overlays
def test_every_variable_reference_is_defined_before_use(overlay: str, rendered: Render) -> None:
    """Kubernetes expands $(VAR) only for variables defined earlier in the list;
    anything else reaches the process as the literal text."""
    m = rendered(overlay)
    for pod in m.pods():
        for name, value in env_of(m, pod).items():
            assert "$(" not in value, f"{pod.name}: {name}={value!r} is not expanded"
        argv = container_argv(pod.containers[0], env_of(m, pod))
        assert not any("$(" in a for a in argv), (pod.name, argv)
    assert expand("$(A)-$(B)-$$(A)", {"A": "1"}) == "1-$(B)-$(A)"  # the rule itself


@overlays
def test_config_and_secret_references_exist(overlay: str, rendered: Render) -> None:
    m = rendered(overlay)
    for pod in m.pods():
        for var in pod.containers[0].get("env", []):
            for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                ref = var.get("valueFrom", {}).get(key)
                if ref:
                    data = m.get(kind, ref["name"]).get("data", {})
                    assert ref["key"] in data, (
                        f"{pod.name}: {kind} {ref['name']} lacks {ref['key']}"
                    )
                    assert not ref.get("optional"), (
                        f"{pod.name}: {var['name']} must not be optional"
                    )


# ------------------------------------------------------------ ports and probes


def served_ops_paths() -> set[str]:
    app = web.Application()

    async def ready() -> str | None:
        return None

    add_ops_routes(app, ready)
    return {r.resource.canonical for r in app.router.routes() if r.method == "GET" and r.resource}


@overlays
def test_probes_hit_paths_and_ports_the_code_serves(overlay: str, rendered: Render) -> None:
    m = rendered(overlay)
    served = served_ops_paths()
    assert {"/readyz", "/healthz", "/metrics"} <= served
    for pod in m.pods():
        container = pod.containers[0]
        probes = {k: container.get(k) for k in ("readinessProbe", "livenessProbe", "startupProbe")}
        assert probes["readinessProbe"] and probes["livenessProbe"], pod.name
        if pod.component == "etcd":
            metrics_url = env_of(m, pod)["ETCD_LISTEN_METRICS_URLS"]
            for probe in filter(None, probes.values()):
                assert resolve_port(pod, probe["httpGet"]["port"]) == port_of(metrics_url)
                assert probe["httpGet"]["path"].split("?")[0] == "/health"
            continue
        ops_port = port_of(env_of(m, pod)["TESSERA_HTTP_LISTEN"])
        expected = {
            "readinessProbe": "/readyz",
            "livenessProbe": "/healthz",
            "startupProbe": "/healthz",
        }
        for kind, probe in probes.items():
            if probe is None:
                continue
            get = probe["httpGet"]
            assert get["path"] == expected[kind] and get["path"] in served, (pod.name, kind)
            assert resolve_port(pod, get["port"]) == ops_port, (pod.name, kind)


@overlays
def test_listen_addresses_are_the_declared_ports(overlay: str, rendered: Render) -> None:
    m = rendered(overlay)
    main_port = {"gateway": "s3", "metadata": "grpc", "node": "grpc"}
    for pod in tessera_pods(m):
        env = env_of(m, pod)
        ports = pod.container_ports()
        listens = [("TESSERA_LISTEN", main_port[pod.component]), ("TESSERA_HTTP_LISTEN", "ops")]
        if pod.component == "gateway":
            listens.append(("TESSERA_WEBSITE_LISTEN", "website"))
        for var, name in listens:
            host, port = config.host_port(env[var])
            assert host == "0.0.0.0", f"{pod.name}: {var} must accept other pods"
            assert port == ports[name], f"{pod.name}: {var} is not the port named {name}"


@overlays
def test_services_select_pods_and_their_ports(overlay: str, rendered: Render) -> None:
    m = rendered(overlay)
    for svc in m.of_kind("Service"):
        pods = m.selected_by(svc["spec"]["selector"])
        assert pods, f"Service {svc['metadata']['name']} selects no pod"
        for sp in svc["spec"]["ports"]:
            for pod in pods:
                assert sp["targetPort"] in pod.container_ports(), (
                    svc["metadata"]["name"],
                    pod.name,
                )


@overlays
def test_gateway_service_and_autoscaler(overlay: str, rendered: Render) -> None:
    m = rendered(overlay)
    deployment = m.get("Deployment", "tessera-gateway")
    assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
    hpa = m.get("HorizontalPodAutoscaler", "tessera-gateway")
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["kind"], ref["name"]) == ("Deployment", "tessera-gateway")
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    service = m.get("Service", "tessera-gateway")
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["s3"]
    assert "clusterIP" not in service["spec"], "the S3 Service balances over gateways"
    website = m.get("Service", "tessera-website")
    assert [p["targetPort"] for p in website["spec"]["ports"]] == ["website"]
    assert "clusterIP" not in website["spec"], "the website Service balances over gateways"


@overlays
def test_termination_grace_covers_each_roles_own_shutdown(overlay: str, rendered: Render) -> None:
    m = rendered(overlay)
    own_grace = {
        # preStop pause, then the drain, then closing what is left
        "gateway": gateway_main.SHUTDOWN_GRACE_SECONDS + gateway_main.CLOSE_TIMEOUT_SECONDS,
        "node": node_main.STOP_GRACE_SECONDS,
        "metadata": metadata_main.SHUTDOWN_GRACE_SECONDS,
    }
    for pod in tessera_pods(m):
        needed = own_grace[pod.component] + 5  # closing the state, the executor, the logs
        pre_stop = pod.containers[0].get("lifecycle", {}).get("preStop")
        if pre_stop:
            command = pre_stop["exec"]["command"]
            assert command[0] == "sleep", pre_stop
            needed += float(command[1])
        assert pod.spec["terminationGracePeriodSeconds"] >= needed, (pod.name, needed)
    gateway = m.pods_of("gateway")[0].containers[0]
    assert gateway["lifecycle"]["preStop"], "the gateway must leave the Service before it stops"


# ------------------------------------------------------------ identity, zones, durability


@overlays
def test_nodes_name_and_place_themselves(overlay: str, rendered: Render) -> None:
    m = rendered(overlay)
    nodes = m.pods_of("node")
    assert nodes
    for pod in nodes:
        env = env_of(m, pod)
        service = pod.workload["spec"]["serviceName"]
        assert env["TESSERA_NODE_ID"] == pod.name
        grpc = pod.container_ports()["grpc"]
        assert env["TESSERA_ADVERTISE_ADDRESS"] == f"{pod.name}.{service}:{grpc}"
        headless = m.get("Service", service)
        assert headless["spec"]["clusterIP"] == "None"
        assert headless["spec"].get("publishNotReadyAddresses"), "registered before ready"
        assert labels_match(headless["spec"]["selector"], pod.labels)
        assert env["TESSERA_ZONE"] == pod.labels["tessera.io/zone"]
        terms = (
            pod.spec.get("affinity", {})
            .get("nodeAffinity", {})
            .get("requiredDuringSchedulingIgnoredDuringExecution", {})
            .get("nodeSelectorTerms", [])
        )
        zones = [
            e["values"] for t in terms for e in t["matchExpressions"] if e["key"] == ZONE_LABEL
        ]
        if m.overlay == "production":
            assert zones == [[env["TESSERA_ZONE"]]], f"{pod.name} is not pinned to its zone"
        else:
            assert zones in ([], [[env["TESSERA_ZONE"]]])


@overlays
def test_replicas_are_listed_where_they_are_dialled(overlay: str, rendered: Render) -> None:
    m = rendered(overlay)
    metadata = m.pods_of("metadata")
    expected = {
        f"{p.name}.{p.workload['spec']['serviceName']}:{p.container_ports()['grpc']}"
        for p in metadata
    }
    for pod in m.pods_of("gateway") + m.pods_of("node"):
        listed = env_of(m, pod)["TESSERA_METADATA_ADDRESS"].split(",")
        assert set(listed) == expected and len(listed) == len(expected), pod.name
    for pod in metadata:
        env = env_of(m, pod)
        assert env["TESSERA_REPLICA_ID"] == pod.name
        assert env["TESSERA_ADVERTISE_ADDRESS"] in expected
        assert env["TESSERA_ADVERTISE_ADDRESS"].startswith(pod.name + ".")
    etcd = m.pods_of("etcd")
    if not etcd:
        return
    endpoints = {
        f"http://{p.name}.{p.workload['spec']['serviceName']}:{p.container_ports()['client']}"
        for p in etcd
    }
    members = {
        f"{p.name}=http://{p.name}.{p.workload['spec']['serviceName']}:{p.container_ports()['peer']}"
        for p in etcd
    }
    for pod in metadata:
        assert set(env_of(m, pod)["TESSERA_ETCD_ENDPOINTS"].split(",")) == endpoints
    for pod in etcd:
        env = env_of(m, pod)
        assert env["ETCD_NAME"] == pod.name
        assert set(env["ETCD_INITIAL_CLUSTER"].split(",")) == members
        assert env["ETCD_INITIAL_ADVERTISE_PEER_URLS"] in {x.split("=", 1)[1] for x in members}


def spread_over_zones(pod: Pod) -> bool:
    for c in pod.spec.get("topologySpreadConstraints", []):
        if (
            c["topologyKey"] == ZONE_LABEL
            and c["maxSkew"] == 1
            and c["whenUnsatisfiable"] == "DoNotSchedule"
            and labels_match(c["labelSelector"]["matchLabels"], pod.labels)
        ):
            return True
    return False


def test_production_spreads_everything_over_three_zones(rendered: Render) -> None:
    m = rendered("production")
    zones: dict[str, int] = {}
    for pod in m.pods_of("node"):
        zone = env_of(m, pod)["TESSERA_ZONE"]
        zones[zone] = zones.get(zone, 0) + 1
    assert len(zones) == 3 and len(set(zones.values())) == 1, zones
    for component in ("metadata", "etcd"):
        pods = m.pods_of(component)
        assert len(pods) == len(zones), f"{component}: one replica per zone"
        for pod in pods:
            assert spread_over_zones(pod), f"{pod.name} is not spread one per zone"
            assert pod.workload["spec"]["template"]["spec"]["topologySpreadConstraints"][0][
                "minDomains"
            ] == len(zones)


@overlays
def test_geometry_survives_what_the_layout_allows(overlay: str, rendered: Render) -> None:
    """Losing a whole zone keeps every object readable with a spare shard; a
    rolling update of all zones at once (one node per zone down, which the
    per-zone StatefulSets allow) keeps every object readable and writable."""
    m = rendered(overlay)
    gateway: Any = config.load(
        config.GatewaySettings,
        {},
        {
            k: v
            for k, v in env_of(m, m.pods_of("gateway")[0]).items()
            if k in {config.env_name(f.name) for f in dataclasses.fields(config.GatewaySettings)}
        },
    )
    geometry = Geometry(gateway.data_shards, gateway.parity_shards, gateway.chunk_size_bytes)
    per_zone: dict[str, int] = {}
    for pod in m.pods_of("node"):
        zone = env_of(m, pod)["TESSERA_ZONE"]
        per_zone[zone] = per_zone.get(zone, 0) + 1
    nodes = sum(per_zone.values())
    n, k = geometry.total_shards, geometry.data_shards
    assert n <= nodes, "every shard of a stripe on its own node"
    assert len(per_zone) <= geometry.parity_shards, "one node per zone down: still readable"
    assert gateway.effective_write_quorum <= nodes - len(per_zone), "... and writable"
    if len(per_zone) > 1:
        cap = placement.zone_cap(geometry, len(per_zone))
        worst_zone = max(min(cap, count) for count in per_zone.values())
        assert n - worst_zone >= k + 1, f"a zone loss leaves {n - worst_zone} shards, k={k}"
    # Every storage class the gateway offers can be placed on the layout.
    classes = storage_class.parse_storage_classes(
        gateway.storage_classes, gateway.data_shards, gateway.parity_shards
    )
    storage_class.check_layout(classes, per_zone)


@overlays
def test_disruption_budgets(overlay: str, rendered: Render) -> None:
    m = rendered(overlay)
    budgets = m.of_kind("PodDisruptionBudget")
    for workload in m.workloads():
        name = workload["metadata"]["name"]
        pods = [p for p in m.pods() if p.workload is workload]
        covering = [
            b for b in budgets if labels_match(b["spec"]["selector"]["matchLabels"], pods[0].labels)
        ]
        assert len(covering) == 1, f"{name}: {len(covering)} PodDisruptionBudgets"
        budget = covering[0]
        others = [
            p
            for p in m.selected_by(budget["spec"]["selector"]["matchLabels"])
            if p.workload is not workload
        ]
        assert not others, f"{budget['metadata']['name']} also covers {[p.name for p in others]}"
        assert budget["spec"].get("maxUnavailable") == 1, budget["metadata"]["name"]
        if pods[0].component == "node":
            assert "tessera.io/zone" in budget["spec"]["selector"]["matchLabels"]
        replicas = m.replicas(workload)
        if pods[0].component in ("metadata", "etcd") and replicas >= 3:
            assert replicas - 1 >= replicas // 2 + 1, "a majority stays up"


@overlays
def test_state_lives_on_persistent_volumes(overlay: str, rendered: Render) -> None:
    m = rendered(overlay)
    data_var = {"metadata": "TESSERA_DATA_DIR", "node": "TESSERA_DATA_DIR", "etcd": "ETCD_DATA_DIR"}
    for pod in m.pods():
        container = pod.containers[0]
        claims = {
            t["metadata"]["name"] for t in pod.workload["spec"].get("volumeClaimTemplates", [])
        }
        empty_dirs = {v["name"] for v in pod.spec.get("volumes", []) if "emptyDir" in v}
        secrets = {v["name"] for v in pod.spec.get("volumes", []) if "secret" in v}
        for mount in container.get("volumeMounts", []):
            assert mount["name"] in claims | empty_dirs | secrets, f"{pod.name}: {mount['name']}"
            if mount["name"] in secrets:  # a Secret (the master key) is only ever read
                assert mount.get("readOnly"), f"{pod.name}: {mount['name']} is writable"
        if pod.component not in data_var:
            assert not claims, f"{pod.name}: the gateway is stateless"
            continue
        assert pod.workload["kind"] == "StatefulSet"
        data_dir = env_of(m, pod)[data_var[pod.component]]
        on_claim = [
            mt
            for mt in container["volumeMounts"]
            if mt["name"] in claims
            and (data_dir + "/").startswith(mt["mountPath"].rstrip("/") + "/")
        ]
        assert on_claim, f"{pod.name}: {data_dir} is not on a PersistentVolume"
        # Below the mount, not at it: metadata swaps in a checkpoint by renaming
        # a sibling <data dir>.incoming, and takes checkpoints beside the data
        # dir (metadata/checkpoint.py); both must be on the same volume.
        assert data_dir.rstrip("/") != on_claim[0]["mountPath"].rstrip("/"), pod.name


# ------------------------------------------------------------ security


@overlays
def test_pods_run_restricted(overlay: str, rendered: Render) -> None:
    m = rendered(overlay)
    image_user = dockerfile.parse().final.last("USER")
    assert image_user is not None
    image_uid = int(image_user.text.split(":")[0])
    for pod in m.pods():
        spec = pod.spec
        assert spec["securityContext"]["runAsNonRoot"] is True, pod.name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", pod.name
        assert spec["enableServiceLinks"] is False, f"{pod.name}: Service links look like settings"
        assert spec["automountServiceAccountToken"] is False, pod.name
        for c in spec["containers"] + spec.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, pod.name
            assert sc["allowPrivilegeEscalation"] is False, pod.name
            assert sc["capabilities"] == {"drop": ["ALL"]}, pod.name
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), (pod.name, kind)
            tag = c["image"].rsplit("/", 1)[-1]
            assert ":" in tag and not tag.endswith(":latest"), f"{pod.name}: pin {c['image']}"
        if is_tessera_image(pod.containers[0]["image"]):
            assert spec["securityContext"]["runAsUser"] == image_uid, pod.name
    namespace = m.of_kind("Namespace")
    assert [n["metadata"]["name"] for n in namespace] == [m.namespace]
    assert namespace[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_production_secrets_stay_out_of_git() -> None:
    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)

    if git("rev-parse", "--is-inside-work-tree").returncode != 0:
        pytest.skip("not a git checkout")
    secrets = "deploy/k8s/overlays/production/secrets"
    assert git("check-ignore", "-q", f"{secrets}/s3-root.env").returncode == 0
    assert git("check-ignore", "-q", f"{secrets}/cluster-secret.env").returncode == 0
    assert git("ls-files", secrets).stdout.split() == [f"{secrets}/README.md"]
    dev = "deploy/k8s/overlays/dev/secrets/s3-root.env"
    assert git("check-ignore", "-q", dev).returncode == 1  # fixed, public, dev-only


# ------------------------------------------------------------ network policies


@dataclasses.dataclass(frozen=True)
class Peer:
    name: str
    labels: tuple[tuple[str, str], ...]
    namespace_labels: tuple[tuple[str, str], ...]
    same_namespace: bool


def peer_matches(rule_peer: Obj, source: Peer) -> bool:
    assert "ipBlock" not in rule_peer, "ipBlock rules are not modelled"
    pod_sel = rule_peer.get("podSelector")
    ns_sel = rule_peer.get("namespaceSelector")
    for sel in (pod_sel, ns_sel):
        assert sel is None or set(sel) <= {"matchLabels"}, "only matchLabels is modelled"
    if ns_sel is None:
        namespace_ok = source.same_namespace
    else:
        namespace_ok = labels_match(ns_sel.get("matchLabels", {}), dict(source.namespace_labels))
    pod_ok = pod_sel is None or labels_match(pod_sel.get("matchLabels", {}), dict(source.labels))
    return namespace_ok and pod_ok


def ingress_allowed(m: Manifests, source: Peer, target: Pod, port: int) -> bool:
    """NetworkPolicy semantics (matchLabels, named and numbered ports)."""
    policies = [
        p
        for p in m.of_kind("NetworkPolicy")
        if labels_match(p["spec"]["podSelector"].get("matchLabels", {}), target.labels)
        and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
    ]
    if not policies:
        return True
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            ports = rule.get("ports")
            if ports and not any(resolve_port(target, p["port"]) == port for p in ports):
                continue
            peers = rule.get("from")
            if not peers or any(peer_matches(p, source) for p in peers):
                return True
    return False


@overlays
def test_network_policies_allow_exactly_the_paths_tessera_uses(
    overlay: str, rendered: Render
) -> None:
    m = rendered(overlay)
    own_ns = (("kubernetes.io/metadata.name", m.namespace),)
    sources = [
        Peer("outside", (), (("kubernetes.io/metadata.name", "elsewhere"),), False),
        Peer("stranger", (("app", "other"),), own_ns, True),
        Peer("monitoring", (), (("kubernetes.io/metadata.name", "monitoring"),), False),
    ]
    components = sorted({p.component for p in m.pods()})
    for component in components:
        pod = m.pods_of(component)[0]
        sources.append(Peer(component, tuple(sorted(pod.labels.items())), own_ns, True))
    expected = {("gateway", port, s.name) for s in sources for port in ("s3", "website")}
    expected |= {(c, port, "monitoring") for c in components for port in ("ops", "metrics")}
    expected |= {
        ("metadata", "grpc", "gateway"),
        ("metadata", "grpc", "node"),
        ("metadata", "grpc", "metadata"),
        ("node", "grpc", "gateway"),
        ("node", "grpc", "node"),
        ("etcd", "client", "metadata"),
        ("etcd", "peer", "etcd"),
    }
    actual = set()
    for component in components:
        target = m.pods_of(component)[0]
        for port_name, number in target.container_ports().items():
            for source in sources:
                if ingress_allowed(m, source, target, number):
                    actual.add((component, port_name, source.name))
    expected = {e for e in expected if e[0] in components and e[2] in {s.name for s in sources}}
    expected = {e for e in expected if e[1] in m.pods_of(e[0])[0].container_ports()}
    assert actual == expected, f"unexpected: {actual - expected}; missing: {expected - actual}"


# ------------------------------------------------------------ monitoring


@overlays
def test_service_monitor_scrapes_every_role(overlay: str, rendered: Render) -> None:
    m = rendered(overlay)
    (monitor,) = m.of_kind("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    spec = monitor["spec"]
    endpoint_ports = {e["port"] for e in spec["endpoints"]}
    assert all(e.get("path", "/metrics") == "/metrics" for e in spec["endpoints"])
    selected = [
        s
        for s in m.of_kind("Service")
        if labels_match(spec["selector"]["matchLabels"], s["metadata"].get("labels", {}))
    ]
    scraped_components = set()
    for svc in selected:
        names = {p["name"] for p in svc["spec"]["ports"]} & endpoint_ports
        assert names, f"{svc['metadata']['name']} is selected but has no scraped port"
        for pod in m.selected_by(svc["spec"]["selector"]):
            scraped_components.add(pod.component)
    assert scraped_components == {p.component for p in m.pods()}
    s3 = m.get("Service", "tessera-gateway")
    assert s3 not in selected and "ops" not in {p["name"] for p in s3["spec"]["ports"]}


def registered_metric_names() -> set[str]:
    import gateway.metrics  # noqa: F401  (registers the role's metrics)
    import metadata.metrics  # noqa: F401
    import node.metrics  # noqa: F401
    import service.loop_lag  # noqa: F401  (every role's event-loop lag)

    names = set()
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_sum", "_count"),
        "gauge": ("",),
        "summary": ("_sum", "_count", ""),
    }
    for family in prometheus_client.REGISTRY.collect():
        for suffix in suffixes.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


@overlays
def test_dashboard_queries_metrics_the_code_exports(overlay: str, rendered: Render) -> None:
    m = rendered(overlay)
    cm = m.get("ConfigMap", "tessera-grafana-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(cm["data"]["tessera.json"])
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 10
    used = {n for e in exprs for n in re.findall(r"\b(tessera_[a-z0-9_]+)", e)}
    missing = used - registered_metric_names()
    assert not missing, f"the dashboard queries metrics nothing exports: {sorted(missing)}"
    for role in ROLES:
        assert any(n.startswith(f"tessera_{role}_") for n in used), f"no {role} panel"
