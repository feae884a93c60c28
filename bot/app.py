"""Composition root: settings → storage → knowledge → engine (→ channels and web, in later layers)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bot.config import Settings
from bot.dialog import DialogEngine, EngineConfig
from bot.eligibility import Assessor
from bot.faq import load_index
from bot.flows import load_dialogs
from bot.knowledge import load_knowledge
from bot.messages import ConversationKey, Incoming, Reply
from bot.profiles import LiveProfiles
from bot.storage.factory import is_postgres, open_repository
from bot.storage.profiles import ProfileStore
from bot.storage.sqlite import SqliteRepository

T = TypeVar("T")
DEDUP_WINDOW = dt.timedelta(days=7)  # Zalo retries for about 12 hours, Telegram for a day: a week is plenty


@dataclass
class App:
    """The assembled assistant."""

    settings: Settings
    repo: SqliteRepository
    engine: DialogEngine
    db_path: Path | None = None  # None for an in-memory database
    knowledge: Path | None = None  # the knowledge/ folder in use (a worker process loads the same)
    profiles: LiveProfiles | None = None  # the commune profiles staff saved, merged into engine.kb.localities

    @property
    def shared(self) -> bool:
        """Whether other processes can open this database (a file or a server; not an in-memory one)."""
        return bool(self.repo.target)

    def close(self) -> None:
        """Release the database."""
        self.repo.close()

    def purge(self, now: dt.datetime | None = None) -> dict[str, int]:
        """Erase personal data older than KHUYENCONG_RETENTION_MONTHS (the consent text promises it)."""
        now = now or dt.datetime.now(dt.UTC)
        keep = now - dt.timedelta(days=round(self.settings.khuyencong_retention_months * 365.25 / 12))
        dedup = now - DEDUP_WINDOW
        return self.repo.purge(keep.isoformat(timespec="seconds"), dedup.isoformat(timespec="seconds"))


def build(settings: Settings | None = None, db: Path | None = None, knowledge: Path | None = None) -> App:
    """Assemble the assistant from settings; --db and --knowledge override them."""
    settings = settings or Settings()
    db_path = db or settings.khuyencong_db
    root = knowledge or settings.khuyencong_knowledge
    kb = load_knowledge(root)
    dialogs = load_dialogs(settings.khuyencong_dialogs)
    repo = open_repository(db_path, settings.khuyencong_busy_timeout_seconds, settings.khuyencong_db_pool_size)
    config = EngineConfig(
        settings.khuyencong_idle_hours,
        settings.khuyencong_retention_months,
        settings.khuyencong_locality or None,
        settings.khuyencong_handoff_idle_minutes,
        settings.announce_per_week,
        settings.announce_night_start,
        settings.announce_night_end,
        bool(settings.zalo_zbs_template_id),
    )
    on_disk = str(db_path) != ":memory:" and not is_postgres(db_path)
    cache = Path(db_path).parent / "cache" if on_disk else None  # a memory db or a server has no folder
    engine = DialogEngine(kb, dialogs, repo, Assessor(kb), load_index(root, cache), config)
    store = ProfileStore(repo)
    profiles = LiveProfiles(kb, store.version, store.saved)
    profiles.refresh()
    engine.before_turn = profiles.refresh  # one cheap read per turn: a save in any process is seen next turn
    return App(settings, repo, engine, Path(db_path) if on_disk else None, Path(root), profiles)


class OrderedHandler:
    """One person's messages one at a time and in order; different people concurrently.

    The engine and its SQLite connection run on one worker thread, so the event loop never blocks on
    the database; a per-person lock (FIFO) keeps each person's turns in the order they arrived.
    """

    def __init__(self, engine: DialogEngine) -> None:
        self.engine = engine
        self._locks: dict[ConversationKey, asyncio.Lock] = {}
        self._waiting: dict[ConversationKey, int] = {}
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine")

    async def call(self, func: Callable[..., T], *args: Any) -> T:
        """Run a storage call on the engine thread (SQLite is used from that one thread only)."""
        return await asyncio.get_running_loop().run_in_executor(self._worker, func, *args)

    async def handle(self, msg: Incoming) -> list[Reply]:
        """The replies to one message, after every earlier message of the same person."""
        lock = self._locks.setdefault(msg.key, asyncio.Lock())
        self._waiting[msg.key] = self._waiting.get(msg.key, 0) + 1
        try:
            async with lock:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._worker, self._turn, msg)
        finally:
            self._waiting[msg.key] -= 1
            if not self._waiting[msg.key]:  # nobody else queued: drop the lock, memory stays bounded
                del self._waiting[msg.key], self._locks[msg.key]

    def _turn(self, msg: Incoming) -> list[Reply]:
        """The engine's turn, held against other processes too (several `serve` on PostgreSQL).

        A webhook turn (it has a reply address) is already held: the inbox gives a person to one worker at a time.
        """
        if msg.reply_to is not None:
            return self.engine.handle(msg)
        with self.engine.repo.person_turn(msg.key):
            return self.engine.handle(msg)

    def close(self) -> None:
        """Stop the worker thread after the turns in progress."""
        self._worker.shutdown(wait=True)
