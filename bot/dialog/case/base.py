"""What every kind of case answer is given (the knowledge, the Assessor, the day) and what it returns."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from bot.eligibility import Assessor
from bot.knowledge import Knowledge, Locality
from bot.places import Gazetteer, Place, ProvinceInfo, Resolution
from bot.render import cited


@dataclass(frozen=True)
class Part:
    """One paragraph of an answer, and whether the answer still depends on facts the check would ask."""

    text: str
    check: bool = False


@dataclass(frozen=True)
class Kit:
    """The knowledge and rules the answers read; nothing here restates a figure."""

    kb: Knowledge
    assessor: Assessor
    today: dt.date

    @property
    def gazetteer(self) -> Gazetteer:
        """The places."""
        return self.assessor.gazetteer

    def reason(self, code: str, **fields: Any) -> str:
        """A reason of the rules with its citation ('… \\nCăn cứ: …')."""
        tpl = self.kb.rules.reasons[code]  # type: ignore[index]
        return cited(tpl.text.format(**fields), tpl.citation, tpl.status)

    def step(self, code: str, **fields: Any) -> str:
        """A next step of the rules."""
        return self.kb.rules.next_steps[code].format(**fields)  # type: ignore[index]

    def question(self, code: str, **fields: Any) -> str:
        """A question of the rules."""
        return self.kb.rules.questions[code].format(**fields)  # type: ignore[index]

    def plans(self, place: Place | None, province: ProvinceInfo | None) -> list[Locality]:
        """The plans of a place (the commune's own first, then its province's), current or not."""
        if place is not None:
            return self.assessor.localities(Resolution("ok", place.province, (place,)))
        if province is not None:
            return self.assessor.localities(Resolution("ok", province, ()))
        return []


def day(date: dt.date | None) -> str:
    """'31/12/2026'."""
    return f"{date.day:02d}/{date.month:02d}/{date.year}" if date else ""
