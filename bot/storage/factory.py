"""One way to open the database a setting or `--db` names: a file path is SQLite, a postgresql:// URL PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.storage.sqlite import SqliteRepository


def is_postgres(target: object) -> bool:
    """Whether a --db value or KHUYENCONG_DB names a PostgreSQL database rather than a SQLite file."""
    return str(target).startswith(("postgresql:", "postgres:"))


def database_url(target: object) -> str:
    """The URL as given, also when it went through a Path (which folds 'postgresql://' to 'postgresql:/')."""
    scheme, _, rest = str(target).partition(":")
    return f"{scheme}://{rest.lstrip('/')}"


def open_repository(target: Path | str, busy_timeout: float = 10.0, pool_size: int = 10) -> SqliteRepository:
    """The repository on the database `target` names, its migrations applied."""
    if is_postgres(target):
        from bot.storage.postgres import PostgresRepository  # psycopg is loaded only when it is used

        return PostgresRepository(database_url(target), busy_timeout, pool_size)
    from bot.storage.sqlite import SqliteRepository

    return SqliteRepository(target, busy_timeout)
