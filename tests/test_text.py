"""Vietnamese text: normal form, tone placement, folding, quantities, phone numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.text import Speller, canonical, expand, find_phone, fold, nfc, parse_count, parse_money, parse_phone

VIET = st.text(
    alphabet=st.sampled_from(
        list("aăâeêioôơuưyđAĂÂĐ àáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ0123456789.,-+ tr")
    )
)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("hoà", "hòa"),
        ("thuỷ", "thủy"),
        ("qúy", "quý"),
        ("khoẻ", "khỏe"),
        ("Hoà Bình", "Hòa Bình"),
        ("THUỶ", "THỦY"),
    ],
)
def test_old_and_new_tone_placement_compare_equal(old: str, new: str) -> None:
    assert canonical(old) == canonical(new) == new


@pytest.mark.parametrize("word", ["hoàng", "người", "giặt", "già", "quyết", "khuỷu", "nguyễn", "thuở"])
def test_canonical_keeps_correct_words(word: str) -> None:
    assert canonical(word) == word


def test_fold_removes_diacritics_d_case_and_spaces() -> None:
    assert fold("  Phường  Buôn Ma Thuột ") == "phuong buon ma thuot"
    assert fold("ĐẶC KHU Côn Đảo!") == "dac khu con dao"
    assert fold("Nước mắm") == fold("nuoc mam") == fold("NƯỚC MẮM")


def test_nfc_joins_decomposed_text() -> None:
    decomposed = "Vi\u0303nh Thu\u0309y"
    assert nfc(decomposed) == "Vĩnh Thủy"


def test_abbreviations_expand_whole_tokens_only() -> None:
    table = {"hkd": "ho kinh doanh", "ko": "khong", "dc": "duoc"}
    assert expand("hkd co dc ho tro ko", table) == "ho kinh doanh co duoc ho tro khong"
    assert expand("kohkd", table) == "kohkd"


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("12 người", 12),
        ("tầm 12 nguoi", 12),
        ("hai chục", 20),
        ("mười hai", 12),
        ("năm người", 5),
        ("ba trăm lao động", 300),
        ("làm nước mắm", None),
        ("không biết", None),
    ],
)
def test_counts_as_people_type_them(text: str, count: int | None) -> None:
    assert parse_count(text) == count


@pytest.mark.parametrize(
    ("text", "vnd"),
    [
        ("khoảng 2 tỷ", 2_000_000_000),
        ("1,5 tỷ", 1_500_000_000),
        ("500tr", 500_000_000),
        ("800 triệu", 800_000_000),
        ("2 tỷ rưỡi", 2_500_000_000),
        ("1 tỷ 2", 1_200_000_000),
        ("1 tỷ 200 triệu", 1_200_000_000),
        ("1.500.000.000 đồng", 1_500_000_000),
        ("500k", 500_000),
        ("2ty", 2_000_000_000),
        ("năm ngoái doanh thu 2 tỷ", 2_000_000_000),
        ("ba trăm triệu", 300_000_000),
        ("chưa có doanh thu", None),
    ],
)
def test_money_as_people_type_it(text: str, vnd: int | None) -> None:
    assert parse_money(text) == vnd


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("0912 345 678", "+84912345678"),
        ("0912.345.678", "+84912345678"),
        ("+84 912 345 678", "+84912345678"),
        ("84912345678", "+84912345678"),
        ("(0233) 3821 234", "+842333821234"),
        ("0386-123-456", "+84386123456"),
    ],
)
def test_phones_normalise_to_plus84(text: str, phone: str) -> None:
    assert parse_phone(text) == phone


@pytest.mark.parametrize("text", ["01662345678", "0166 234 5678", "091234567", "12345", "0412345678", "abc"])
def test_old_eleven_digit_and_invalid_phones_are_rejected(text: str) -> None:
    assert parse_phone(text) is None


def test_phone_found_inside_a_sentence() -> None:
    assert find_phone("sđt của em là 0912 345 678 nhé") == "+84912345678"


def test_speller_fixes_typos_against_vocabulary() -> None:
    speller = Speller({"khuyen", "cong", "ho", "tro"})
    assert speller.correct(["khuyen", "cog", "ho", "trro"]) == ["khuyen", "cong", "ho", "tro"]


@given(st.text())
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@given(VIET)
def test_fold_is_idempotent_on_vietnamese(text: str) -> None:
    once = fold(text)
    assert fold(once) == once
    assert once == once.strip() and "  " not in once


@given(st.text())
def test_canonical_is_idempotent_and_folds_the_same(text: str) -> None:
    assert canonical(canonical(text)) == canonical(text)
    assert fold(canonical(text)) == fold(text)


@given(st.one_of(st.text(), VIET))
def test_parsers_never_raise(text: str) -> None:
    parse_count(text)
    parse_money(text)
    parse_phone(text)
    find_phone(text)


@given(st.integers(min_value=0, max_value=10**12))
def test_money_digits_round_trip(amount: int) -> None:
    assert parse_money(f"{amount:,}".replace(",", ".") + " đồng") == amount
