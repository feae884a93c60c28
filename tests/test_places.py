"""Resolving provinces and communes typed by people."""

from __future__ import annotations

import pytest

from bot.places import Gazetteer


def test_all_units_after_the_2025_reform(gazetteer: Gazetteer) -> None:
    places = gazetteer.all_places()
    assert len(places) == 3321
    assert len({p.province.code for p in places}) == 34


@pytest.mark.parametrize("text", ["xã Vĩnh Thủy", "Vĩnh Thuỷ", "vinh thuy", "VINH THUY", "xa vinh thuyy", "vĩnh thũy"])
def test_commune_with_or_without_diacritics_prefix_and_typos(gazetteer: Gazetteer, text: str) -> None:
    result = gazetteer.resolve(text)
    assert result.status == "ok"
    assert result.place is not None
    assert (result.place.name, result.place.province.name, result.place.code) == (
        "Xã Vĩnh Thủy",
        "Quảng Trị",
        19405,
    )
    assert result.place.type == "xa"


def test_same_name_in_three_provinces_is_ambiguous(gazetteer: Gazetteer) -> None:
    result = gazetteer.resolve("xã Bình Giang")
    assert result.status == "ambiguous"
    assert {p.province.name for p in result.candidates} == {"Thành phố Hải Phòng", "Ninh Bình", "An Giang"}


@pytest.mark.parametrize("province", ["Ninh Bình", "ninh binh", "tỉnh Ninh Bình", "Nam Định"])
def test_province_settles_the_ambiguity(gazetteer: Gazetteer, province: str) -> None:
    result = gazetteer.resolve("binh giang", province)
    assert result.status == "ok"
    assert result.place is not None and result.place.code == 13531


def test_unit_type_and_centrally_run_city_are_reported(gazetteer: Gazetteer) -> None:
    ward = gazetteer.resolve("phường Hoàn Kiếm", "Hà Nội").place
    assert ward is not None and ward.type == "phuong" and ward.province.centrally_run
    special = gazetteer.resolve("Côn Đảo").place
    assert special is not None and special.type == "dac_khu" and special.province.centrally_run
    commune = gazetteer.resolve("Vĩnh Thủy").place
    assert commune is not None and not commune.province.centrally_run


def test_doubled_spaces_in_official_names_do_not_matter(gazetteer: Gazetteer) -> None:
    place = gazetteer.resolve("Phường Buôn Ma Thuột").place
    assert place is not None and place.name == "Phường Buôn Ma Thuột" and place.province.name == "Đắk Lắk"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("xa vinh thuy quang tri", "Xã Vĩnh Thủy, Quảng Trị"),
        ("Bình Giang, Ninh Bình", "Xã Bình Giang, Ninh Bình"),
        ("binh giang tinh ninh binh", "Xã Bình Giang, Ninh Bình"),
        ("phuong hoan kiem ha noi", "Phường Hoàn Kiếm, Thành phố Hà Nội"),
    ],
)
def test_one_free_text_with_commune_and_province(gazetteer: Gazetteer, text: str, label: str) -> None:
    place = gazetteer.resolve_text(text).place
    assert place is not None and place.label == label


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("quang ngai", "Quảng Ngãi"),
        ("tp hcm", "Thành phố Hồ Chí Minh"),
        ("Bắc Giang", "Bắc Ninh"),
        ("Quảng Bình", "Quảng Trị"),
    ],
)
def test_province_names_new_old_and_short(gazetteer: Gazetteer, text: str, name: str) -> None:
    # 'Bắc Giang' is also a phường of Bắc Ninh today: either reading lands in the right province.
    result = gazetteer.resolve_text(text)
    province = result.province or (result.place.province if result.place else None)
    assert result.status == "ok" and province is not None and province.name == name


@pytest.mark.parametrize("text", ["xa abcxyz", "qwertyuiop", ""])
def test_unknown_places_are_not_found(gazetteer: Gazetteer, text: str) -> None:
    assert gazetteer.resolve(text).status == "not_found"


