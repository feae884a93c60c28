"""The project's own unit table (knowledge/units/): complete, unique, and every unit the seeds and tests name."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.knowledge import Knowledge
from bot.places import Gazetteer
from bot.units import read_units
from tests.conftest import KNOWLEDGE


def test_the_reform_of_july_2025_counts_34_provinces_and_3321_communes(kb: Knowledge) -> None:
    units = kb.units
    assert len(units.provinces) == 34
    assert sum(p.centrally_run for p in units.provinces) == 6  # Hà Nội, Huế, Hải Phòng, Đà Nẵng, HCM, Cần Thơ
    assert len(units.communes) == 3321
    assert Counter(u.type for u in units.communes) == {"xa": 2621, "phuong": 687, "dac_khu": 13}
    assert "19/2025/QĐ-TTg" in units.source


def test_codes_are_unique_and_every_province_has_communes(kb: Knowledge) -> None:
    units = kb.units
    assert len({p.code for p in units.provinces}) == 34
    assert len({p.name for p in units.provinces}) == 34
    assert len({u.code for u in units.communes}) == 3321
    per_province = Counter(u.province for u in units.communes)
    assert set(per_province) == {p.code for p in units.provinces}
    assert min(per_province.values()) >= 30  # the smallest, Lai Châu, has 38


@pytest.mark.parametrize(
    ("commune", "province", "label", "code"),
    [
        ("xã Bình Giang", "Ninh Bình", "Xã Bình Giang, Ninh Bình", 13531),  # seed: kế hoạch 2026 xã Bình Giang
        ("xã Vĩnh Thuỷ", "Quảng Trị", "Xã Vĩnh Thủy, Quảng Trị", 19405),  # seed: kế hoạch 2026 xã Vĩnh Thủy
        ("vinh thuy", "quang tri", "Xã Vĩnh Thủy, Quảng Trị", 19405),
        ("Hoàn Kiếm", "Hà Nội", "Phường Hoàn Kiếm, Thành phố Hà Nội", 70),  # Hàng Trống merged into it
        ("Vĩnh Linh", "Quảng Trị", "Xã Vĩnh Linh, Quảng Trị", None),  # the former huyện Vĩnh Linh's name lives on
        ("đặc khu Phú Quốc", "An Giang", "Đặc khu Phú Quốc, An Giang", None),
    ],
)
def test_every_unit_the_seeds_and_tests_name_resolves(
    gazetteer: Gazetteer, commune: str, province: str, label: str, code: int | None
) -> None:
    result = gazetteer.resolve(commune, province)
    assert result.status == "ok" and result.place is not None
    assert result.place.label == label
    assert code is None or result.place.code == code


@pytest.mark.parametrize(
    ("typed", "now", "centrally_run"),
    [
        ("Quảng Ngãi", "Quảng Ngãi", False),  # seed: kế hoạch 98/KH-UBND tỉnh Quảng Ngãi
        ("Kon Tum", "Quảng Ngãi", False),
        ("Bắc Giang", "Bắc Ninh", False),  # seed: chương trình 2021–2025 tỉnh Bắc Giang (merged in 2025)
        ("Quảng Nam", "Thành phố Đà Nẵng", True),
        ("Nam Định", "Ninh Bình", False),
        ("tp hcm", "Thành phố Hồ Chí Minh", True),
    ],
)
def test_provinces_old_and_new_resolve(gazetteer: Gazetteer, typed: str, now: str, centrally_run: bool) -> None:
    province = gazetteer.province(typed)
    assert province is not None and (province.name, province.centrally_run) == (now, centrally_run)


def test_phuong_hang_trong_quan_hoan_kiem_is_offered_its_new_ward(gazetteer: Gazetteer) -> None:
    result = gazetteer.resolve_text("phường Hàng Trống, quận Hoàn Kiếm, Hà Nội")
    assert [p.label for p in result.candidates] == ["Phường Hoàn Kiếm, Thành phố Hà Nội"]
    assert result.district is not None and result.district.label == "quận Hoàn Kiếm"


def test_every_locality_file_points_at_a_unit_of_the_table(kb: Knowledge) -> None:
    codes = {u.code: u for u in kb.units.communes}
    provinces = {p.code for p in kb.units.provinces}
    for loc in kb.localities:
        assert loc.province_code in provinces, loc.id
        assert loc.ward_code is None or codes[loc.ward_code].province == loc.province_code, loc.id


# --- a broken table is refused, every problem named by file and line ------------------------------------------


@pytest.fixture
def units_copy(tmp_path: Path) -> Path:
    """A copy of the bundled knowledge to break."""
    root = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, root)
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_broken_communes_are_named_by_line_and_column(units_copy: Path) -> None:
    csv = units_copy / "units" / "communes.csv"
    lines = csv.read_text(encoding="utf-8").splitlines()
    first = next(n for n, line in enumerate(lines, 1) if line.startswith("70,"))
    _edit(csv, "70,Phường Hoàn Kiếm,phuong,1", "70,Phường Hoàn Kiếm,quan,1")  # no 'quận' since 2025
    _edit(csv, "73,Phường Cửa Nam,phuong,1", "70,Phường Cửa Nam,phuong,1")
    table, problems = read_units(units_copy / "units")
    assert table is None
    assert [str(p) for p in problems] == [
        f"knowledge/units/communes.csv: line {first}: type: Input should be 'xa', 'phuong' or 'dac_khu'"
    ]
    _edit(csv, "70,Phường Hoàn Kiếm,quan,1", "70,Phường Hoàn Kiếm,phuong,1")
    assert [str(p) for p in read_units(units_copy / "units")[1]] == [
        "knowledge/units/communes.csv: code: 70 is used twice"
    ]


def test_unknown_province_field_and_orphan_province_are_refused(units_copy: Path) -> None:
    provinces = units_copy / "units" / "provinces.yaml"
    _edit(provinces, '{code: 4, name: "Cao Bằng", centrally_run: false}', '{code: 4, name: "Cao Bằng", tinh: true}')
    problems = [str(p) for p in read_units(units_copy / "units")[1]]
    assert "knowledge/units/provinces.yaml: provinces.1.centrally_run: Field required" in problems
    assert "knowledge/units/provinces.yaml: provinces.1.tinh: Extra inputs are not permitted" in problems
    _edit(provinces, "tinh: true}", 'centrally_run: false}\n  - {code: 2, name: "Hà Giang", centrally_run: false}')
    assert [str(p) for p in read_units(units_copy / "units")[1]] == [
        "knowledge/units/provinces.yaml: code 2: Hà Giang has no commune"
    ]


def test_kb_check_fails_on_a_broken_unit_table(units_copy: Path) -> None:
    _edit(units_copy / "units" / "communes.csv", "19405,Xã Vĩnh Thủy,xa,44", "19405,Xã Vĩnh Thủy,xa,45")
    result = CliRunner().invoke(main, ["kb", "check", "--knowledge", str(units_copy)])
    assert result.exit_code == 1
    assert "knowledge/units/communes.csv: code 19405: no province has code 45" in result.output
