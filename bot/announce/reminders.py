"""A subscriber's own reminders: the deadline of the plan they registered for is near, staff moved their registration.

Each goes at most once (its key in `reminders_sent`, claimed before it is queued), through the announcement
queue: the same Zalo window, weekly limit and night rule as any announcement, sent by the same worker. A person
the weekly limit holds back is tried again at the next pass (the key is claimed only when a row is queued).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.announce.audience import Audience
from bot.announce.limits import Rules
from bot.announce.queue import Announcer, Plan, Request
from bot.app import App
from bot.channels.common import Delivery
from bot.flows import ReminderTexts
from bot.knowledge import VN_TIME, Knowledge
from bot.messages import ConversationKey
from bot.storage.announcements import Announcement
from bot.storage.sqlite import SqliteRepository

log = logging.getLogger("khuyencong.announce")
BY = "Trợ lý (nhắc tự động)"  # created_by of a reminder
OPEN = ("new", "contacted")  # registrations that may still have a dossier to hand in
RECENT = dt.timedelta(days=2)  # status changes the periodic pass still tells of (a hook that failed, another process)
INTERVAL = 15 * 60.0  # seconds between passes of the worker


@dataclass(frozen=True)
class Due:
    """One subscriber to remind of one deadline."""

    ref: str
    key: ConversationKey
    commune_code: int
    deadline: dt.date
    plan: str  # what ends, as people read it: 'kế hoạch khuyến công năm 2026 xã Vĩnh Thủy'


class Reminders:
    """Finds what is due and queues it, once."""

    def __init__(
        self,
        repo: SqliteRepository,
        kb: Knowledge,
        texts: ReminderTexts,
        rules: Rules,
        label: Callable[[int], str],
        days_before: int = 7,
        statuses: frozenset[str] = frozenset(),
    ) -> None:
        self.repo, self.kb, self.texts, self.label = repo, kb, texts, label
        self.announcer = Announcer(repo, rules)
        self.days_before, self.statuses = days_before, statuses

    @classmethod
    def of(cls, app: App, repo: SqliteRepository | None = None) -> Reminders:
        """Reminders as configured, on `repo` (default: the engine's connection)."""
        settings = app.settings
        gazetteer = app.engine.assessor.gazetteer

        def label(code: int) -> str:
            from bot.answers import place_slot
            from bot.dialog.news import News

            place = gazetteer.place_by_code(code)
            return News.label(place_slot(place)) if place else "xã"

        statuses = frozenset(s for s in settings.reminder_statuses.split(",") if s)
        return cls(
            repo or app.repo, app.engine.kb, app.engine.texts.reminders, Rules.of(settings), label,
            settings.reminder_days_before, statuses,
        )  # fmt: skip

    # --- deadlines ----------------------------------------------------------------------------------

    def due(self, today: dt.date) -> list[Due]:
        """Registered subscribers whose nearest deadline is within `days_before` days."""
        if self.days_before <= 0:
            return []
        rows = self.repo.db.execute(
            "SELECT l.ref, l.channel, l.user, l.commune_code, l.lines_wanted FROM leads l "
            f"WHERE l.status IN ({','.join('?' * len(OPEN))}) AND EXISTS (SELECT 1 FROM subscriptions s "
            "WHERE s.channel = l.channel AND s.user = l.user AND s.commune_code = l.commune_code) ORDER BY l.ref",
            list(OPEN),
        ).fetchall()
        found = []
        for ref, channel, user, code, lines in rows:
            near = self._deadline(int(code), set(json.loads(lines or "[]")), today)
            if near is not None and near[0] - today <= dt.timedelta(days=self.days_before):
                found.append(Due(str(ref), ConversationKey(str(channel), str(user)), int(code), near[0], near[1]))
        return found

    def _deadline(self, code: int, lines: set[str], today: dt.date) -> tuple[dt.date, str] | None:
        """The nearest deadline from today of the commune's current plan and of the national lines wanted."""
        found: list[tuple[dt.date, str]] = []
        for loc in self.kb.localities:
            mine = loc.level == "commune" and loc.ward_code == code and not loc.historical
            if mine and loc.valid_to and loc.valid_on(today):
                found.append((loc.valid_to, loc.title[:1].lower() + loc.title[1:]))
        for line in self.kb.support_lines.lines:
            if line.code in lines and line.valid_to and line.valid_on(today):
                found.append((line.valid_to, f"nội dung hỗ trợ “{line.name}”"))
        return min(found, default=None)

    def remind(self, at: dt.datetime) -> int:
        """Queue the deadline reminders due now, one announcement per commune and deadline; how many people."""
        batches: dict[tuple[int, dt.date, str], list[Due]] = {}
        for due in self.due(at.astimezone(VN_TIME).date()):
            batches.setdefault((due.commune_code, due.deadline, due.plan), []).append(due)
        done = 0
        for (code, day, plan), people in batches.items():
            keys = {(d.key.channel, d.key.user): f"deadline:{d.ref}:{day.isoformat()}" for d in people}
            done += self._queue(code, self.texts.deadline.format(plan=plan), day, keys, at)
        return done

    # --- a registration moved on ----------------------------------------------------------------------

    def status_changed(self, ref: str, status: str, at: dt.datetime | None = None) -> int:
        """Tell a subscribed person their registration reached `status`, if it concerns them; 1 if queued."""
        text = self.texts.status.get(status)
        if status not in self.statuses or text is None:
            return 0
        row = self.repo.db.execute("SELECT channel, user, commune_code FROM leads WHERE ref = ?", [ref]).fetchone()
        if row is None or row[2] is None:
            return 0
        keys = {(str(row[0]), str(row[1])): f"status:{ref}:{status}"}
        return self._queue(int(row[2]), text.format(ref=ref), None, keys, at or dt.datetime.now(dt.UTC))

    def recent_changes(self, at: dt.datetime) -> int:
        """Status messages for registrations moved lately, in case the dashboard's hook could not queue them."""
        if not self.statuses:
            return 0
        since = (at - RECENT).isoformat(timespec="seconds")
        rows = self.repo.db.execute(
            f"SELECT ref, status FROM leads WHERE status IN ({','.join('?' * len(self.statuses))}) "
            "AND updated_at >= ? AND NOT EXISTS (SELECT 1 FROM reminders_sent r "
            "WHERE r.key = 'status:' || leads.ref || ':' || leads.status) ORDER BY ref",
            [*sorted(self.statuses), since],
        ).fetchall()
        return sum(self.status_changed(str(ref), str(status), at) for ref, status in rows)

    # --- the queue ----------------------------------------------------------------------------------

    def _queue(
        self, code: int, text: str, day: dt.date | None, keys: dict[tuple[str, str], str], at: dt.datetime
    ) -> int:
        """Plan as for an announcement to the commune, keep these people's rows, claim their keys, queue; how many."""
        request = Request({code: self.label(code)}, text, Audience(), "", day, False, None, BY)
        plan = self.announcer.plan(request, at)
        rows = [r for r in plan.split.rows if (r.key.channel, r.key.user) in keys and r.reason != "weekly_limit"]
        rows = [r for r in rows if self._claim(keys[(r.key.channel, r.key.user)], at)]
        if not rows:
            return 0
        ident = self.repo.announcements.create(self._announcement(request, plan, at), rows)
        self._settle([keys[(r.key.channel, r.key.user)] for r in rows], ident)
        log.info("reminder announcement %s queued for commune %s: %s people", ident, code, len(rows))
        return len(rows)

    @staticmethod
    def _announcement(request: Request, plan: Plan, at: dt.datetime) -> Announcement:
        """The stored announcement of a reminder: as `Announcer.queue` stores one, its audience marked a reminder."""
        return Announcement(
            0, list(request.communes), request.text, "", request.deadline.isoformat() if request.deadline else "",
            {"reminder": True}, False, plan.charged, request.created_by, at.isoformat(timespec="seconds"),
            plan.not_before.isoformat(timespec="seconds"),
            {**plan.as_json(), "labels": {str(c): label for c, label in request.communes.items()}},
        )  # fmt: skip

    def _claim(self, key: str, at: dt.datetime) -> bool:
        """Take a reminder's key; False when it was taken before (it went, or is going)."""
        with self.repo._tx() as cur:
            cur.execute(
                "INSERT OR IGNORE INTO reminders_sent (key, announcement_id, at) VALUES (?, 0, ?)",
                [key, at.isoformat(timespec="seconds")],
            )
            return bool(cur.rowcount)

    def _settle(self, keys: list[str], ident: int) -> None:
        with self.repo._tx() as cur:
            cur.executemany("UPDATE reminders_sent SET announcement_id = ? WHERE key = ?", [[ident, k] for k in keys])

    def run(self, at: dt.datetime | None = None) -> int:
        """One pass of the worker: deadlines near, status changes not yet told; how many people queued."""
        at = at or dt.datetime.now(dt.UTC)
        return self.remind(at) + self.recent_changes(at)


class ReminderLoop:
    """The worker's companion: a pass every INTERVAL seconds on the announcement sender's kind of connection."""

    def __init__(self, app: App, delivery: Delivery, interval: float = INTERVAL) -> None:
        from bot.announce.delivery import QueueDb

        self.app, self.db, self.interval = app, QueueDb(app, delivery), interval
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start passing."""
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stop after the pass in progress."""
        self._stopping.set()
        if self._task is not None:
            await self._task
        self.db.close()

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.db.call(self._pass)
            except Exception:  # a locked database: the next pass tries again; keys keep it once
                log.exception("reminders: the pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)

    def _pass(self) -> None:
        queued = Reminders.of(self.app, self.db.repo).run()
        if queued:
            log.info("reminders: %s queued", queued)
