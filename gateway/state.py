"""The gateway's typed application state, built once per process lifetime."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aiohttp import web

from gateway.admission import Admission
from gateway.cluster import ClusterView
from gateway.prefetch import VersionHints
from gateway.principals import KeyCache
from gateway.reclaim import ShardReclaimer
from gateway.sse import KeyService
from gateway.usage_meter import UsageMeter
from gateway.write_path import WritePolicy
from metadata.client import MetadataClient
from tessera.config import GatewaySettings


@dataclass
class GatewayState:
    settings: GatewaySettings
    metadata: MetadataClient
    cluster: ClusterView
    executor: ThreadPoolExecutor
    policy: WritePolicy
    credentials: dict[str, str]  # access key id -> secret key
    reclaimer: ShardReclaimer
    admission: Admission
    keys: KeyCache  # every key: the root key from credentials, users' keys from metadata
    encryption: KeyService  # data keys of encryption at rest
    meter: UsageMeter
    # Storage classes (docs/storage-classes.md): the write policy of each
    # configured class; policy is STANDARD's.
    class_policies: dict[str, WritePolicy]
    # the current version of recently written or read keys (gateway/prefetch.py)
    version_hints: VersionHints

    def policy_for(self, storage_class: str) -> WritePolicy:
        """The write policy of a configured class (requested_class checked the name)."""
        return self.class_policies[storage_class]

    def secret_for(self, access_key: str) -> str | None:
        """The secret of a key known now (call keys.resolve first for users' keys)."""
        return self.keys.secret_for(access_key)


STATE = web.AppKey("tessera_state", GatewayState)