@pytest.mark.parametrize(
    ("commune", "province", "unit", "old"),
    [
        ("phường Ba Đình", "Thanh Hóa", "phường", None),  # now a xã of that name
        ("Phường Điện Bàn Đông", "Quảng Nam", None, "Quảng Nam"),  # the province merged into Đà Nẵng
        ("thị trấn Ba Đình", "tỉnh Thanh Hóa", "thị trấn", None),  # a pre-2025 unit word
    ],
)
def test_what_the_2025_reform_changed_in_a_typed_place_is_reported(
    gazetteer: Gazetteer, commune: str, province: str, unit: str | None, old: str | None
) -> None:
    place = gazetteer.resolve(commune, province).place
    assert place is not None
    was = gazetteer.renamed(place, commune, province)
    assert was is not None and (was.unit, was.province) == (unit, old)


def test_a_place_typed_as_it_is_now_is_not_reported(gazetteer: Gazetteer) -> None:
    place = gazetteer.resolve("xã Vĩnh Thủy", "Quảng Trị").place
    assert place is not None and gazetteer.renamed(place, "xã Vĩnh Thủy", "Quảng Trị") is None


def test_an_old_unit_whose_name_lives_on_in_several_is_a_choice_not_a_guess(gazetteer: Gazetteer) -> None:
    # No xã Điện Bàn today: phường Điện Bàn, Điện Bàn Đông, Điện Bàn Bắc and xã Điện Bàn Tây carry the name.
    result = gazetteer.resolve("xã Điện Bàn", "Quảng Nam")
    assert result.status == "ambiguous"
    assert {p.name for p in result.candidates} >= {"Phường Điện Bàn", "Phường Điện Bàn Đông", "Xã Điện Bàn Tây"}


# --- pre-2025 districts (review of 3/12): there are none since 1 July 2025 ------------------------------------


@pytest.mark.parametrize(
    ("text", "offered"),
    [
        ("xa nghia hung huyen lang giang tinh bac giang", {"Xã Nghĩa Phương, Bắc Ninh", "Xã Lạng Giang, Bắc Ninh"}),
        ("xa vinh thai huyen vinh linh", {"Xã Vĩnh Linh, Quảng Trị"}),
        ("huyen hai hau nam dinh", {"Xã Hải Hậu, Ninh Bình"}),
        ("phuong hang trong, quan hoan kiem", {"Phường Hoàn Kiếm, Thành phố Hà Nội"}),
    ],
)
def test_a_district_with_no_commune_found_exactly_is_a_choice_not_a_guess(
    gazetteer: Gazetteer, text: str, offered: set[str]
) -> None:
    """Was: 'xã Nghĩa Phương', 'xã Vĩnh Linh', 'xã Hải Hậu', 'xã Thăng Trường (Đà Nẵng)' taken without a word."""
    result = gazetteer.resolve_text(text)
    assert result.status == "ambiguous" and result.district is not None
    assert {p.label for p in result.candidates} == offered


def test_a_commune_found_exactly_beside_its_old_district_is_taken_and_the_district_reported(
    gazetteer: Gazetteer,
) -> None:
    result = gazetteer.resolve_text("xã Vĩnh Thủy, huyện Vĩnh Linh, Quảng Trị")
    assert result.place is not None and result.place.code == 19405
    assert result.district is not None and result.district.label == "huyện Vĩnh Linh"
    was = gazetteer.renamed(result.place, "xã Vĩnh Thủy", "Quảng Trị", result.district)
    assert was is not None and was.district == "huyện Vĩnh Linh"


@pytest.mark.parametrize("text", ["quan an sang", "tham quan hoc hoi", "quán cà phê"])
def test_quan_as_a_shop_or_a_visit_is_no_district(gazetteer: Gazetteer, text: str) -> None:
    assert gazetteer.split_district(text) == (text, None)
