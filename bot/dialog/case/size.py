"""A size and a legal form: the Nghị định 80/2021 test, and what remains for a large enterprise."""

from __future__ import annotations

from bot.dialog.case.base import Kit, Part
from bot.dialog.case.facts import Case
from bot.eligibility import Profile, vnd
from bot.flows import CaseTexts
from bot.render import cited

_SIZE_REASONS = ("sme_ok", "large_enterprise")


def legal_form_part(kit: Kit, texts: CaseTexts, form: str) -> Part:
    """A household business, cooperative…: covered as a form; an unregistered person: register first."""
    if form == "unregistered":
        return Part(texts.not_covered + kit.reason("unregistered") + "\n" + kit.step("register_business"))
    label = kit.kb.rules.labels.legal_forms[form]  # type: ignore[index]
    return Part(kit.reason("legal_form_ok", form=label), check=True)


def size_part(kit: Kit, texts: CaseTexts, case: Case) -> Part:
    """The size of an enterprise decided from its figures, else the test itself."""
    if case.legal_form not in (None, "enterprise"):
        label = kit.kb.rules.labels.legal_forms[case.legal_form]  # type: ignore[index]
        form = legal_form_part(kit, texts, case.legal_form)
        return Part(texts.size_not_enterprise.format(form=label) + "\n" + form.text, form.check)
    sector = case.sector if case.sector in kit.kb.sector_names else None
    if case.workers is None and case.revenue is None and case.capital is None:
        return Part(_test(kit, texts, sector), check=True)
    profile = Profile(
        legal_form="enterprise",
        activity=case.product or "-",
        sector=sector,  # type: ignore[arg-type]
        workers=case.workers,
        revenue_vnd=case.revenue,
        capital_vnd=case.capital,
    )
    a = kit.assessor.assess(profile, kit.today)
    reasons = [cited(r.text, r.citation, "P") for r in a.reasons if r.code in _SIZE_REASONS]
    if a.size == "large":
        return Part("\n".join([texts.not_covered + reasons[0], kit.reason("cleaner_production_subject")]))
    if a.size is None:
        asked = [kit.question("workers"), kit.question("revenue_or_capital")]
        return Part("\n".join([_test(kit, texts, sector), *(q for q in asked if q in a.questions)]), check=True)
    return Part(texts.covered + "\n".join(reasons), check=True)


def _test(kit: Kit, texts: CaseTexts, sector: str | None) -> str:
    """The SME table of the sector's group, with its citation."""
    sme = kit.kb.rules.sme_size
    group = kit.kb.sector(sector).size_group if sector else "industry_construction"
    ceilings = {
        size: texts.size_ceiling.format(workers=c.workers, revenue=vnd(c.revenue_vnd), capital=vnd(c.capital_vnd))
        for size, c in sme.groups[group].items()
    }
    body = texts.size_test.format(group=texts.size_groups[group], **ceilings)
    large = kit.kb.rules.reasons["large_enterprise"]
    return cited(body, sme.citation, sme.status) + "\n" + cited(large.text.split(". ", 1)[-1], large.citation, "P")
