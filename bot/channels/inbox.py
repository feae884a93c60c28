"""The webhook inbox: events accepted by the web process wait in SQLite until a worker runs their turn.

A webhook only verifies, claims and stores the event (one short transaction), then answers 200. The
worker (a child process of `khuyencong serve` by default, or tasks in the same process) reads the inbox
in arrival order, runs the engine and delivers the replies through the outbox. An event answered 200 is
on disk: a crash, a restart, a locked database or a full disk delays it, never loses it. An event leaves
the inbox only once its turn is stored and its replies delivered; a failed one is tried again with
back-off (attempts and next try stored with it), and a person's later events wait behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import functools
import heapq
import logging
import os
import sqlite3
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import psycopg

from bot.app import App, OrderedHandler
from bot.channels.common import Delivery, NotDelivered
from bot.config import Settings
from bot.storage.sqlite import InboxEvent, SqliteRepository, person_of

if TYPE_CHECKING:
    from bot.storage.postgres import SharedInbox

log = logging.getLogger("khuyencong.inbox")
POLL_SECONDS = 0.02  # an idle worker looks for new events this often (another process cannot wake it)
RETRY_FIRST = 1.0  # seconds before the first retry of a failed turn; doubled each time
RETRY_MAX = 300.0  # seconds between retries at most
# What fails for now and may pass later: the database (locked, full) and the platforms (down, refusing for now).
RETRYABLE = (sqlite3.OperationalError, psycopg.OperationalError, NotDelivered, OSError, TimeoutError)
GIVE_UP = 24 * 3600.0  # seconds: an event still failing after a day is dropped (logged); its answer is no use now


class Processor(Protocol):
    """How one channel turns a stored event into a turn and its replies."""

    async def start(self) -> None:
        """Open what sending needs (HTTP sessions, the bot)."""

    async def process(self, payload: str) -> None:
        """Run the event's turn and deliver its replies, in order for its person; raise if either failed."""

    async def close(self) -> None:
        """Release what start() opened."""


class Companion(Protocol):
    """Work that must run in the one worker only (the announcement sender): started once the inbox lock is held."""

    async def start(self) -> None:
        """Begin, as the only worker."""

    async def stop(self) -> None:
        """Finish what is in flight and stop."""


