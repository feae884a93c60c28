"""Provinces and commune-level units after the July 2025 reform (knowledge/units/), resolved from free text."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from rapidfuzz import fuzz, process

from bot.text import canonical, fold
from bot.units import UnitTable, UnitType, load_units

_UNIT_PREFIXES: dict[str, UnitType] = {"xa": "xa", "phuong": "phuong", "dac khu": "dac_khu", "p": "phuong"}
_DROP_PREFIXES = ("thi tran", "thi xa")  # pre-2025 unit words people still type: drop, keep the name
_PROVINCE_PREFIXES = ("thanh pho", "tinh", "tp")
_PROVINCE_NICKNAMES = {"hcm": 79, "tphcm": 79, "sai gon": 79, "hn": 1}
_FUZZY_CUTOFF = 84
_FUZZY_MARGIN = 4


@dataclass(frozen=True)
class ProvinceInfo:
    """A province-level unit (tỉnh or thành phố trực thuộc trung ương)."""

    code: int
    name: str
    centrally_run: bool


@dataclass(frozen=True)
class Place:
    """A commune-level unit with its province."""

    code: int
    name: str
    type: UnitType
    province: ProvinceInfo

    @property
    def label(self) -> str:
        """'Xã Vĩnh Thủy, Quảng Trị'."""
        return f"{self.name}, {self.province.name}"


@dataclass(frozen=True)
class District:
    """A pre-2025 district (huyện, quận, thị xã) typed: districts were abolished on 1 July 2025."""

    word: str  # 'huyện', 'quận' or 'thị xã', as people read it
    name: str  # the name, folded ('lang giang')
    shown: str = ""  # the name as typed ('Lạng Giang', 'lang giang')

    @property
    def label(self) -> str:
        """'huyện Lạng Giang': the name as typed, said back with the unit found."""
        return f"{self.word} {' '.join(w[:1].upper() + w[1:] for w in (self.shown or self.name).split())}"


@dataclass(frozen=True)
class Resolution:
    """The outcome of resolving text: one place, several to choose from, or nothing."""

    status: Literal["ok", "ambiguous", "not_found"]
    province: ProvinceInfo | None = None
    candidates: tuple[Place, ...] = ()
    district: District | None = None  # a pre-2025 district typed with the place

    @property
    def place(self) -> Place | None:
        """The place when exactly one matched."""
        return self.candidates[0] if self.status == "ok" and self.candidates else None

    @property
    def provinces(self) -> tuple[ProvinceInfo, ...]:
        """The distinct provinces among the candidates, in order."""
        return tuple(dict.fromkeys(c.province for c in self.candidates))


@dataclass(frozen=True)
class Renamed:
    """How what was typed differs from the unit chosen: a unit word of another type, a pre-2025 province."""

    unit: str | None  # the unit word typed ('phường') where the unit is now of another type ('xã')
    province: str | None  # the pre-2025 province typed ('Quảng Nam') that merged into the unit's province
    district: str | None = None  # the pre-2025 district typed ('huyện Vĩnh Linh'): there are none since 1/7/2025


# The unit words people type before a commune's name, as they read (pre-2025 ones included).
_UNIT_WORDS = {"xa": "xã", "phuong": "phường", "dac khu": "đặc khu", "p": "phường", "thi tran": "thị trấn"}
# Pre-2025 district words, folded, as people still type them before a district's name.
_DISTRICT_WORDS = {"thi xa": "thị xã", "huyen": "huyện", "quan": "quận", "tx": "thị xã"}
# Words that end a district's name: a unit or province word, or what a sentence goes on with.
_DISTRICT_STOPS = {
    "xa", "phuong", "p", "dac", "tinh", "tp", "thanh", "o", "tai", "va", "lam", "can", "muon", "co", "nay", "cu",
}  # fmt: skip
_MAX_DISTRICT = 3
_TYPE_WORDS: dict[UnitType, str] = {"xa": "xã", "phuong": "phường", "dac_khu": "đặc khu"}


def _named_exactly(place: Place, typed: str) -> bool:
    """Whether the unit's own name was typed (not reached through a typo): 'vinh thuy' for Xã Vĩnh Thủy."""
    return f" {_strip_prefix(fold(place.name), _UNIT_PREFIXES)[0]} " in f" {fold(typed).replace(',', ' ')} "


def unit_word(place: Place) -> str:
    """'xã', 'phường' or 'đặc khu'."""
    return _TYPE_WORDS[place.type]


