"""Schema, loader and cross-reference checks of the knowledge/ folder."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.knowledge_errors import KnowledgeError, Problem
from bot.units import UnitTable, read_units

Status = Literal["P", "S", "R"]
SectorCode = Literal[
    "agro_food_processing",
    "consumer_export_goods",
    "agri_chemicals",
    "building_materials",
    "machinery_parts_repair",
    "handicrafts",
    "mining_minerals",
    "cleaner_production_pollution",
    "green_industry",
]
SECTOR_CODES: tuple[str, ...] = SectorCode.__args__  # type: ignore[attr-defined]

LineCode = Literal[
    "vocational_training",
    "management_capacity",
    "study_tour",
    "enterprise_setup",
    "demo_model",
    "advanced_machinery",
    "cleaner_production",
    "typical_product_voting",
    "fairs_exhibitions",
    "brand_registration",
    "showroom",
    "consulting_packaging",
    "digital_transformation",
    "linkage_association",
    "relocation_interest",
    "pollution_treatment",
    "artisan_support",
]
LINE_CODES: tuple[str, ...] = LineCode.__args__  # type: ignore[attr-defined]

DocumentCode = Literal[
    "form_01a",
    "form_01b",
    "business_plan",
    "registration_certificate",
    "counterpart_commitment",
    "no_double_funding_commitment",
    "sme_self_declaration",
    "supplier_quotes",
    "voting_registration_form",
    "product_description",
    "product_photos",
    "quality_certificates",
]
DOCUMENT_CODES: tuple[str, ...] = DocumentCode.__args__  # type: ignore[attr-defined]

LegalForm = Literal[
    "enterprise",
    "cooperative",
    "cooperative_union",
    "cooperative_group",
    "household_business",
    "unregistered",
]
AreaFlag = Literal[
    "difficult",
    "extremely_difficult",
    "new_rural",
    "highland",
    "island",
    "border",
    "ethnic_minority_area",
]
Subject = Literal["rural_industrial_facility", "cleaner_production_facility"]
Funding = Literal["national", "provincial", "commune"]
SizeGroup = Literal["industry_construction", "trade_services"]
NonIndustrialGroup = Literal[
    "trade", "services", "accommodation", "transport", "crop_farming", "livestock", "aquaculture", "forestry", "other"
]

NonEmpty = Annotated[str, Field(min_length=1)]
VN_TIME = dt.timezone(dt.timedelta(hours=7))  # the knowledge's dates are Vietnam days; no summer time


def vn_today() -> dt.date:
    """Today in Vietnam, whatever the server's clock zone."""
    return dt.datetime.now(VN_TIME).date()


M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base of every knowledge model: unknown fields are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Cited(Strict):
    """A fact that carries its legal citation and its P/S/R status."""

    citation: NonEmpty
    status: Status


class Dated(Strict):
    """Something that holds from valid_from to valid_to (inclusive; open when None)."""

    valid_from: dt.date | None = None
    valid_to: dt.date | None = None

    def valid_on(self, day: dt.date) -> bool:
        """Whether the item holds on the given day."""
        if self.valid_from and day < self.valid_from:
            return False
        return not (self.valid_to and day > self.valid_to)


# --- sectors.yaml -----------------------------------------------------------------


class Sector(Cited):
    """One sector of Nghị định 45/2012 Điều 5 (as amended) with its lexicon."""

    code: SectorCode
    name: NonEmpty
    article: NonEmpty
    size_group: SizeGroup = "industry_construction"
    priority: bool = False
    priority_citation: str | None = None
    terms: list[NonEmpty] = Field(min_length=1)


class NonIndustrial(Cited):
    """A group of activities that are not industrial production (trade, farming, …)."""

    group: NonIndustrialGroup
    name: NonEmpty
    # True: such a business sells, serves or shows products it need not make (a shop, a homestay), so a
    # product named beside it counts only where the text says it is made there.
    products_need_making: bool = False
    terms: list[NonEmpty] = Field(min_length=1)


class Exclusion(Cited):
    """Activities of a sector that are excluded from support (e.g. brick kilns)."""

    code: Literal["excluded_brick_kiln"]
    sector: SectorCode
    text: NonEmpty
    terms: list[NonEmpty] = Field(min_length=1)


class Restriction(Cited):
    """A sector supported only under a condition on the area (e.g. mining)."""

    code: Literal["mining_outside_difficult_area"]
    sector: SectorCode
    text: NonEmpty
    requires_area_flags: list[AreaFlag] = Field(min_length=1)


