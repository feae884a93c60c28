"""A place: the location rule of Nghị định 235/2025 (a ward of a centrally-run city only inside a craft village)."""

from __future__ import annotations

from bot.dialog.case.base import Kit, Part
from bot.dialog.case.facts import Case
from bot.eligibility import province_kind
from bot.flows import CaseTexts
from bot.render import cited


def place_part(kit: Kit, texts: CaseTexts, case: Case) -> Part | None:
    """Whether the place named is covered, or what it depends on."""
    if case.place is None and case.candidates and case.district:  # districts are gone: which unit now
        options = "; ".join(p.label for p in case.candidates)
        return Part(texts.district_gone.format(district=case.district, options=options), check=True)
    if case.place is None and case.candidates:
        options = ", ".join(dict.fromkeys(p.province.name for p in case.candidates))
        return Part(kit.question("which_province", options=options), check=True)
    place = case.place
    if place is not None and place.province.centrally_run and place.type == "phuong":
        if case.craft_village:
            return Part(kit.reason("location_craft_village", place=place.label))
        out = kit.reason("location_not_covered", place=place.label)
        if case.craft_village is False:
            return Part(texts.not_covered + out)
        return Part(out + "\n" + kit.question("craft_village"), check=True)
    if place is not None:
        unit = kit.kb.rules.labels.unit_types[place.type]
        kind = province_kind(place.province)
        return Part(kit.reason("location_ok", place=place.label, unit=unit, province_kind=kind))
    province = case.province
    if province is None:
        return None
    if province.centrally_run:
        tpl = kit.kb.rules.reasons["location_not_covered"]
        return Part(cited(texts.ward_rule.format(province=province.name), tpl.citation, tpl.status), check=True)
    unit = "xã, phường hay đặc khu"
    return Part(kit.reason("location_ok", place=province.name, unit=unit, province_kind=province_kind(province)))
