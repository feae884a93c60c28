"""Eligibility decided as the law says: personas from tests/data/personas.yaml, and targeted rules."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
import yaml

from bot.eligibility import Assessment, Assessor, Profile
from bot.knowledge import SECTOR_CODES, Knowledge, LegalForm
from tests.conftest import DATA

PERSONAS: list[dict[str, Any]] = yaml.safe_load((DATA / "personas.yaml").read_text(encoding="utf-8"))["personas"]
INELIGIBLE = [
    "not_industrial_activity",
    "excluded_brick_kiln",
    "mining_outside_difficult_area",
    "large_enterprise",
    "unregistered",
    "location_not_covered",
]
DAY = dt.date(2026, 6, 1)


def _mismatches(a: Assessment, expect: dict[str, Any]) -> list[str]:
    errs = []
    if a.eligible != expect["eligible"]:
        errs.append(f"eligible is {a.eligible}")
    codes = {r.code for r in a.reasons}
    priorities = {r.code for r in a.priority_reasons}
    lines = [ln.code for ln in a.support_lines]
    local = [ln.code for ln in a.support_lines if ln.funding != "national"]
    docs = [d.code for d in a.documents]
    checks = [
        ("reasons", codes, True),
        ("priority_reasons", priorities, True),
        ("no_priority_reasons", priorities, False),
        ("lines", lines, True),
        ("no_lines", lines, False),
        ("local_lines", local, True),
        ("documents", docs, True),
        ("no_documents", docs, False),
    ]
    for key, found, present in checks:
        errs += [f"{key}: {c} (got {sorted(found)})" for c in expect.get(key, []) if (c in found) != present]
    if "subject" in expect and a.subject != expect["subject"]:
        errs.append(f"subject is {a.subject}")
    if "sector" in expect and (a.sector.code if a.sector else None) != expect["sector"]:
        errs.append(f"sector is {a.sector}")
    if "size" in expect and a.size != expect["size"]:
        errs.append(f"size is {a.size}")
    for key, value in (expect.get("locality") or {}).items():
        if getattr(a.locality, key, None) != value:
            errs.append(f"locality.{key} is {getattr(a.locality, key, None)}")
    if expect.get("questions") and not a.questions:
        errs.append("no questions asked")
    return errs


@pytest.mark.parametrize("persona", PERSONAS, ids=[p["id"] for p in PERSONAS])
def test_persona_is_decided_as_the_law_says(assessor: Assessor, persona: dict[str, Any]) -> None:
    assessment = assessor.assess(Profile.model_validate(persona["profile"]), persona.get("date", DAY))
    assert not _mismatches(assessment, persona["expect"]), persona["note"]


def test_personas_cover_every_reason_sector_form_and_locality(assessor: Assessor) -> None:
    assert len(PERSONAS) >= 60
    reasons = Counter(c for p in PERSONAS for c in p["expect"].get("reasons", []))
    assert all(reasons[c] >= 2 for c in INELIGIBLE), reasons
    sectors = Counter(p["expect"].get("sector") or p["profile"].get("sector") for p in PERSONAS)
    assert all(sectors[c] >= 2 for c in SECTOR_CODES), sectors
    assert {p["profile"]["legal_form"] for p in PERSONAS} == set(LegalForm.__args__)  # type: ignore[attr-defined]
    communes: Counter[int | None] = Counter()
    provinces: Counter[str | None] = Counter()
    for p in PERSONAS:
        where = assessor.assess(Profile.model_validate(p["profile"]), p.get("date", DAY)).locality
        communes[where.code if where else None] += 1
        provinces[where.province if where else None] += 1
    assert communes[19405] >= 3 and communes[13531] >= 3, communes  # xã Vĩnh Thủy, xã Bình Giang
    assert provinces["Quảng Ngãi"] >= 3, provinces


def test_every_reason_is_cited_and_ineligible_results_say_why(assessor: Assessor) -> None:
    for persona in PERSONAS:
        a = assessor.assess(Profile.model_validate(persona["profile"]), persona.get("date", DAY))
        assert a.reasons and all(r.citation for r in a.reasons + a.priority_reasons)
        if a.eligible is False:
            assert {r.code for r in a.reasons} & set(INELIGIBLE)
            assert not a.support_lines
        if a.eligible is None:
            assert a.questions


def test_only_enterprises_are_size_tested(assessor: Assessor) -> None:
    coop = assessor.assess(Profile(legal_form="cooperative", activity="dệt thổ cẩm", workers=900, province="Gia Lai"))
    assert coop.eligible is True and coop.size is None
    firm = assessor.assess(Profile(legal_form="enterprise", activity="dệt thổ cẩm", workers=900, province="Gia Lai"))
    assert firm.eligible is False and firm.size == "large"


@pytest.mark.parametrize(
    ("workers", "revenue", "capital", "size"),
    [
        (10, 3 * 10**9, None, "micro"),
        (11, 3 * 10**9, None, "small"),
        (10, 4 * 10**9, 3 * 10**9, "micro"),
        (100, 50 * 10**9, None, "small"),
        (200, 300 * 10**9, 90 * 10**9, "medium"),
        (201, 1 * 10**9, None, "large"),
        (150, 250 * 10**9, 150 * 10**9, "large"),
    ],
)
def test_sme_size_boundaries_of_decree_80(
    assessor: Assessor, workers: int, revenue: int, capital: int | None, size: str
) -> None:
    profile = Profile(
        legal_form="enterprise",
        activity="chế biến hạt điều",
        workers=workers,
        revenue_vnd=revenue,
        capital_vnd=capital,
        province="Gia Lai",
    )
    assert assessor.assess(profile).size == size


def test_unknown_facts_give_null_with_questions(assessor: Assessor) -> None:
    a = assessor.assess(Profile(legal_form="enterprise", activity="làm bánh tráng", province="Quảng Trị"))
    assert a.eligible is None and len(a.questions) == 2


def test_local_lines_only_while_the_plan_holds(assessor: Assessor) -> None:
    profile = Profile(legal_form="household_business", activity="làm bánh tráng", province="Quảng Ngãi")
    during = assessor.assess(profile, dt.date(2025, 6, 1))
    after = assessor.assess(profile, dt.date(2026, 6, 1))
    assert [ln.code for ln in during.support_lines if ln.funding == "provincial"] == [
        "demo_model",
        "advanced_machinery",
        "consulting_packaging",
    ]
    assert not [ln for ln in after.support_lines if ln.funding == "provincial"]
    assert any("hết kỳ" in s for s in after.next_steps)


def test_commune_lines_come_first_with_their_amounts(assessor: Assessor, kb: Knowledge) -> None:
    a = assessor.assess(
        Profile(legal_form="household_business", activity="nấu rượu", province="Quảng Trị", commune="Vĩnh Thủy"), DAY
    )
    commune = [ln for ln in a.support_lines if ln.funding == "commune"]
    assert [ln.code for ln in a.support_lines[: len(commune)]] == [ln.code for ln in commune]
    assert {(ln.code, ln.cap_vnd) for ln in commune} == {
        ("advanced_machinery", 20_000_000),
        ("consulting_packaging", 20_000_000),
        ("fairs_exhibitions", 10_000_000),
        ("study_tour", 20_000_000),
    }
    assert any("Trung tâm Dịch vụ tổng hợp xã Vĩnh Thủy" in s for s in a.next_steps)


def test_binh_giang_documents_are_its_own_forms(assessor: Assessor) -> None:
    a = assessor.assess(
        Profile(
            legal_form="cooperative",
            activity="mây tre đan",
            commune="Bình Giang",
            province="Ninh Bình",
            needs=["đào tạo nghề"],
        ),
        DAY,
    )
    names = [d.name for d in a.documents]
    assert names[:2] == ["Mẫu số 01a – Đăng ký kế hoạch nhu cầu kinh phí", "Mẫu số 01b – Thông tin chung của đơn vị"]


@pytest.mark.parametrize(("commune", "province"), [("Bình Giang", "Ninh Bình"), ("Vĩnh Thủy", "Quảng Trị")])
def test_an_enterprise_always_self_declares_its_size(assessor: Assessor, commune: str, province: str) -> None:
    profile = Profile(
        legal_form="enterprise",
        activity="sản xuất nước mắm",
        workers=12,
        revenue_vnd=5_000_000_000,
        commune=commune,
        province=province,
        needs=["advanced_machinery"],
    )
    a = assessor.assess(profile, DAY)
    assert a.eligible is True and a.size == "small"
    assert "sme_self_declaration" in [d.code for d in a.documents]
    household = assessor.assess(profile.model_copy(update={"legal_form": "household_business"}), DAY)
    assert "sme_self_declaration" not in [d.code for d in household.documents]


def test_assessment_is_pure(assessor: Assessor) -> None:
    profile = Profile(
        legal_form="household_business",
        activity="làm nón lá",
        province="Huế",
        commune="phường Thuận Hóa",
        craft_village=False,
    )
    assert assessor.assess(profile, DAY) == assessor.assess(profile, DAY)
