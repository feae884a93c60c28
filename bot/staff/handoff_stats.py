"""How staff answer requests: opened, waiting now, answered, and the wait to the first staff reply, per commune."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from bot.staff.store import Staff
from bot.storage.handoffs import Handoff, HandoffStore

ALL = "Tất cả các xã"
UNKNOWN = "Chưa rõ xã"


@dataclass(frozen=True)
class Row:
    """One commune's figures, as the statistics page shows them."""

    commune: str
    opened: int
    waiting: int
    answered: int
    median: str  # "25 phút", "2 giờ 10 phút"; "–" when nothing was answered
    p90: str


def handoff_stats(store: HandoffStore, staff: Staff) -> list[Row]:
    """All the account's communes first, then each commune (most requests first)."""
    handoffs = store.opened_since(staff.scope, "")
    groups: dict[str, list[Handoff]] = {}
    for handoff in handoffs:
        groups.setdefault(handoff.commune or UNKNOWN, []).append(handoff)
    rows = [_row(name, group) for name, group in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0]))]
    return [_row(ALL, handoffs), *rows] if len(rows) != 1 else rows


def _row(name: str, handoffs: list[Handoff]) -> Row:
    waits = sorted(
        dt.datetime.fromisoformat(h.first_reply_at) - dt.datetime.fromisoformat(h.at)
        for h in handoffs
        if h.first_reply_at and h.opened_by != "staff"  # staff writing first is no wait
    )
    return Row(
        name,
        len(handoffs),
        sum(h.status == "waiting" for h in handoffs),
        sum(bool(h.first_reply_at) for h in handoffs),
        duration(_rank(waits, 0.5)) if waits else "–",
        duration(_rank(waits, 0.9)) if waits else "–",
    )


def _rank(values: list[dt.timedelta], share: float) -> dt.timedelta:
    """The nearest-rank percentile of sorted values."""
    return values[max(0, math.ceil(share * len(values)) - 1)]


def duration(delta: dt.timedelta) -> str:
    """A wait as people say it: 'dưới 1 phút', '25 phút', '2 giờ 10 phút', '1 ngày 3 giờ'."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "dưới 1 phút"
    days, hours, rest = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days} ngày {hours} giờ" if hours else f"{days} ngày"
    if hours:
        return f"{hours} giờ {rest} phút" if rest else f"{hours} giờ"
    return f"{rest} phút"