class InboxWorker:
    """Reads the inbox in order and hands each event to its channel, a few turns at a time."""

    def __init__(
        self,
        repo: SqliteRepository,
        handler: OrderedHandler,
        delivery: Delivery,
        processors: dict[str, Processor],
        db_path: Path | None = None,
    ) -> None:
        self.repo, self.handler, self.delivery, self.processors = repo, handler, delivery, processors
        self._lock_path = db_path.with_name(db_path.name + ".worker-lock") if db_path is not None else None
        self._cursor = 0  # highest id read; after a restart everything left is read again
        self._done: list[int] = []
        # People with an event in flight or waiting for its retry, and their later events, in order.
        self._held: dict[str, deque[InboxEvent]] = {}
        self._behind = 0  # events waiting in _held
        self._retry: list[tuple[float, int, InboxEvent]] = []  # failed events by next try
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._lock_fd: int | None = None
        self.companions: list[Companion] = []
        self._started: list[Companion] = []

    async def start(self) -> None:
        """Open the channels and start reading."""
        for processor in self.processors.values():
            await processor.start()
        self._task = asyncio.create_task(self._run())

    def wake(self) -> None:
        """A new event was stored by this process: look now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop reading, let the turns in progress finish, then close the channels."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        for companion in self._started:
            await companion.stop()
        await self.delivery.drain()
        try:
            await self._forget_done()
        except Exception:  # they stay in the inbox: the next worker replays them, and the engine answers nothing new
            log.warning("inbox: could not forget the events just done")
        for processor in self.processors.values():
            await processor.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    async def _run(self) -> None:
        if not await self._exclusive():
            return
        for companion in self.companions:
            await companion.start()
            self._started.append(companion)
        while not self._stopping:
            try:
                handed = await self._hand_out()
            except Exception:  # a locked or broken database must not kill the worker; try again
                log.exception("inbox: reading failed")
                handed = 0
            if not handed:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def _exclusive(self) -> bool:
        """Be the only reader of this inbox (two would answer twice and out of order); False if stopped first.

        A worker killed with its server is still finishing its turns when the next one starts: the next
        one waits for it. The lock is the kernel's, so it goes with the process, however it ends.
        """
        if self._lock_path is None:
            return True
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        warned = False
        while not self._stopping:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._lock_fd = fd
                return True
            except BlockingIOError:
                if not warned:
                    log.warning("inbox: another worker is still running; waiting for it to stop")
                    warned = True
                await asyncio.sleep(0.2)
        os.close(fd)
        return False

    async def _hand_out(self) -> int:
        await self._forget_done()
        handed = self._due()
        room = self.delivery.room() - self._behind
        if room <= 0:
            return handed
        events = await self.handler.call(self.repo.inbox_after, self._cursor, min(room, 500))
        for event in events:
            self._cursor = event.id
            self._admit(event)
        return handed + len(events)

    def _admit(self, event: InboxEvent) -> None:
        """Start an event, or keep it behind its person's earlier one (in flight or failed)."""
        person = _person(event)
        if person in self._held:
            self._held[person].append(event)
            self._behind += 1
            return
        self._held[person] = deque()
        self._start(event)

    def _start(self, event: InboxEvent) -> None:
        if event.next_try > time.time() or not self.delivery.spawn(functools.partial(self._turn, event)):
            heapq.heappush(self._retry, (max(event.next_try, time.time() + POLL_SECONDS), event.id, event))

    def _due(self) -> int:
        """Start the failed events whose next try has come."""
        started, now = 0, time.time()
        while self._retry and self._retry[0][0] <= now:
            _, _, event = heapq.heappop(self._retry)
            event.next_try = 0
            self._start(event)
            started += 1
        return started

    async def _turn(self, event: InboxEvent) -> None:
        failure = await self._process(event)
        if failure is not None:
            await self._failed(event, failure)
            return
        self._finish(event)

    async def _process(self, event: InboxEvent) -> Exception | None:
        """Run one event's turn; the failure worth a retry, if any (any other is logged and the event dropped)."""
        try:
            processor = self.processors.get(event.channel)
            if processor is None:
                log.error("inbox: event %s of channel %s, which is not configured here", event.id, event.channel)
            else:
                await processor.process(event.payload)
        except RETRYABLE as exc:
            return exc
        except Exception:  # a bug with this one event: retrying gets the same; it must not block its person
            log.exception("inbox: event %s could not be processed; dropped", event.id)
        return None

    @staticmethod
    def backoff(event: InboxEvent) -> float:
        """Count a failed attempt; seconds until the next (0: a day has passed, give up)."""
        event.attempts += 1
        if time.time() - event.arrived > GIVE_UP:
            return 0.0
        return min(RETRY_FIRST * 2.0 ** (event.attempts - 1), RETRY_MAX)

    def _finish(self, event: InboxEvent) -> None:
        """The event is over: forget it, and start its person's next event."""
        self._done.append(event.id)
        person = _person(event)
        waiting = self._held.get(person)
        if not waiting:
            self._held.pop(person, None)
            return
        self._behind -= 1
        self._start(waiting.popleft())

    async def _failed(self, event: InboxEvent, exc: Exception) -> None:
        """Keep a failed event for a later try, with back-off; give up only after a day."""
        delay = self.backoff(event)
        if not delay:
            log.error("inbox: event %s given up after %s attempts over a day (%r)", event.id, event.attempts, exc)
            self._finish(event)
            return
        event.next_try = time.time() + delay
        log.warning("inbox: event %s failed (%r), attempt %s; next try in %.0f s", event.id, exc, event.attempts, delay)
        try:
            await self.handler.call(self.repo.inbox_retry, event.id, event.attempts, event.next_try)
        except Exception:  # the database is the trouble: the retry is kept here, and the event stays stored
            log.warning("inbox: could not store the retry of event %s", event.id)
        heapq.heappush(self._retry, (event.next_try, event.id, event))

    async def _forget_done(self) -> None:
        if self._done:
            done, self._done = self._done, []
            try:
                await self.handler.call(self.repo.inbox_done, done)
            except Exception:  # kept for the next round (a turn replayed after a restart answers nothing new)
                self._done = done + self._done
                raise


