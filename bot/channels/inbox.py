"""The webhook inbox: events accepted by the web process wait in SQLite until a worker runs their turn.

A webhook only verifies, claims and stores the event (one short transaction), then answers 200. The
worker (a child process of `khuyencong serve` by default, or tasks in the same process) reads the inbox
in arrival order, runs the engine and sends the replies. An event answered 200 is on disk: a crash or a
restart delays it, never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
import os
from pathlib import Path
from typing import Protocol

from bot.app import App, OrderedHandler
from bot.channels.common import Delivery
from bot.config import Settings
from bot.storage.sqlite import SqliteRepository

log = logging.getLogger("khuyencong.inbox")
POLL_SECONDS = 0.02  # an idle worker looks for new events this often (another process cannot wake it)


class Processor(Protocol):
    """How one channel turns a stored event into a turn and its replies."""

    async def start(self) -> None:
        """Open what sending needs (HTTP sessions, the bot)."""

    async def process(self, payload: str) -> None:
        """Run the event's turn and send its replies, in order for its person."""

    async def close(self) -> None:
        """Release what start() opened."""


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
        self._cursor = 0  # highest id handed out; after a restart everything left is handed out again
        self._done: list[int] = []
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._lock_fd: int | None = None

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
        await self.delivery.drain()
        await self._forget_done()
        for processor in self.processors.values():
            await processor.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    async def _run(self) -> None:
        if not await self._exclusive():
            return
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
        room = self.delivery.room()
        if room <= 0:
            return 0
        rows = await self.handler.call(self.repo.inbox_after, self._cursor, min(room, 500))
        for event_id, channel, payload in rows:
            self.delivery.spawn(functools.partial(self._turn, event_id, channel, payload))
            self._cursor = event_id
        return len(rows)

    async def _turn(self, event_id: int, channel: str, payload: str) -> None:
        try:
            processor = self.processors.get(channel)
            if processor is None:
                log.error("inbox: event %s of channel %s, which is not configured here", event_id, channel)
            else:
                await processor.process(payload)
        finally:  # a turn that failed is logged by Delivery and not retried forever
            self._done.append(event_id)

    async def _forget_done(self) -> None:
        if self._done:
            done, self._done = self._done, []
            await self.handler.call(self.repo.inbox_done, done)


def processors(app: App, settings: Settings, handler: OrderedHandler, delivery: Delivery) -> dict[str, Processor]:
    """The channels whose settings are present, ready to process stored events."""
    found: dict[str, Processor] = {}
    if settings.zalo_enabled:
        from bot.channels.zalo import ZaloProcessor, zalo_settings

        found["zalo"] = ZaloProcessor.build(zalo_settings(settings), delivery, app.repo)
    if settings.telegram_webhook_enabled:
        from bot.channels.telegram import TelegramProcessor
        from bot.staff.notify import StaffCommands

        commands = StaffCommands(app, handler, settings.staff_ids)
        found["telegram"] = TelegramProcessor.build(settings, delivery, app.repo, commands)
    return found
