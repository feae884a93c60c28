"""The worker's side of announcements: queued recipient rows sent at each platform's pace, each row at most once.

At least once or never twice. A platform call and our database write cannot be one transaction, so a process
killed between them leaves a row whose fate is unknown. The outbox of a turn's replies chooses at least once
(a reply is deleted after the platform took it: a kill in between sends it again, and the person is answered).
An announcement chooses never twice, since a repeated broadcast is spam and a missed one can be told by phone:
a row is claimed (`sending`, committed) just before the platform is called, and only then; after a restart the
rows still `sending` are marked failed ('interrupted') and never sent again. Claiming one row at a time, after
the pace allows it, keeps that doubt to the few sends in flight at the moment of the kill (ANNOUNCE_SENDERS
per platform). For the same reason a send whose answer was lost (a timeout, a 5xx) is failed, not tried again;
only a definite refusal for now (Telegram's 429, Zalo's -32) is. The web widget's rows are written to the
transcript and marked sent in one transaction: exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import sqlite3
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

from bot.announce.limits import Pace, Rules
from bot.announce.zbs import Template, phone_of
from bot.app import App
from bot.channels.common import Delivery
from bot.flows import NewsTexts
from bot.messages import Button, ConversationKey, Reply
from bot.storage import Consent
from bot.storage.announcements import NEWS, Announcement, AnnouncementStore, Claimed
from bot.storage.sqlite import SqliteRepository

log = logging.getLogger("khuyencong.announce")
T = TypeVar("T")
IDLE_SECONDS = 0.5  # how often an idle sender looks for rows queued by another process
Result = tuple[str, str]  # (status, reason) of a row once sent
Send = Callable[[Claimed, Reply], Awaitable[Result]]
SendTemplate = Callable[[str, dict[str, str], str], Awaitable[str]]  # (phone, parameters, tracking id) → outcome


class QueueDb:
    """The sender's own database connection and thread: its claims never wait behind turns, nor collide with them.

    Opened at the first use. An in-memory database has one connection only: then the engine's, on its thread.
    """

    def __init__(self, app: App, delivery: Delivery) -> None:
        self.app, self.delivery = app, delivery
        self._repo: SqliteRepository | None = None
        self._thread: ThreadPoolExecutor | None = None

    @property
    def repo(self) -> SqliteRepository:
        """The connection the sender uses."""
        if not self.app.shared:
            return self.app.repo
        if self._repo is None:
            self._repo = self.app.repo.reopen()
        return self._repo or self.app.repo

    @property
    def queue(self) -> AnnouncementStore:
        """Subscriptions and the queue, on this connection."""
        return self.repo.announcements

    async def call(self, func: Callable[..., T], *args: Any) -> T:
        """Run a storage call on the thread of this connection."""
        if not self.app.shared:
            return await self.delivery.handler.call(func, *args)
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="announce")
        return await asyncio.get_running_loop().run_in_executor(self._thread, func, *args)

    def close(self) -> None:
        """Release the thread and the connection, when they are the sender's own."""
        if self._thread is not None:
            self._thread.shutdown(wait=True)
        if self._repo is not None:
            self._repo.close()


def compose(texts: NewsTexts, announcement: Announcement, place: str, button: bool) -> Reply:
    """The message as the person reads it: whose news, the text, the deadline and link, how to stop."""
    lines = [texts.heading.format(place=place), announcement.text]
    if announcement.deadline:
        day = dt.date.fromisoformat(announcement.deadline).strftime("%d/%m/%Y")
        lines.append(texts.deadline.format(day=day))
    if announcement.link:
        lines.append(texts.link.format(link=announcement.link))
    lines.append(texts.footer)
    return Reply("\n".join(lines), (Button(texts.stop_button, "cmd:unsubscribe"),) if button else ())


