"""Phone numbers as people type them: the cases bench/phones.py found our parser wrong on (docs/benchmarks.md)."""

from __future__ import annotations

import pytest

from bot.text import find_phone, parse_phone


@pytest.mark.parametrize("text", ["+84 0912 345 678", "+84 (0) 912 345 678", "0084 0912345678", "840912345678"])
def test_a_zero_kept_after_the_country_code_is_the_same_number(text: str) -> None:
    assert parse_phone(text) == "+84912345678"


@pytest.mark.parametrize(
    "text",
    [
        "0541234567",  # 054: no mobile network has this block
        "0801234567",
        "0741234567",
        "0601234567",
        "053 385 1234",  # Quảng Trị's area code before 2017: dialled so today it reaches nobody
    ],
)
def test_a_ten_digit_number_outside_the_mobile_blocks_is_asked_again(text: str) -> None:
    assert parse_phone(text) is None


@pytest.mark.parametrize(
    "number",
    ["0327123456", "0522334455", "0567890123", "0592345678", "0703456789", "0779012345", "0812345670", "0898765432"],
)
def test_every_mobile_block_in_use_is_accepted(number: str) -> None:
    assert parse_phone(number) == "+84" + number[1:]


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("0912345678 0987654321", "+84912345678"),
        ("0912 345 678 0987 654 321", "+84912345678"),
        ("em có 2 số 0233 385 1234 0987654321", "+842333851234"),
    ],
)
def test_the_first_of_two_numbers_in_a_row_is_found(text: str, phone: str) -> None:
    assert find_phone(text) == phone
