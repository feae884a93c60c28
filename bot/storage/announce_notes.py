"""What the dashboard reads and adds around announcements (tables of m020 and m022): who to call, the urgent notes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.storage.sqlite import SqliteRepository, now


@dataclass(frozen=True)
class Contact:
    """A person's registration as an officer may call them: name, phone, and the commune it was made for."""

    name: str
    phone: str
    facility: str
    commune_code: int | None


class AnnounceNotes:
    """Reads for the compose page and the statistics; the urgent override's reason kept per announcement."""

    def __init__(self, repo: SqliteRepository) -> None:
        self.repo, self.db = repo, repo.db

    def recent(self, scope: list[int] | None, limit: int = 20) -> list[int]:
        """The newest announcements to any of these communes (None: all), newest first; reminders left out."""
        marks = ",".join("?" * len(scope or [])) or "NULL"
        # CAST: json_each gives PostgreSQL text, and text is never equal to a number there.
        each = f"AND EXISTS (SELECT 1 FROM json_each(a.communes) c WHERE CAST(c.value AS INTEGER) IN ({marks})) "
        mine = "" if scope is None else each
        rows = self.db.execute(
            "SELECT a.id FROM announcements a WHERE a.id NOT IN (SELECT announcement_id FROM reminders_sent) "
            f"{mine}ORDER BY a.id DESC LIMIT ?",
            [*(scope or []), limit],
        ).fetchall()
        return [int(i) for (i,) in rows]

    def subscribed_communes(self) -> list[int]:
        """Every commune someone receives news from."""
        rows = self.db.execute("SELECT DISTINCT commune_code FROM subscriptions ORDER BY commune_code").fetchall()
        return [int(c) for (c,) in rows]

    def contacts(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Contact]:
        """The newest registration of each chat, where it registered."""
        found: dict[tuple[str, str], Contact] = {}
        for channel, user in keys:
            row = self.db.execute(
                "SELECT name, phone, facility_name, commune_code FROM leads WHERE channel = ? AND user = ? "
                "ORDER BY created_at DESC LIMIT 1",
                [channel, user],
            ).fetchone()
            if row is not None:
                code = None if row[3] is None else int(row[3])
                found[(channel, user)] = Contact(str(row[0] or ""), str(row[1] or ""), str(row[2] or ""), code)
        return found

    def claim(self, once: str, urgent_reason: str, by: str) -> int | None:
        """Take a preview's one-time send token: None when this request may queue; else the announcement it made.

        0 means another request holding the same token is queueing it right now.
        """
        with self.repo._tx() as cur:
            cur.execute(
                "INSERT OR IGNORE INTO announcement_notes (once, announcement_id, urgent_reason, by, at) "
                "VALUES (?, 0, ?, ?, ?)",
                [once, urgent_reason, by, now()],
            )
            if cur.rowcount:
                return None
            row = cur.execute("SELECT announcement_id FROM announcement_notes WHERE once = ?", [once]).fetchone()
            return int(row[0])

    def release(self, once: str) -> None:
        """A token whose announcement could not be queued: free to try again."""
        with self.repo._tx() as cur:
            cur.execute("DELETE FROM announcement_notes WHERE once = ? AND announcement_id = 0", [once])

    def settle(self, once: str, ident: int) -> None:
        """After queueing: the token names its announcement; the creation time is now (it was planned at send time)."""
        with self.repo._tx() as cur:
            cur.execute("UPDATE announcements SET created_at = ? WHERE id = ?", [now(), ident])
            cur.execute("UPDATE announcement_notes SET announcement_id = ? WHERE once = ?", [ident, once])

    def urgent_reason(self, ident: int) -> str:
        """Why staff let an announcement go at night ('' when they did not)."""
        row = self.db.execute(
            "SELECT urgent_reason FROM announcement_notes WHERE announcement_id = ? AND urgent_reason != ''", [ident]
        )
        found = row.fetchone()
        return str(found[0]) if found else ""