class AnnouncementSender:
    """One loop per platform: claim a row when the pace allows, send it, record what happened."""

    def __init__(self, app: App, delivery: Delivery, db: QueueDb, senders: dict[str, tuple[Send, Pace]]) -> None:
        self.app, self.delivery, self.db, self.senders = app, delivery, db, senders
        self.rules = Rules.of(app.settings)
        self.texts = app.engine.texts.news
        self.call = db.call
        self._cache: dict[int, Announcement] = {}
        self._done: dict[str, Counter[str]] = {}  # per channel, outcomes since it was last idle (for the log)
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Settle what a killed sender left, then send. Call only as the one worker (the inbox lock held)."""
        left = await self.call(self.db.queue.interrupted)
        if left:
            log.warning(
                "announce: %s sends were interrupted by a restart; not sent again (they may have arrived)", left
            )
        for channel, (send, pace) in self.senders.items():
            self._tasks.append(asyncio.create_task(self._loop(channel, send, pace)))

    async def stop(self) -> None:
        """Stop claiming; the sends in flight finish."""
        self._stopping.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.db.close()

    async def _loop(self, channel: str, send: Send, pace: Pace) -> None:
        slots = asyncio.Semaphore(self.app.settings.announce_senders)
        flying: set[asyncio.Task[None]] = set()
        while not self._stopping.is_set():
            await slots.acquire()
            await pace.wait()
            try:
                row = await self._claim(channel)
            except Exception:  # a locked database: try again shortly
                log.exception("announce: could not read the queue")
                row = None
            if row is None:
                slots.release()
                self._tell(channel)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), IDLE_SECONDS)
                continue
            task = asyncio.create_task(self._one(row, send))
            flying.add(task)
            task.add_done_callback(flying.discard)
            task.add_done_callback(lambda _: slots.release())
        await asyncio.gather(*flying, return_exceptions=True)

    async def _claim(self, channel: str) -> Claimed | None:
        at = dt.datetime.now(dt.UTC)
        return await self.call(self.db.queue.claim, channel, at.isoformat(timespec="seconds"), self.rules.night(at))

    async def _one(self, row: Claimed, send: Send) -> None:
        try:
            announcement = await self._announcement(row.announcement_id)
            labels: dict[str, str] = announcement.planned.get("labels", {})
            place = labels.get(str(row.commune_code), "xã")
            reply = compose(self.texts, announcement, place, button=row.key.channel != "web")
            async with self.delivery.turn(row.key):  # never between the replies of one of their turns
                status, reason = await send(row, reply)
            if status != "done":  # the web sender records its own row
                await self._finish(row, status, reason)
            self._done.setdefault(row.key.channel, Counter())[f"{status} {reason}".strip()] += 1
            if reason == "blocked":
                await self.call(self.db.queue.unsubscribe, row.key, self._blocked(row.key))
        except Exception:
            log.exception("announce: row %s failed", row.id)
            with contextlib.suppress(Exception):
                await self.call(self.db.queue.finish, row.id, "failed", "error")

    async def _finish(self, row: Claimed, status: str, reason: str) -> None:
        """Record a row's fate; a locked database is waited out (the row stays `sending`, never resent, if not)."""
        for attempt in range(3):
            try:
                await self.call(self.db.queue.finish, row.id, status, reason)
                return
            except sqlite3.OperationalError:
                if attempt == 2:
                    raise
                await asyncio.sleep(1.0)

    def _tell(self, channel: str) -> None:
        """Log what a channel sent since it was last idle: who got what is in the queue rows."""
        done = self._done.pop(channel, None)
        if done:
            log.info("announce: %s: %s", channel, ", ".join(f"{n} {what}" for what, n in sorted(done.items())))

    def _blocked(self, key: ConversationKey) -> Consent:
        return Consent(key.channel, key.user, NEWS, self.texts.consent_version, self.texts.blocked, False)

    async def _announcement(self, ident: int) -> Announcement:
        if ident not in self._cache:
            found = await self.call(self.db.queue.get, ident)
            assert found is not None
            self._cache[ident] = found
        return self._cache[ident]


def web_sender(db: QueueDb) -> Send:
    """The web widget: the message joins the person's transcript (the long poll shows it), row sent with it."""

    async def send(row: Claimed, reply: Reply) -> Result:
        await db.call(db.queue.shown_on_web, row.id, row.key, reply.text)
        return "done", ""

    return send


