"""Workers, revenue and capital: numbers and amounts (bot/text.py readers) with the words around them."""

from __future__ import annotations

from bot.text import fold, parse_count, parse_money
from bot.understanding.model import Fact
from bot.understanding.tokens import Reading

_NUMBER_WORDS = {
    "mot", "hai", "ba", "bon", "tu", "nam", "lam", "sau", "bay", "tam", "chin", "muoi", "chuc", "tram",
    "nghin", "ngan", "ruoi", "le", "linh", "moi",
}  # fmt: skip
# 'tam' before a digit word is 'tầm' (about): 'tam năm trăm triệu' is about 500 triệu, not 8 then 500. Before 'trăm',
# 'mươi', 'triệu' or 'tỷ' it is the number itself: 'tam trăm triệu' is 800 triệu.
_DIGIT_WORDS = {"mot", "hai", "ba", "bon", "tu", "nam", "lam", "sau", "bay", "tam", "chin"}
_WORKER_UNITS = {"nguoi", "lao", "cong", "tho", "nhan", "thanh", "chi", "anh", "em"}  # 'lđ', 'nv' arrive expanded
_WORKER_CUES = {("lao", "dong"), ("cong", "nhan"), ("nhan", "cong"), ("nguoi", "lam"), ("tho",), ("nhan", "vien")}
_MONEY_UNITS = {"ty", "ti", "trieu", "tr", "cu", "nghin", "ngan", "k", "dong", "vnd", "d"}
_CAPITAL_CUES = {"von", "san"}  # 'vốn', 'nguồn vốn', 'tài sản'
_WANT_CUES = {"vay", "xin", "can", "muon", "mua", "gia", "chi", "phi", "dau", "tu", "ho", "tro", "duoc"}
_MAX_COUNT = 1_000_000
_MAX_VND = 10**16


class SizeReader:
    """Reads how big the facility is."""

    def read(self, reading: Reading, step: str | None) -> list[Fact]:
        """Workers from 'N người/lao động', revenue and capital from amounts, by the words before them."""
        facts: list[Fact] = []
        i = 0
        while i < len(reading.words):
            j = _number_end(reading, i)
            if j == i:
                i += 1
                continue
            fact = self._money(reading, i, j, step) or self._worker(reading, i, j)
            if fact is not None:
                facts.append(fact)
            i = j
        if not facts and step in ("workers", "revenue") and reading.tokens:
            facts = self._bare(reading, step)
        return facts

    def _worker(self, reading: Reading, i: int, j: int) -> Fact | None:
        words = reading.words
        unit = j < len(words) and words[j] in _WORKER_UNITS and reading.free[j]
        cue = any(_near(words, i, c) for c in _WORKER_CUES)
        if not (unit or cue):
            return None
        value = parse_count(reading.original(i, j))
        if value is None or not 0 <= value <= _MAX_COUNT:
            return None
        end = j + 1 if unit else j
        reading.claim(i, end)
        start, stop = reading.span(i, end)
        return Fact("workers", value, start, stop, 0.9 if unit else 0.75, "number of people")

    def _money(self, reading: Reading, i: int, j: int, step: str | None) -> Fact | None:
        if j >= len(reading.tokens) or _raw(reading, j) not in _MONEY_UNITS:
            return _plain_amount(reading, i, j)
        end = j + 1
        while end < len(reading.tokens) and not reading.tokens[end].comma_before and _more_money(reading, end):
            end += 1
        value = parse_money(reading.original(i, end))
        if value is None or not 0 < value <= _MAX_VND:
            return None
        before = set(reading.words[max(0, i - 5) : i])
        kind, confidence = "revenue", 0.45
        if before & _CAPITAL_CUES:
            kind, confidence = "capital", 0.85
        elif {"doanh", "thu"} <= before or {"doanh", "so"} <= before or "thu" in before or _typed_dt(reading, i):
            confidence = 0.85
        elif before & _WANT_CUES:
            return None  # 'xin hỗ trợ 200 triệu', 'vay 500 triệu': an amount wanted, not the size
        elif step == "revenue":
            confidence = 0.85
        reading.claim(i, end)
        start, stop = reading.span(i, end)
        return Fact(kind, value, start, stop, confidence, "amount")  # type: ignore[arg-type]

    def _bare(self, reading: Reading, step: str) -> list[Fact]:
        start, end = reading.tokens[0].start, reading.tokens[-1].end
        if step == "workers":
            count = parse_count(reading.text)
            if count is not None and 0 <= count <= _MAX_COUNT:
                return [Fact("workers", count, start, end, 0.85, "the answer to the workers step")]
            return []
        money = parse_money(reading.text)
        if money is None or not 0 < money <= _MAX_VND:
            return []
        if money < 10_000:  # '2' or '2,5' with no unit: almost surely tỷ, to confirm
            return [Fact("revenue", money * 10**9, start, end, 0.6, "a bare number read as tỷ")]
        return [Fact("revenue", money, start, end, 0.85, "the answer to the revenue step")]


