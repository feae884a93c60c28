"""Our Vietnamese phone parser (bot/text.py) against the phonenumbers library: correctness and speed.

The corpus is numbers as people type them: the same real-looking numbers in the shapes people use (spaces,
dots, dashes, +84, 84, 0084, brackets), landlines with their area code, and then typos, retired forms and
numbers inside a sentence, each labelled by hand with the number an officer should be able to call (or None:
the bot should ask again). Judgement calls, said here so a reader can disagree: a letter O for a zero and a
1900 (premium-rate) number are labelled None (ask again: the officer needs a number that reaches the person);
blocks 030, 031 and 051 are left out, as their assignment could not be verified. A field answer is parsed
whole (parse_phone / phonenumbers.parse); a sentence is searched (find_phone / PhoneNumberMatcher).
Run: .venv/bin/python -m bench.phones [--show-errors]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.text import find_phone, parse_phone

# National forms: every current mobile block (03x, 05x, 07x, 08x, 09x) and landlines of the seeds' provinces.
MOBILES = [
    "0912345678", "0987654321", "0327123456", "0356789012", "0388111222", "0703456789", "0779012345",
    "0789123456", "0795556667", "0812345670", "0837654321", "0856677889", "0886543210", "0898765432",
    "0522334455", "0567890123", "0583456789", "0592345678", "0901234567", "0933445566", "0868123456",
    "0961234567", "0971234567", "0941234567",
]  # fmt: skip
LANDLINES = [  # (area code, subscriber number)
    ("024", "38251234"), ("028", "38123456"), ("0233", "3851234"), ("0229", "3871234"),
    ("0255", "3822123"), ("0236", "3822123"), ("0204", "3855123"), ("0292", "3812345"),
]  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One typed text, whether it is a field answer or a sentence, and the number meant (E.164) or None."""

    text: str
    expected: str | None
    sentence: bool = False
    kind: str = "format"


def _e164(national: str) -> str:
    return "+84" + national[1:]


def _mobile_shapes(n: str) -> list[str]:
    return [n, f"{n[:4]} {n[4:7]} {n[7:]}", f"{n[:4]}.{n[4:7]}.{n[7:]}", f"+84 {n[1:4]} {n[4:7]} {n[7:]}",
            "84" + n[1:], f"{n[:4]}-{n[4:7]}-{n[7:]}"]  # fmt: skip


def _landline_shapes(area: str, sub: str) -> list[str]:
    half = len(sub) // 2
    return [f"{area} {sub[:half]} {sub[half:]}", f"({area}) {sub}", f"+84 {area[1:]} {sub}", f"{area}.{sub}"]


# Hand-labelled: typos, retired forms, unusual but clear shapes, and numbers inside sentences.
SPECIAL = [
    Case("+84 0912 345 678", "+84912345678", kind="clear but unusual"),
    Case("+84 (0) 912 345 678", "+84912345678", kind="clear but unusual"),
    Case("(+84) 912 345 678", "+84912345678", kind="clear but unusual"),
    Case("0084 912 345 678", "+84912345678", kind="clear but unusual"),
    Case("09 12 34 56 78", "+84912345678", kind="clear but unusual"),
    Case("０９１２ ３４５ ６７８", "+84912345678", kind="clear but unusual"),  # full-width digits of a phone keyboard
    Case("0912345678.", "+84912345678", kind="clear but unusual"),
    Case("091234567", None, kind="typo"),  # a digit short
    Case("09123456789", None, kind="typo"),  # a digit too many
    Case("0912 345 67", None, kind="typo"),
    Case("O912345678", None, kind="typo"),  # letter O for zero: ask again rather than guess
    Case("912345678", "+84912345678", kind="clear but unusual"),  # the 0 dropped, as after +84; 9 digits is no landline
    Case("0541234567", None, kind="unassigned block"),
    Case("0601234567", None, kind="unassigned block"),
    Case("0801234567", None, kind="unassigned block"),
    Case("0741234567", None, kind="unassigned block"),
    Case("0168 123 4567", None, kind="retired 11-digit mobile"),  # 0168 became 038 in 2018: ask for today's
    Case("01234567890", None, kind="retired 11-digit mobile"),
    Case("0120 345 6789", None, kind="retired 11-digit mobile"),
    Case("0199 123 4567", None, kind="retired 11-digit mobile"),
    Case("04 3825 1234", None, kind="retired area code"),  # Hà Nội was 04 before 2017
    Case("053 385 1234", None, kind="retired area code"),  # Quảng Trị was 053
    Case("1900 1234", None, kind="not a subscriber"),
    Case("113", None, kind="not a subscriber"),
    Case("sđt em 0912 345 678 nhé", "+84912345678", True, "sentence"),
    Case("Liên hệ: +84 987 654 321 (anh Nam)", "+84987654321", True, "sentence"),
    Case("gọi 0233 385 1234 giờ hành chính", "+842333851234", True, "sentence"),
    Case("số của chị là 0868.123.456 ạ", "+84868123456", True, "sentence"),
    Case("Tel:0912345678", "+84912345678", True, "sentence"),
    Case("vay 500000000 đồng, sđt 0912345678", "+84912345678", True, "sentence"),
    Case("ngày 12.05.2026 gọi 0912345678", "+84912345678", True, "sentence"),
    Case("số nhà 12 đường 3/2, đt 0987 654 321", "+84987654321", True, "sentence"),
    Case("0912345678 0987654321", "+84912345678", True, "sentence"),  # two numbers: the first
    Case("0912 345 678 hoặc 0987 654 321", "+84912345678", True, "sentence"),
    Case("zalo 84 912 345 678", "+84912345678", True, "sentence"),
    Case("làm 12 người, doanh thu 1,5 tỷ", None, True, "sentence"),
    Case("cơ sở thành lập năm 2019, 15 lao động", None, True, "sentence"),
    Case("mã số thuế 0312345678-001", None, True, "sentence"),
    Case("sđt cũ 0168 123 4567", None, True, "sentence"),
]