def zalo_sender(
    send_cs: Callable[[str, Reply], Awaitable[str]],
    rules: Rules,
    db: QueueDb,
    templates: tuple[Template, SendTemplate] | None = None,
) -> Send:
    """Zalo's consultation message, within its window as it stands now (the person may have gone quiet since);
    a row queued for the paid template goes by the person's phone (bot/announce/zbs.py)."""

    def window(key: ConversationKey, ident: int) -> tuple[str, bool]:
        found = db.queue.get(ident)
        return db.repo.handoffs.last_said_at(key), bool(found and found.charged)

    async def send(row: Claimed, reply: Reply) -> Result:
        said, charged = await db.call(window, row.key, row.announcement_id)
        group = rules.zalo_group(dt.datetime.fromisoformat(said), dt.datetime.now(dt.UTC)) if said else ""
        phone = phone_of(row.address)
        if phone is not None and group != "free":
            return await template(row, phone)
        if phone is not None:  # they wrote since it was queued: the free message does it
            row = Claimed(row.id, row.announcement_id, row.key, row.key.user, row.commune_code)
        if said:
            if group == "closed":
                return "skipped", "zalo_closed"
            if group == "charged" and not charged:
                return "skipped", "zalo_charged"
        outcome = await send_cs(row.address, reply)
        if outcome == "sent":
            return "sent", ""
        # -230 and the other window errors: unreachable for this announcement, not for ever.
        return "failed", {"unreachable": "zalo_window", "refused": "refused"}.get(outcome, "platform")

    async def template(row: Claimed, phone: str) -> Result:
        if templates is None:  # the template was switched off after this was queued
            return "failed", "zbs_off"
        chosen, send_template = templates
        announcement = await db.call(db.queue.get, row.announcement_id)
        assert announcement is not None
        place = announcement.planned.get("labels", {}).get(str(row.commune_code), "xã")
        outcome = await send_template(phone, chosen.data(announcement, place), str(row.id))
        if outcome == "sent":
            return "sent", "zbs"  # the statistics count paid templates apart
        return "failed", {"unreachable": "zbs_phone", "refused": "zbs_refused"}.get(outcome, "platform")

    return send


def telegram_sender(bot: Any, pace: Pace) -> Send:
    """Telegram's sendMessage: a 429 pauses every send for retry_after, then the same row goes; a block unsubscribes."""
    from telegram.error import Forbidden, RetryAfter, TelegramError

    from bot.channels.telegram import keyboard

    async def send(row: Claimed, reply: Reply) -> Result:
        for _ in range(5):
            try:
                await bot.send_message(chat_id=int(row.address), text=reply.text, reply_markup=keyboard(reply.buttons))
                return "sent", ""
            except RetryAfter as exc:  # not delivered: safe to send again once the wait is over
                wait = exc.retry_after
                seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
                pace.pause(seconds)
                await asyncio.sleep(seconds)
            except Forbidden:
                return "failed", "blocked"
            except TelegramError as exc:  # a timeout may have delivered it: never tried again
                log.warning("announce: telegram message to row %s failed: %s", row.id, exc)
                return "failed", "platform"
        return "failed", "rate_limited"

    return send


def sender_for(app: App, delivery: Delivery, processors: dict[str, Any]) -> AnnouncementSender:
    """The sender over the channels this worker runs (the web always), with their clients and paces."""
    zalo, telegram = processors.get("zalo"), processors.get("telegram")
    # An announcement is never sent twice: after a timeout Zalo may have taken it, so it is not tried again.
    zalo_send = functools.partial(zalo.client.send, once=True) if zalo else None
    templates = None
    chosen = Template.of(app.settings)
    if zalo is not None and chosen is not None:
        from bot.channels.zalo_zbs import TemplateClient

        client = TemplateClient(zalo.client, app.settings.zalo_zbs_api_base, chosen.template_id)
        templates = (chosen, client.send)
    return sender_with(app, delivery, zalo_send, telegram.app.bot if telegram else None, templates)


def sender_with(
    app: App,
    delivery: Delivery,
    zalo_send: Callable[[str, Reply], Awaitable[str]] | None,
    telegram_bot: Any,
    templates: tuple[Template, SendTemplate] | None = None,
) -> AnnouncementSender:
    """The sender for the web, and for Zalo and Telegram where their clients are given (Zalo's paid template too)."""
    settings, db = app.settings, QueueDb(app, delivery)
    senders: dict[str, tuple[Send, Pace]] = {"web": (web_sender(db), Pace(200.0))}
    if zalo_send is not None:
        zalo = zalo_sender(zalo_send, Rules.of(settings), db, templates)
        senders["zalo"] = (zalo, Pace(settings.announce_zalo_per_second))
    if telegram_bot is not None:
        pace = Pace(settings.announce_telegram_per_second)  # one pace: a 429 holds every Telegram send
        senders["telegram"] = (telegram_sender(telegram_bot, pace), pace)
    return AnnouncementSender(app, delivery, db, senders)