def _plain_amount(reading: Reading, i: int, j: int) -> Fact | None:
    """'doanh thu 50000000000', 'vốn 800.000.000': a sum in đồng written out, no unit, after its cue."""
    k = j
    while k < len(reading.words) and reading.words[k][:1].isdigit() and not reading.tokens[k].comma_before:
        k += 1
    if k < len(reading.tokens) and _raw(reading, k) in _MONEY_UNITS:
        return None  # '800.000.000 đồng': the amount with its unit is read where the unit stands
    value = parse_money(reading.original(i, k))
    if value is None or not 1_000_000 <= value <= _MAX_VND:
        return None  # '12' after 'doanh thu' is too small to be a sum in đồng: left to the revenue step
    before = set(reading.words[max(0, i - 3) : i])
    if before & _CAPITAL_CUES:
        kind = "capital"
    elif {"doanh", "thu"} <= before or _typed_dt(reading, i):
        kind = "revenue"
    else:
        return None
    reading.claim(i, k)  # the whole written-out sum, '50.000.000.000'
    start, stop = reading.span(i, k)
    return Fact(kind, value, start, stop, 0.8, "a sum in đồng after its cue")  # type: ignore[arg-type]


def _raw(reading: Reading, i: int) -> str:
    """The folded word as typed (before abbreviations: '500k' is 500 nghìn, not 'không')."""
    token = reading.tokens[i]
    return fold(reading.text[token.start : token.end])


def _number_end(reading: Reading, i: int) -> int:
    """The end of a number starting at token i (digits, or number words followed by a unit), else i."""
    words = reading.words
    if not reading.free[i]:
        return i
    if words[i][0].isdigit():
        return i + 1
    if _about(reading, i):
        return i
    j = i
    while j < len(words) and words[j] in _NUMBER_WORDS and reading.free[j]:
        j += 1
    if j > i and j < len(words) and (words[j] in _WORKER_UNITS or _raw(reading, j) in _MONEY_UNITS):
        return j
    return i


def _about(reading: Reading, i: int) -> bool:
    """Token i is 'tầm' (about), not 'tám' (eight): typed so, or 'tam' before a digit or a digit word."""
    if reading.words[i] != "tam":
        return False
    typed = _raw_marked(reading, i)
    if typed != "tam":
        return typed == "tầm"
    following = reading.words[i + 1] if i + 1 < len(reading.words) else ""
    return following in _DIGIT_WORDS or following[:1].isdigit()


def _raw_marked(reading: Reading, i: int) -> str:
    """The word as typed, diacritics kept, lower case."""
    token = reading.tokens[i]
    return reading.text[token.start : token.end].lower()


def _near(words: list[str], i: int, cue: tuple[str, ...]) -> bool:
    """The cue ends at most two words before position i ('lao động khoảng 12')."""
    for gap in range(0, 3):
        end = i - gap
        if end - len(cue) >= 0 and tuple(words[end - len(cue) : end]) == cue:
            return True
    return False


def _more_money(reading: Reading, i: int) -> bool:
    """Token i goes on with the amount: 'rưỡi', or a number with its own unit ('1 tỷ 200 triệu')."""
    if reading.words[i] == "ruoi":
        return True
    last = i + 1 == len(reading.words) or reading.tokens[i + 1].comma_before
    if last and reading.words[i].isdigit() and len(reading.words[i]) <= 3 and _raw(reading, i - 1) in _MONEY_UNITS:
        return True  # '2ty5', '1 tỷ 2': the tail counts in tenths of the unit before it
    j = _number_end(reading, i)
    return j > i and j < len(reading.words) and _raw(reading, j) in _MONEY_UNITS


def _typed_dt(reading: Reading, i: int) -> bool:
    """'dt 25 tỷ': 'dt' is doanh thu before an amount (elsewhere it may be điện thoại or dân tộc)."""
    if i > 1 and reading.words[i - 1] == "tam" and _about(reading, i - 1):
        i -= 1  # 'dt tầm 2 tỷ'
    return i > 0 and _raw(reading, i - 1) == "dt"
