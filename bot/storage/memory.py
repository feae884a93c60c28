"""The in-memory twin of the SQLite repository, for tests: the same code on a ':memory:' database."""

from __future__ import annotations

from bot.storage.sqlite import SqliteRepository


class MemoryRepository(SqliteRepository):
    """A repository that lives and dies with the process: identical behaviour, nothing on disk."""

    def __init__(self) -> None:
        super().__init__(":memory:")
