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
    # A sector with limits (brick kilns, mining) is not a plain 'Có': the limit decides.
    yes = "" if limits else texts.covered
    out: list[str] = [yes + kit.reason("sector_ok", sector=sector.name, matched=cls.matched or sector.name)]
    out += [cited("⚠️ " + text, citation, status) for text, citation, status in limits]
    if sector.priority:
        tpl = kit.kb.rules.priorities["priority_sector"]
        out.append(cited(tpl.text.format(sector=sector.name), tpl.citation, tpl.status))
    return Part("\n".join(out), check=True)
