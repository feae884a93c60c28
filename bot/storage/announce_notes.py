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
        mine = (
            "" if scope is None else f"AND EXISTS (SELECT 1 FROM json_each(a.communes) c WHERE c.value IN ({marks})) "
        )
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

    def settle(self, ident: int, urgent_reason: str, by: str) -> None:
        """After queueing from the dashboard: the creation time is now (it was planned at the send time); why urgent."""
        with self.repo._tx() as cur:
            cur.execute("UPDATE announcements SET created_at = ? WHERE id = ?", [now(), ident])
            if urgent_reason:
                cur.execute(
                    "INSERT OR REPLACE INTO announcement_notes (announcement_id, urgent_reason, by, at) "
                    "VALUES (?,?,?,?)",
                    [ident, urgent_reason, by, now()],
                )

    def urgent_reason(self, ident: int) -> str:
        """Why staff let an announcement go at night ('' when they did not)."""
        row = self.db.execute("SELECT urgent_reason FROM announcement_notes WHERE announcement_id = ?", [ident])
        found = row.fetchone()
        return str(found[0]) if found else ""