def province_title(province: ProvinceInfo) -> str:
    """'TP Đà Nẵng' for a centrally-run city, 'tỉnh Quảng Trị' otherwise."""
    name = province.name.removeprefix("Thành phố ").removeprefix("Tỉnh ")
    return f"{'TP' if province.centrally_run else 'tỉnh'} {name}"


def _strip_prefix(folded: str, prefixes: Iterable[str]) -> tuple[str, str | None]:
    for prefix in prefixes:
        if folded.startswith(prefix + " "):
            return folded[len(prefix) + 1 :], prefix
    return folded, None


def _bare(name: str) -> str:
    """A unit name in canonical lowercase, without its type word: 'Xã Bình Giang' → 'bình giang'."""
    return _strip_prefix(canonical(name).lower(), ("xã", "phường", "đặc khu"))[0]


class Gazetteer:
    """Lookup of the 34 provinces and 3,321 commune-level units, by folded name."""

    def __init__(self, province_aliases: Mapping[str, str] | None = None, units: UnitTable | None = None) -> None:
        self._units = units or load_units()  # the bundled knowledge/units/ unless the knowledge base gives its own
        self._aliases = {fold(k): fold(v) for k, v in (province_aliases or {}).items()}
        self._old_names = {fold(k): canonical(k) for k in province_aliases or {}}

    def renamed(
        self, place: Place, commune_typed: str, province_typed: str | None = None, district: District | None = None
    ) -> Renamed | None:
        """What the person typed that the 2025 reform changed: 'phường Ba Đình' now a xã, 'Quảng Nam' now Đà Nẵng.

        None when the typed words name the unit as it is (or name no unit word and no old province).
        """
        folded = fold(commune_typed)
        word = next((w for w in sorted(_UNIT_WORDS, key=len, reverse=True) if folded.startswith(w + " ")), None)
        unit = _UNIT_WORDS[word] if word and _UNIT_WORDS[word] != unit_word(place) else None
        key = _strip_prefix(fold(province_typed or ""), _PROVINCE_PREFIXES)[0]
        old = self._old_names.get(key) if self._aliases.get(key) else None
        if old is not None and self.province_code(key) != place.province.code:
            old = None  # an old name of another province than the unit's: not what was chosen
        gone = district.label if district else None
        return Renamed(unit, old, gone) if unit or old or gone else None

    def split_district(self, text: str) -> tuple[str, District | None]:
        """The text without the pre-2025 district it names ('huyện Lạng Giang'), and that district (or None).

        'quận' is also 'quán' (a shop): it counts only before the name of a unit that carries a district's name.
        """
        parts = text.split(",")
        for n, part in enumerate(parts):
            words = fold(part).split()
            for i in range(len(words)):
                found = self.district_at(words, i)
                if found is not None:
                    district, end = found
                    typed = part.split()
                    if len(typed) == len(words) and not district.shown:  # shown as typed
                        district = District(
                            district.word, district.name, " ".join(typed[end - len(district.name.split()) : end])
                        )
                    parts[n] = " ".join(words[:i] + words[end:])
                    return ",".join(p for p in parts if p.strip()), district
        return text, None

    def district_at(self, words: list[str], i: int) -> tuple[District, int] | None:
        """The district whose word starts at word i ('huyện', 'thị xã'), and the end of its name."""
        word = next((w for w in ("thi xa", "huyen", "quan", "tx") if words[i : i + len(w.split())] == w.split()), None)
        if word is None:
            return None
        start = i + len(word.split())
        end = start
        while end < len(words) and end - start < _MAX_DISTRICT and words[end] not in _DISTRICT_STOPS:
            if end > start and any(" ".join(words[end : end + n]) in self._province_keys for n in (1, 2, 3)):
                break  # 'huyện Hải Hậu Nam Định': the province begins
            end += 1
        name = " ".join(words[start:end])
        if not name or (word == "quan" and (end - start < 2 or not self.district_units(name))):
            return None
        exact = self._wards.get(name)  # a unit carries the name: the district is shown as it is spelled
        spelled = _strip_prefix(canonical(exact[0].name), ("Xã", "Phường", "Đặc khu"))[0] if exact else ""
        return District(_DISTRICT_WORDS[word], name, spelled), end

    def district_units(self, name: str, province: ProvinceInfo | None = None) -> list[Place]:
        """The units that carry a pre-2025 district's name ('Hải Hậu', 'Điện Bàn Đông'), within a province."""
        key = fold(name)
        keys = [k for k in self._ward_keys if k == key or k.startswith(key + " ")]
        return [p for k in keys for p in self._wards[k] if province is None or p.province == province]

    @cached_property
    def _provinces(self) -> dict[int, ProvinceInfo]:
        return {p.code: ProvinceInfo(p.code, p.name, p.centrally_run) for p in self._units.provinces}

    @cached_property
    def _province_keys(self) -> dict[str, int]:
        keys = {_strip_prefix(fold(p.name), _PROVINCE_PREFIXES)[0]: p.code for p in self._provinces.values()}
        keys.update(_PROVINCE_NICKNAMES)
        keys.update({old: keys[new] for old, new in self._aliases.items() if new in keys})
        return keys

    @cached_property
    def _wards(self) -> dict[str, list[Place]]:
        index: dict[str, list[Place]] = defaultdict(list)
        for unit in self._units.communes:
            place = Place(unit.code, canonical(unit.name), unit.type, self._provinces[unit.province])
            key, _ = _strip_prefix(fold(unit.name), _UNIT_PREFIXES)
            index[key].append(place)
        return dict(index)

    @cached_property
    def _ward_keys(self) -> list[str]:
        return list(self._wards)

    def province_code(self, key: str) -> int | None:
        """The province whose folded name (new or pre-2025, without 'tỉnh') is exactly this key."""
        return self._province_keys.get(key)

    def communes(self, text: str, province: ProvinceInfo | None = None, fuzzy: bool = True) -> list[Place]:
        """The commune-level units a typed name may mean, within a province when one is given."""
        return self._communes(text, province, fuzzy)

    def all_places(self) -> list[Place]:
        """Every commune-level unit."""
        return [p for places in self._wards.values() for p in places]

    def province(self, text: str) -> ProvinceInfo | None:
        """The province named in the text (new or pre-2025 name, with or without diacritics, typos)."""
        key, _ = _strip_prefix(fold(text), _PROVINCE_PREFIXES)
        if not key:
            return None
        code = self._province_keys.get(key)
        if code is None:
            match = process.extractOne(key, list(self._province_keys), scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF)
            code = self._province_keys[match[0]] if match else None
        return self._provinces[code] if code is not None else None

    def province_by_code(self, code: int) -> ProvinceInfo | None:
        """The province with this code."""
        return self._provinces.get(code)

    def place_by_code(self, code: int) -> Place | None:
        """The commune-level unit with this code."""
        return self._by_code.get(code)

    def trailing_province(self, text: str) -> tuple[str, ProvinceInfo] | None:
        """'xa binh giang ninh binh' → ('xa binh giang', Ninh Bình): a province named last, by its own name only."""
        words = text.replace(",", " ").split()
        for k in (3, 2, 1):
            if len(words) <= k:
                continue
            province = self.province(" ".join(words[-k:]))
            if province is not None and fold(" ".join(words[-k:])) == fold(province.name):  # no fuzzy guess here
                return " ".join(words[:-k]), province
        return None

    def among(self, codes: list[int], text: str) -> Place | None:
        """After 'which Bình Giang?': the one of these same-name communes in the province the text names."""
        province = self.province(text) if text else None
        places = [p for p in map(self.place_by_code, codes) if p is not None]
        picked = [p for p in places if province is not None and p.province == province]
        return picked[0] if len(picked) == 1 else None

    @cached_property
    def _by_code(self) -> dict[int, Place]:
        # Looked up on most turns (the conversation keeps the code): a scan of 3,321 units cost 0.2 ms each time.
        return {p.code: p for p in self.all_places()}

    def resolve(self, commune: str | None = None, province: str | None = None) -> Resolution:
        """Resolve a commune (and/or province) typed by a person."""
        prov = self.province(province) if province and fold(province) else None
        if province and fold(province) and prov is None:
            return Resolution("not_found")
        if not commune or not fold(commune):
            return Resolution("ok" if prov else "not_found", prov)
        found = self._communes(commune, prov)
        if not found:
            return Resolution("not_found", prov)
        return Resolution("ok" if len(found) == 1 else "ambiguous", prov, tuple(found))

    def resolve_text(self, text: str) -> Resolution:
        """Resolve one free text that may hold a commune and a province ('xa vinh thuy quang tri').

        A pre-2025 district typed with it ('huyện Vĩnh Linh') is set aside: the commune named is taken when it
        is found exactly, else the units that may be meant (those carrying the district's name) are offered.
        """
        rest, district = self.split_district(text)
        if district is not None:
            return self._with_district(rest, district)
        return self._resolve_text(text)

    def _with_district(self, rest: str, district: District) -> Resolution:
        result = self._resolve_text(rest) if fold(rest).strip(" ,") else Resolution("not_found")
        exact = result.place is not None and _named_exactly(result.place, rest)
        province = result.province or (result.place.province if result.place is not None and exact else None)
        units = self.district_units(district.name, province)
        if province is None and len({u.province for u in units}) == 1:
            province = units[0].province  # 'xã Vĩnh Thái, huyện Vĩnh Linh': the district tells the province
            if fold(rest).strip(" ,"):
                result = self.resolve(rest, province.name)
        place = result.place
        if place is not None and place.province == province and _named_exactly(place, rest):
            return Resolution("ok", province, (place,), district)
        near = [c for c in result.candidates if province is None or c.province == province]
        candidates = tuple(dict.fromkeys([*near, *units]))[:8]
        if candidates:
            return Resolution("ambiguous", province, candidates, district)
        return Resolution("not_found", province, (), district)

    def _resolve_text(self, text: str) -> Resolution:
        if "," in text:
            head, _, tail = text.rpartition(",")
            if self.province(tail) and fold(head):
                return self.resolve(head, tail)
        words = fold(text).split()
        for n in range(min(4, len(words) - 1), 0, -1):
            tail = " ".join(words[-n:])
            head = " ".join(words[:-n])
            for suffix in (" tinh", " thanh pho", " tp"):
                head = head.removesuffix(suffix)
            if tail in self._province_keys or tail in self._aliases:
                result = self.resolve(head, tail)
                if result.status != "not_found":
                    return result
        key, _ = _strip_prefix(fold(text), _PROVINCE_PREFIXES)
        if key in self._province_keys and _strip_prefix(fold(text), _UNIT_PREFIXES)[1] is None:
            # A bare province name means the province ('Quảng Bình' the old province, not the xã in Thanh Hóa).
            return self.resolve(None, text)
        result = self.resolve(text)
        if result.status == "not_found" and self.province(text):
            return self.resolve(None, text)
        return result

    def _communes(self, text: str, prov: ProvinceInfo | None, fuzzy: bool = True) -> list[Place]:
        folded = fold(text)
        for drop in _DROP_PREFIXES:
            folded = _strip_prefix(folded, (drop,))[0]
        key, prefix = _strip_prefix(folded, _UNIT_PREFIXES)
        wanted = _UNIT_PREFIXES.get(prefix) if prefix else None
        found = self._matches(key, prov, fuzzy)
        successors = False
        if wanted:
            typed = [p for p in found if p.type == wanted]
            if not typed and prov is not None and found:
                # 'xã Điện Bàn, Quảng Nam': no xã of that name now; the old unit's name lives on in several
                # ('phường Điện Bàn', 'phường Điện Bàn Đông', 'xã Điện Bàn Tây'…): the person chooses, we do not guess.
                found, successors = self._successors(key, prov) or found, True
            found = typed or found
        if len(found) > 1 and fold(text) != text.lower() and not successors:
            # The person typed diacritics: prefer the unit spelled exactly so (tone placement aside).
            typed_name = _bare(text)
            found = [p for p in found if _bare(p.name) == typed_name] or found
        return found

    def _successors(self, key: str, prov: ProvinceInfo) -> list[Place]:
        """The units of a province named `key` or `key` followed by more words ('Điện Bàn Đông')."""
        keys = [k for k in self._ward_keys if k == key or k.startswith(key + " ")]
        return [p for k in keys for p in self._wards[k] if p.province == prov]

    def _matches(self, key: str, prov: ProvinceInfo | None, fuzzy: bool) -> list[Place]:
        def within(places: list[Place]) -> list[Place]:
            return [p for p in places if prov is None or p.province == prov]

        exact = within(self._wards.get(key, []))
        if exact or not fuzzy:
            return exact
        found = process.extract(key, self._ward_keys, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF, limit=20)
        hits = [(k, score) for k, score, _ in found if within(self._wards[k])]
        if not hits:
            return []
        best = max(score for _, score in hits)
        return [p for k, score in hits if score >= best - _FUZZY_MARGIN for p in within(self._wards[k])]
