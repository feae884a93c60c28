"""Which kinds of case answer a question needs, and the answer put together from them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from bot.dialog.case.base import Kit, Part
from bot.dialog.case.facts import Case, case_of
from bot.dialog.case.lines import national_part
from bot.dialog.case.place import place_part
from bot.dialog.case.plan import plan_part
from bot.dialog.case.priority import priority_part
from bot.dialog.case.product import product_part
from bot.dialog.case.size import legal_form_part, size_part
from bot.eligibility import Assessor, Profile
from bot.flows import CaseTexts
from bot.knowledge import Knowledge, vn_today
from bot.render import cited
from bot.understanding import Understanding

_SIZE_FACTS = frozenset({"workers", "revenue", "capital"})
# The one line about loans: the interest on a loan taken to relocate a polluting workshop. Khuyến công lends
# nothing; a question about borrowing is answered by the FAQ ('không cho vay'), not by this line's figures.
_RELOCATION_INTEREST = "relocation_interest"
_LOANS = "vay_von"  # the FAQ entry that says so, with its citation


@dataclass(frozen=True)
class CaseAnswer:
    """A cited answer from the knowledge, and whether to offer the eligibility check beside it."""

    text: str
    check: bool


class CaseAnswers:
    """Answers questions about a commune, a product, a place, a size or a support line from the data."""

    def __init__(self, kb: Knowledge, assessor: Assessor, texts: CaseTexts) -> None:
        self.kb, self.assessor, self.texts = kb, assessor, texts

    def answer(
        self, u: Understanding, slots: Mapping[str, Any] | None = None, today: dt.date | None = None
    ) -> CaseAnswer | None:
        """The answer from the person's own case, or None to let the FAQ answer."""
        kit = Kit(self.kb, self.assessor, today or vn_today())
        case = case_of(u, slots or {}, self.assessor.gazetteer)
        if not case.needs and case.cue("amount"):  # 'thành lập doanh nghiệp … bao nhiêu': the line, not the form
            case = replace(case, needs=tuple(self.assessor.lines_described(u.text)))
        if case.cue("loan") and not case.cue("relocation"):
            case = replace(case, needs=tuple(n for n in case.needs if n != _RELOCATION_INTEREST))
            if not (case.needs or case.product or case.cue("plan")):
                return self._loans()  # 'hỏi chị vay': khuyến công lends nothing; where to borrow instead
        parts = [p for p in self._parts(kit, case) if p is not None]
        if not parts:
            return None
        check = any(p.check for p in parts)
        text = "\n\n".join(p.text for p in parts)
        missing = self._missing(case) if check else []
        if missing:
            text += "\n\n" + self.texts.depends.format(missing=", ".join(missing))
        return CaseAnswer(text, check)

    def _parts(self, kit: Kit, case: Case) -> list[Part | None]:
        t, asked = self.texts, case.asked
        topical = any(case.cue(c) for c in ("support", "eligible", "plan"))
        if topical and case.product and (self._outside(case.product) or self._limited(case.product)):
            # No line or plan answer may suggest it is covered: the product's 'Không', or its limit (mining), first.
            return [product_part(kit, t, case.product)]
        if case.cue("priority") and not case.cue("priority_list") and _described(case):
            return [priority_part(kit, t, case)]  # 'có được ưu tiên không': from what the person said of the facility
        if topical and self._large(kit, case):
            return [size_part(kit, t, case)]  # a large enterprise: the size decides, no line it cannot get
        place_asked = bool(asked & {"commune", "province"}) or bool(case.candidates)
        about_place = case.needs or any(case.cue(c) for c in ("office", "forms", "support_what"))
        if case.cue("plan") or (place_asked and about_place):
            if case.candidates and case.place is None:
                return [place_part(kit, t, case)]
            return [plan_part(kit, t, case)]
        # Only questions about support or eligibility: 'xe tải đi Lạng Sơn mất mấy tiếng' is not ours.
        if not topical:
            return []
        if case.needs and not case.cue("forms") and not (case.product and case.cue("eligible")):
            return [self._lines(kit, case)]
        parts: list[Part | None] = []
        if case.product:  # 'làm gốm có được hỗ trợ máy móc không': the product decides, then the line
            parts.append(product_part(kit, t, case.product))
            parts += [Part(national_part(kit, t, code)) for code in case.needs[:1]]
        if asked & _SIZE_FACTS or (case.legal_form == "enterprise" and case.cue("size")):
            parts.append(size_part(kit, t, case))
        elif "legal_form" in asked and case.cue("eligible") and not case.product:
            form = case.legal_form or ""
            parts.append(size_part(kit, t, case) if form == "enterprise" else legal_form_part(kit, t, form))
        if place_asked or (case.cue("ward") and case.province is not None):
            parts.append(place_part(kit, t, case))
        return parts

    def _loans(self) -> CaseAnswer | None:
        """The FAQ's word on loans (khuyến công lends nothing; the banks and the social policy bank do)."""
        entry = next((e for e in self.kb.faq.entries if e.id == _LOANS), None)
        return CaseAnswer(cited(entry.answer, entry.citation, entry.status), check=False) if entry else None

    def names_outside(self, u: Understanding) -> bool:
        """Whether the message names an activity outside industry, or excluded: its 'Không' always wins."""
        return any(f.kind == "product" and self._outside(str(f.value)) for f in u.facts)

    def _outside(self, product: str) -> bool:
        """An activity outside industry, or excluded (brick kilns): it is never answered 'Có'."""
        return self.assessor.classifier.classify(product).kind in ("non_industrial", "excluded")

    def _limited(self, product: str) -> bool:
        """A sector covered only under a condition of place (mining: a difficult area)."""
        code = self.assessor.classifier.classify(product).code
        return any(r.sector == code and r.requires_area_flags for r in self.kb.sectors.restrictions)

    @staticmethod
    def _large(kit: Kit, case: Case) -> bool:
        """An enterprise whose figures pass the medium size (Nghị định 80/2021)."""
        if case.legal_form != "enterprise" or (case.workers is None and case.revenue is None and case.capital is None):
            return False
        profile = Profile(
            legal_form="enterprise",
            activity=case.product or "-",
            workers=case.workers,
            revenue_vnd=case.revenue,
            capital_vnd=case.capital,
        )
        return kit.assessor.assess(profile, kit.today).size == "large"

    def _lines(self, kit: Kit, case: Case) -> Part:
        """The national share and cap of the lines named; the commune's own amount where its plan has one."""
        if case.place is not None or case.province is not None:
            plans = kit.plans(case.place, case.province)
            if plans:
                return plan_part(kit, self.texts, case)
        text = "\n\n".join(national_part(kit, self.texts, code) for code in case.needs[:2])
        return Part(text + "\n" + kit.step("local_levels"))

    def _missing(self, case: Case) -> list[str]:
        """What the eligibility of the person's facility still depends on."""
        known = case.known
        out = []
        if not (case.legal_form or known.get("legal_form")):
            out.append("legal_form")
        if not (case.product or known.get("activity")):
            out.append("product")
        if case.place is None and case.province is None:
            out.append("place")
        return [self.texts.missing[m] for m in out]


def _described(case: Case) -> bool:
    """Whether the question or the conversation says something of the facility itself."""
    known = case.known
    said = (case.product, case.workers, case.place, case.export, case.local_material, *case.owner_flags)
    return any(v is not None for v in said) or bool(known.get("activity") or known.get("workers"))