class SectorsFile(Strict):
    """knowledge/sectors.yaml."""

    sectors: list[Sector]
    non_industrial: list[NonIndustrial]
    production_words: list[NonEmpty] = Field(default_factory=list)  # 'làm', 'sản xuất': the text makes it
    production_starts: list[NonEmpty] = Field(default_factory=list)  # 'sửa chữa': only where it starts the term
    place_words: list[NonEmpty] = Field(default_factory=list)  # 'gần', 'ở': the product only names a place
    exclusions: list[Exclusion]
    restrictions: list[Restriction]


# --- support_lines.yaml -------------------------------------------------------------


class SupportLine(Cited, Dated):
    """One national support line (Điều 4; Thông tư 28/2018 Điều 8)."""

    code: LineCode
    name: NonEmpty
    description: NonEmpty
    for_whom: NonEmpty
    content_article: NonEmpty
    share_max: float | None = Field(default=None, gt=0, le=1)
    cap_vnd: int | None = Field(default=None, gt=0)
    cap_note: str | None = None
    conditions: list[NonEmpty] = Field(default_factory=list)
    documents: list[DocumentCode] = Field(default_factory=list)
    subjects: list[Subject] = Field(default_factory=lambda: list[Subject](["rural_industrial_facility"]))
    legal_forms: list[LegalForm] | None = None
    sectors: list[SectorCode] | None = None
    requires_area_flags: list[AreaFlag] | None = None
    keywords: list[NonEmpty] = Field(min_length=1)
    on_request: bool = False  # listed only when the facility's needs name it


class ConditionText(Cited):
    """A general condition of support, e.g. counterpart funding."""

    code: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    text: NonEmpty


class SupportLinesFile(Strict):
    """knowledge/support_lines.yaml."""

    general_conditions: list[ConditionText]
    lines: list[SupportLine]


# --- documents.yaml -----------------------------------------------------------------


class Document(Cited):
    """One dossier document."""

    code: DocumentCode
    name: NonEmpty
    description: NonEmpty
    legal_forms: list[LegalForm] | None = None
    sizes: list[Literal["micro", "small", "medium", "large"]] | None = None  # e.g. SMEs only


class DocumentsFile(Strict):
    """knowledge/documents.yaml: every document and the national default list."""

    documents: list[Document]
    defaults: list[DocumentCode] = Field(min_length=1)


# --- faq.yaml ------------------------------------------------------------------------


class FaqEntry(Cited):
    """One FAQ entry: a question, its phrasings and a short answer."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    question: NonEmpty
    variants: list[NonEmpty] = Field(min_length=4)
    answer: NonEmpty
    tags: list[NonEmpty] = Field(default_factory=list)


_MARKUP = re.compile(r"<\s*[a-zA-Z/!?]|&#?\w+;|javascript:", re.I)  # a tag, an entity, a script link
_FORMULA = re.compile(r"^\s*(?:[=+@]|-(?!\s))")  # a spreadsheet reads these as a formula; '- Mẫu 01a' is a bullet
Short = Annotated[str, Field(min_length=1, max_length=300)]


class LocalFaqEntry(Strict):
    """A commune's own FAQ entry, written by its staff in the dashboard (stored in the database, not in YAML).

    Cited at answer time as the commune office's answer with its date, status S.
    """

    commune_code: int = Field(gt=0)
    question: Short
    variants: list[Short] = Field(default_factory=list, max_length=20)
    answer: Annotated[str, Field(min_length=1, max_length=2000)]
    author: Annotated[str, Field(min_length=1, max_length=100)]

    @model_validator(mode="after")
    def _plain_text(self) -> LocalFaqEntry:
        for name, text in [
            ("question", self.question),
            ("answer", self.answer),
            *(("variants", v) for v in self.variants),
        ]:
            if not text.strip():
                raise ValueError(f"{name}: empty")
            if _MARKUP.search(text):
                raise ValueError(f"{name}: markup")
            if _FORMULA.match(text):
                raise ValueError(f"{name}: formula")
        return self


SubjectKind = Literal["legal_form", "sector", "line", "step", "programme", "qualifier", "topic"]


class FaqSubject(Strict):
    """Something a question can name (a legal form, a sector, a support line, a dossier step…).

    An entry is about the subjects among its tags: named in a question, they must agree.
    """

    tag: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    kind: SubjectKind
    terms: list[NonEmpty] = Field(min_length=1)  # how a question names it, matched as whole words
    required: bool = False  # an entry about it fits only a question that names it ('ưu tiên')


class FaqFile(Strict):
    """knowledge/faq.yaml."""

    subjects: list[FaqSubject] = Field(default_factory=list)
    entries: list[FaqEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _subjects_are_used(self) -> FaqFile:
        tags = [s.tag for s in self.subjects]
        if len(set(tags)) != len(tags):
            raise ValueError("a subject tag is defined twice")
        used = {t for e in self.entries for t in e.tags}
        unused = [t for t in tags if t not in used]
        if unused:
            raise ValueError(f"subjects no entry is tagged with: {', '.join(unused)}")
        return self


class OutOfScopeTopic(Strict):
    """A topic the assistant does not handle, with where to ask instead."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    terms: list[NonEmpty] = Field(min_length=1)
    accent_only_terms: list[NonEmpty] = Field(default_factory=list)  # ambiguous without diacritics ('mưa')
    alone: bool = False  # a pleasantry: it is the topic only when the message says little else
    answer: NonEmpty


