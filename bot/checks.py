"""Cross-file checks of the knowledge base: codes defined once, references that resolve."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from bot.flows import Action, Dialogs
from bot.knowledge import DOCUMENT_CODES, LINE_CODES, SECTOR_CODES, Knowledge, LegalForm
from bot.knowledge_errors import Problem
from bot.places import Gazetteer
from bot.text import fold


def _duplicates(values: Iterable[str]) -> list[str]:
    return sorted(v for v, n in Counter(values).items() if n > 1)


def _coverage(file: str, field: str, defined: Iterable[str], required: Iterable[str]) -> list[Problem]:
    defined = list(defined)
    problems = [Problem(file, field, f"'{code}' is defined twice") for code in _duplicates(defined)]
    problems += [Problem(file, field, f"'{code}' is missing") for code in required if code not in defined]
    return problems


def sector_problems(kb: Knowledge) -> list[Problem]:
    """Every sector once; every lexicon term in one place only."""
    file = "knowledge/sectors.yaml"
    problems = _coverage(file, "sectors", [s.code for s in kb.sectors.sectors], SECTOR_CODES)
    owners: dict[str, list[str]] = {}
    groups = [(f"sectors[{s.code}]", s.terms) for s in kb.sectors.sectors]
    groups += [(f"non_industrial[{g.group}]", g.terms) for g in kb.sectors.non_industrial]
    groups += [(f"exclusions[{e.code}]", e.terms) for e in kb.sectors.exclusions]
    for where, terms in groups:
        for term in terms:
            owners.setdefault(fold(term), []).append(where)
    for term, places in sorted(owners.items()):
        if len(places) > 1:
            problems.append(Problem(file, places[1], f"term '{term}' also appears in {places[0]}"))
        if not term:
            problems.append(Problem(file, places[0], "a term is empty after folding"))
    return problems


def line_problems(kb: Knowledge) -> list[Problem]:
    """Every support line once, with known documents and sane dates."""
    file = "knowledge/support_lines.yaml"
    lines = kb.support_lines.lines
    problems = _coverage(file, "lines", [ln.code for ln in lines], LINE_CODES)
    for i, line in enumerate(lines):
        if line.valid_from and line.valid_to and line.valid_from > line.valid_to:
            problems.append(Problem(file, f"lines[{i}].valid_to", "is before valid_from"))
    return problems


def document_problems(kb: Knowledge) -> list[Problem]:
    """Every document code defined once."""
    return _coverage("knowledge/documents.yaml", "documents", [d.code for d in kb.documents.documents], DOCUMENT_CODES)


def faq_problems(kb: Knowledge) -> list[Problem]:
    """FAQ and out-of-scope ids unique; no phrasing claimed by two entries."""
    problems = [
        Problem("knowledge/faq.yaml", "entries", f"id '{i}' is used twice")
        for i in _duplicates(e.id for e in kb.faq.entries)
    ]
    owners: dict[str, str] = {}
    for entry in kb.faq.entries:
        for phrase in [entry.question, *entry.variants]:
            other = owners.setdefault(fold(phrase), entry.id)
            if other != entry.id:
                problems.append(
                    Problem(
                        "knowledge/faq.yaml",
                        f"entries[{entry.id}].variants",
                        f"'{phrase}' is also a phrasing of '{other}'",
                    )
                )
    problems += [
        Problem("knowledge/out_of_scope.yaml", "topics", f"id '{i}' is used twice")
        for i in _duplicates(t.id for t in kb.out_of_scope.topics)
    ]
    return problems


def abbreviation_problems(kb: Knowledge) -> list[Problem]:
    """Abbreviations are single tokens."""
    return [
        Problem("knowledge/abbreviations.yaml", f"abbreviations.{key}", "must be one word")
        for key in kb.abbreviations.abbreviations
        if len(fold(key).split()) != 1
    ]


def place_problems(kb: Knowledge, gazetteer: Gazetteer) -> list[Problem]:
    """Province aliases and locality files point at real units."""
    problems = []
    for i, alias in enumerate(kb.province_aliases.aliases):
        if gazetteer.province(alias.new) is None:
            problems.append(Problem("knowledge/province_aliases.yaml", f"aliases[{i}].new", f"unknown '{alias.new}'"))
    ids = [loc.id for loc in kb.localities]
    problems += [Problem("knowledge/localities", "id", f"'{i}' is used twice") for i in _duplicates(ids)]
    for loc in kb.localities:
        problems += _locality_problems(kb, loc.id, gazetteer)
    return problems


def _locality_problems(kb: Knowledge, loc_id: str, gazetteer: Gazetteer) -> list[Problem]:
    loc = next(x for x in kb.localities if x.id == loc_id)
    file = kb.locality_files.get(loc_id, "hồ sơ trên trang cán bộ")  # a saved profile has no file
    problems = []
    if gazetteer.province_by_code(loc.province_code) is None:
        problems.append(Problem(file, "province_code", f"no province has code {loc.province_code}"))
    if loc.ward_code is not None:
        place = gazetteer.place_by_code(loc.ward_code)
        if place is None:
            problems.append(Problem(file, "ward_code", f"no commune-level unit has code {loc.ward_code}"))
        elif fold(place.name) != fold(loc.commune or "") or place.province.code != loc.province_code:
            problems.append(Problem(file, "ward_code", f"{loc.ward_code} is {place.label}, not {loc.commune}"))
    national = {ln.code for ln in kb.support_lines.lines}
    for i, line in enumerate(loc.budget_lines):
        if line.code not in national:
            problems.append(Problem(file, f"budget_lines[{i}].code", f"no national line '{line.code}'"))
    for i, form in enumerate(loc.forms):
        if form.code not in {d.code for d in kb.documents.documents}:
            problems.append(Problem(file, f"forms[{i}].code", f"no document '{form.code}'"))
    return problems


def reference_problems(kb: Knowledge, gazetteer: Gazetteer | None = None) -> list[Problem]:
    """All cross-file problems of a loaded knowledge base."""
    gazetteer = gazetteer or Gazetteer({a.old: a.new for a in kb.province_aliases.aliases}, kb.units)
    return (
        sector_problems(kb)
        + line_problems(kb)
        + document_problems(kb)
        + faq_problems(kb)
        + abbreviation_problems(kb)
        + place_problems(kb, gazetteer)
    )


def dialog_problems(kb: Knowledge, dialogs: Dialogs) -> list[Problem]:
    """Choices in the flows name real legal forms and support lines; the menu offers every action."""
    problems = []
    valid = {
        "legal_form": set(LegalForm.__args__),  # type: ignore[attr-defined]
        "needs": set(LINE_CODES) | {"none"},
        "lines_wanted": set(LINE_CODES) | {"none"},
    }
    for flow in dialogs.flows.values():
        for step in flow.steps:
            allowed = valid.get(step.slot)
            for i, choice in enumerate(step.choices):
                if allowed is not None and choice.value not in allowed:
                    where = f"steps[{step.id}].choices[{i}].value"
                    problems.append(Problem(f"dialogs/{flow.id}.yaml", where, f"unknown value '{choice.value}'"))
    missing = set(Action.__args__) - {item.action for item in dialogs.menu.items}  # type: ignore[attr-defined]
    problems += [Problem("dialogs/menu.yaml", "items", f"no item for '{a}'") for a in sorted(missing)]
    return problems
