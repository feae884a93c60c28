"""The knowledge base: complete, cited, cross-checked; broken references are caught."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.knowledge import DOCUMENT_CODES, LINE_CODES, SECTOR_CODES, Knowledge, KnowledgeError, load_knowledge
from bot.text import fold
from tests.conftest import KNOWLEDGE


def test_every_code_of_the_contract_is_defined(kb: Knowledge) -> None:
    assert [s.code for s in kb.sectors.sectors] == list(SECTOR_CODES)
    assert {ln.code for ln in kb.support_lines.lines} == set(LINE_CODES)
    assert {d.code for d in kb.documents.documents} == set(DOCUMENT_CODES)


def test_lexicon_is_large_and_spread_over_every_sector(kb: Knowledge) -> None:
    industrial = {fold(t) for s in kb.sectors.sectors for t in s.terms}
    non_industrial = {fold(t) for g in kb.sectors.non_industrial for t in g.terms}
    assert len(industrial) >= 600
    assert len(non_industrial) >= 150
    assert all(len(s.terms) >= 20 for s in kb.sectors.sectors)
    groups = {g.group for g in kb.sectors.non_industrial}
    assert {"trade", "services", "transport", "crop_farming", "livestock", "aquaculture"} <= groups


def test_exclusion_and_restriction_are_present(kb: Knowledge) -> None:
    assert [e.code for e in kb.sectors.exclusions] == ["excluded_brick_kiln"]
    assert [r.code for r in kb.sectors.restrictions] == ["mining_outside_difficult_area"]


def test_national_caps_match_the_legal_research(kb: Knowledge) -> None:
    machinery = kb.line("advanced_machinery")
    assert (machinery.share_max, machinery.cap_vnd, machinery.status) == (0.5, 300_000_000, "S")
    assert (kb.line("demo_model").share_max, kb.line("demo_model").cap_vnd) == (0.3, 1_000_000_000)
    assert kb.line("enterprise_setup").cap_vnd == 10_000_000
    assert kb.line("enterprise_setup").requires_area_flags == ["difficult", "extremely_difficult"]
    assert (kb.line("relocation_interest").share_max, kb.line("relocation_interest").cap_vnd) == (
        0.5,
        500_000_000,
    )


def test_only_enterprises_self_declare_their_size(kb: Knowledge) -> None:
    assert kb.document("sme_self_declaration").legal_forms == ["enterprise"]
    assert all(d.legal_forms is None for d in kb.documents.documents if d.code != "sme_self_declaration")


def test_faq_is_large_and_every_entry_has_four_phrasings(kb: Knowledge) -> None:
    assert len(kb.faq.entries) >= 100
    for entry in kb.faq.entries:
        assert len(entry.variants) >= 4, entry.id
        assert any(fold(v) == v.lower() for v in entry.variants), f"{entry.id} has no phrasing without diacritics"
        assert entry.citation and entry.status in ("P", "S", "R")


def test_vinh_thuy_budget_is_the_seed_table(kb: Knowledge) -> None:
    loc = next(x for x in kb.localities if x.id == "quang-tri/vinh-thuy")
    rows = [(b.code, b.amount_per_facility_vnd, b.slots, b.total_vnd) for b in loc.budget_lines]
    assert rows == [
        ("advanced_machinery", 20_000_000, 3, 60_000_000),
        ("consulting_packaging", 20_000_000, 1, 20_000_000),
        ("fairs_exhibitions", 10_000_000, 2, 20_000_000),
        ("study_tour", 20_000_000, 1, 20_000_000),
    ]
    assert loc.budget_total_vnd == 130_000_000
    assert loc.office.name == "Trung tâm Dịch vụ tổng hợp xã Vĩnh Thủy"


def test_binh_giang_uses_forms_01a_01b(kb: Knowledge) -> None:
    loc = next(x for x in kb.localities if x.id == "ninh-binh/binh-giang")
    assert [f.code for f in loc.forms] == ["form_01a", "form_01b"]
    assert loc.office.name == "Phòng Kinh tế xã Bình Giang"


def test_quang_ngai_plan_and_bac_giang_history(kb: Knowledge) -> None:
    qn = next(x for x in kb.localities if x.id == "quang-ngai/tinh")
    assert [(b.code, b.slots) for b in qn.budget_lines] == [
        ("demo_model", 1),
        ("advanced_machinery", 1),
        ("consulting_packaging", 4),
    ]
    bg = next(x for x in kb.localities if x.id.startswith("bac-giang/"))
    assert bg.historical


# --- broken knowledge is caught --------------------------------------------------------------


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """A writable copy of the knowledge folder."""
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, target)
    return target


def _edit(path: Path, change: dict[str, object]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for dotted, value in change.items():
        node = data
        *parts, last = dotted.split(".")
        for part in parts:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _problems(root: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(root)
    return [str(p) for p in caught.value.problems]


def test_unknown_field_names_file_and_field(broken: Path) -> None:
    _edit(broken / "support_lines.yaml", {"lines.0.colour": "red"})
    assert any("support_lines.yaml: lines[0].colour" in p for p in _problems(broken))


def test_unknown_document_reference_is_caught(broken: Path) -> None:
    _edit(broken / "support_lines.yaml", {"lines.5.documents": ["form_99"]})
    assert any("lines[5].documents[0]" in p for p in _problems(broken))


def test_wrong_ward_code_in_a_locality_is_caught(broken: Path) -> None:
    _edit(broken / "localities/quang-tri/vinh-thuy.yaml", {"ward_code": 13531})
    assert any("vinh-thuy.yaml: ward_code" in p and "Bình Giang" in p for p in _problems(broken))


def test_budget_total_that_does_not_add_up_is_caught(broken: Path) -> None:
    _edit(broken / "localities/quang-tri/vinh-thuy.yaml", {"budget_total_vnd": 140_000_000})
    assert any("budget_total_vnd" in p for p in _problems(broken))


def test_missing_support_line_and_duplicate_term_are_caught(broken: Path) -> None:
    data = yaml.safe_load((broken / "support_lines.yaml").read_text(encoding="utf-8"))
    data["lines"] = [ln for ln in data["lines"] if ln["code"] != "showroom"]
    (broken / "support_lines.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    sectors = yaml.safe_load((broken / "sectors.yaml").read_text(encoding="utf-8"))
    sectors["non_industrial"][0]["terms"].append(sectors["sectors"][0]["terms"][0])
    (broken / "sectors.yaml").write_text(yaml.safe_dump(sectors, allow_unicode=True), encoding="utf-8")
    problems = _problems(broken)
    assert any("'showroom' is missing" in p for p in problems)
    assert any("sectors.yaml" in p and "also appears" in p for p in problems)


def test_yaml_syntax_error_names_the_line(broken: Path) -> None:
    (broken / "documents.yaml").write_text("documents: [\n  - broken", encoding="utf-8")
    assert any(p.startswith("knowledge/documents.yaml: line") for p in _problems(broken))


def test_every_problem_is_reported_not_just_the_first(broken: Path) -> None:
    _edit(broken / "documents.yaml", {"documents.0.colour": "red"})
    _edit(broken / "rules.yaml", {"sme_size.status": "X"})
    problems = _problems(broken)
    assert any("documents.yaml" in p for p in problems) and any("rules.yaml" in p for p in problems)