class OutOfScopeFile(Strict):
    """knowledge/out_of_scope.yaml."""

    topics: list[OutOfScopeTopic]
    in_scope_terms: list[NonEmpty] = Field(default_factory=list)  # words that show a question is ours


# --- abbreviations.yaml, province_aliases.yaml --------------------------------------------


class AbbreviationsFile(Strict):
    """knowledge/abbreviations.yaml: short forms people type, and their expansions."""

    abbreviations: dict[NonEmpty, NonEmpty]
    phrases: dict[NonEmpty, NonEmpty] = Field(default_factory=dict)


class ProvinceAlias(Cited):
    """A pre-2025 province name and the province it merged into."""

    old: NonEmpty
    new: NonEmpty


class ProvinceAliasesFile(Strict):
    """knowledge/province_aliases.yaml."""

    aliases: list[ProvinceAlias]


# --- localities/<province>/<unit>.yaml ---------------------------------------------------


class Office(Strict):
    """Who to contact locally."""

    name: NonEmpty
    phone: str | None = None
    address: str | None = None
    hours: str | None = None  # as people read them, e.g. "Sáng 7:30–11:30, chiều 13:30–17:00, thứ Hai–thứ Sáu"
    zalo: str | None = None  # the OA's name or link
    note: str | None = None


class BudgetLine(Cited):
    """A locality's own budget line for one support content."""

    code: LineCode
    name: NonEmpty
    funding: Literal["provincial", "commune"]
    amount_per_facility_vnd: int | None = Field(default=None, gt=0)
    slots: int | None = Field(default=None, gt=0)
    slots_text: str | None = None
    total_vnd: int | None = Field(default=None, gt=0)
    note: str | None = None

    @model_validator(mode="after")
    def _total_matches(self) -> BudgetLine:
        amount, slots, total = self.amount_per_facility_vnd, self.slots, self.total_vnd
        if amount and slots and total and amount * slots != total:
            raise ValueError(f"total_vnd {total} != amount_per_facility_vnd × slots ({amount * slots})")
        return self


class OtherItem(Strict):
    """A budget item of the plan that is not support to a facility (e.g. a survey)."""

    name: NonEmpty
    amount_vnd: int | None = Field(default=None, gt=0)
    slots: int | None = Field(default=None, gt=0)
    total_vnd: int | None = Field(default=None, gt=0)


class Form(Strict):
    """A locality's own form (e.g. Mẫu 01a) and the document code it fills."""

    code: DocumentCode
    name: NonEmpty
    description: NonEmpty


class Locality(Cited, Dated):
    """A commune's or province's khuyến công plan, as its published document states."""

    id: NonEmpty
    level: Literal["commune", "province"]
    province: NonEmpty
    province_code: int
    commune: str | None = None
    ward_code: int | None = None
    title: NonEmpty
    document: NonEmpty
    source: NonEmpty
    historical: bool = False
    office: Office
    other_contacts: list[Office] = Field(default_factory=list)
    staff_chat_id: str | None = None  # Telegram chat of the commune's staff for notices and handoffs
    area_flags: list[AreaFlag] = Field(default_factory=list)
    budget_lines: list[BudgetLine] = Field(default_factory=list)
    other_items: list[OtherItem] = Field(default_factory=list)
    budget_total_vnd: int | None = None
    budget_note: str | None = None
    contents: list[LineCode] = Field(default_factory=list)
    forms: list[Form] = Field(default_factory=list)
    documents: list[DocumentCode] | None = None
    targets: list[NonEmpty] = Field(default_factory=list)
    notes: list[NonEmpty] = Field(default_factory=list)

    @model_validator(mode="after")
    def _commune_level_has_ward(self) -> Locality:
        if self.level == "commune" and (self.ward_code is None or not self.commune):
            raise ValueError("a commune-level locality needs commune and ward_code")
        return self

    @model_validator(mode="after")
    def _total_adds_up(self) -> Locality:
        if self.budget_total_vnd is None:
            return self
        parts = [b.total_vnd or 0 for b in self.budget_lines] + [o.total_vnd or 0 for o in self.other_items]
        if sum(parts) != self.budget_total_vnd:
            raise ValueError(f"budget_total_vnd {self.budget_total_vnd} != sum of lines ({sum(parts)})")
        return self


