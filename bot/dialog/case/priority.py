"""Priority: which criteria of Nghị định 45/2012 Art. 6 and Thông tư 46/2012 Art. 6 the person's case meets."""

from __future__ import annotations

from bot.dialog.case.base import Kit, Part
from bot.dialog.case.facts import Case
from bot.eligibility import Profile
from bot.flows import CaseTexts
from bot.render import cited

_AREA = "area"  # the commune's own flags (difficult, highland, border…): known only from its plan or the person


def priority_part(kit: Kit, texts: CaseTexts, case: Case) -> Part:
    """The criteria met, each cited; then, in one line, those that depend on what we do not know yet."""
    known = case.known
    place = case.place
    said = known.get("difficult_area")
    profile = Profile(
        legal_form=case.legal_form or "household_business",  # type: ignore[arg-type]
        activity=case.product or str(known.get("activity") or "-"),
        sector=None if case.product else known.get("sector"),
        workers=case.workers,
        province=place.province.name if place else (case.province.name if case.province else None),
        commune=place.name if place else None,
        export=case.export,
        owner_flags=list(case.owner_flags),  # type: ignore[arg-type]
        area_flags=["difficult"] if said is True else [] if said is False else None,
    )
    a = kit.assessor.assess(profile, kit.today)
    met = {r.code for r in a.priority_reasons}
    lines = [texts.priority_met if met else texts.priority_none]
    lines += [cited("• " + r.text, r.citation, _status(kit, r.code)) for r in a.priority_reasons]
    open_ = _open(kit, texts, case, met, said)
    if open_:
        area, t = kit.kb.rules.priorities["difficult"], kit.kb.rules.priority_thresholds
        source = f"{area.citation}; {t.citation}"
        lines.append(cited(texts.priority_if.format(items="; ".join(open_)), source, t.status))
    owners = _owners(kit, texts, case, met)
    if owners:
        lines.append(owners)
    return Part("\n".join(lines), check=not known.get("assessment"))


def _open(kit: Kit, texts: CaseTexts, case: Case, met: set[str], said: object) -> list[str]:
    """The criteria still possible: what the person has not said (or said without the figure that decides)."""
    t = kit.kb.rules.priority_thresholds
    items = texts.priority_items
    out = []
    if "local_raw_material" not in met:
        key = "local_raw_material" if case.local_material else "local_raw_material_unknown"
        out.append(items[key].format(share=round(t.local_raw_material_share * 100)))
    if case.workers is None:
        out.append(items["labour_intensive"].format(workers=t.labour_intensive_workers))
    area = {"difficult", "extremely_difficult", "new_rural", "highland", "island", "border", "ethnic_minority_area"}
    if not met & area and said is not False:
        out.append(items[_AREA])
    if "export" not in met and case.export is not False:
        out.append(items["export"])
    out.append(items["typical_product"])
    return out


# Nghị định 235/2025 added facilities owned by women and by ethnic minority people to the priorities.
_OWNER_FLAGS = ("women_owned", "ethnic_minority_owned")


def _owners(kit: Kit, texts: CaseTexts, case: Case, met: set[str]) -> str:
    """The owner priorities not said yet, asked about in one cited line ('' when both are known)."""
    said = set(case.owner_flags) | met
    items = [texts.priority_items[flag] for flag in _OWNER_FLAGS if flag not in said]
    if not items:
        return ""
    source = kit.kb.rules.priorities["women_owned"]
    return cited(texts.priority_if.format(items="; ".join(items)), source.citation, source.status)


def _status(kit: Kit, code: str) -> str:
    """The status of a priority's source ('P' primary, 'S' secondary, marked 'tham khảo')."""
    return kit.kb.rules.priorities[code].status  # type: ignore[index]
