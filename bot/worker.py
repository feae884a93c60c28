"""`khuyencong worker`: runs the turns of the webhook events stored in the inbox, and sends the replies.

`khuyencong serve` keeps one as a child process (KHUYENCONG_WORKER=process): the web process then only
verifies and stores events, and its CPU goes to answering webhooks and the web chat first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time

from bot.announce.delivery import sender_for
from bot.announce.reminders import ReminderLoop
from bot.app import App, OrderedHandler
from bot.channels.common import Delivery
from bot.channels.inbox import inbox_worker, processors
from bot.logs import setup_logging
from bot.staff.notify import StaffNotices

log = logging.getLogger("khuyencong.worker")
CHILD_NICENESS = 19  # background turns yield the CPU to webhooks and the web chat
STOP_SECONDS = 30  # turns in progress get this long to finish before the child is killed


def run(app: App, niceness: int = 0, parent: int | None = None) -> None:
    """Run the worker until SIGTERM or SIGINT, or until `parent` is gone; turns in progress finish first."""
    if niceness:
        os.nice(niceness)
    setup_logging(app.settings)
    asyncio.run(_work(app, parent))


async def _work(app: App, parent: int | None) -> None:
    settings = app.settings
    handler = OrderedHandler(app.engine)
    delivery = Delivery(handler, settings.web_rate_per_minute, workers=settings.web_background_workers)
    notices = StaffNotices(settings, app)
    inbox = inbox_worker(app.repo, handler, delivery, processors(app, settings, handler, delivery), app.db_path)
    inbox.companions.append(sender_for(app, delivery, inbox.processors))
    inbox.companions.append(ReminderLoop(app, delivery))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await notices.start()
    await inbox.start()
    log.info("worker: reading the inbox for %s", ", ".join(inbox.processors) or "no channel (none configured)")
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            if parent is not None and os.getppid() != parent:  # the server was killed: do not outlive it
                log.warning("worker: the server process is gone; stopping")
                break
    finally:
        await inbox.stop()
        await notices.stop()
        handler.close()
        app.close()
    log.info("worker: stopped")


class WorkerProcess:
    """`khuyencong worker` as a child of `serve`: started with it, started again if it dies, stopped last."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def alive(self) -> bool:
        """Whether the child is running now."""
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        """Start the child and its keeper."""
        self._task = asyncio.create_task(self._keep())

    async def _keep(self) -> None:
        delay = 1.0
        while not self._stopping:
            began = time.monotonic()
            self.proc = await asyncio.create_subprocess_exec(*self._command(), env=self._environment())
            code = await self.proc.wait()
            if self._stopping:
                return
            delay = 1.0 if time.monotonic() - began > 60 else min(delay * 2, 30.0)  # a crash loop backs off
            log.error("worker: exited with %s; starting it again in %.0f s", code, delay)
            await asyncio.sleep(delay)

    def _command(self) -> list[str]:
        parent = str(os.getpid())
        return [sys.executable, "-m", "bot.cli", "worker", "--niceness", str(CHILD_NICENESS), "--parent", parent]

    def _environment(self) -> dict[str, str]:
        """The parent's environment, with the database and folders the parent resolved (--db, --knowledge)."""
        env = dict(os.environ)
        env["KHUYENCONG_DB"] = self.app.repo.target
        env["KHUYENCONG_KNOWLEDGE"] = str(self.app.knowledge)
        env["KHUYENCONG_DIALOGS"] = str(self.app.settings.khuyencong_dialogs)
        return env

    async def stop(self) -> None:
        """Ask the child to finish its turns and exit; kill it if it takes too long (the inbox keeps the rest)."""
        self._stopping = True
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), STOP_SECONDS)
            except TimeoutError:
                log.error("worker: did not stop in %s s; killed", STOP_SECONDS)
                self.proc.kill()
                await self.proc.wait()
        if self._task is not None:
            await self._task
