"""The slots of the interview that an Understanding fills, as the dialog keeps them (dialogs/*.yaml slot names)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.answers import place_slot
from bot.places import Gazetteer, Place
from bot.understanding.model import Fact, FactKind, Understanding
from bot.understanding.place import DISTRICT_TYPED

MIN_CONFIDENCE = 0.5  # below this a fact explains, it fills nothing
SURE = 0.8  # at or above this a slot is filled without asking; between the two it is shown to confirm

# Fact kind → slot name of dialogs/eligibility.yaml and registration.yaml (and 'sector' beside 'activity').
_SLOTS: dict[FactKind, str] = {
    "legal_form": "legal_form",
    "product": "activity",
    "sector": "sector",
    "workers": "workers",
    "revenue": "revenue_vnd",
    "capital": "capital_vnd",
    "craft_village": "craft_village",
    "export": "export",
    "local_material": "local_raw_material",
    "phone": "phone",
    "name": "name",
    "facility": "facility",
}


@dataclass(frozen=True)
class Slots:
    """Slot values read from one message, which of them to confirm, and communes to choose among."""

    values: dict[str, Any] = field(default_factory=dict)
    to_confirm: frozenset[str] = frozenset()
    place_choices: tuple[int, ...] = ()  # commune codes when the name is ambiguous


def slots_of(understanding: Understanding, gazetteer: Gazetteer) -> Slots:
    """The slots an Understanding fills; the most confident fact of each kind wins."""
    values: dict[str, Any] = {}
    unsure: set[str] = set()
    for kind, slot in _SLOTS.items():
        fact = understanding.fact(kind)
        if fact is not None and fact.confidence >= MIN_CONFIDENCE:
            values[slot] = fact.value
            _mark(unsure, slot, fact)
    needs = [f for f in understanding.facts if f.kind == "need" and f.confidence >= MIN_CONFIDENCE]
    if needs:
        values["needs"] = list(dict.fromkeys(f.value for f in needs))
    flags = understanding.values("owner_flag")
    if flags:
        values["owner_flags"] = flags
    commune = understanding.fact("commune")
    choices: tuple[int, ...] = ()
    if commune is not None and commune.value is None:
        choices = tuple(commune.alternatives)
        if commune.why.startswith(DISTRICT_TYPED):  # asked with the word that districts are gone
            values["place_district"] = commune.why.removeprefix(DISTRICT_TYPED)
    elif commune is not None and commune.confidence >= MIN_CONFIDENCE:
        place = gazetteer.place_by_code(int(commune.value))
        if place is not None:
            values["place"] = place_slot(place)
            _mark(unsure, "place", commune)
            was = _renamed(understanding, commune, place, gazetteer)
            if was:
                values["place_was"] = was
    province = understanding.fact("province")
    if "place" not in values and province is not None and province.confidence >= MIN_CONFIDENCE:
        values["province_hint"] = province.value  # the interview still asks the commune
    return Slots(values, frozenset(unsure), choices)


def _renamed(u: Understanding, commune: Fact, place: Place, gazetteer: Gazetteer) -> dict[str, Any] | None:
    """The unit word or pre-2025 province typed where the reform changed it, to be said back to the person."""
    province = u.fact("province")
    typed = u.text[province.start : province.end] if province and province.why == "province name" else None
    district = gazetteer.split_district(u.text)[1]
    was = gazetteer.renamed(place, u.text[commune.start : commune.end], typed, district)
    return {"code": place.code, "unit": was.unit, "province": was.province, "district": was.district} if was else None


def _mark(unsure: set[str], slot: str, fact: Fact) -> None:
    if fact.confidence < SURE:
        unsure.add(slot)
