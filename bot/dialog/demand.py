"""Telling a person honestly when the commune's planned slots for the line they want are already taken."""

from __future__ import annotations

from collections.abc import Iterable

from bot.dialog.context import Context
from bot.eligibility import Assessment
from bot.slots import LineSlots, line_slots
from bot.storage import Lead


def slots_of(ctx: Context, commune_code: int | None) -> list[LineSlots]:
    """The commune's plan lines with their live registrations and approvals (none without a plan)."""
    if commune_code is None:
        return []
    demand = ctx.repo.line_demand([commune_code]).get(commune_code, {})
    return line_slots(ctx.kb.localities, commune_code, demand)


def with_demand(ctx: Context, a: Assessment, needs: Iterable[str], commune_code: int | None) -> Assessment:
    """The assessment whose commune lines the person wants say so when their slots are already all asked for."""
    wanted = set(needs)
    # Before registering: full already means this person would be one more than the plan funds.
    full = {s.code: s for s in slots_of(ctx, commune_code) if s.code in wanted and s.registered >= (s.planned or 0) > 0}
    if not full:
        return a
    lines = [
        ln.model_copy(update={"slots": _said(ctx, full[ln.code])})
        if ln.funding != "national" and ln.code in full
        else ln
        for ln in a.support_lines
    ]
    return a.model_copy(update={"support_lines": lines})


def _said(ctx: Context, s: LineSlots) -> str:
    return ctx.texts.slots_over.format(registered=s.registered, planned=s.planned)


def demand_note(ctx: Context, lead: Lead) -> str:
    """At the confirmation: one line per wanted line with more registrations (this one included) than slots."""
    wanted = set(lead.lines_wanted)
    over = [s for s in slots_of(ctx, lead.commune_code) if s.code in wanted and s.over]
    return "".join(
        "\n" + ctx.texts.slots_over_registered.format(line=s.name, registered=s.registered, planned=s.planned)
        for s in over
    )
