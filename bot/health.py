"""GET /healthz: whether the server can do its work; the details only for the machine itself.

It answers on a database connection and thread of its own: a turn waiting for a lock on the engine
thread must not make the health check wait (or look dead) too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from bot.app import App, OrderedHandler
from bot.channels.common import EventClaims
from bot.channels.zalo_auth import auth_state as zalo_auth_state
from bot.storage.sqlite import SqliteRepository
from bot.worker import WorkerProcess

PROBE_SECONDS = 5.0  # a database that does not answer a read in this long counts as down


class Health:
    """The checks, built in one place (`report`); public callers learn only ok or not."""

    def __init__(
        self, app: App, fallback: OrderedHandler, worker: WorkerProcess | None, claims: EventClaims | None = None
    ) -> None:
        self.app, self.worker, self._fallback, self.claims = app, worker, fallback, claims
        self.max_wait = app.settings.khuyencong_health_max_wait_seconds
        self._repo = app.repo.reopen()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="health")

    async def handle(self, request: web.Request) -> web.Response:
        """200 when all is well, else 503; the details only to a request from this machine, not proxied."""
        ok, details = await self.report()
        body = {"ok": ok, **details} if _from_this_machine(request) else {"ok": ok}
        return web.json_response(body, status=200 if ok else 503)

    async def report(self) -> tuple[bool, dict[str, Any]]:
        """Whether all is well, and the details that say why (add a check here: one dict, one verdict)."""
        details = await self._database()
        details["knowledge"] = bool(self.app.engine.kb.faq.entries and self.app.engine.dialogs.flows)
        details["max_wait_seconds"] = self.max_wait
        if self.worker is not None:
            details["worker"] = self.worker.alive
        oldest = details["oldest_wait_seconds"]
        waited_too_long = oldest is not None and oldest > self.max_wait
        # A locked or full database refuses new webhook events: none waits in the inbox, yet none is taken.
        refusing = self.claims.failing_for() if self.claims is not None else 0.0
        details["webhooks_refused_seconds"] = round(refusing, 1)
        waited_too_long = waited_too_long or refusing > self.max_wait
        zalo_dead = details.get("zalo_auth") == "needs_new_token"  # a channel that cannot send any more
        ok = details["database"] and details["knowledge"] and not waited_too_long and not zalo_dead
        return bool(ok), details

    async def _database(self) -> dict[str, Any]:
        """What the database says: whether it answers, the inbox's size and its oldest event's age (s), Zalo's auth."""
        zalo = self.app.settings.zalo_enabled
        try:
            if self._repo is None:  # an in-memory database has one connection: the engine's
                return await self._fallback.call(_probe, self.app.repo, zalo)
            loop = asyncio.get_running_loop()
            return await asyncio.wait_for(loop.run_in_executor(self._thread, _probe, self._repo, zalo), PROBE_SECONDS)
        except Exception:  # locked beyond reading, broken, gone: not healthy
            return {"database": False, "waiting_events": None, "oldest_wait_seconds": None}

    def close(self) -> None:
        """Stop the thread and close the connection."""
        self._thread.shutdown(wait=True)
        if self._repo is not None:
            self._repo.close()


def _probe(repo: SqliteRepository, zalo: bool) -> dict[str, Any]:
    oldest = repo.inbox_oldest()
    age = None
    if oldest is not None:
        age = max(0.0, (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(oldest)).total_seconds())
    found: dict[str, Any] = {"database": repo.healthy(), "waiting_events": repo.inbox_size()}
    found["oldest_wait_seconds"] = age
    if zalo:
        found["zalo_auth"] = zalo_auth_state(repo)
    return found


def _from_this_machine(request: web.Request) -> bool:
    """A loopback peer that no proxy forwarded: the reverse proxy itself connects from 127.0.0.1 too."""
    if any(h in request.headers for h in ("X-Forwarded-For", "Forwarded", "X-Real-IP")):  # any proxy's mark
        return False
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:  # a Unix socket, or no peer address at all
        return False
