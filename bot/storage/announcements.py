"""Subscriptions to a commune's news and the announcement queue, in SQLite (tables of migration m020)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.messages import ConversationKey
from bot.storage import Consent
from bot.storage.sqlite import SqliteRepository, insert_consent, log_messages, now

NEWS = "news"  # the purpose of a subscription's consent in the consents table
ZBS_VERSION = "-zbs"  # ends the version of a news consent whose text said the phone may get Zalo's paid template


@dataclass(frozen=True)
class Subscription:
    """One person's consent to receive one commune's khuyến công news."""

    key: ConversationKey
    commune_code: int
    commune: str  # as the person reads it: "xã Vĩnh Thủy, tỉnh Quảng Trị"
    at: str
    consent_id: int


@dataclass(frozen=True)
class Announcement:
    """What staff send: the text and its options, as stored."""

    id: int
    communes: list[int]
    text: str
    link: str
    deadline: str  # ISO date or ""
    audience: dict[str, Any]
    urgent: bool
    charged: bool  # Zalo's charged group (48 h–7 d) included
    created_by: str
    created_at: str
    not_before: str  # ISO time: nothing goes before it (a night announcement waits for the morning)
    planned: dict[str, Any]


@dataclass(frozen=True)
class Claimed:
    """A recipient row the sender took (status `sending`)."""

    id: int
    announcement_id: int
    key: ConversationKey
    address: str
    commune_code: int


@dataclass(frozen=True)
class Planned:
    """A recipient row to queue: `waiting`, or `skipped` with its reason."""

    key: ConversationKey
    address: str
    commune_code: int
    status: str
    reason: str = ""


class AnnouncementStore:
    """Subscriptions, announcements and their recipients; each public method is one transaction."""

    def __init__(self, repo: SqliteRepository) -> None:
        self.repo, self.db = repo, repo.db

    # --- subscriptions ------------------------------------------------------------------------

    def subscribe(self, key: ConversationKey, commune_code: int, commune: str, consent: Consent) -> bool:
        """Record the consent and the subscription together; False when already subscribed to that commune."""
        with self.repo._tx() as cur:
            found = cur.execute(
                "SELECT 1 FROM subscriptions WHERE channel = ? AND user = ? AND commune_code = ?",
                [key.channel, key.user, commune_code],
            ).fetchone()
            if found:
                return False
            consent_id = insert_consent(cur, consent)
            cur.execute(
                "INSERT INTO subscriptions (channel, user, commune_code, commune, consent_id, at) VALUES (?,?,?,?,?,?)",
                [key.channel, key.user, commune_code, commune, consent_id, consent.at or now()],
            )
            return True

    def unsubscribe(self, key: ConversationKey, withdrawal: Consent) -> int:
        """End every subscription of this chat (the withdrawal kept as a consent refused); how many ended.

        The last announcement the person received counts it as 'unsubscribed after it'.
        """
        with self.repo._tx() as cur:
            cur.execute("DELETE FROM subscriptions WHERE channel = ? AND user = ?", [key.channel, key.user])
            ended = int(cur.rowcount)
            if not ended:
                return 0
            insert_consent(cur, withdrawal)
            cur.execute(
                "UPDATE announcement_recipients SET unsubscribed_at = ? WHERE id = (SELECT id FROM "
                "announcement_recipients WHERE channel = ? AND user = ? AND status IN ('sent', 'failed') "
                "ORDER BY id DESC LIMIT 1)",
                [now(), key.channel, key.user],
            )
            # Nothing more goes to them, not even what was queued before they said stop.
            cur.execute(
                "UPDATE announcement_recipients SET status = 'skipped', reason = 'unsubscribed', at = ? "
                "WHERE channel = ? AND user = ? AND status = 'waiting'",
                [now(), key.channel, key.user],
            )
            return ended

    def subscriptions_of(self, key: ConversationKey) -> list[Subscription]:
        """The communes this chat receives news from."""
        rows = self.db.execute(
            "SELECT commune_code, commune, at, consent_id FROM subscriptions WHERE channel = ? AND user = ? "
            "ORDER BY id",
            [key.channel, key.user],
        ).fetchall()
        return [Subscription(key, int(c), str(n), str(a), int(i)) for c, n, a, i in rows]

    def subscribers(self, communes: Sequence[int]) -> list[Subscription]:
        """Everyone subscribed to any of these communes (one row per chat and commune), oldest first."""
        marks = ",".join("?" * len(communes)) or "NULL"
        rows = self.db.execute(
            "SELECT channel, user, commune_code, commune, at, consent_id FROM subscriptions "
            f"WHERE commune_code IN ({marks}) ORDER BY id",
            list(communes),
        ).fetchall()
        return [Subscription(ConversationKey(ch, u), int(c), str(n), str(a), int(i)) for ch, u, c, n, a, i in rows]

    # --- what the audience is computed from -----------------------------------------------------

    def last_person_messages(self, channel: str) -> dict[str, str]:
        """When each subscriber of a channel last wrote (ISO 8601), as far as the transcript keeps it."""
        rows = self.db.execute(
            "SELECT c.user, max(c.at) FROM chat_log c WHERE c.channel = ? AND c.role = 'person' AND c.user IN "
            "(SELECT user FROM subscriptions WHERE channel = ?) GROUP BY c.user",
            [channel, channel],
        ).fetchall()
        return {str(u): str(a) for u, a in rows}

    def received_since(self, since: str) -> dict[tuple[str, str], int]:
        """Announcements each chat received, or has waiting, since a time: what the weekly limit counts."""
        rows = self.db.execute(
            "SELECT channel, user, count(*) FROM announcement_recipients "
            "WHERE status IN ('waiting', 'sending', 'sent') AND at >= ? GROUP BY channel, user",
            [since],
        ).fetchall()
        return {(str(c), str(u)): int(n) for c, u, n in rows}

    def leads_by_chat(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """The registrations of subscribed chats: sector, lines wanted, status (what audience filters read)."""
        rows = self.db.execute(
            "SELECT l.channel, l.user, json_extract(l.profile, '$.sector'), l.lines_wanted, l.status, l.commune_code "
            "FROM leads l WHERE EXISTS (SELECT 1 FROM subscriptions s WHERE s.channel = l.channel AND s.user = l.user)"
        ).fetchall()
        found: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for channel, user, sector, lines, status, commune in rows:
            lead = {"sector": sector, "lines": json.loads(lines or "[]"), "status": status, "commune_code": commune}
            found.setdefault((str(channel), str(user)), []).append(lead)
        return found

    def consented_phones(self, channel: str) -> dict[str, str]:
        """Each subscriber's registered phone (given with its consent), where the news consent named Zalo's template."""
        rows = self.db.execute(
            "SELECT l.user, l.phone FROM leads l JOIN consents c ON c.id = l.consent_id AND c.channel = l.channel "
            "AND c.user = l.user AND c.purpose = 'registration' AND c.given = 1 "
            "WHERE l.channel = ? AND l.phone IS NOT NULL AND l.phone != '' AND EXISTS (SELECT 1 FROM "
            "subscriptions s JOIN consents n ON n.id = s.consent_id WHERE s.channel = l.channel AND s.user = l.user "
            "AND n.text_version LIKE ?) ORDER BY l.created_at, l.ref",
            [channel, "%" + ZBS_VERSION],
        ).fetchall()
        return {str(user): str(phone) for user, phone in rows}  # oldest first: the newest registration wins

    def sectors_by_chat(self) -> dict[tuple[str, str], str]:
        """The sector each subscribed chat's interview found, where it got that far."""
        rows = self.db.execute(
            "SELECT c.channel, c.user, json_extract(c.slots, '$.sector') FROM conversations c WHERE EXISTS "
            "(SELECT 1 FROM subscriptions s WHERE s.channel = c.channel AND s.user = c.user)"
        ).fetchall()
        return {(str(c), str(u)): str(s) for c, u, s in rows if s}

    # --- announcements ------------------------------------------------------------------------

    def create(self, announcement: Announcement, recipients: Iterable[Planned]) -> int:
        """Store an announcement with one row per recipient, in one transaction; its id."""
        a = announcement
        with self.repo._tx() as cur:
            cur.execute(
                "INSERT INTO announcements (communes, text, link, deadline, audience, urgent, charged, created_by, "
                "created_at, not_before, planned) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    json.dumps(a.communes),
                    a.text,
                    a.link or None,
                    a.deadline or None,
                    json.dumps(a.audience, ensure_ascii=False),
                    int(a.urgent),
                    int(a.charged),
                    a.created_by,
                    a.created_at or now(),
                    a.not_before,
                    json.dumps(a.planned, ensure_ascii=False),
                ],
            )
            ident = int(cur.lastrowid or 0)
            stamp = now()
            cur.executemany(
                "INSERT INTO announcement_recipients (announcement_id, channel, user, address, commune_code, status, "
                "reason, at) VALUES (?,?,?,?,?,?,?,?)",
                [
                    [ident, r.key.channel, r.key.user, r.address, r.commune_code, r.status, r.reason, stamp]
                    for r in recipients
                ],
            )
            return ident

    def get(self, ident: int) -> Announcement | None:
        """One announcement, if it exists."""
        cur = self.db.execute("SELECT * FROM announcements WHERE id = ?", [ident])
        row = cur.fetchone()
        if row is None:
            return None
        r = dict(zip([c[0] for c in cur.description], row, strict=True))
        return Announcement(
            int(r["id"]),
            json.loads(r["communes"]),
            str(r["text"]),
            str(r["link"] or ""),
            str(r["deadline"] or ""),
            json.loads(r["audience"]),
            bool(r["urgent"]),
            bool(r["charged"]),
            str(r["created_by"]),
            str(r["created_at"]),
            str(r["not_before"]),
            json.loads(r["planned"]),
        )

    # --- the queue ------------------------------------------------------------------------------

    def claim(self, channel: str, at: str, night: bool) -> Claimed | None:
        """Take the oldest waiting row of a channel that may go now (marked `sending`, committed); None if none.

        `night`: only urgent announcements may go.
        """
        idle = self.db.execute(
            "SELECT 1 FROM announcement_recipients WHERE status = 'waiting' AND channel = ? LIMIT 1", [channel]
        ).fetchone()
        if idle is None:  # the usual case: a read, no write lock twice a second
            return None
        with self.repo._tx() as cur:
            row = cur.execute(
                "UPDATE announcement_recipients SET status = 'sending', at = ? WHERE id = (SELECT r.id FROM "
                "announcement_recipients r JOIN announcements a ON a.id = r.announcement_id WHERE r.status = 'waiting' "
                "AND r.channel = ? AND a.not_before <= ? AND (a.urgent = 1 OR ? = 0) ORDER BY r.id LIMIT 1) "
                "AND status = 'waiting' "  # PostgreSQL: two workers may pick the same row; only one takes it
                "RETURNING id, announcement_id, user, address, commune_code",
                [now(), channel, at, int(night)],
            ).fetchone()
        if row is None:
            return None
        return Claimed(int(row[0]), int(row[1]), ConversationKey(channel, str(row[2])), str(row[3]), int(row[4] or 0))

    def finish(self, row_id: int, status: str, reason: str = "") -> None:
        """What became of a claimed row: `sent`, `failed` or `skipped`, with the reason."""
        with self.repo._tx() as cur:
            cur.execute(
                "UPDATE announcement_recipients SET status = ?, reason = ?, at = ? WHERE id = ? AND status = 'sending'",
                [status, reason, now(), row_id],
            )

    def shown_on_web(self, row_id: int, key: ConversationKey, text: str) -> None:
        """A web recipient: the message joins their transcript (the widget shows it) and the row is sent, at once."""
        with self.repo._tx() as cur:
            log_messages(cur, key, [("notice", "", text)])
            cur.execute(
                "UPDATE announcement_recipients SET status = 'sent', at = ? WHERE id = ? AND status = 'sending'",
                [now(), row_id],
            )

    def interrupted(self) -> int:
        """Rows a killed sender left `sending`: failed, never sent again (they may have arrived); how many."""
        with self.repo._tx() as cur:
            cur.execute(
                "UPDATE announcement_recipients SET status = 'failed', reason = 'interrupted', at = ? "
                "WHERE status = 'sending'",
                [now()],
            )
            return int(cur.rowcount)

    def waiting(self) -> int:
        """Rows waiting to be sent, all announcements."""
        return int(
            self.db.execute("SELECT count(*) FROM announcement_recipients WHERE status = 'waiting'").fetchone()[0]
        )

    def to_call(self, ident: int) -> list[dict[str, Any]]:
        """The people an announcement could not reach on Zalo (window), with their registration's name and phone."""
        rows = self.db.execute(
            "SELECT r.channel, r.user, r.reason, l.name, l.phone, l.facility_name FROM announcement_recipients r "
            "LEFT JOIN leads l ON l.ref = (SELECT ref FROM leads WHERE channel = r.channel AND user = r.user "
            "ORDER BY created_at DESC LIMIT 1) WHERE r.announcement_id = ? "
            "AND r.reason IN ('zalo_charged', 'zalo_closed', 'zalo_window', 'zbs_no_phone', 'zbs_phone', "
            "'zbs_refused', 'zbs_off') ORDER BY r.id",
            [ident],
        ).fetchall()
        keys = ("channel", "user", "reason", "name", "phone", "facility_name")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def counts(self, ident: int) -> list[tuple[str, str, str, int, int]]:
        """(channel, status, reason, rows, unsubscribed after it) of one announcement."""
        rows = self.db.execute(
            "SELECT channel, status, reason, count(*), count(unsubscribed_at) FROM announcement_recipients "
            "WHERE announcement_id = ? GROUP BY channel, status, reason ORDER BY channel, status, reason",
            [ident],
        ).fetchall()
        return [(str(c), str(s), str(r), int(n), int(u)) for c, s, r, n, u in rows]


def erase(cur: sqlite3.Cursor, key: ConversationKey) -> None:
    """A person erased: their subscriptions go; their queue rows stay for the counts, with no id of theirs left."""
    cur.execute("DELETE FROM subscriptions WHERE channel = ? AND user = ?", [key.channel, key.user])
    cur.execute(
        "UPDATE announcement_recipients SET status = CASE WHEN status = 'waiting' THEN 'skipped' ELSE status END, "
        "reason = CASE WHEN status = 'waiting' THEN 'erased' ELSE reason END, "
        "user = 'erased-' || id, address = '' WHERE channel = ? AND user = ?",
        [key.channel, key.user],
    )
