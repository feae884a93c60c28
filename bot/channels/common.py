"""What every channel shares: per-person order around handle-and-send, a rate limit, background work."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Literal

from bot.app import OrderedHandler
from bot.messages import ConversationKey, Incoming, Reply
from bot.storage.sqlite import SqliteRepository
from bot.text import storable

log = logging.getLogger("khuyencong.channels")
QUEUE_SIZE = 10_000  # events waiting; beyond this a webhook answers 503 and the platform retries
MAX_TEXT_IN = 4001  # longer text is cut before it is processed (the engine refuses anything over 4,000)
SLOW_DOWN = "Bà con nhắn nhanh quá, tôi xử lý không kịp. Bà con đợi một chút rồi nhắn tiếp nhé."
TEXT_ONLY = "Hiện tôi chỉ đọc được tin nhắn chữ. Bà con gõ câu hỏi hoặc chọn một mục nhé."


def same_secret(given: str, expected: str) -> bool:
    """Compare a header with a secret in constant time, as bytes: any text, even non-ASCII, is just unequal."""
    # aiohttp decodes header bytes with surrogateescape; surrogatepass encodes any str, so nothing raises
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


class EventClaims:
    """Webhook events claimed by a database constraint, on a connection and thread of their own.

    A webhook must answer fast: its claim does not queue behind engine turns, and under load the claims
    waiting at the same moment share one transaction.
    """

    def __init__(self, own: SqliteRepository | None, fallback: OrderedHandler, repo: SqliteRepository) -> None:
        self._repo = own  # a second connection (None: claims share `repo` on the fallback's thread)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="claims")
        self._fallback, self._shared = fallback, repo
        self._waiting: list[tuple[tuple[str, str, str | None, str | None], asyncio.Future[bool]]] = []
        self._flushing = False
        self.failing_since: float | None = None  # monotonic time of the first failed claim since the last success

    def failing_for(self) -> float:
        """Seconds during which every webhook event was refused (a locked or full database); 0 when claims work."""
        return 0.0 if self.failing_since is None else time.monotonic() - self.failing_since

    async def claim(self, channel: str, event_id: str, payload: str | None = None, person: str | None = None) -> bool:
        """True the first time an event is seen (its payload, if any, is then in the inbox); False for a replay.

        `person`: who sent it, so that their later events wait behind it in the inbox.
        """
        try:
            fresh = await self._claim((channel, event_id, payload, person))
        except Exception:
            self.failing_since = self.failing_since or time.monotonic()  # the platform retries; health tells
            raise
        self.failing_since = None
        return fresh

    async def _claim(self, event: tuple[str, str, str | None, str | None]) -> bool:
        if self._repo is None:  # an in-memory database has one connection only
            fresh = await self._fallback.call(self._shared.claim_events, [event])
            return fresh[0]
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((event, future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._repo is not None
        while self._waiting:
            batch, self._waiting = self._waiting, []
            events = [event for event, _ in batch]
            try:
                fresh = await loop.run_in_executor(self._worker, self._repo.claim_events, events)
            except Exception:  # one bad event must not fail the others of its batch: claim them one by one
                for event, future in batch:
                    try:
                        one = await loop.run_in_executor(self._worker, self._repo.claim_events, [event])
                        future.set_result(one[0])
                    except Exception as exc:
                        future.set_exception(exc)
                continue
            for (_, future), new in zip(batch, fresh, strict=True):
                future.set_result(new)
        self._flushing = False

    def close(self) -> None:
        """Stop the thread and close the connection."""
        self._worker.shutdown(wait=True)
        if self._repo is not None:
            self._repo.close()


def _cleaned(msg: Incoming) -> Incoming:
    """The message as the engine may take it: text cut to size, nothing SQLite cannot store."""
    text = storable(msg.text[:MAX_TEXT_IN]) if msg.text is not None else None
    button = storable(msg.button) if msg.button is not None else None
    return replace(msg, text=text, button=button)


class Delivery:
    """Per-person ordering of whole turns (engine + sending), a per-person rate limit, and tracked tasks."""

    def __init__(
        self, handler: OrderedHandler, rate_per_minute: int, claims: EventClaims | None = None, workers: int = 8
    ) -> None:
        self.handler = handler
        self.workers = workers  # turns in the background at a time: enough to overlap the platforms' latency
        self.claims = claims or EventClaims(None, handler, handler.engine.repo)  # type: ignore[arg-type]
        self.rate = rate_per_minute
        self._recent: dict[ConversationKey, deque[float]] = {}
        self._warned: set[ConversationKey] = set()  # told "slow down" since their last message was taken
        self._locks: dict[ConversationKey, asyncio.Lock] = {}
        self._waiting: dict[ConversationKey, int] = {}
        self._queue: asyncio.Queue[Callable[[], Awaitable[None]]] | None = None
        self._workers: list[asyncio.Future[None]] = []

    def allow(self, key: ConversationKey) -> bool:
        """At most `rate` messages a minute per person (a sliding window)."""
        now = time.monotonic()
        recent = self._recent.setdefault(key, deque())
        while recent and now - recent[0] > 60:
            recent.popleft()
        if len(recent) >= self.rate:
            return False
        recent.append(now)
        self._warned.discard(key)
        if len(self._recent) > 100_000:  # bounded memory under a flood of new ids
            self._recent = {k: v for k, v in self._recent.items() if v and now - v[-1] <= 60}
            self._warned &= self._recent.keys()
        return True

    def first_refusal(self, key: ConversationKey) -> bool:
        """Whether a refused message is the first since the person's last taken one (they are told once)."""
        first = key not in self._warned
        self._warned.add(key)
        return first

    @asynccontextmanager
    async def turn(self, key: ConversationKey) -> AsyncIterator[None]:
        """Hold one person's turn: their next message waits until these replies are sent."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:  # nobody queued behind: forget the lock, memory stays bounded
                del self._waiting[key], self._locks[key]

    async def replies(self, msg: Incoming) -> list[Reply]:
        """The engine's replies, or a polite 'slow down' past the rate limit."""
        if not self.allow(msg.key):
            return [Reply(SLOW_DOWN)]
        return await self.handler.handle(_cleaned(msg))

    def room(self) -> int:
        """How many more pieces of work the queue takes now."""
        return QUEUE_SIZE - (self._queue.qsize() if self._queue is not None else 0)

    def spawn(self, work: Callable[[], Awaitable[None]]) -> bool:
        """Queue work for the background workers (a webhook answers at once); False when the queue is full.

        A few workers drain one queue: under a burst the webhook keeps answering, memory stays bounded,
        and a full queue lets the caller answer 503 so the platform retries later.
        """
        if self._queue is None:
            self._queue = asyncio.Queue(maxsize=QUEUE_SIZE)
            self._workers = [asyncio.ensure_future(self._work()) for _ in range(self.workers)]
        try:
            self._queue.put_nowait(work)
        except asyncio.QueueFull:
            return False
        return True

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            work = await self._queue.get()
            try:
                await work()
            except Exception:  # one failed turn must not stop the worker
                log.exception("background work failed")
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait for the queued work to finish (graceful shutdown), then stop the workers."""
        if self._queue is not None:
            await self._queue.join()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []


Outcome = Literal["sent", "unreachable", "refused", "failed"]
"""What a platform did with one reply: took it; cannot reach the person now; refused it for good; failed for now."""


class NotDelivered(Exception):
    """A platform did not take a reply for now: the event is retried later, the person's replies keep their order."""


