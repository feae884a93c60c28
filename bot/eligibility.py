"""Eligibility rules: a facility's Profile in, an Assessment with cited reasons out. Pure, no I/O."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.knowledge import (
    AreaFlag,
    BudgetLine,
    DocumentCode,
    Knowledge,
    LegalForm,
    Locality,
    SectorCode,
    SupportLine,
    vn_today,
)
from bot.places import Gazetteer, Place, ProvinceInfo, Resolution
from bot.sectors import Classification, SectorClassifier
from bot.text import expand, fold, fold_abbreviations

Size = Literal["micro", "small", "medium", "large"]
_MAX_VND = 10**16  # ten million tỷ: above any real facility; larger numbers are typing errors
_Text = Annotated[str, Field(max_length=500)]
_SME_DECLARATION: DocumentCode = "sme_self_declaration"


class Profile(BaseModel):
    """What a facility tells us about itself (design §4.2)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    legal_form: LegalForm
    activity: Annotated[str, Field(min_length=1, max_length=500)]
    sector: SectorCode | None = None
    workers: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    revenue_vnd: Annotated[int, Field(ge=0, le=_MAX_VND)] | None = None
    capital_vnd: Annotated[int, Field(ge=0, le=_MAX_VND)] | None = None
    province: _Text | None = None
    commune: _Text | None = None
    craft_village: bool | None = None
    area_flags: list[AreaFlag] | None = None
    owner_flags: list[Literal["women_owned", "ethnic_minority_owned"]] = Field(default_factory=list)
    cleaner_production: bool | None = None
    export: bool | None = None
    local_raw_material_share: Annotated[float, Field(ge=0, le=1)] | None = None
    typical_product_certificate: bool | None = None
    needs: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(max_length=20)] = Field(
        default_factory=list
    )


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Reason(_Out):
    """One cited reason."""

    code: str
    text: str
    citation: str


class SectorOut(_Out):
    """The sector the activity was classified into."""

    code: str
    name: str
    matched: str | None


class LocalityOut(_Out):
    """Where the facility is."""

    commune: str | None
    province: str | None
    code: int | None
    type: Literal["xa", "phuong", "dac_khu"] | None
    centrally_run: bool | None


class LineOut(_Out):
    """A support line offered, national or local."""

    code: str
    name: str
    funding: Literal["national", "provincial", "commune"]
    share_max: float | None
    cap_vnd: int | None
    citation: str
    status: Literal["P", "S", "R"]
    cap_note: str | None = None
    slots: str | None = None


class DocumentOut(_Out):
    """A dossier document to prepare."""

    code: str
    name: str


class Assessment(_Out):
    """The decision (design §4.3)."""

    eligible: bool | None
    subject: Literal["rural_industrial_facility", "cleaner_production_facility"] | None
    sector: SectorOut | None
    size: Size | None
    locality: LocalityOut | None
    priority: bool
    priority_reasons: list[Reason]
    reasons: list[Reason]
    support_lines: list[LineOut]
    documents: list[DocumentOut]
    next_steps: list[str]
    questions: list[str]


@dataclass
class _Verdict:
    """What the rules found so far; reasons accumulate in order."""

    blocks: list[Reason] = field(default_factory=list)  # definite ineligibility
    passes: list[Reason] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)