# --- rules.yaml -----------------------------------------------------------------------


class SizeCeiling(Strict):
    """Ceilings of one SME size: workers AND (revenue OR capital)."""

    workers: int = Field(gt=0)
    revenue_vnd: int = Field(gt=0)
    capital_vnd: int = Field(gt=0)


class SmeSize(Cited):
    """Nghị định 80/2021 size table per sector group."""

    groups: dict[SizeGroup, dict[Literal["micro", "small", "medium"], SizeCeiling]]


class PriorityThresholds(Cited):
    """Thông tư 46/2012 Art. 6 thresholds."""

    labour_intensive_workers: int = Field(gt=0)
    local_raw_material_share: float = Field(gt=0, lt=1)


class Template(Cited):
    """A reason or priority text (a str.format template) with its citation."""

    text: NonEmpty


ReasonCode = Literal[
    "legal_form_ok",
    "unregistered",
    "sme_ok",
    "large_enterprise",
    "cleaner_production_subject",
    "sector_ok",
    "not_industrial_activity",
    "excluded_brick_kiln",
    "mining_outside_difficult_area",
    "mining_ok",
    "location_ok",
    "location_craft_village",
    "location_not_covered",
]
PriorityCode = Literal[
    "difficult",
    "extremely_difficult",
    "new_rural",
    "highland",
    "island",
    "border",
    "ethnic_minority_area",
    "priority_sector",
    "typical_product",
    "export",
    "local_raw_material",
    "labour_intensive",
    "women_owned",
    "ethnic_minority_owned",
]
QuestionCode = Literal[
    "activity",
    "workers",
    "revenue_or_capital",
    "province",
    "commune",
    "which_province",
    "craft_village",
    "difficult_area",
    "cleaner_production",
    "needs",
]
StepCode = Literal[
    "contact",
    "phone",
    "documents",
    "register",
    "local_levels",
    "plan_expired",
    "no_office",
    "register_business",
    "cleaner_production_hint",
    "other_programmes",
    "line_needs_area",
    "line_not_here",
]


class Labels(Strict):
    """Vietnamese names of codes shown to people."""

    legal_forms: dict[LegalForm, NonEmpty]
    sizes: dict[Literal["micro", "small", "medium", "large"], NonEmpty]
    unit_types: dict[Literal["xa", "phuong", "dac_khu"], NonEmpty]


class RulesFile(Strict):
    """knowledge/rules.yaml: thresholds and every text the rules produce."""

    sme_size: SmeSize
    priority_thresholds: PriorityThresholds
    reasons: dict[ReasonCode, Template]
    priorities: dict[PriorityCode, Template]
    questions: dict[QuestionCode, NonEmpty]
    next_steps: dict[StepCode, NonEmpty]
    labels: Labels

    @model_validator(mode="after")
    def _complete(self) -> RulesFile:
        for name, keys, lit in (
            ("reasons", self.reasons, ReasonCode),
            ("priorities", self.priorities, PriorityCode),
            ("questions", self.questions, QuestionCode),
            ("next_steps", self.next_steps, StepCode),
        ):
            missing = set(lit.__args__) - set(keys)  # type: ignore[attr-defined]
            if missing:
                raise ValueError(f"{name} lacks {sorted(missing)}")
        return self


# --- the whole knowledge base ----------------------------------------------------------


