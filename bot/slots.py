"""Slots of a commune's plan: for each budget line, what is planned, how many registered, approved, and what remains.

The plan is the commune's profile as the running knowledge holds it (the one saved on the dashboard, else the
bundled YAML). A registration counts while it is alive (not declined nor withdrawn); an approval is a lead the
officer set to `supported` ("Được hỗ trợ"), the last status of design §4.6.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.knowledge import Locality

APPROVED = "supported"  # the §4.6 status that means the commune approved the support
NOT_COUNTED = ("declined", "withdrawn")  # no longer asking for a slot


@dataclass(frozen=True)
class Demand:
    """How many live registrations and approvals a commune has for one support line."""

    registered: int = 0
    approved: int = 0


@dataclass(frozen=True)
class LineSlots:
    """One line of a commune's plan with its demand."""

    code: str
    name: str
    planned: int | None  # facilities the plan funds; None when the plan gives no number
    amount_vnd: int | None  # per facility
    total_vnd: int | None
    registered: int
    approved: int

    @property
    def remaining(self) -> int | None:
        """Slots not yet approved (never below zero); None when the plan gives no number."""
        return None if self.planned is None else max(self.planned - self.approved, 0)

    @property
    def over(self) -> bool:
        """More registrations than the plan funds."""
        return self.planned is not None and self.registered > self.planned


def commune_plan(localities: Iterable[Locality], commune_code: int | None) -> Locality | None:
    """The commune's own current plan, if it has one."""
    if commune_code is None:
        return None
    return next(
        (
            loc
            for loc in localities
            if not loc.historical and loc.level == "commune" and loc.ward_code == commune_code and loc.budget_lines
        ),
        None,
    )


def plan_slots(plan: Locality, demand: Mapping[str, Demand]) -> list[LineSlots]:
    """Every line of the plan with its registrations and approvals."""
    return [
        LineSlots(
            b.code,
            b.name,
            b.slots,
            b.amount_per_facility_vnd,
            b.total_vnd or ((b.amount_per_facility_vnd or 0) * (b.slots or 0) or None),
            demand.get(b.code, Demand()).registered,
            demand.get(b.code, Demand()).approved,
        )
        for b in plan.budget_lines
    ]


def line_slots(
    localities: Iterable[Locality], commune_code: int | None, demand: Mapping[str, Demand]
) -> list[LineSlots]:
    """The commune's plan lines with their demand; empty when it has no plan of its own."""
    plan = commune_plan(localities, commune_code)
    return plan_slots(plan, demand) if plan is not None else []


@dataclass(frozen=True)
class CommuneSlots:
    """A commune's name and its plan lines with their demand, for the dashboard's box and the workbook."""

    code: int
    name: str
    lines: list[LineSlots]


def communes_slots(
    localities: Iterable[Locality], scope: list[int] | None, demand: Mapping[int, Mapping[str, Demand]]
) -> list[CommuneSlots]:
    """Every commune of `scope` (None: all) that has a plan of its own, by name."""
    plans = [
        loc
        for loc in localities
        if not loc.historical
        and loc.level == "commune"
        and loc.ward_code is not None
        and loc.budget_lines
        and (scope is None or loc.ward_code in scope)
    ]
    return sorted(
        (
            CommuneSlots(
                loc.ward_code or 0,
                f"{loc.commune} ({loc.province})",
                plan_slots(loc, demand.get(loc.ward_code or 0, {})),
            )
            for loc in plans
        ),
        key=lambda c: c.name,
    )
