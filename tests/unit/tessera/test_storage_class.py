"""Storage classes: parsing the setting, the default cheaper class, the layout
check and what each class promises (tessera/storage_class.py)."""

from __future__ import annotations

import pytest

from tessera import errors
from tessera.placement import Candidate, place
from tessera.storage_class import (
    REDUCED_REDUNDANCY,
    STANDARD,
    STORAGE_CLASS_KEY,
    StorageClass,
    StorageClassError,
    check_layout,
    class_of,
    class_record,
    default_storage_classes,
    layout_fit,
    parse_storage_classes,
    reduced_geometry,
    requested_class,
    without_class,
    write_quorum,
)

THREE_BY_THREE = {"zone-a": 3, "zone-b": 3, "zone-c": 3}
THREE_BY_TWO = {"zone-a": 2, "zone-b": 2, "zone-c": 2}


def _km(c: StorageClass) -> tuple[int, int]:
    return c.data_shards, c.parity_shards


def test_empty_setting_gives_standard_and_the_cheaper_default() -> None:
    classes = parse_storage_classes("", 5, 4)
    assert sorted(classes) == [REDUCED_REDUNDANCY, STANDARD]
    assert _km(classes[STANDARD]) == (5, 4)
    assert _km(classes[REDUCED_REDUNDANCY]) == (4, 2)
    assert classes[REDUCED_REDUNDANCY].overhead < classes[STANDARD].overhead


def test_setting_names_exactly_its_classes_and_standard_defaults_to_k_plus_m() -> None:
    classes = parse_storage_classes(" REDUCED_REDUNDANCY = 3+2 , STANDARD_IA=4 + 2", 5, 4)
    assert {n: _km(c) for n, c in classes.items()} == {
        REDUCED_REDUNDANCY: (3, 2),
        "STANDARD_IA": (4, 2),
        STANDARD: (5, 4),
    }
    assert _km(parse_storage_classes("STANDARD=6+3", 5, 4)[STANDARD]) == (6, 3)
    assert list(parse_storage_classes("STANDARD=6+3", 5, 4)) == [STANDARD]


@pytest.mark.parametrize(
    "text",
    [
        "STANDARD",
        "standard=4+2",
        "STANDARD=4-2",
        "STANDARD=4+",
        "=4+2",
        "STANDARD=4+2,STANDARD=5+4",
        "STANDARD=0+2",
        "STANDARD=129+1",
        "STANDARD=128+128,",
        "STANDARD=4+2,",
        "A B=4+2",
    ],
)
def test_malformed_settings_are_refused_with_a_message(text: str) -> None:
    with pytest.raises(StorageClassError) as raised:
        parse_storage_classes(text, 4, 2)
    assert str(raised.value)


def test_a_bad_standard_from_data_and_parity_shards_is_refused() -> None:
    with pytest.raises(StorageClassError):
        parse_storage_classes("", 0, 2)


@pytest.mark.parametrize(
    ("standard", "reduced"),
    [((5, 4), (4, 2)), ((4, 2), (4, 1)), ((6, 3), (4, 1)), ((2, 2), (2, 1))],
)
def test_reduced_geometry_is_cheaper_and_never_wider(
    standard: tuple[int, int], reduced: tuple[int, int]
) -> None:
    assert reduced_geometry(*standard) == reduced
    k, m = standard
    rk, rm = reduced
    assert (rk + rm) / rk < (k + m) / k
    assert rk + rm <= k + m


@pytest.mark.parametrize("standard", [(4, 1), (8, 4), (10, 4), (5, 0), (1, 1)])
def test_no_reduced_class_when_none_would_cost_less(standard: tuple[int, int]) -> None:
    assert reduced_geometry(*standard) is None
    assert list(default_storage_classes(*standard)) == [STANDARD]


def test_requested_class_defaults_to_standard_and_refuses_unknown_names() -> None:
    classes = parse_storage_classes("", 4, 2)
    assert requested_class(None, classes) == STANDARD
    assert requested_class(REDUCED_REDUNDANCY, classes) == REDUCED_REDUNDANCY
    for bad in ("GLACIER", "standard", "", "X" * 500):
        with pytest.raises(errors.InvalidStorageClass) as raised:
            requested_class(bad, classes)
        assert raised.value.http_status == 400
        assert "STANDARD" in raised.value.message
        assert len(raised.value.message) < 300


