"""GET /api/chat/updates?user=ID&after=N: the web widget's long poll for staff replies and notices (design §4.7).

A waiting poll holds neither a database connection nor a thread: it waits on an in-memory event. One watcher
looks at the transcript's newest id about once a second while anyone waits (a reply written by
`khuyencong handoff reply` in another process is seen that way) and wakes the chats it concerns; a reply
written from this process's dashboard wakes them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass, field

from aiohttp import web

from bot.app import OrderedHandler
from bot.channels.limits import AddressLimit
from bot.channels.web import _SECURITY, BUSY
from bot.proxy import Network, bucket, client_address
from bot.storage.handoffs import HandoffStore, Line

log = logging.getLogger("khuyencong.updates")
_USER = re.compile(r"^[A-Za-z0-9_-]{16,100}\Z")
_AFTER = re.compile(r"^\d{1,15}\Z")
WATCH_SECONDS = 1.0  # how often the watcher looks for replies written by another process


@dataclass
class _Waiters:
    events: dict[str, asyncio.Event] = field(default_factory=dict)  # one waiting poll per chat
    cursors: dict[str, int] = field(default_factory=dict)  # the `after` each waits beyond
    per_address: dict[str, int] = field(default_factory=dict)


class Updates:
    """The long poll: answers at once when newer messages exist, else after at most `wait` seconds."""

    def __init__(
        self,
        handler: OrderedHandler,
        store: HandoffStore,
        limit: AddressLimit,
        trusted: list[Network],
        wait: float,
        max_waiting: int,
    ) -> None:
        self.handler, self.store, self.limit, self.trusted = handler, store, limit, trusted
        self.wait, self.max_waiting = wait, max_waiting
        self.per_address_max = limit.chats  # as many waiting polls from one address as chats it may use
        self._waiters = _Waiters()
        self._seen = -1  # the transcript's newest id the watcher knows of
        self._watcher: asyncio.Task[None] | None = None
        self._poke = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        """Validate, answer what is new, or wait for it."""
        user, after = request.query.get("user", ""), request.query.get("after", "0")
        if not _USER.match(user) or not _AFTER.match(after):
            return web.json_response(
                {"error": "Tham số không hợp lệ: user (mã 16–100 ký tự) và after (số)."}, status=400, headers=_SECURITY
            )
        address = bucket(client_address(request.remote, request.headers.get("X-Forwarded-For"), self.trusted))
        if not self.limit.allow(address, user):
            return web.json_response({"error": BUSY}, status=429, headers={**_SECURITY, "Retry-After": "60"})
        cursor = int(after)
        lines = await self.handler.call(self.store.web_updates, user, cursor)
        if not lines and self._room(address):
            await self._wait(user, address, cursor)
            lines = await self.handler.call(self.store.web_updates, user, cursor)
        return _answer(lines, cursor)

    def replied(self) -> None:
        """A reply or notice was just written here: let the watcher look now."""
        self._poke.set()

    def _room(self, address: str) -> bool:
        """Whether one more poll may wait (else it is answered at once, empty, and the page tries later)."""
        waiting = len(self._waiters.events)
        return waiting < self.max_waiting and self._waiters.per_address.get(address, 0) < self.per_address_max

    async def _wait(self, user: str, address: str, cursor: int) -> None:
        older = self._waiters.events.pop(user, None)
        if older is not None:
            older.set()  # a newer poll of the same chat replaces it (a reload, a second tab)
        event = self._waiters.events[user] = asyncio.Event()
        self._waiters.cursors[user] = cursor
        self._waiters.per_address[address] = self._waiters.per_address.get(address, 0) + 1
        self._ensure_watcher()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), self.wait)
        finally:
            if self._waiters.events.get(user) is event:
                del self._waiters.events[user], self._waiters.cursors[user]
            left = self._waiters.per_address[address] - 1
            if left:
                self._waiters.per_address[address] = left
            else:
                del self._waiters.per_address[address]

    def _ensure_watcher(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        """While polls wait: find the chats with something new and wake them; stop when nobody waits."""
        while self._waiters.events:
            # From the oldest cursor of those waiting, or from the last look (what came since is what is new).
            since = min(self._waiters.cursors.values(), default=0) if self._seen < 0 else self._seen
            try:
                top, users = await self.handler.call(self.store.web_people_after, since)
            except Exception:  # a busy database: the polls time out and come back; try again shortly
                log.warning("updates: could not look for new replies now")
                top, users = self._seen, set()
            self._seen = top
            for user in users:
                event = self._waiters.events.get(user)
                if event is not None:
                    event.set()
            self._poke.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), WATCH_SECONDS)

    async def close(self) -> None:
        """Answer every waiting poll and stop the watcher (shutdown)."""
        for event in self._waiters.events.values():
            event.set()
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)


def _answer(lines: list[Line], after: int) -> web.Response:
    """{"replies": [...], "next": M}: the replies as the widget shows them, M the cursor for the next poll."""
    replies: list[dict[str, object]] = [
        {"text": line.text, "buttons": [], "from": "staff" if line.role == "staff" else "notice"} for line in lines
    ]
    body = {"replies": replies, "next": max([after, *(line.id for line in lines)])}
    return web.json_response(body, headers={**_SECURITY, "Cache-Control": "no-store"})
