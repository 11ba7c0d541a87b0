"""Storage classes: the name an S3 client sends in x-amz-storage-class, mapped
to the erasure-coding geometry (k + m) that new data of that class is written
with (docs/storage-classes.md).

A class decides only how a version is *written*. Every version record, and
every part of a multipart upload, stores its own k, m and chunk size; reads,
repair, scrub, rebalance, GC and usage use the record's geometry, never this
table, so versions of every geometry coexist and a class may be changed or
removed without touching what was stored under it.

Invariants:
- STANDARD is always configured: it is what a request without the header gets;
- a STANDARD version records no class (records written before classes existed
  are STANDARD); any other class is recorded under STORAGE_CLASS_KEY in the
  version's (or upload's) system metadata, and GET/HEAD return it, as S3 does;
- a class that cannot be placed on a cluster layout under placement's zone
  cap is refused before anything starts (check_layout).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from tessera import errors
from tessera.geometry import Geometry
from tessera.placement import zone_caps

STANDARD = "STANDARD"
REDUCED_REDUNDANCY = "REDUCED_REDUNDANCY"
# Where a version (or a multipart upload) records a class other than STANDARD:
# its system metadata, under the S3 header's name (so GET/HEAD return it).
STORAGE_CLASS_KEY = "x-amz-storage-class"

_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_GEOMETRY = re.compile(r"^(\d{1,3})\s*\+\s*(\d{1,3})$")
# The default cheaper class is at most this wide in data shards (see reduced_geometry).
_REDUCED_DATA_SHARDS_MAX = 4


class StorageClassError(ValueError):
    """A storage-class setting is malformed, or does not fit the cluster layout."""


@dataclass(frozen=True, slots=True)
class StorageClass:
    """One configured class: its name and the k + m new data is written with."""

    name: str
    data_shards: int
    parity_shards: int

    def __post_init__(self) -> None:
        assert _NAME.match(self.name), self.name
        assert 1 <= self.data_shards <= 128 and 0 <= self.parity_shards <= 128, self
        assert self.data_shards + self.parity_shards <= 256, self

    @property
    def total_shards(self) -> int:
        return self.data_shards + self.parity_shards

    @property
    def overhead(self) -> float:
        """Bytes stored per byte of object data."""
        return self.total_shards / self.data_shards

    def geometry(self, chunk_size_bytes: int) -> Geometry:
        return Geometry(self.data_shards, self.parity_shards, chunk_size_bytes)

    def spec(self) -> str:
        """The class as the setting writes it: NAME=k+m."""
        return f"{self.name}={self.data_shards}+{self.parity_shards}"


def reduced_geometry(data_shards: int, parity_shards: int) -> tuple[int, int] | None:
    """(k, m) of the default cheaper class for a STANDARD of k + m, or None.

    At most 4 data shards and half the parity (at least 1), and only when that
    costs less than STANDARD: 5+4 (1.8x) gives 4+2 (1.5x, which still survives
    a zone of three), 4+2 gives 4+1 (1.25x). Never wider than STANDARD, so it
    fits wherever STANDARD fits.
    """
    k = min(data_shards, _REDUCED_DATA_SHARDS_MAX)
    m = max(1, parity_shards // 2)
    if parity_shards < 2 or (k + m) * data_shards >= (data_shards + parity_shards) * k:
        return None
    return k, m


def default_storage_classes(data_shards: int, parity_shards: int) -> dict[str, StorageClass]:
    """STANDARD at k + m, and REDUCED_REDUNDANCY at reduced_geometry(k, m) when there is one."""
    classes = {STANDARD: StorageClass(STANDARD, data_shards, parity_shards)}
    reduced = reduced_geometry(data_shards, parity_shards)
    if reduced is not None:
        classes[REDUCED_REDUNDANCY] = StorageClass(REDUCED_REDUNDANCY, *reduced)
    return classes


def parse_storage_classes(
    text: str, data_shards: int, parity_shards: int
) -> dict[str, StorageClass]:
    """The classes of a setting such as "STANDARD=5+4,REDUCED_REDUNDANCY=4+2".

    Empty: default_storage_classes(k, m). Otherwise exactly the classes named,
    plus STANDARD at k + m when the setting does not name it. Raises
    StorageClassError on a malformed entry, a repeated name or a geometry
    outside 1 <= k <= 128, 0 <= m <= 128, k + m <= 256.
    """
    _check_geometry(STANDARD, data_shards, parity_shards)
    if not text.strip():
        return default_storage_classes(data_shards, parity_shards)
    classes: dict[str, StorageClass] = {}
    for entry in text.split(","):
        name, eq, geometry = (part.strip() for part in entry.partition("="))
        if not eq or not _NAME.match(name):
            raise StorageClassError(
                f"storage class entry {entry.strip()!r}: expected NAME=k+m, NAME in "
                "upper-case letters, digits and '_' (e.g. REDUCED_REDUNDANCY=4+2)"
            )
        if name in classes:
            raise StorageClassError(f"storage class {name} is named twice")
        match = _GEOMETRY.match(geometry)
        if match is None:
            raise StorageClassError(f"storage class {name}: {geometry!r} is not k+m (e.g. 4+2)")
        k, m = int(match.group(1)), int(match.group(2))
        _check_geometry(name, k, m)
        classes[name] = StorageClass(name, k, m)
    classes.setdefault(STANDARD, StorageClass(STANDARD, data_shards, parity_shards))
    return classes


def _check_geometry(name: str, k: int, m: int) -> None:
    if not (1 <= k <= 128 and 0 <= m <= 128 and k + m <= 256):
        raise StorageClassError(
            f"storage class {name}: {k}+{m} is outside 1 <= k <= 128, 0 <= m <= 128, k + m <= 256"
        )


def requested_class(header: str | None, classes: Collection[str]) -> str:
    """The class a request asks for (x-amz-storage-class; none: STANDARD).
    InvalidStorageClass for a name that is not configured."""
    if header is None:
        return STANDARD
    if header not in classes:
        shown = header if len(header) <= 64 else header[:64] + "..."
        raise errors.InvalidStorageClass(
            f"The storage class you specified is not valid: {shown!r}; this cluster offers "
            + ", ".join(sorted(classes))
            + "."
        )
    return header


def class_of(system_metadata: Mapping[str, str]) -> str:
    """The class a version or upload was written in (no record: STANDARD)."""
    return system_metadata.get(STORAGE_CLASS_KEY, STANDARD)


def class_record(name: str) -> dict[str, str]:
    """The system-metadata entry that records a class (none for STANDARD)."""
    return {} if name == STANDARD else {STORAGE_CLASS_KEY: name}


def without_class(system_metadata: Mapping[str, str]) -> dict[str, str]:
    """system_metadata less its class (a copy decides its own class)."""
    return {k: v for k, v in system_metadata.items() if k != STORAGE_CLASS_KEY}


def write_quorum(data_shards: int, parity_shards: int, configured: int) -> int:
    """Durable shards a write of k + m needs: configured (0: k + 1), within [k, n]."""
    n = data_shards + parity_shards
    if configured:
        return max(data_shards, min(configured, n))
    return min(data_shards + 1, n)


@dataclass(frozen=True, slots=True)
class LayoutFit:
    """What a class promises on one cluster layout."""

    storage_class: StorageClass
    zone_count: int
    zone_cap: int  # most shards of one version a zone holds (0: cannot be placed)

    @property
    def placeable(self) -> bool:
        return self.zone_cap > 0

    @property
    def survives_zone(self) -> bool:
        """Losing any one whole zone leaves at least k shards."""
        return self.zone_count > 1 and self.zone_cap <= self.storage_class.parity_shards

    @property
    def spare_after_zone(self) -> int:
        """Nodes more that may fail after a zone loss with every version readable."""
        return self.storage_class.parity_shards - self.zone_cap

    def describe(self) -> str:
        c = self.storage_class
        head = f"{c.name} {c.data_shards}+{c.parity_shards} ({c.overhead:.2f}x)"
        if not self.placeable:
            return f"{head}: cannot be placed ({c.total_shards} shards)"
        nodes = f"any {c.parity_shards} node{'s' if c.parity_shards != 1 else ''}"
        if c.parity_shards == 0:
            nodes = "no node loss"
        if not self.survives_zone:
            return f"{head}: survives {nodes}, not a whole zone"
        if self.spare_after_zone == 0:
            return f"{head}: survives a whole zone with nothing to spare, or {nodes}"
        spare = self.spare_after_zone
        return (
            f"{head}: survives a whole zone plus {spare} more node{'s' if spare > 1 else ''}, "
            f"or {nodes}"
        )


def layout_fit(storage_class: StorageClass, nodes_per_zone: Mapping[str, int]) -> LayoutFit:
    """How placement (tessera/placement.py) spreads the class over these nodes:
    the zone cap it ends up with, 0 when no cap lets it place k + m shards."""
    zone_count = max(1, len(nodes_per_zone))
    geometry = storage_class.geometry(1)
    for cap in zone_caps(geometry, zone_count):
        if sum(min(count, cap) for count in nodes_per_zone.values()) >= geometry.total_shards:
            return LayoutFit(storage_class, zone_count, cap)
    return LayoutFit(storage_class, zone_count, 0)


def check_layout(
    classes: Mapping[str, StorageClass], nodes_per_zone: Mapping[str, int]
) -> list[LayoutFit]:
    """Every class's fit on a layout, by name; StorageClassError naming each
    class that cannot be placed there."""
    fits = [layout_fit(classes[name], nodes_per_zone) for name in sorted(classes)]
    unplaceable = [f for f in fits if not f.placeable]
    if unplaceable:
        total = sum(nodes_per_zone.values())
        raise StorageClassError(
            "; ".join(
                f"storage class {f.storage_class.name} needs {f.storage_class.total_shards} "
                f"nodes with at most {zone_caps(f.storage_class.geometry(1), f.zone_count)[-1]} "
                f"per zone; the layout has {total} nodes in {len(nodes_per_zone)} zones"
                for f in unplaceable
            )
        )
    return fits
