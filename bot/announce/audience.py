"""Who an announcement reaches: the audience filter, and the subscribers split per channel and reason.

The filter is written `key=value` terms joined by commas, all of which must hold; a value may list
alternatives with `|`:  `all` · `sector=CODE|CODE` · `line=CODE|CODE` (support line wanted) ·
`registered=yes|no` · `status=new|contacted|…` (the lead's status). Example:
`--audience "registered=yes,status=new|contacted,line=equipment"`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bot.announce.limits import WEEK, Rules
from bot.announce.zbs import ZbsCount, template_address
from bot.messages import ConversationKey
from bot.storage.announcements import AnnouncementStore, Planned, Subscription
from bot.storage.sqlite import SqliteRepository

STATUSES = ("new", "contacted", "dossier_submitted", "supported", "declined", "withdrawn")
KEYS = ("sector", "line", "registered", "status")
SENT_BY_US = ("zalo", "telegram", "web")  # channels an announcement can reach (the console cannot)


class AudienceError(ValueError):
    """A filter that cannot be read: one Vietnamese line naming the field."""


@dataclass(frozen=True)
class Audience:
    """An audience filter: every given key must match (None: any)."""

    sectors: frozenset[str] | None = None
    lines: frozenset[str] | None = None
    registered: bool | None = None
    statuses: frozenset[str] | None = None

    def as_json(self) -> dict[str, Any]:
        """As stored with the announcement and shown by --json."""
        found: dict[str, Any] = {}
        for name, value in (("sector", self.sectors), ("line", self.lines), ("status", self.statuses)):
            if value is not None:
                found[name] = sorted(value)
        if self.registered is not None:
            found["registered"] = self.registered
        return found or {"all": True}

    def admits(self, leads: list[dict[str, Any]], sector: str | None) -> bool:
        """Whether a subscriber with these registrations (and the sector their chat found) is in the audience."""
        if self.registered is not None and bool(leads) != self.registered:
            return False
        if self.statuses is not None and not any(lead["status"] in self.statuses for lead in leads):
            return False
        if self.lines is not None and not any(set(lead["lines"]) & self.lines for lead in leads):
            return False
        if self.sectors is not None:
            known = {lead["sector"] for lead in leads if lead["sector"]} | ({sector} if sector else set())
            return bool(known & self.sectors)
        return True


def parse_audience(text: str | None, sectors: set[str], lines: set[str]) -> Audience:
    """Read a filter (`None`, '' or 'all': everyone); AudienceError names what is wrong."""
    if text is None or text.strip().lower() in ("", "all", "tất cả"):
        return Audience()
    found: dict[str, frozenset[str]] = {}
    for term in text.split(","):
        key, sep, value = (part.strip() for part in term.partition("="))
        key = key.lower()
        if key not in KEYS or not sep:
            raise AudienceError(f"audience: không hiểu “{term.strip()[:40]}”; dùng {', '.join(KEYS)} dạng khóa=giá trị")
        values = frozenset(v.strip() for v in value.split("|") if v.strip())
        allowed = {"sector": sectors, "line": lines, "status": set(STATUSES), "registered": {"yes", "no"}}[key]
        wrong = sorted(values - allowed) if values else ["(trống)"]
        if wrong:
            raise AudienceError(f"audience: {key} không có “{wrong[0][:40]}”")
        found[key] = values
    registered = found.get("registered")
    if registered is not None and len(registered) > 1:
        registered = None  # yes|no: anyone
    return Audience(
        found.get("sector"),
        found.get("line"),
        None if registered is None else "yes" in registered,
        found.get("status"),
    )


@dataclass
class Split:
    """The audience per channel and group, and the rows to queue."""

    rows: list[Planned] = field(default_factory=list)
    groups: Counter[tuple[str, str]] = field(default_factory=Counter)  # (channel, group) → people
    zbs: ZbsCount | None = None  # Zalo's paid template: None when it is not configured

    @property
    def to_send(self) -> int:
        """Rows that will be sent."""
        return sum(1 for r in self.rows if r.status == "waiting")

    def as_json(self) -> dict[str, Any]:
        """Counts per channel and group, and per reason for what is skipped."""
        channels: dict[str, dict[str, int]] = {}
        for (channel, group), count in sorted(self.groups.items()):
            channels.setdefault(channel, {})[group] = count
        skipped = Counter(r.reason for r in self.rows if r.status == "skipped")
        found: dict[str, Any] = {"to_send": self.to_send, "channels": channels}
        found["skipped"] = dict(sorted(skipped.items()))
        if self.zbs is not None:  # only when configured: otherwise the counts do not mention it
            found["zbs"] = self.zbs.as_json()
        return found


def split(
    repo: SqliteRepository,
    communes: list[int],
    audience: Audience,
    rules: Rules,
    charged: bool,
    at: dt.datetime,
    zbs: bool = False,
) -> Split:
    """Each subscriber of the communes in the audience, once, with what will happen to them and why.

    `zbs`: Zalo people outside the free window who are not sent a charged consultation message get the paid
    template by their registration's phone (only when a template is configured).
    """
    store: AnnouncementStore = repo.announcements
    leads, sectors = store.leads_by_chat(), store.sectors_by_chat()
    recent = store.received_since((at - WEEK).isoformat(timespec="seconds"))
    last_zalo = store.last_person_messages("zalo")
    result, seen = Split(), set()
    phones: dict[str, str] = {}
    if rules.zalo_zbs:
        result.zbs = ZbsCount(zbs, rules.zbs_price_vnd)
        phones = {u: a for u, p in store.consented_phones("zalo").items() if (a := template_address(p))}
    for sub in store.subscribers(communes):
        who = (sub.key.channel, sub.key.user)
        if who in seen or not audience.admits(leads.get(who, []), sectors.get(who)):
            continue
        seen.add(who)
        group = _group(sub, last_zalo, rules, at)
        result.groups[(sub.key.channel, group)] += 1
        status, reason = _fate(sub.key, group, charged, recent.get(who, 0), rules)
        address: str | None = None
        if result.zbs is not None and (group == "closed" or (group == "charged" and not charged)):
            limited = recent.get(who, 0) >= rules.per_week
            status, reason, address = result.zbs.fate(phones.get(sub.key.user), limited, (status, reason))
        result.rows.append(Planned(sub.key, address or sub.key.user, sub.commune_code, status, reason))
    return result


def _group(sub: Subscription, last_zalo: dict[str, str], rules: Rules, at: dt.datetime) -> str:
    """'free', 'charged', 'closed' on Zalo; 'send' elsewhere; 'none' where we cannot send."""
    if sub.key.channel == "zalo":
        # Subscribing is itself a message: a transcript erased of it still dates it.
        last = max(last_zalo.get(sub.key.user, ""), sub.at)
        return rules.zalo_group(dt.datetime.fromisoformat(last), at)
    return "send" if sub.key.channel in SENT_BY_US else "none"


def _fate(key: ConversationKey, group: str, charged: bool, received: int, rules: Rules) -> tuple[str, str]:
    """(status, reason) of a recipient row."""
    if group == "none":
        return "skipped", "no_channel"
    if group == "closed":
        return "skipped", "zalo_closed"
    if group == "charged" and not charged:
        return "skipped", "zalo_charged"
    if received >= rules.per_week:
        return "skipped", "weekly_limit"
    return "waiting", ""