class Assessor:
    """Applies the rules of the knowledge base to profiles."""

    def __init__(self, kb: Knowledge, gazetteer: Gazetteer | None = None) -> None:
        self.kb = kb
        self.rules = kb.rules
        self.gazetteer = gazetteer or Gazetteer({a.old: a.new for a in kb.province_aliases.aliases}, kb.units)
        self._abbr = fold_abbreviations(kb.abbreviations.abbreviations)
        self.classifier = SectorClassifier(kb.sectors, self._abbr)

    @property
    def abbreviations(self) -> dict[str, str]:
        """The folded abbreviation table, shared with whoever reads answers."""
        return self._abbr

    # --- helpers --------------------------------------------------------------------

    def _reason(self, code: str, **fields: Any) -> Reason:
        tpl = self.rules.reasons[code]  # type: ignore[index]
        return Reason(code=code, text=tpl.text.format(**fields), citation=tpl.citation)

    def _question(self, code: str, **fields: Any) -> str:
        return self.rules.questions[code].format(**fields)  # type: ignore[index]

    def _step(self, code: str, **fields: Any) -> str:
        return self.rules.next_steps[code].format(**fields)  # type: ignore[index]

    # --- the decision ---------------------------------------------------------------------

    def assess(self, profile: Profile, today: dt.date | None = None) -> Assessment:
        """Decide eligibility, priority, support lines and documents for one profile."""
        today = today or vn_today()
        verdict = _Verdict()
        self._legal_form(profile, verdict)
        cls = self._sector(profile, verdict)
        where = self.gazetteer.resolve(profile.commune, profile.province)
        locals_ = self.localities(where)
        area_flags = self._area_flags(profile, locals_)
        size = self._size(profile, cls, verdict)
        self._sector_conditions(cls, area_flags, verdict)
        place = _Verdict()
        self._location(profile, where, place)
        subject = self._subject(profile, size, place, verdict)
        eligible = False if verdict.blocks else (None if verdict.questions else True)
        lines = self._lines(profile, cls, area_flags, subject, locals_, today) if eligible is not False else []
        priorities = self._priorities(profile, cls, area_flags)
        return Assessment(
            eligible=eligible,
            subject=subject if eligible is not False else None,
            sector=self._sector_out(cls),
            size=size,
            locality=_locality_out(where),
            priority=bool(priorities),
            priority_reasons=priorities,
            reasons=verdict.blocks + verdict.passes,
            support_lines=lines,
            documents=self._documents(profile, size, lines, locals_) if eligible is not False else [],
            next_steps=self._next_steps(verdict, locals_, today, cls) + self._area_lines(profile, area_flags, verdict),
            questions=list(dict.fromkeys(verdict.questions)) if eligible is None else [],
        )

    def _legal_form(self, profile: Profile, verdict: _Verdict) -> None:
        if profile.legal_form == "unregistered":
            verdict.blocks.append(self._reason("unregistered"))
        elif profile.legal_form != "enterprise":
            form = self.rules.labels.legal_forms[profile.legal_form]
            verdict.passes.append(self._reason("legal_form_ok", form=form))

    def _sector(self, profile: Profile, verdict: _Verdict) -> Classification:
        if profile.sector:
            return Classification("sector", profile.sector, None, profile.sector)
        cls = self.classifier.classify(profile.activity)
        if cls.kind == "excluded":
            verdict.blocks.append(self._reason("excluded_brick_kiln", matched=cls.matched))
        elif cls.kind == "non_industrial":
            verdict.blocks.append(self._reason("not_industrial_activity", matched=cls.matched))
        elif cls.kind is None:
            verdict.questions.append(self._question("activity"))
        return cls

    def _sector_conditions(self, cls: Classification, flags: set[str] | None, verdict: _Verdict) -> None:
        if cls.kind != "sector" or cls.code is None:
            return
        sector = self.kb.sector(cls.code)
        restriction = next((r for r in self.kb.sectors.restrictions if r.sector == cls.code), None)
        if restriction and flags is None:
            verdict.questions.append(self._question("difficult_area"))
        elif restriction and flags is not None and not flags & set(restriction.requires_area_flags):
            verdict.blocks.append(self._reason("mining_outside_difficult_area"))
            return
        elif restriction:
            verdict.passes.append(self._reason("mining_ok"))
        verdict.passes.append(self._reason("sector_ok", sector=sector.name, matched=cls.matched or sector.name))

    def _size(self, profile: Profile, cls: Classification, verdict: _Verdict) -> Size | None:
        """SME size under Nghị định 80/2021: workers AND (revenue OR capital); enterprises only."""
        if profile.legal_form != "enterprise":
            return None
        group = self.kb.sector(cls.code).size_group if cls.kind == "sector" and cls.code else "industry_construction"
        ceilings = self.rules.sme_size.groups[group]
        w, facts = profile.workers, _size_facts(profile.workers, profile.revenue_vnd, profile.capital_vnd)
        sizes: tuple[Literal["micro", "small", "medium"], ...] = ("micro", "small", "medium")
        for size in sizes:
            c = ceilings[size]
            if w is not None and w <= c.workers and _money_within(profile, c.revenue_vnd, c.capital_vnd):
                label = self.rules.labels.sizes[size]
                verdict.passes.append(self._reason("sme_ok", size=label, facts=facts))
                return size
        medium = ceilings["medium"]
        money = _money_within(profile, medium.revenue_vnd, medium.capital_vnd)
        if (w is not None and w > medium.workers) or money is False:
            verdict.blocks.append(self._reason("large_enterprise", facts=facts))
            return "large"
        if w is None:
            verdict.questions.append(self._question("workers"))
        if money is None:
            verdict.questions.append(self._question("revenue_or_capital"))
        return None

    def _subject(self, profile: Profile, size: Size | None, place: _Verdict, verdict: _Verdict) -> str:
        """Rural industrial facility; or, for a large or city-ward facility, a cleaner-production one.

        A cleaner-production facility has no size or location limit, so the place then decides nothing.
        """
        outside = size == "large" or bool(place.blocks)
        if profile.cleaner_production and outside and _only_size_or_place(verdict.blocks):
            verdict.blocks.clear()
            verdict.passes.append(self._reason("cleaner_production_subject"))
            return "cleaner_production_facility"
        verdict.blocks += place.blocks
        verdict.passes += place.passes
        verdict.questions += place.questions
        return "rural_industrial_facility"

    def _location(self, profile: Profile, where: Resolution, verdict: _Verdict) -> None:
        """Nghị định 235/2025 Art. 1.1: any unit of a province; xã and đặc khu of a city; or a làng nghề."""
        if where.status == "not_found" or (not where.candidates and where.province is None):
            verdict.questions.append(self._question("commune" if profile.commune else "province"))
        elif where.status == "ambiguous":  # the local plans differ by province, so ask even when all qualify
            options = ", ".join(p.province.name for p in where.candidates)
            verdict.questions.append(self._question("which_province", options=options))
        elif where.place is None:
            self._location_province(where.province, verdict)
        else:
            self._location_place(where.place, profile.craft_village, verdict)

    def _location_place(self, place: Place, craft_village: bool | None, verdict: _Verdict) -> None:
        if not (place.province.centrally_run and place.type == "phuong"):
            self._location_ok(place, verdict)
        elif craft_village is None:
            verdict.questions.append(self._question("craft_village"))
        elif craft_village:
            verdict.passes.append(self._reason("location_craft_village", place=place.label))
        else:
            verdict.blocks.append(self._reason("location_not_covered", place=place.label))

    def _location_province(self, province: ProvinceInfo | None, verdict: _Verdict) -> None:
        """A province alone decides only when it is a tỉnh: every xã, phường and đặc khu of it qualifies."""
        if province is None or province.centrally_run:
            verdict.questions.append(self._question("commune"))
            return
        verdict.passes.append(
            self._reason(
                "location_ok",
                place=province.name,
                unit="xã, phường hay đặc khu",
                province_kind=province_kind(province),
            )
        )

    def _location_ok(self, place: Place, verdict: _Verdict) -> None:
        unit = self.rules.labels.unit_types[place.type]
        kind = province_kind(place.province)
        verdict.passes.append(self._reason("location_ok", place=place.label, unit=unit, province_kind=kind))

    # --- what follows from the decision -----------------------------------------------

    def _area_flags(self, profile: Profile, locals_: list[Locality]) -> set[str] | None:
        """The area flags given, plus those the locality files state; None when nothing is known."""
        local: set[str] = {f for loc in locals_ for f in loc.area_flags}
        if profile.area_flags is None:
            return local or None
        return set(profile.area_flags) | local

    def localities(self, where: Resolution) -> list[Locality]:
        """The locality plans for the place: the commune's own first, then its province's."""
        place = where.place
        province = place.province if place else where.province
        if province is None:
            return []
        found = [
            loc
            for loc in self.kb.localities
            if not loc.historical
            and loc.province_code == province.code
            and (loc.level == "province" or (place is not None and loc.ward_code == place.code))
        ]
        return sorted(found, key=lambda loc: (loc.level != "commune", loc.id))

    def _priorities(self, profile: Profile, cls: Classification, flags: set[str] | None) -> list[Reason]:
        found: list[Reason] = []

        def add(code: str, **fields: Any) -> None:
            tpl = self.rules.priorities[code]  # type: ignore[index]
            found.append(Reason(code=code, text=tpl.text.format(**fields), citation=tpl.citation))

        for flag in sorted(flags or (), key=list(AreaFlag.__args__).index):  # type: ignore[attr-defined]
            add(flag)
        if cls.kind == "sector" and cls.code and self.kb.sector(cls.code).priority:
            add("priority_sector", sector=self.kb.sector(cls.code).name)
        if profile.typical_product_certificate:
            add("typical_product")
        if profile.export:
            add("export")
        thresholds = self.rules.priority_thresholds
        share = profile.local_raw_material_share
        if share is not None and share > thresholds.local_raw_material_share:
            add("local_raw_material", share=f"{share:.0%}")
        if profile.workers is not None and profile.workers >= thresholds.labour_intensive_workers:
            add("labour_intensive", workers=profile.workers)
        for owner in profile.owner_flags:
            add(owner)
        return found

    def _lines(
        self,
        profile: Profile,
        cls: Classification,
        flags: set[str] | None,
        subject: str | None,
        locals_: list[Locality],
        today: dt.date,
    ) -> list[LineOut]:
        """The locality's own budget lines first, then the national lines, narrowed by the needs."""
        national = [
            ln
            for ln in self.kb.support_lines.lines
            if ln.valid_on(today) and self._line_applies(ln, profile, cls, flags, subject)
        ]
        wanted = self._wanted(profile.needs, national)
        if wanted is None:  # narrow lines (relocation, pollution…) only when the facility asks for them
            national = [ln for ln in national if not ln.on_request]
        current = [loc for loc in locals_ if loc.valid_on(today)]
        planned = {code for loc in current for code in loc.contents}
        out = [
            local_line(b)
            for loc in current
            for b in loc.budget_lines
            if any(ln.code == b.code for ln in national) and (wanted is None or b.code in wanted)
        ]
        chosen = [ln for ln in national if wanted is None or ln.code in wanted]
        chosen.sort(key=lambda ln: ln.code not in planned)  # the locality's planned contents first
        return out + [national_line(ln) for ln in chosen]

    @staticmethod
    def _line_applies(
        line: SupportLine, profile: Profile, cls: Classification, flags: set[str] | None, subject: str | None
    ) -> bool:
        if subject not in line.subjects:
            return False
        if line.legal_forms is not None and profile.legal_form not in line.legal_forms:
            return False
        if line.sectors is not None and (cls.kind != "sector" or cls.code not in line.sectors):
            return False
        return not (line.requires_area_flags and not (flags or set()) & set(line.requires_area_flags))

    def _wanted(self, needs: list[str], lines: list[SupportLine]) -> set[str] | None:
        """Line codes named or described by the needs; None when needs say nothing we recognise."""
        codes: set[str] = {ln.code for ln in lines}
        wanted: set[str] = {n for n in needs if n in codes}
        for need in needs:
            wanted |= self._described(need, lines)
        return wanted or None

    def _described(self, need: str, lines: list[SupportLine]) -> set[str]:
        text = f" {expand(fold(need), self._abbr)} "
        return {ln.code for ln in lines if any(f" {fold(k)} " in text for k in ln.keywords)}

    def lines_described(self, text: str) -> list[str]:
        """The codes of the support lines whose keywords the text uses, in the order of the knowledge."""
        found = self._described(text, self.kb.support_lines.lines)
        return [ln.code for ln in self.kb.support_lines.lines if ln.code in found]

    def names_support(self, need: str) -> bool:
        """Whether typed words describe some support line ('mua máy sấy' does, 'quảng trị' does not)."""
        return bool(self._described(need, self.kb.support_lines.lines))

    def _documents(
        self, profile: Profile, size: Size | None, lines: list[LineOut], locals_: list[Locality]
    ) -> list[DocumentOut]:
        own = next((loc.documents for loc in locals_ if loc.documents), None)
        codes = list(own or self.kb.documents.defaults)
        # Nghị định 80/2021 Art. 10: an SME proves its size by self-declaring it, whatever a commune's own list.
        codes.append(_SME_DECLARATION)
        for line in lines:
            if line.funding == "national":
                codes += self.kb.line(line.code).documents
        result = []
        for code in dict.fromkeys(codes):
            doc = self.kb.document(code)
            if (doc.legal_forms is None or profile.legal_form in doc.legal_forms) and (
                doc.sizes is None or size is None or size in doc.sizes
            ):
                form = next((f for loc in locals_ for f in loc.forms if f.code == code), None)
                result.append(DocumentOut(code=code, name=form.name if form else doc.name))
        return result

    def _next_steps(self, verdict: _Verdict, locals_: list[Locality], today: dt.date, cls: Classification) -> list[str]:
        codes = {r.code for r in verdict.blocks}
        steps = []
        if "unregistered" in codes:
            steps.append(self._step("register_business"))
        if "large_enterprise" in codes:
            steps.append(self._step("cleaner_production_hint"))
        if "not_industrial_activity" in codes and cls.code in (
            "crop_farming",
            "livestock",
            "aquaculture",
            "forestry",
        ):
            steps.append(self._step("other_programmes"))
        current = [loc for loc in locals_ if loc.valid_on(today)]
        for loc in locals_:
            if not loc.valid_on(today):
                steps.append(self._step("plan_expired", title=loc.title))
        office = next((loc.office for loc in current + locals_), None)
        if office:
            steps.append(self._step("contact", office=office.name))
            if office.phone:
                steps.append(self._step("phone", phone=office.phone))
        else:
            steps.append(self._step("no_office"))
        if not verdict.blocks:
            steps += [self._step("documents"), self._step("register"), self._step("local_levels")]
        return steps

    def _area_lines(self, profile: Profile, flags: set[str] | None, verdict: _Verdict) -> list[str]:
        """A line asked for that only a difficult area gets ('lên doanh nghiệp'): said, not silently left out."""
        if verdict.blocks or not profile.needs:
            return []
        asked = self._wanted(profile.needs, self.kb.support_lines.lines) or set()
        out = []
        for line in self.kb.support_lines.lines:
            needed = set(line.requires_area_flags or ())
            if line.code not in asked or not needed or (flags or set()) & needed:
                continue
            if line.legal_forms is None or profile.legal_form in line.legal_forms:
                out.append(self._step("line_needs_area" if flags is None else "line_not_here", line=line.name))
        return out

    def _sector_out(self, cls: Classification) -> SectorOut | None:
        if cls.kind == "sector" and cls.code:
            return SectorOut(code=cls.code, name=self.kb.sector(cls.code).name, matched=cls.matched)
        return None