class Outbox:
    """A webhook turn with its replies kept in the outbox, then delivered in order: at least once, each row once.

    A reply leaves the outbox only after the platform took it, so a worker killed between the turn's commit
    and the send delivers it after the restart (the engine, seeing the message id again, answers nothing new).
    """

    def __init__(
        self, delivery: Delivery, repo: SqliteRepository, send: Callable[[str, Reply], Awaitable[Outcome]]
    ) -> None:
        self.delivery, self.repo, self.send = delivery, repo, send

    async def turn(self, key: ConversationKey, address: str, read: Callable[[], Awaitable[Incoming | None]]) -> None:
        """Run one message (read under the person's turn; None: one the bot cannot read) and deliver, in order."""
        call = self.delivery.handler.call
        async with self.delivery.turn(key):  # taken before any wait: the person's messages keep their order
            msg = await read()
            if msg is None:
                await call(self.repo.outbox_add, key, address, [Reply(TEXT_ONLY)])
            elif not self.delivery.allow(key):
                # Told once, not once a message: every reply spends the platform's sending quota.
                if self.delivery.first_refusal(key):
                    await call(self.repo.outbox_add, key, address, [Reply(SLOW_DOWN)])
            else:
                await self.delivery.handler.handle(_cleaned(replace(msg, reply_to=address)))
            await self.flush(key)

    async def deliver(self, key: ConversationKey) -> None:
        """Send what waits for a person (a staff reply, a notice), in their turn: never beside one of theirs."""
        async with self.delivery.turn(key):
            await self.flush(key)

    async def flush(self, key: ConversationKey) -> None:
        """Send a person's kept replies, oldest first; raise NotDelivered when the platform fails for now."""
        call = self.delivery.handler.call
        for row, address, reply in await call(self.repo.outbox_of, key):
            outcome = await self.send(address, reply)
            if outcome == "failed":
                raise NotDelivered(f"{key.channel}: outbox row {row} not taken")
            if outcome == "unreachable":  # e.g. Zalo's 7-day window: nothing more reaches them until they write
                await call(self.repo.mark_unreachable, key, 1)
                await call(self.repo.outbox_drop, key)
                await call(self.repo.handoffs.undeliverable, key)  # staff must know, and call instead
                return
            await call(self.repo.outbox_sent, row)
