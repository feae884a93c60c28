"""A commune's or province's own plan: its lines, amounts, slots, total, validity, forms and office."""

from __future__ import annotations

from bot.dialog.case.base import Kit, Part, day
from bot.dialog.case.facts import Case
from bot.dialog.case.lines import national_part
from bot.eligibility import vnd
from bot.flows import CaseTexts
from bot.knowledge import BudgetLine, Locality
from bot.render import cited


def plan_part(kit: Kit, texts: CaseTexts, case: Case) -> Part:
    """The plan of the place the question names or the conversation holds, narrowed to the lines it names."""
    if case.place is None and case.province is None:
        return Part(texts.ask_place.format(question=kit.question("commune")), check=True)
    name = case.place.name if case.place else case.province.name if case.province else ""
    plans = kit.plans(case.place, case.province)
    if not plans:
        lines = [national_part(kit, texts, code) for code in case.needs[:2]]
        return Part("\n\n".join([*lines, texts.no_plan.format(place=name), kit.step("no_office")]), check=True)
    plan = plans[0]
    if case.needs:
        return Part("\n\n".join([*(_line(kit, texts, plan, code) for code in case.needs[:2]), _office(kit, plan)]))
    return Part(_whole(kit, texts, plan, case))


def _heading(kit: Kit, texts: CaseTexts, plan: Locality) -> str:
    heading = texts.plan_heading.format(title=plan.title, start=day(plan.valid_from), end=day(plan.valid_to))
    if not plan.valid_on(kit.today):
        heading += "\n⚠️ " + kit.step("plan_expired", title=plan.title)
    return heading


def _whole(kit: Kit, texts: CaseTexts, plan: Locality, case: Case) -> str:
    out = [_heading(kit, texts, plan)]
    if plan.budget_lines and not case.cue("forms"):
        out += [texts.plan_lines, *(_budget(kit, texts, b) for b in plan.budget_lines)]
        if plan.budget_total_vnd:
            out.append(texts.plan_total.format(total=vnd(plan.budget_total_vnd)))
    elif not case.cue("forms"):
        names = kit.kb.line_names
        out += [texts.plan_contents, *(f"• {names[code]}" for code in plan.contents)]
        out.append(texts.plan_no_amounts)
    if plan.forms:
        out += [texts.plan_forms, *(f"• {f.name}" for f in plan.forms)]
    elif case.cue("forms") and plan.documents:
        out += [f"• {kit.kb.document(code).name}" for code in plan.documents]
    body = cited("\n".join(out), plan.citation, plan.status)
    return body + "\n\n" + _office(kit, plan)


def _budget(kit: Kit, texts: CaseTexts, budget: BudgetLine) -> str:
    figures = []
    if budget.amount_per_facility_vnd:
        figures.append(texts.plan_figures.format(amount=vnd(budget.amount_per_facility_vnd)))
    if budget.slots_text or budget.slots:
        figures.append(budget.slots_text or texts.plan_count.format(slots=budget.slots))
    if budget.total_vnd:
        figures.append(texts.plan_sum.format(total=vnd(budget.total_vnd)))
    return texts.plan_line.format(name=budget.name, figures=", ".join(figures), funding=texts.funding[budget.funding])


def _line(kit: Kit, texts: CaseTexts, plan: Locality, code: str) -> str:
    """One line in the plan (its own amount and slots, cited), then the national share and cap."""
    place = plan.commune or plan.province
    budget = next((b for b in plan.budget_lines if b.code == code), None)
    heading = _heading(kit, texts, plan)
    if budget is not None:
        own = cited(f"{heading}\n{_budget(kit, texts, budget)}", budget.citation, budget.status)
    elif code in plan.contents:
        own = cited(
            f"{heading}\n{texts.plan_line_unpriced.format(place=place, line=kit.kb.line(code).name)}",
            plan.citation,
            plan.status,
        )
    else:
        own = f"{heading}\n{texts.plan_line_missing.format(place=place, line=kit.kb.line(code).name)}"
    return own + "\n\n" + national_part(kit, texts, code)


def _office(kit: Kit, plan: Locality) -> str:
    out = kit.step("contact", office=plan.office.name)
    if plan.office.phone:
        out += " " + kit.step("phone", phone=plan.office.phone)
    return out
