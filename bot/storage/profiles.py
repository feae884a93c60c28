"""Commune profiles in the database: the saved Locality of each commune, and its audit trail."""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from bot.knowledge import Locality
from bot.storage.factory import is_postgres
from bot.storage.sqlite import SqliteRepository, now

log = logging.getLogger("khuyencong.profiles")


@dataclass(frozen=True)
class ProfileChange:
    """One save: who, when (UTC, ISO), and each field's old → new value as an officer reads them."""

    at: str
    actor: str
    changes: dict[str, list[str]]


class ProfileStore:
    """Saved profiles over the repository's connection (one thread at a time, like the repository)."""

    def __init__(self, repo: SqliteRepository) -> None:
        self.repo = repo
        self.db = repo.db

    def version(self) -> int:
        """The profiles' version stamp: the newest audit row's id (0 before any save)."""
        row = self.db.execute("SELECT max(id) FROM commune_profile_audit").fetchone()
        return int(row[0] or 0)

    def saved(self) -> list[Locality]:
        """Every saved profile that still fits the schema (one that no longer does is logged and skipped)."""
        found = []
        for code, text in self.db.execute("SELECT ward_code, locality FROM commune_profiles ORDER BY ward_code"):
            loc = _parse(int(code), str(text))
            if loc is not None:
                found.append(loc)
        return found

    def codes(self) -> list[int]:
        """The ward codes that have a saved profile."""
        return [int(r[0]) for r in self.db.execute("SELECT ward_code FROM commune_profiles ORDER BY ward_code")]

    def get(self, ward_code: int) -> Locality | None:
        """The saved profile of one commune, if any."""
        row = self.db.execute("SELECT locality FROM commune_profiles WHERE ward_code = ?", [ward_code]).fetchone()
        return _parse(ward_code, str(row[0])) if row else None

    def save(self, loc: Locality, actor: str, changes: dict[str, list[str]]) -> None:
        """Store a commune's whole profile and the audit row of the change, in one transaction."""
        if loc.ward_code is None:
            raise ValueError("a saved profile is a commune's")
        with self.repo._tx() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO commune_profiles VALUES (?,?,?,?)",
                [loc.ward_code, loc.model_dump_json(exclude_none=True), now(), actor],
            )
            cur.execute(
                "INSERT INTO commune_profile_audit (ward_code, at, actor, changes) VALUES (?,?,?,?)",
                [loc.ward_code, now(), actor, json.dumps(changes, ensure_ascii=False)],
            )

    def drop(self, ward_code: int, actor: str, changes: dict[str, list[str]]) -> bool:
        """Forget the commune's saved profile (the bundled one applies again), audited; False if none was saved."""
        with self.repo._tx() as cur:
            cur.execute("DELETE FROM commune_profiles WHERE ward_code = ?", [ward_code])
            if not cur.rowcount:
                return False
            cur.execute(
                "INSERT INTO commune_profile_audit (ward_code, at, actor, changes) VALUES (?,?,?,?)",
                [ward_code, now(), actor, json.dumps(changes, ensure_ascii=False)],
            )
        return True

    def history(self, ward_code: int, limit: int = 100) -> list[ProfileChange]:
        """The commune's saves, newest first."""
        rows = self.db.execute(
            "SELECT at, actor, changes FROM commune_profile_audit WHERE ward_code = ? ORDER BY id DESC LIMIT ?",
            [ward_code, limit],
        ).fetchall()
        return [ProfileChange(str(at), str(actor), json.loads(changes)) for at, actor, changes in rows]


def read_saved(path: Path) -> list[Locality]:
    """The saved profiles of a database file, read only (no migration, no lock): for `kb check`."""
    if is_postgres(path):
        return _read_saved_shared(path)
    if not path.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT ward_code, locality FROM commune_profiles").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:  # an older database without the table, or no database at all
        return []
    return [loc for loc in (_parse(int(code), str(text)) for code, text in rows) if loc is not None]


def _parse(code: int, text: str) -> Locality | None:
    try:
        return Locality.model_validate_json(text)
    except ValidationError as exc:  # e.g. a schema changed since the save: the bundled plan serves meanwhile
        log.error("saved profile of commune %s no longer fits the schema: %s", code, exc.error_count())
        return None


def _read_saved_shared(target: Path) -> list[Locality]:
    """The saved profiles of a PostgreSQL database (a server: opening it creates nothing on disk)."""
    from bot.storage.factory import open_repository

    repo = open_repository(target)
    try:
        return ProfileStore(repo).saved()
    finally:
        repo.close()
