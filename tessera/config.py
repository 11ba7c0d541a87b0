"""Role settings, read from flags or TESSERA_* environment variables.

Each role has one frozen dataclass. A field ``metadata_address`` is set by the
flag ``--metadata-address`` or the variable ``TESSERA_METADATA_ADDRESS`` (the
flag wins); Kubernetes manifests use the same variable names. Parsing is pure:
callers pass the environment mapping in.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tessera import limits
from tessera.storage_class import write_quorum


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True)
class CommonSettings:
    cluster_secret: str = field(default="", metadata=_help("shared secret for internal gRPC"))
    log_level: str = field(default="INFO", metadata=_help("DEBUG, INFO, WARNING or ERROR"))


@dataclass(frozen=True)
class MetadataSettings(CommonSettings):
    data_dir: str = field(default="./data/metadata", metadata=_help("rocksdict state folder"))
    listen: str = field(default="127.0.0.1:9100", metadata=_help("gRPC host:port"))
    http_listen: str = field(
        default="127.0.0.1:9101", metadata=_help("host:port for /metrics, /healthz, /readyz")
    )
    node_down_grace_seconds: float = field(
        default=limits.NODE_DOWN_GRACE_DEFAULT_SECONDS,
        metadata=_help("heartbeat silence after which a node is marked down"),
    )
    group_commit_window_seconds: float = field(
        default=0.002, metadata=_help("how long a commit waits to batch concurrent writes")
    )
    record_cache_bytes: int = field(
        default=limits.RECORD_CACHE_BYTES_DEFAULT,
        metadata=_help(
            "memory for object records kept decoded, so GETs are answered on the event "
            "loop (0: every GET reads the database; docs/metadata.md)"
        ),
    )
    etcd_endpoints: str = field(
        default="",
        metadata=_help(
            "comma-separated etcd client URLs (http://host:2379,...): the shared log; "
            "empty: a single unreplicated replica"
        ),
    )
    etcd_prefix: str = field(default="/tessera", metadata=_help("prefix of every etcd key"))
    read_lease_seconds: float = field(
        default=2.0,
        metadata=_help(
            "read lease length: strong reads skip etcd while held, a write may wait up to "
            "this long for a lost holder; 0: every strong read asks etcd (docs/metadata.md)"
        ),
    )
    replica_id: str = field(
        default="", metadata=_help("stable, unique replica name (default: from listen)")
    )
    advertise_address: str = field(
        default="", metadata=_help("host:port other replicas dial (default: listen)")
    )
    peers: str = field(
        default="",
        metadata=_help(
            "comma-separated replica addresses to fetch a checkpoint from "
            "(default: the live replicas registered in etcd)"
        ),
    )
    compaction_interval_seconds: float = field(
        default=30.0, metadata=_help("how often the log is compacted behind every live replica")
    )
    compaction_min_revisions: int = field(
        default=1000, metadata=_help("compact only once this many revisions are behind")
    )
    repair_rate_bytes_per_second: float = field(
        default=limits.REPAIR_RATE_DEFAULT_BYTES_PER_SECOND,
        metadata=_help("bytes of shards rebuilt per second (runtime: `tessera admin repair rate`)"),
    )
    repair_scan_interval_seconds: float = field(
        default=10.0, metadata=_help("pause between scans of every version for repair")
    )
    gc_grace_seconds: float = field(
        default=limits.GC_GRACE_DEFAULT_SECONDS,
        metadata=_help("an unreferenced shard is removed only once its file is this old"),
    )
    gc_interval_seconds: float = field(
        default=300.0, metadata=_help("pause between GC passes over the nodes")
    )
    lifecycle_interval_seconds: float = field(
        default=limits.LIFECYCLE_INTERVAL_DEFAULT_SECONDS,
        metadata=_help("pause between lifecycle passes over the buckets with rules"),
    )
    lifecycle_day_seconds: float = field(
        default=limits.LIFECYCLE_DAY_DEFAULT_SECONDS,
        metadata=_help(
            "length of a lifecycle rule's day; lower it only to test rules (docs/lifecycle.md)"
        ),
    )
    lifecycle_actions_per_second: float = field(
        default=limits.LIFECYCLE_ACTIONS_PER_SECOND_DEFAULT,
        metadata=_help("lifecycle deletes and aborts submitted per second, at most"),
    )


@dataclass(frozen=True)
class NodeSettings(CommonSettings):
    node_id: str = field(default="", metadata=_help("stable node name (default: from data dir)"))
    zone: str = field(default="zone-a", metadata=_help("failure domain label"))
    data_dir: str = field(default="./data/node", metadata=_help("shard store folder"))
    listen: str = field(default="127.0.0.1:9200", metadata=_help("gRPC host:port"))
    advertise_address: str = field(
        default="", metadata=_help("host:port others dial (default: listen)")
    )
    http_listen: str = field(
        default="127.0.0.1:9201", metadata=_help("host:port for /metrics, /healthz, /readyz")
    )
    metadata_address: str = field(
        default="127.0.0.1:9100",
        metadata=_help("metadata gRPC host:port, or a comma-separated list of replicas"),
    )
    weight: float = field(default=1.0, metadata=_help("relative share of placements"))
    capacity_bytes: int = field(default=0, metadata=_help("0: the filesystem's size"))
    scrub_rate_bytes_per_second: float = field(
        default=limits.SCRUB_RATE_DEFAULT_BYTES_PER_SECOND,
        metadata=_help("bytes the scrubber re-reads per second (0: no scrubbing)"),
    )
    scrub_interval_seconds: float = field(
        default=limits.SCRUB_INTERVAL_DEFAULT_SECONDS,
        metadata=_help("time from the start of one scrub pass to the next"),
    )
    group_fsync: bool = field(
        default=True,
        metadata=_help(
            "concurrent commits into one folder share a folder fsync "
            "(false: one fsync each; for A/B benchmarks)"
        ),
    )
    spare_bytes: int = field(
        default=limits.SPARE_FILES_DEFAULT_BYTES,
        metadata=_help(
            "removed shard files kept, up to this many bytes, for new shards to be "
            "written over (0: unlink them; node/spares.py)"
        ),
    )


@dataclass(frozen=True)
class GatewaySettings(CommonSettings):
    listen: str = field(default="127.0.0.1:9000", metadata=_help("S3 HTTP host:port"))
    http_listen: str = field(
        default="127.0.0.1:9001",
        metadata=_help("host:port for /metrics, /healthz, /readyz and the console at /console/"),
    )
    metadata_address: str = field(
        default="127.0.0.1:9100",
        metadata=_help("metadata gRPC host:port, or a comma-separated list of replicas"),
    )
    access_key: str = field(default="", metadata=_help("root access key id"))
    secret_key: str = field(default="", metadata=_help("root secret access key"))
    region: str = field(default="us-east-1", metadata=_help("region name used in SigV4"))
    domain: str = field(
        default="", metadata=_help("comma-separated domains for bucket.<domain> addressing")
    )
    tls_cert_file: str = field(default="", metadata=_help("PEM certificate: serve HTTPS"))
    tls_key_file: str = field(default="", metadata=_help("PEM private key of tls_cert_file"))
    data_shards: int = field(default=limits.DATA_SHARDS_DEFAULT, metadata=_help("k"))
    parity_shards: int = field(default=limits.PARITY_SHARDS_DEFAULT, metadata=_help("m"))
    chunk_size_bytes: int = field(
        default=limits.CHUNK_SIZE_DEFAULT_BYTES, metadata=_help("bytes per shard per stripe")
    )
    storage_classes: str = field(
        default="",
        metadata=_help(
            "storage classes as NAME=k+m,... (e.g. STANDARD=5+4,REDUCED_REDUNDANCY=4+2); "
            "STANDARD defaults to data_shards+parity_shards; empty: STANDARD and the "
            "cheaper REDUCED_REDUNDANCY of docs/storage-classes.md"
        ),
    )
    write_quorum: int = field(
        default=0,
        metadata=_help("durable shards needed to commit (0: k + 1, at most n; for every class)"),
    )
    inline_max_bytes: int = field(
        default=limits.INLINE_DEFAULT_BYTES,
        metadata=_help(
            "objects of 1..this many bytes are kept in their metadata record, not in "
            f"shards (0: never; at most {limits.INLINE_MAX_BYTES})"
        ),
    )
    request_timeout_seconds: float = field(
        default=limits.REQUEST_TIMEOUT_DEFAULT_SECONDS, metadata=_help("deadline per request")
    )
    inflight_bytes_max: int = field(
        default=limits.INFLIGHT_BYTES_MAX_DEFAULT,
        metadata=_help("body bytes buffered across requests before 503 SlowDown"),
    )
    bucket_cache_seconds: float = field(
        default=limits.BUCKET_CACHE_SECONDS_DEFAULT,
        metadata=_help(
            "how long GET/HEAD may use a cached bucket record (owner, ACL, policy); "
            "another gateway's bucket change is seen within this (0: never cache)"
        ),
    )
    record_lease_bytes: int = field(
        default=limits.RECORD_LEASE_BYTES_DEFAULT,
        metadata=_help(
            "memory for object records GET/HEAD answer from under record leases granted "
            "by the metadata replica, without asking it (0: always ask)"
        ),
    )
    website_listen: str = field(
        default="",
        metadata=_help("host:port of the static website endpoint (anonymous, read-only; '' off)"),
    )
    website_domain: str = field(
        default="",
        metadata=_help("comma-separated domains for bucket.<domain> on the website endpoint"),
    )
    master_key_file: str = field(
        default="",
        metadata=_help(
            "file holding the cluster master key (32 bytes, base64 or hex) of SSE-S3 and "
            "SSE-KMS (docs/encryption.md); empty: only SSE-C is available"
        ),
    )
    usage_flush_seconds: float = field(
        default=10.0,
        metadata=_help(
            "how often request counters go to metadata (a crash loses at most this much)"
        ),
    )
    usage_retention_hours: int = field(
        default=90 * 24, metadata=_help("hours of hourly request usage records kept")
    )
    public_s3_url: str = field(
        default="",
        metadata=_help(
            "S3 endpoint URL as browsers reach it, for the console's links and uploads "
            "(default: the console's host name with the S3 port)"
        ),
    )

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(d.strip().lower().strip(".") for d in self.domain.split(",") if d.strip())

    @property
    def website_domains(self) -> tuple[str, ...]:
        return tuple(
            d.strip().lower().strip(".") for d in self.website_domain.split(",") if d.strip()
        )

    @property
    def effective_write_quorum(self) -> int:
        """The write quorum of STANDARD (storage_class.write_quorum gives any class's)."""
        return write_quorum(self.data_shards, self.parity_shards, self.write_quorum)


S = TypeVar("S", bound=CommonSettings)


def env_name(field_name: str) -> str:
    return "TESSERA_" + field_name.upper()


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser, settings_type: type[CommonSettings]) -> None:
    """Adds one optional flag per settings field (default: unset)."""
    for f in dataclasses.fields(settings_type):
        parser.add_argument(
            flag_name(f.name),
            dest=f.name,
            default=None,
            help=f"{f.metadata.get('help', '')} [{env_name(f.name)}; default {f.default!r}]",
        )


def _convert(value: str, kind: Any) -> Any:
    kind_name = kind if isinstance(kind, str) else kind.__name__
    if kind_name == "int":
        return int(value)
    if kind_name == "float":
        return float(value)
    if kind_name == "bool":
        return value.lower() in ("1", "true", "yes", "on")
    return value


def load(settings_type: type[S], flags: Mapping[str, Any], env: Mapping[str, str]) -> S:
    """Builds settings: flag value, else TESSERA_* variable, else the default."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(settings_type):
        raw = flags.get(f.name)
        if raw is None:
            raw = env.get(env_name(f.name))
        if raw is not None:
            values[f.name] = _convert(str(raw), f.type)
    return settings_type(**values)


def to_env(settings: CommonSettings) -> dict[str, str]:
    """The TESSERA_* variables that reproduce these settings."""
    return {env_name(k): str(v) for k, v in dataclasses.asdict(settings).items()}


def host_port(address: str) -> tuple[str, int]:
    """Splits 'host:port' (IPv6 hosts in brackets)."""
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)
