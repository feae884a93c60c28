"""The case a question is about: the facts it names, completed by those the conversation already holds."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.places import Gazetteer, Place, ProvinceInfo
from bot.text import fold
from bot.understanding import MIN_CONFIDENCE, Fact, Understanding
from bot.understanding.place import DISTRICT_TYPED

# What a question asks about, by the words it uses (folded, padded with spaces).
_CUES: dict[str, tuple[str, ...]] = {
    "plan": (
        " ke hoach ", " suat ", " xa minh ", " xa em ", " xa toi ", " xa nha ", " xa ta ", " phuong minh ",
        " dia phuong minh ", " nam nay ", " may co so ", " bao nhieu co so ", " tong kinh phi ", " kinh phi xa ",
        " ngan sach xa ", " xa ho tro ", " o xa ", " xa co ",
    ),
    "support_what": (
        " ho tro gi ", " ho tro nhung gi ", " nhung ho tro ", " nhung khoan ", " khoan nao ", " noi dung nao ",
        " ho tro nhung ", " duoc ho tro gi ", " co nhung gi ", " co gi ", " ho tro cai gi ",
    ),
    "office": (
        " o dau ", " nop ", " lien he ", " dien thoai ", " sdt ", " so dt ", " goi ai ", " hoi ai ", " can bo nao ",
        " co quan nao ", " dau moi ", " ai phu trach ",
    ),
    "forms": (" mau ", " giay to ", " ho so ", " thu tuc ", " bieu mau "),
    "amount": (
        " bao nhieu ", " toi da ", " muc ", " phan tram ", " bn ", " bao nhieu tien ", " may trieu ", " bao nhiu ",
    ),
    "ward": (" phuong ",),
    "size": (
        " quy mo ", " lon ", " nho va vua ", " sieu nho ", " doanh thu ", " nguon von ", " lao dong ", " nhan cong ",
        " cong nhan ",
    ),
    "support": (
        " ho tro ", " khuyen cong ", " dieu kien ", " xin ", " tai tro ", " kinh phi ", " chinh sach ", " uu tien ",
        " huong ",
    ),
    "priority": (" uu tien ", " duoc uu tien ", " dien uu tien "),
    "priority_list": (" nganh nao ", " nhung nganh ", " nganh gi ", " linh vuc nao ", " nhung ai ", " doi tuong nao "),
    "eligible": (" co duoc ", " duoc khong ", " duoc ho tro ", " co thuoc ", " thuoc dien ", " duoc ko ", " dc ko "),
    "loan": (" cho vay ", " vay von ", " vay tien ", " di vay ", " vay ngan hang ", " vay uu dai ", " muon tien "),
    "relocation": (
        " di doi ", " doi xuong ", " chuyen xuong ", " cum cong nghiep ", " khu cong nghiep ", " di chuyen ",
    ),
}  # fmt: skip
# 'xã mình', 'địa phương mình': the person's own commune, or (not given yet) the deploying unit's.
_HOME = (" xa minh ", " xa em ", " xa toi ", " xa nha ", " xa ta ", " phuong minh ", " dia phuong minh ", " o day ")
_MINE = (" minh ", " em ", " toi ", " nha ", " chung toi ", " bac ", " chau ", " con ")


@dataclass(frozen=True)
class Case:
    """A question's facts (asked) and the conversation's (known); the question's win."""

    said: str  # the question folded, padded with spaces
    asked: frozenset[str]  # the fact kinds the question itself names
    cues: frozenset[str]
    legal_form: str | None = None
    product: str | None = None
    sector: str | None = None
    place: Place | None = None
    province: ProvinceInfo | None = None
    candidates: tuple[Place, ...] = ()  # several communes of the name typed
    district: str | None = None  # a pre-2025 district typed ('huyện Lạng Giang') when the commune is to choose
    workers: int | None = None
    revenue: int | None = None
    capital: int | None = None
    craft_village: bool | None = None
    needs: tuple[str, ...] = ()
    export: bool | None = None
    owner_flags: tuple[str, ...] = ()
    local_material: bool | None = None
    known: Mapping[str, Any] = field(default_factory=dict)

    def cue(self, name: str) -> bool:
        """Whether the question uses the words of a cue."""
        return name in self.cues

    @property
    def mine(self) -> bool:
        """The person speaks of their own place or facility ('xã mình', 'bên em')."""
        return any(w in self.said for w in _MINE)