@dataclass
class Knowledge:
    """Everything loaded from knowledge/."""

    root: Path
    sectors: SectorsFile
    support_lines: SupportLinesFile
    documents: DocumentsFile
    faq: FaqFile
    out_of_scope: OutOfScopeFile
    abbreviations: AbbreviationsFile
    province_aliases: ProvinceAliasesFile
    rules: RulesFile
    units: UnitTable  # knowledge/units/: provinces and commune-level units after the 2025 reform
    localities: list[Locality] = field(default_factory=list)
    locality_files: dict[str, str] = field(default_factory=dict)  # locality id → file, for messages

    def line(self, code: str) -> SupportLine:
        """The national support line with this code."""
        return next(line for line in self.support_lines.lines if line.code == code)

    def document(self, code: str) -> Document:
        """The document with this code."""
        return next(d for d in self.documents.documents if d.code == code)

    def sector(self, code: str) -> Sector:
        """The sector with this code."""
        return next(s for s in self.sectors.sectors if s.code == code)

    @cached_property
    def line_names(self) -> dict[str, str]:
        """Support line code → its name, for lists, exports and charts."""
        return {line.code: line.name for line in self.support_lines.lines}

    @cached_property
    def sector_names(self) -> dict[str, str]:
        """Sector code → its name, for lists, exports and charts."""
        return {s.code: s.name for s in self.sectors.sectors}


def _field_path(loc: Iterable[Any]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def read_yaml(path: Path, root: Path) -> tuple[Any, list[Problem]]:
    """Parse one YAML file; a syntax error becomes a Problem naming the file and line."""
    rel = str(path.relative_to(root.parent)) if path.is_relative_to(root.parent) else str(path)
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)), []
    except FileNotFoundError:
        return None, [Problem(rel, "", "file is missing")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        return None, [Problem(rel, where, f"YAML syntax error: {getattr(exc, 'problem', exc)}")]


def parse_model(model: type[M], path: Path, root: Path) -> tuple[M | None, list[Problem]]:
    """Load and validate one file against its model; errors name the file and the field."""
    data, problems = read_yaml(path, root)
    if problems:
        return None, problems
    rel = str(path.relative_to(root.parent)) if path.is_relative_to(root.parent) else str(path)
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, [Problem(rel, _field_path(err["loc"]), err["msg"]) for err in exc.errors()]


_FILES: dict[str, type[BaseModel]] = {
    "sectors": SectorsFile,
    "support_lines": SupportLinesFile,
    "documents": DocumentsFile,
    "faq": FaqFile,
    "out_of_scope": OutOfScopeFile,
    "abbreviations": AbbreviationsFile,
    "province_aliases": ProvinceAliasesFile,
    "rules": RulesFile,
}


def load_knowledge(root: Path | str, cross_check: bool = True) -> Knowledge:
    """Load and check the whole knowledge folder; raise KnowledgeError listing every problem.

    cross_check=False skips the cross-file checks (they index every commune): for a command such as an
    export that only needs labels, and runs after `kb check` and the server have checked the same files.
    """
    root = Path(root)
    problems: list[Problem] = []
    parsed: dict[str, Any] = {}
    for name, model in _FILES.items():
        parsed[name], found = parse_model(model, root / f"{name}.yaml", root)
        problems += found
    parsed["units"], found = read_units(root / "units")
    problems += found
    localities: list[Locality] = []
    files: dict[str, str] = {}
    for path in sorted((root / "localities").rglob("*.yaml")):
        loc, found = parse_model(Locality, path, root)
        problems += found
        if loc:
            localities.append(loc)
            files.setdefault(loc.id, str(path.relative_to(root.parent)))
            if loc.id != str(path.relative_to(root / "localities").with_suffix("")):
                problems.append(Problem(files[loc.id], "id", f"'{loc.id}' does not match the file path"))
    if problems:
        raise KnowledgeError(problems)
    kb = Knowledge(root=root, localities=localities, locality_files=files, **parsed)
    problems = check_references(kb) if cross_check else []
    if problems:
        raise KnowledgeError(problems)
    return kb


def check_references(kb: Knowledge) -> list[Problem]:
    """Cross-file checks: every code defined once, every reference defined, nothing missing."""
    from bot.checks import reference_problems  # the checks live apart to keep this module short

    return reference_problems(kb)


def load_faq_files(root: Path | str) -> tuple[FaqFile, OutOfScopeFile, AbbreviationsFile]:
    """Only what FAQ retrieval needs, so that answering one question starts fast."""
    root = Path(root)
    faq, p1 = parse_model(FaqFile, root / "faq.yaml", root)
    oos, p2 = parse_model(OutOfScopeFile, root / "out_of_scope.yaml", root)
    abbr, p3 = parse_model(AbbreviationsFile, root / "abbreviations.yaml", root)
    if faq is None or oos is None or abbr is None:
        raise KnowledgeError(p1 + p2 + p3)
    return faq, oos, abbr