def test_class_is_recorded_only_when_not_standard() -> None:
    assert class_record(STANDARD) == {}
    assert class_of({}) == STANDARD
    record = class_record(REDUCED_REDUNDANCY)
    assert record == {STORAGE_CLASS_KEY: REDUCED_REDUNDANCY}
    assert class_of({**record, "cache-control": "x"}) == REDUCED_REDUNDANCY
    assert without_class({**record, "cache-control": "x"}) == {"cache-control": "x"}


def test_write_quorum_is_k_plus_one_within_k_and_n() -> None:
    assert write_quorum(5, 4, 0) == 6
    assert write_quorum(4, 0, 0) == 4
    assert write_quorum(4, 2, 9) == 6
    assert write_quorum(4, 2, 1) == 4


def test_default_classes_on_three_zones_of_three() -> None:
    fits = {
        f.storage_class.name: f for f in check_layout(default_storage_classes(5, 4), THREE_BY_THREE)
    }
    standard, reduced = fits[STANDARD], fits[REDUCED_REDUNDANCY]
    assert (standard.zone_cap, standard.survives_zone, standard.spare_after_zone) == (3, True, 1)
    assert (reduced.zone_cap, reduced.survives_zone, reduced.spare_after_zone) == (2, True, 0)
    assert "zone plus 1 more node" in standard.describe()
    assert "nothing to spare" in reduced.describe()


def test_a_class_cheaper_than_1_5x_cannot_survive_a_zone_of_three() -> None:
    fit = layout_fit(StorageClass(REDUCED_REDUNDANCY, 4, 1), THREE_BY_TWO)
    assert fit.placeable and not fit.survives_zone
    assert "not a whole zone" in fit.describe()


def test_one_zone_never_survives_a_zone() -> None:
    fit = layout_fit(StorageClass(STANDARD, 4, 2), {"zone-a": 6})
    assert fit.placeable and not fit.survives_zone


def test_a_class_the_layout_cannot_place_is_refused_by_name() -> None:
    classes = parse_storage_classes("WIDE=8+4", 4, 2)
    with pytest.raises(StorageClassError) as raised:
        check_layout(classes, THREE_BY_THREE)
    assert "WIDE" in str(raised.value) and STANDARD not in str(raised.value)


def test_uneven_zones_use_the_cap_placement_falls_back_to() -> None:
    # 5+4 on zones of 4, 4 and 1 node: the even spread (3) cannot place 9
    # shards (3+3+1), so placement caps a zone at m = 4 (4+4+1).
    layout = {"zone-a": 4, "zone-b": 4, "zone-c": 1}
    fit = layout_fit(StorageClass(STANDARD, 5, 4), layout)
    assert fit.zone_cap == 4 and fit.survives_zone and fit.spare_after_zone == 0


@pytest.mark.parametrize(
    "layout",
    [THREE_BY_THREE, THREE_BY_TWO, {"zone-a": 4, "zone-b": 4, "zone-c": 1}, {"zone-a": 7}],
)
@pytest.mark.parametrize("km", [(5, 4), (4, 2), (4, 1), (3, 2), (2, 1), (6, 3)])
def test_layout_fit_agrees_with_placement(layout: dict[str, int], km: tuple[int, int]) -> None:
    """The fit is placement's own answer: placeable exactly when place() finds
    nodes, and no zone then holds more than the fit's cap."""
    storage_class = StorageClass("X", *km)
    fit = layout_fit(storage_class, layout)
    candidates = [
        Candidate(f"{zone}-{i}", zone) for zone, count in layout.items() for i in range(count)
    ]
    for version in range(20):
        try:
            nodes = place(f"v{version}", candidates, storage_class.geometry(1))
        except Exception:
            assert not fit.placeable
            continue
        assert fit.placeable
        per_zone: dict[str, int] = {}
        for node in nodes:
            zone = node.rsplit("-", 1)[0]
            per_zone[zone] = per_zone.get(zone, 0) + 1
        assert max(per_zone.values()) <= fit.zone_cap