def _money_within(profile: Profile, revenue_ceiling: int, capital_ceiling: int) -> bool | None:
    """Revenue OR capital within the ceilings: True, False, or None when the unknowns could decide."""
    known = [
        v <= c
        for v, c in ((profile.revenue_vnd, revenue_ceiling), (profile.capital_vnd, capital_ceiling))
        if v is not None
    ]
    if any(known):
        return True
    if len(known) == 2:
        return False
    return None


def _size_facts(workers: int | None, revenue: int | None, capital: int | None) -> str:
    parts = []
    if workers is not None:
        parts.append(f"{workers} lao động")
    if revenue is not None:
        parts.append(f"doanh thu {vnd(revenue)}")
    if capital is not None:
        parts.append(f"nguồn vốn {vnd(capital)}")
    return ", ".join(parts)


def province_kind(province: ProvinceInfo) -> str:
    """'tỉnh Quảng Trị' or 'Thành phố Hải Phòng (trực thuộc trung ương)'."""
    return f"{province.name} (trực thuộc trung ương)" if province.centrally_run else f"tỉnh {province.name}"


def _only_size_or_place(blocks: list[Reason]) -> bool:
    return all(r.code in ("large_enterprise", "location_not_covered") for r in blocks)


def vnd(amount: int) -> str:
    """'1,5 tỷ đồng', '300 triệu đồng', '10.000 đồng' for people."""
    for unit, name in ((10**9, "tỷ"), (10**6, "triệu")):
        if amount >= unit:
            value = f"{amount / unit:,.2f}".rstrip("0").rstrip(".")
            return value.replace(",", "X").replace(".", ",").replace("X", ".") + f" {name} đồng"
    return f"{amount:,}".replace(",", ".") + " đồng"


def _locality_out(where: Resolution) -> LocalityOut | None:
    place = where.place
    if place:
        return LocalityOut(
            commune=place.name,
            province=place.province.name,
            code=place.code,
            type=place.type,
            centrally_run=place.province.centrally_run,
        )
    if where.province:
        return LocalityOut(
            commune=None, province=where.province.name, code=None, type=None, centrally_run=where.province.centrally_run
        )
    return None


def national_line(line: SupportLine) -> LineOut:
    """A national support line as offered."""
    return LineOut(
        code=line.code,
        name=line.name,
        funding="national",
        share_max=line.share_max,
        cap_vnd=line.cap_vnd,
        citation=line.citation,
        status=line.status,
        cap_note=line.cap_note,
    )


def local_line(budget: BudgetLine) -> LineOut:
    """A locality's own budget line as offered: its amount per facility and its slots."""
    slots = budget.slots_text or (f"{budget.slots} suất" if budget.slots else None)
    return LineOut(
        code=budget.code,
        name=budget.name,
        funding=budget.funding,
        share_max=None,
        cap_vnd=budget.amount_per_facility_vnd,
        citation=budget.citation,
        status=budget.status,
        cap_note=budget.note,
        slots=slots,
    )
