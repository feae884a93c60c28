"""A product or activity: its sector and whether it is covered, with the exclusions and restrictions that apply."""

from __future__ import annotations

from bot.dialog.case.base import Kit, Part
from bot.flows import CaseTexts
from bot.render import cited

_FARMING = ("crop_farming", "livestock", "aquaculture", "forestry")  # groups other programmes serve


def product_part(kit: Kit, texts: CaseTexts, product: str) -> Part | None:
    """'Làm gốm': covered, its sector; 'homestay': not industry, never 'Có'; brick kilns, mining: the limits."""
    cls = kit.assessor.classifier.classify(product)
    if cls.kind == "excluded":
        return Part(texts.not_covered + kit.reason("excluded_brick_kiln", matched=cls.matched))
    if cls.kind == "non_industrial":
        no = texts.not_covered + kit.reason("not_industrial_activity", matched=cls.matched)
        return Part(no + ("\n" + kit.step("other_programmes") if cls.code in _FARMING else ""))
    if cls.kind != "sector" or cls.code is None:
        return None
    sector = kit.kb.sector(cls.code)
    found = kit.kb.sectors
    limits = [(e.text, e.citation, str(e.status)) for e in found.exclusions if e.sector == cls.code]
    limits += [(r.text, r.citation, r.status) for r in found.restrictions if r.sector == cls.code]
    matched = cls.matched or sector.name
    out: list[str] = [texts.covered + kit.reason("sector_ok", sector=sector.name, matched=matched)]
    if limits:  # a sector with limits (mining) is not a plain 'Có': the limit decides, so it comes first
        ok = kit.kb.rules.reasons["sector_ok"]
        out = [cited("⚠️ " + text, citation, status) for text, citation, status in limits]
        out.append(cited(texts.restricted_sector.format(matched=matched, sector=sector.name), ok.citation, ok.status))
    if sector.priority:
        tpl = kit.kb.rules.priorities["priority_sector"]
        out.append(cited(tpl.text.format(sector=sector.name), tpl.citation, tpl.status))
    return Part("\n".join(out), check=True)