def corpus() -> list[Case]:
    """Every case: the shapes of each number, then the hand-labelled ones."""
    cases = [Case(text, _e164(n)) for n in MOBILES for text in _mobile_shapes(n)]
    cases += [Case(t, _e164(a + s), kind="landline") for a, s in LANDLINES for t in _landline_shapes(a, s)]
    return cases + SPECIAL


def ours(case: Case) -> str | None:
    """bot/text.py: parse_phone for a field, find_phone for a sentence."""
    return find_phone(case.text) if case.sentence else parse_phone(case.text)


def library(case: Case) -> str | None:
    """phonenumbers: parse + is_valid_number for a field, PhoneNumberMatcher (VALID) for a sentence."""
    import phonenumbers
    from phonenumbers import Leniency, PhoneNumberFormat

    def e164(number: phonenumbers.PhoneNumber) -> str:
        return str(phonenumbers.format_number(number, PhoneNumberFormat.E164))

    if case.sentence:
        match = next(iter(phonenumbers.PhoneNumberMatcher(case.text, "VN", leniency=Leniency.VALID)), None)
        return e164(match.number) if match else None
    try:
        number = phonenumbers.parse(case.text, "VN")
    except phonenumbers.NumberParseException:
        return None
    return e164(number) if phonenumbers.is_valid_number(number) else None


def score(parse: Callable[[Case], str | None], cases: list[Case]) -> tuple[int, list[tuple[Case, str | None]], float]:
    """Correct answers, the wrong ones, and the median time of one call (µs)."""
    wrong = [(c, got) for c in cases if (got := parse(c)) != c.expected]
    samples = []
    for _ in range(20):
        for c in cases:
            start = time.perf_counter()
            parse(c)
            samples.append(time.perf_counter() - start)
    return len(cases) - len(wrong), wrong, statistics.median(samples) * 1e6


def main() -> None:
    """Print the table (markdown), and the errors when asked."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()
    cases = corpus()
    kinds = list(dict.fromkeys(c.kind for c in cases))
    print(f"| parser | correct of {len(cases)} | " + " | ".join(kinds) + " | median per call |")
    print("|---|---|" + "---|" * len(kinds) + "---|")
    for name, parse in (("ours (bot/text.py)", ours), ("phonenumbers 9.0", library)):
        right, wrong, micro = score(parse, cases)
        bad = {k: sum(1 for c, _ in wrong if c.kind == k) for k in kinds}
        per_kind = " | ".join(f"{sum(1 for c in cases if c.kind == k) - bad[k]}/{sum(1 for c in cases if c.kind == k)}"
                              for k in kinds)  # fmt: skip
        print(f"| {name} | {right} | {per_kind} | {micro:.1f} µs |")
        if args.show_errors:
            for case, got in wrong:
                print(f"    {name}: {case.text!r} → {got} (expected {case.expected})")


if __name__ == "__main__":
    main()