def case_of(u: Understanding, slots: Mapping[str, Any], gazetteer: Gazetteer) -> Case:
    """The case of a question: what it names, else what the conversation holds."""
    said = f" {fold(u.text)} "
    facts: dict[str, Fact] = {f.kind: f for f in u.facts if f.confidence >= MIN_CONFIDENCE or f.kind == "commune"}
    asked = {k for k, f in facts.items() if f.value is not None}
    known_place = slots.get("place") or {}
    place, candidates = _place(u, gazetteer)
    if place is None and not candidates and "commune" not in asked and known_place.get("code"):
        place = gazetteer.place_by_code(int(known_place["code"]))
    province = place.province if place else _province(u, gazetteer)
    if province is None and not candidates and slots.get("province_hint"):
        province = gazetteer.province(str(slots["province_hint"]))

    needs = tuple(dict.fromkeys(f.value for f in u.facts if f.kind == "need" and f.confidence >= MIN_CONFIDENCE))
    product = facts["product"].value if "product" in facts else None
    if product is not None and needs and slots.get("activity") and _asks(u):
        # 'xã có cho mượn xe tải chở hàng đi hội chợ không' from a fish-sauce maker: the truck is what the support
        # is asked for, not what the facility makes; the product already said stays the facility's.
        product = None

    def value(kind: str, slot: str) -> Any:
        fact = facts.get(kind)
        return fact.value if fact is not None and fact.value is not None else slots.get(slot)

    return Case(
        said=said,
        asked=frozenset(asked),
        cues=_cues(said, u.text),
        legal_form=value("legal_form", "legal_form"),
        product=product,
        sector=value("sector", "sector") if product is not None else None,
        place=place,
        province=province,
        candidates=candidates,
        district=_district(u) if candidates else None,
        workers=value("workers", "workers"),
        revenue=value("revenue", "revenue_vnd"),
        capital=value("capital", "capital_vnd"),
        craft_village=value("craft_village", "craft_village"),
        needs=needs,
        export=value("export", "export"),
        owner_flags=tuple(dict.fromkeys([*u.values("owner_flag"), *(slots.get("owner_flags") or [])])),
        local_material=value("local_material", "local_raw_material"),
        known=slots,
    )


def _asks(u: Understanding) -> bool:
    """Whether the message asks something (its facts are then the question's topic)."""
    return any(i.intent == "ask_question" for i in u.intents)


def speaks_of_home(text: str) -> bool:
    """Whether a question is about the person's own commune without naming it ('xã mình có mấy suất')."""
    said = f" {fold(text)} "
    return any(w in said for w in _HOME)


def _cues(said: str, typed: str = "") -> frozenset[str]:
    """The cues a question uses; 'lãi suất' (interest) is not 'suất' (a slot)."""
    said = said.replace(" lai suat ", " ")
    found = {name for name, words in _CUES.items() if any(w in said for w in words)}
    return frozenset(found | ({"loan"} if _borrowing(typed) else set()))


# 'vay' alone is 'vay' (borrow) or 'vậy' (a closing particle: 'gì vậy', 'sao vậy'); after these it is the particle.
_PARTICLE_AFTER = {"gi", "j", "sao", "nao", "the", "khong", "ko", "dau", "a", "day", "nhu", "ntn", "roi", "chua"}


def _borrowing(typed: str) -> bool:
    """'hỏi chị vay', 'muốn vay': the word 'vay' as typed ('vậy' is the particle), not after a question word."""
    words = re.findall(r"[^\W\d_]+", typed.lower())
    return any(w == "vay" and (i == 0 or fold(words[i - 1]) not in _PARTICLE_AFTER) for i, w in enumerate(words))


def _place(u: Understanding, gazetteer: Gazetteer) -> tuple[Place | None, tuple[Place, ...]]:
    fact = u.fact("commune")
    if fact is None:
        return None, ()
    if fact.value is None:
        places = (gazetteer.place_by_code(int(c)) for c in fact.alternatives)
        return None, tuple(p for p in places if p is not None)
    if fact.confidence < MIN_CONFIDENCE:
        return None, ()
    return gazetteer.place_by_code(int(fact.value)), ()


def _district(u: Understanding) -> str | None:
    """The old district typed, when it is why the commune is to choose ('huyện Lạng Giang')."""
    fact = u.fact("commune")
    return fact.why.removeprefix(DISTRICT_TYPED) if fact and fact.why.startswith(DISTRICT_TYPED) else None


def _province(u: Understanding, gazetteer: Gazetteer) -> ProvinceInfo | None:
    fact = u.fact("province")
    if fact is None or fact.confidence < MIN_CONFIDENCE:
        return None
    return gazetteer.province(str(fact.value))
