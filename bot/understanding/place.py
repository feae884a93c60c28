"""Commune and province through the gazetteer: 'xã X tỉnh Y', 'X, Y', 'X Y', typos, no diacritics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.places import District, Gazetteer, Place, ProvinceInfo
from bot.text import canonical
from bot.understanding.model import Fact
from bot.understanding.tokens import Reading

_COMMUNE_WORDS = (("dac", "khu"), ("thi", "tran"), ("xa",), ("phuong",), ("p",))
_PROVINCE_WORDS = (("thanh", "pho"), ("tinh",), ("tp",))
# Words that follow 'xã' without naming one: 'xã mình', 'xã em', 'xã nào', 'xa quá'.
_NOT_A_NAME = {
    "minh", "em", "toi", "nay", "nao", "do", "qua", "khong", "co", "la", "o", "thi", "ben", "nha", "chung",
    "duoc", "ta", "anh", "chi", "chu", "bac", "con", "va", "hoi", "vien", "ho", "tro", "can", "nhung",
}  # fmt: skip
# Everyday words that are also commune names ('là gì' = La Gi, 'trung tâm', 'mẫu', 'tiền', 'năm'): a name typed
# without 'xã' is read only when none of its words is one of these.
_COMMON = _NOT_A_NAME | {
    "gi", "ban", "nhan", "mau", "van", "che", "tao", "an", "toan", "trung", "tam", "lien", "hiep", "hop", "ly",
    "trach", "may", "duong", "noi", "go", "cong", "to", "mo", "cu", "bo", "de", "sinh", "kinh", "doanh", "san",
    "xuat", "bien", "hang", "dien", "thoai", "tien", "khuyen", "nam", "dang", "ky", "nghe", "dao", "moi", "cac",
    "mot", "hai", "ba", "bon", "sau", "bay", "chin", "muoi", "tram", "trieu", "nghin", "ngan", "dong", "vay",
    "von", "thue", "dat", "nuoc", "lam", "muon", "xin", "di", "den", "ve", "cho", "voi", "cua", "tai", "ai",
    "dau", "bao", "nhieu", "sao", "hay", "ma", "nhu", "the", "trong", "ngoai", "gia", "dinh", "phu", "hoi",
    "xa", "tinh", "phuong", "tp", "p", "dac", "khu", "tran", "giay", "ho", "so",
}  # fmt: skip
DISTRICT_TYPED = "a district typed: "  # the why of a commune fact offered because a district was typed
_MAX_NAME = 4
_MAX_ANCHORS = 6  # 'xã xã xã …' must not cost a fuzzy search per word: a real message names a few places


@dataclass(frozen=True)
class _Prov:
    info: ProvinceInfo
    i: int  # tokens [i, j), with the 'tỉnh' word when typed
    j: int
    marked: bool


class PlaceReader:
    """Reads the commune and province a message names."""

    def __init__(self, gazetteer: Gazetteer, is_product: Callable[[str], bool] | None = None) -> None:
        self._gaz = gazetteer
        self._is_product = is_product or (lambda _: False)  # 'sơn mài' is a craft before it is a commune

    def read(self, reading: Reading, at_step: bool) -> list[Fact]:
        """A commune fact (its code) and a province fact (its name), each where it was typed.

        A pre-2025 district typed ('huyện Lạng Giang') is set aside first: its name is not a commune's. The commune
        named with it is kept when found exactly; otherwise the units that may be meant are offered to choose.
        """
        district = self._district(reading)
        facts = self._read(reading, at_step)
        return self._with_district(reading, facts, district) if district else facts

    def _read(self, reading: Reading, at_step: bool) -> list[Fact]:
        prov = self._province(reading)
        facts = self._anchored(reading, prov) or self._before_province(reading, prov)
        if not facts and not at_step:
            facts = self._bare(reading, prov)
        if not facts and prov is not None:
            facts = [self._province_fact(reading, prov)]
        if not facts and at_step and reading.tokens:
            facts = self._whole(reading)
        return facts

    # --- district (pre-2025) ----------------------------------------------------------

    def _district(self, reading: Reading) -> tuple[District, int, int] | None:
        """The district typed, its tokens claimed so that no commune is read from them."""
        for i in range(len(reading.words)):
            found = self._gaz.district_at(reading.words, i) if reading.free[i] else None
            if found is not None:
                district, j = found
                if self._is_product(reading.original(i, j)):
                    continue
                reading.claim(i, j)
                shown = district.shown or reading.original(j - len(district.name.split()), j)
                return District(district.word, district.name, shown), i, j
        return None

    def _with_district(self, reading: Reading, facts: list[Fact], found: tuple[District, int, int]) -> list[Fact]:
        district, i, j = found
        commune = next((f for f in facts if f.kind == "commune"), None)
        if commune is not None and commune.value is not None and commune.confidence >= 0.8:
            return facts  # the commune named exactly: taken, the district said back with it
        province = next((f for f in facts if f.kind == "province" and f.why == "province name"), None)
        info = self._gaz.province(str(province.value)) if province else None
        units = self._gaz.district_units(district.name, info)
        if info is None and len({u.province for u in units}) == 1:
            info = units[0].province
        named = [] if commune is None else [commune.value] if commune.value is not None else list(commune.alternatives)
        near = [
            p for p in (self._gaz.place_by_code(int(c)) for c in named) if p and (info is None or p.province == info)
        ]
        codes = tuple(dict.fromkeys(p.code for p in [*near, *units]))[:8]
        rest = [f for f in facts if f.kind not in ("commune", "province")]
        kept = [province] if province else []
        if not codes:  # no unit of that name: a typo'd commune of another province must not win over the one typed
            return rest + kept
        start, end = reading.span(i, j)
        if commune is not None:
            start, end = min(start, commune.start), max(end, commune.end)
        why = f"{DISTRICT_TYPED}{district.label}"
        return [*rest, Fact("commune", None, start, end, 0.4, why, codes), *kept]

    # --- province --------------------------------------------------------------------

    def _province(self, reading: Reading) -> _Prov | None:
        words, free = reading.words, reading.free
        found: list[_Prov] = []
        i = 0
        while i < len(words):
            marker = _prefix(words, i, _PROVINCE_WORDS)
            start = i + marker
            hit = self._province_at(words, free, start, marked=bool(marker))
            if hit is not None and all(free[i:start]):
                info, j = hit
                # 'xã Quảng Bình' is the commune, not the province of that name.
                if not marker and i > 0 and _prefix(words, i - 1, _COMMUNE_WORDS):
                    i += 1
                    continue
                found.append(_Prov(info, i, j, bool(marker)))
                i = j
            else:
                i += 1
        # The last one named is where the facility is ('quê Nghệ An, giờ ở xã X Quảng Trị').
        return max(found, key=lambda p: (p.marked, p.i)) if found else None

    def _province_at(self, words: list[str], free: list[bool], i: int, marked: bool) -> tuple[ProvinceInfo, int] | None:
        for n in range(min(4, len(words) - i), 0, -1):
            if not all(free[i : i + n]):
                continue
            code = self._gaz.province_code(" ".join(words[i : i + n]))
            if code is not None and (marked or n > 1 or len(words[i]) > 2 or len(words) == 1):
                info = self._gaz.province_by_code(code)
                return (info, i + n) if info else None
        if marked:  # 'tinh quang tr': a typo after the word 'tỉnh'
            for n in range(min(3, len(words) - i), 0, -1):
                info = self._gaz.province(" ".join(words[i : i + n]))
                if info is not None and all(free[i : i + n]):
                    return info, i + n
        return None

    def _province_fact(self, reading: Reading, prov: _Prov) -> Fact:
        reading.claim(prov.i, prov.j)
        start, end = reading.span(prov.i, prov.j)
        return Fact("province", prov.info.name, start, end, 0.95 if prov.marked else 0.85, "province name")

    # --- commune ---------------------------------------------------------------------

    def _anchored(self, reading: Reading, prov: _Prov | None) -> list[Fact]:
        words, free = reading.words, reading.free
        tried = 0
        for i in range(len(words)):
            marker = _prefix(words, i, _COMMUNE_WORDS)
            if not marker or not all(free[i : i + marker]):
                continue
            start = i + marker
            if start >= len(words) or words[start] in _NOT_A_NAME or words[start].isdigit():
                continue
            if _prefix(words, start, _COMMUNE_WORDS) or tried == _MAX_ANCHORS:
                continue
            tried += 1
            limit = start
            while limit < len(words) and limit - start < _MAX_NAME and free[limit]:
                if (prov and limit == prov.i) or (limit > start and reading.tokens[limit].comma_before):
                    break
                limit += 1
            found = self._name(words, start, limit, prov, words[i : i + marker])
            if found:
                places, j, exact = found
                return self._commune_facts(reading, i, j, places, prov, 0.95 if exact else 0.65)
        return []

    def _name(
        self, words: list[str], start: int, limit: int, prov: _Prov | None, unit: list[str]
    ) -> tuple[list[Place], int, bool] | None:
        info = prov.info if prov else None
        typed = " ".join(unit)
        for fuzzy in (False, True):
            for j in range(limit, start, -1):
                if fuzzy and (j - start < 2 and len(words[start]) < 4):
                    continue
                places = self._gaz.communes(f"{typed} {' '.join(words[start:j])}", info, fuzzy)
                if places:
                    return places, j, not fuzzy
        return None

    def _before_province(self, reading: Reading, prov: _Prov | None) -> list[Fact]:
        """'vinh thuy quang tri', 'Vĩnh Thủy, Quảng Trị': a commune name just before the province."""
        if prov is None:
            return []
        for n in range(min(_MAX_NAME, prov.i), 0, -1):
            i = prov.i - n
            if not all(reading.free[i : prov.i]) or reading.words[i] in _NOT_A_NAME:
                continue
            places = self._gaz.communes(" ".join(reading.words[i : prov.i]), prov.info, fuzzy=False)
            if places:
                return self._commune_facts(reading, i, prov.i, places, prov, 0.8)
        return []

    def _bare(self, reading: Reading, prov: _Prov | None) -> list[Fact]:
        """'vinh thuy nam nay …': a commune named without 'xã', only when its whole name matches exactly."""
        words, free = reading.words, reading.free
        for i in range(len(words)):
            for n in range(min(3, len(words) - i), 1, -1):  # one word alone is too often an ordinary word
                name = words[i : i + n]
                if not all(free[i : i + n]) or any(w in _COMMON or w.isdigit() for w in name):
                    continue
                if (prov and i < prov.j and prov.i < i + n) or self._gaz.province_code(" ".join(name)) is not None:
                    continue  # 'ở Quảng Trị' is the province, not its ward of that name
                places = self._gaz.communes(" ".join(name), prov.info if prov else None, fuzzy=False)
                start, end = reading.span(i, i + n)
                typed = reading.text[start:end]
                places = [p for p in places if _spelled_as(typed, p.name)]
                if places and not self._is_product(typed):
                    return self._commune_facts(reading, i, i + n, places, prov, 0.7)
        return []

    def _commune_facts(
        self, reading: Reading, i: int, j: int, places: list[Place], prov: _Prov | None, confidence: float
    ) -> list[Fact]:
        reading.claim(i, j)
        start, end = reading.span(i, j)
        if len(places) > 1:  # the same name in several provinces: the dialog asks which
            codes = tuple(p.code for p in places)
            facts = [Fact("commune", None, start, end, 0.4, "several communes", codes)]
            return facts + ([self._province_fact(reading, prov)] if prov else [])
        place = places[0]
        commune = Fact("commune", place.code, start, end, confidence, place.label)
        if prov is not None:
            return [commune, self._province_fact(reading, prov)]
        return [commune, Fact("province", place.province.name, start, end, confidence, "province of the commune")]

    def _whole(self, reading: Reading) -> list[Fact]:
        """At the place step the whole answer is a place, as the interview reads it."""
        result = self._gaz.resolve_text(reading.text)
        start, end = reading.tokens[0].start, reading.tokens[-1].end
        if result.status == "ambiguous":
            codes = tuple(p.code for p in result.candidates)
            return [Fact("commune", None, start, end, 0.4, "several communes", codes)]
        if result.place is not None:
            p = result.place
            return [
                Fact("commune", p.code, start, end, 0.7, p.label),
                Fact("province", p.province.name, start, end, 0.7, "province of the commune"),
            ]
        if result.province is not None:
            return [Fact("province", result.province.name, start, end, 0.7, "province name")]
        return []


def _spelled_as(typed: str, name: str) -> bool:
    """Each word typed with diacritics has the name's ('là gì' is not La Gi); words without any may be either."""
    bare = canonical(name).lower().removeprefix("xã ").removeprefix("phường ").removeprefix("đặc khu ").split()
    said = canonical(typed).lower().split()
    return len(said) == len(bare) and all(w.isascii() or w == b for w, b in zip(said, bare, strict=True))


def _prefix(words: list[str], i: int, prefixes: tuple[tuple[str, ...], ...]) -> int:
    """How many tokens at i are a unit word ('xã', 'thị trấn', 'tỉnh'), 0 if none."""
    for prefix in prefixes:
        if tuple(words[i : i + len(prefix)]) == prefix:
            return len(prefix)
    return 0
