"""Creating an announcement: checked input, the audience split, one queued row per recipient, the report.

One library for `khuyencong announce` and the dashboard: nothing here sends; the worker does (delivery.py).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bot.announce.audience import Audience, Split, split
from bot.announce.limits import Rules
from bot.staff.handoffs import _clean  # the same cleaning as a staff reply
from bot.storage.announcements import Announcement
from bot.storage.sqlite import SqliteRepository

log = logging.getLogger("khuyencong.announce")
MAX_TEXT = 1500  # characters: with the heading and footer it stays within Zalo's 2,000
MAX_LINK = 300
MAX_NAME = 60  # a staff name as it is kept in the log


class AnnouncementRefused(ValueError):
    """Input that cannot be announced: one Vietnamese line naming the field."""


@dataclass(frozen=True)
class Request:
    """What staff ask to send."""

    communes: dict[int, str]  # code → the commune as people read it
    text: str
    audience: Audience = field(default_factory=Audience)
    link: str = ""
    deadline: dt.date | None = None
    urgent: bool = False  # may go at night
    charged: bool | None = None  # Zalo's charged group; None: the setting
    created_by: str = "cli"
    zbs: bool = False  # Zalo's paid template to those outside the window with a phone (when configured)


@dataclass(frozen=True)
class Plan:
    """The split an announcement would get now, and when it may start."""

    split: Split
    not_before: dt.datetime
    night: bool
    charged: bool
    zbs: bool = False  # templates queued (configured and chosen)

    def as_json(self) -> dict[str, Any]:
        """Counts per channel and reason, for --dry-run and the dashboard."""
        return {**self.split.as_json(), "night": self.night, "not_before": self.not_before.isoformat()}


class Announcer:
    """Plans, queues and reports announcements under the configured rules."""

    def __init__(self, repo: SqliteRepository, rules: Rules) -> None:
        self.repo, self.rules = repo, rules

    def plan(self, request: Request, at: dt.datetime | None = None) -> Plan:
        """The split, without writing anything."""
        request = checked(request)
        at = at or dt.datetime.now(dt.UTC)
        charged = self.rules.zalo_charged if request.charged is None else request.charged
        night = self.rules.night(at) and not request.urgent
        zbs = request.zbs and self.rules.zalo_zbs
        found = split(self.repo, list(request.communes), request.audience, self.rules, charged, at, zbs)
        return Plan(found, self.rules.morning(at) if night else at, night, charged, zbs)

    def queue(self, request: Request, at: dt.datetime | None = None) -> tuple[int, Plan]:
        """Store the announcement and its recipient rows in one transaction; its id and plan."""
        request = checked(request)
        at = at or dt.datetime.now(dt.UTC)
        plan = self.plan(request, at)
        planned = {**plan.as_json(), "labels": {str(c): label for c, label in request.communes.items()}}
        announcement = Announcement(
            0,
            list(request.communes),
            request.text,
            request.link,
            request.deadline.isoformat() if request.deadline else "",
            request.audience.as_json(),
            request.urgent,
            plan.charged,
            request.created_by,
            at.isoformat(timespec="seconds"),
            plan.not_before.isoformat(timespec="seconds"),
            planned,
        )
        ident = self.repo.announcements.create(announcement, plan.split.rows)
        log.info(
            "announcement %s queued by %s for communes %s, audience %s: %s to send, %s",
            ident,
            request.created_by,
            ",".join(map(str, request.communes)),
            announcement.audience,
            plan.split.to_send,
            plan.split.as_json()["skipped"],
        )
        return ident, plan

    def report(self, ident: int) -> dict[str, Any] | None:
        """What became of an announcement: sent, waiting, failed and skipped per reason and channel."""
        announcement = self.repo.announcements.get(ident)
        if announcement is None:
            return None
        totals: Counter[str] = Counter()
        reasons: dict[str, Counter[str]] = {"failed": Counter(), "skipped": Counter()}
        channels: dict[str, Counter[str]] = {}
        unsubscribed = templates = 0
        for channel, status, reason, count, unsubs in self.repo.announcements.counts(ident):
            totals[status] += count
            templates += count if (status, reason) == ("sent", "zbs") else 0
            channels.setdefault(channel, Counter())[status] += count
            if status in reasons:
                reasons[status][reason] += count
            unsubscribed += unsubs
        return {
            "id": ident,
            "created_at": announcement.created_at,
            "created_by": announcement.created_by,
            "communes": announcement.communes,
            "audience": announcement.audience,
            "urgent": announcement.urgent,
            "charged": announcement.charged,
            "recipients": sum(totals.values()),
            "sent": totals["sent"],
            "waiting": totals["waiting"] + totals["sending"],
            "failed": dict(sorted(reasons["failed"].items())),
            "skipped": dict(sorted(reasons["skipped"].items())),
            "unsubscribed_after": unsubscribed,
            "channels": {c: dict(sorted(n.items())) for c, n in sorted(channels.items())},
            **({"zbs_sent": templates} if "zbs" in announcement.planned else {}),  # of `sent`: paid templates
        }

    def to_call(self, ident: int) -> list[dict[str, Any]]:
        """Who Zalo's window kept from an announcement, to be called instead (name and phone where registered)."""
        return self.repo.announcements.to_call(ident)


def checked(request: Request) -> Request:
    """The request cleaned; AnnouncementRefused names the field that is wrong."""
    text = _clean(request.text)
    if not text or len(text) > MAX_TEXT:
        raise AnnouncementRefused(f"text: nội dung cần từ 1 đến {MAX_TEXT} ký tự.")
    if not request.communes:
        raise AnnouncementRefused("commune: cần ít nhất một xã.")
    name = _clean(request.created_by)
    if not name or len(name) > MAX_NAME or "\n" in name:
        raise AnnouncementRefused(f"as: tên người gửi cần từ 1 đến {MAX_NAME} ký tự, trên một dòng.")
    link = _clean(request.link)
    if link and (
        len(link) > MAX_LINK or not link.startswith(("https://", "http://")) or any(c.isspace() for c in link)
    ):
        raise AnnouncementRefused("link: cần một địa chỉ web bắt đầu bằng https://, không có dấu cách.")
    return Request(
        request.communes,
        text,
        request.audience,
        link,
        request.deadline,
        request.urgent,
        request.charged,
        name,
        request.zbs,
    )