def _person(event: InboxEvent) -> str:
    """Whose events keep their order: the sender, or the event alone when it has none."""
    return person_of(event.channel, event.person, event.id)


class SharedInboxWorker(InboxWorker):
    """The inbox on PostgreSQL, read by this worker and any number of others at once (bot/storage/postgres.py).

    The database, not this process, keeps each person's events in order: a worker runs only the earliest
    waiting event of a person whose lock it holds, and deletes it before it lets the person go.
    """

    def __init__(
        self,
        repo: SqliteRepository,
        handler: OrderedHandler,
        delivery: Delivery,
        processors: dict[str, Processor],
        shared: SharedInbox,
    ) -> None:
        super().__init__(repo, handler, delivery, processors)
        self.shared = shared
        self._busy: set[int] = set()  # events running here

    async def stop(self) -> None:
        """Stop reading, let the turns in progress finish, then let go of the locks."""
        await super().stop()
        await self.handler.call(self.shared.close)

    async def _hand_out(self) -> int:
        room = self.delivery.room()
        if room <= 0:
            return 0
        claimed = await self.handler.call(self.shared.claim, min(room, 100), set(self._busy), time.time())
        for who, row in claimed:
            event = _event(row)
            self._busy.add(event.id)
            if not self.delivery.spawn(functools.partial(self._shared_turn, who, event)):
                self._busy.discard(event.id)
                await self.handler.call(self.shared.release, who)
        return len(claimed)

    async def _shared_turn(self, who: str, event: InboxEvent) -> None:
        failure = await self._process(event)
        try:
            delay = self.backoff(event) if failure is not None else 0.0
            if delay:
                log.warning(
                    "inbox: event %s failed (%r), attempt %s; next try in %.0f s",
                    event.id,
                    failure,
                    event.attempts,
                    delay,
                )
                await self.handler.call(self.shared.retry, who, event.id, event.attempts, time.time() + delay)
            else:
                if failure is not None:
                    log.error("inbox: event %s given up after %s attempts over a day", event.id, event.attempts)
                await self.handler.call(self.shared.finish, who, event.id)
        except Exception:  # the lock stays held here: the event stays first, and runs again on the next claim
            log.exception("inbox: could not record the end of event %s", event.id)
        finally:
            self._busy.discard(event.id)


def _event(row: tuple[Any, ...]) -> InboxEvent:
    i, channel, payload, person, attempts, next_try, at = row
    arrived = dt.datetime.fromisoformat(at).timestamp()
    return InboxEvent(int(i), str(channel), str(payload), person, int(attempts), float(next_try), arrived)


def inbox_worker(
    repo: SqliteRepository,
    handler: OrderedHandler,
    delivery: Delivery,
    processors: dict[str, Processor],
    db_path: Path | None = None,
) -> InboxWorker:
    """The reader of this database's inbox: the only one (SQLite, a file lock), or one of many (PostgreSQL)."""
    shared = getattr(repo, "shared_inbox", None)
    if shared is not None:
        return SharedInboxWorker(repo, handler, delivery, processors, shared())
    return InboxWorker(repo, handler, delivery, processors, db_path)


def processors(app: App, settings: Settings, handler: OrderedHandler, delivery: Delivery) -> dict[str, Processor]:
    """The channels whose settings are present, ready to process stored events."""
    from bot.staff.relay import StaffRelay

    found: dict[str, Processor] = {}
    relay = StaffRelay(app, handler)  # staff writing on the platforms themselves
    if settings.zalo_enabled:
        from bot.channels.zalo import ZaloProcessor, zalo_settings

        zalo = ZaloProcessor.build(zalo_settings(settings), delivery, app.repo)
        zalo.on_echo = relay.zalo_echo
        found["zalo"] = zalo
    if settings.telegram_webhook_enabled:
        from bot.channels.telegram import TelegramProcessor
        from bot.staff.notify import StaffCommands

        commands = StaffCommands(app, handler, settings.staff_ids)
        found["telegram"] = TelegramProcessor.build(settings, delivery, app.repo, commands, relay)
    return found
