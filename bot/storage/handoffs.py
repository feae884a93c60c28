"""Handoffs to staff and the transcript they read: one SQL home for the engine, the dashboard, the CLI, the channels.

A conversation's mode is its latest handoff that is not closed: `waiting` (for staff) or `open` (staff hold
it); none means the assistant. A staff reply to a platform chat is one outbox row plus an inbox nudge, in one
transaction: the worker delivers it in order with the person's own turns, at least once and never twice.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Literal

from bot.messages import ConversationKey, Reply
from bot.storage import HandoffReason
from bot.storage.sqlite import SqliteRepository, log_messages, now

Status = Literal["waiting", "open", "closed"]
Reason = HandoffReason
ACTIVE = ("waiting", "open")
NUDGE = "khuyencong_outbox"  # an inbox payload with this key only tells the worker to deliver the person's outbox
PLATFORMS = ("zalo", "telegram")  # channels whose replies go through the outbox; the web widget pulls its own


@dataclass(frozen=True)
class Handoff:
    """One request for staff: who, where, why, and where it stands."""

    id: int
    channel: str
    user: str
    status: Status
    reason: str
    commune_code: int | None
    commune: str
    at: str
    last_person_at: str
    last_staff_at: str
    staff_name: str
    closed_at: str
    callback_phone: str
    told: bool
    note: str = ""
    reminded_at: str = ""
    undelivered: str = ""  # when a staff reply could not reach the person (Zalo's window): staff must call
    first_reply_at: str = ""
    opened_by: str = ""  # 'staff' when staff wrote first: its time is not the person's

    @property
    def key(self) -> ConversationKey:
        """The conversation it belongs to."""
        return ConversationKey(self.channel, self.user)

    @property
    def last_activity(self) -> str:
        """The later of the person's and the staff's last message (ISO 8601)."""
        return max(self.last_person_at or self.at, self.last_staff_at or "", self.at)


@dataclass(frozen=True)
class Line:
    """One message of a transcript."""

    id: int
    role: str  # person, bot, staff, notice
    author: str
    text: str
    at: str


_COLUMNS = (
    "id, channel, user, status, reason, commune_code, commune, at, last_person_at, last_staff_at, staff_name, "
    "closed_at, callback_phone, told, note, reminded_at, undelivered, first_reply_at, opened_by"
)


def nudge(user: str) -> str:
    """The inbox payload that makes the worker deliver a person's waiting replies."""
    return json.dumps({NUDGE: user})


def nudged(payload: str) -> str | None:
    """The person a stored inbox payload asks to deliver to, when it is a nudge (None for a platform event)."""
    if NUDGE not in payload:
        return None
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    user = data.get(NUDGE) if isinstance(data, dict) and len(data) == 1 else None
    return user if isinstance(user, str) and user else None


class HandoffStore:
    """Handoffs and transcripts over the repository's connection (one thread at a time, like the repository)."""

    def __init__(self, repo: SqliteRepository) -> None:
        self.repo = repo
        self.db = repo.db

    # --- the engine's side ----------------------------------------------------------------------

    def active(self, key: ConversationKey) -> Handoff | None:
        """The person's handoff that is waiting for or held by staff, if any."""
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM handoffs WHERE channel = ? AND user = ? AND status IN ('waiting', 'open') "
            "ORDER BY id DESC LIMIT 1",
            [key.channel, key.user],
        ).fetchone()
        return _handoff(row) if row else None

    def open(self, key: ConversationKey, reason: Reason, note: str, commune_code: int | None, commune: str) -> int:
        """A new handoff waiting for staff (or the one already open); its id."""
        current = self.active(key)
        if current is not None:
            return current.id
        stamp = now()
        with self.repo._tx() as cur:
            cur.execute(
                "INSERT INTO handoffs (channel, user, note, commune_code, status, at, reason, commune, last_person_at, "
                "told) VALUES (?,?,?,?,?,?,?,?,?,0)",
                [key.channel, key.user, note, commune_code, "waiting", stamp, reason, commune, stamp],
            )
            handoff_id = int(cur.lastrowid or 0)
            _audit(cur, handoff_id, "person", "opened", reason)
            return handoff_id

    def person_wrote(self, handoff_id: int, told: bool = False) -> None:
        """The person wrote while staff hold the chat (their message is in the transcript with the turn)."""
        with self.repo._tx() as cur:
            cur.execute(
                "UPDATE handoffs SET last_person_at = ?, told = CASE WHEN ? = 1 THEN 1 ELSE told END WHERE id = ?",
                [now(), int(told), handoff_id],
            )

    def callback(self, handoff_id: int, phone: str | None, consent_id: int | None) -> None:
        """The number staff may call back on, with the consent that allows it."""
        with self.repo._tx() as cur:
            cur.execute(
                "UPDATE handoffs SET callback_phone = coalesce(?, callback_phone), "
                "callback_consent_id = coalesce(?, callback_consent_id) WHERE id = ?",
                [phone, consent_id, handoff_id],
            )

    def callbacks_of(self, key: ConversationKey) -> list[Handoff]:
        """The person's handoffs that keep a number to call back on, oldest first ("dữ liệu của tôi" shows them)."""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM handoffs WHERE channel = ? AND user = ? AND callback_phone != '' ORDER BY id",
            [key.channel, key.user],
        ).fetchall()
        return [_handoff(r) for r in rows]

    # --- the staff's side -----------------------------------------------------------------------

    def get(self, handoff_id: int) -> Handoff | None:
        """One handoff."""
        row = self.db.execute(f"SELECT {_COLUMNS} FROM handoffs WHERE id = ?", [handoff_id]).fetchone()
        return _handoff(row) if row else None

    def listed(
        self, communes: list[int] | None, statuses: tuple[str, ...] = ("waiting", "open", "closed"), limit: int = 200
    ) -> list[Handoff]:
        """Handoffs of these communes (None: all), waiting first, then held, then closed; newest first in each."""
        where = f"status IN ({','.join('?' * len(statuses))})"
        args: list[Any] = list(statuses)
        if communes is not None:
            where += f" AND commune_code IN ({','.join('?' * len(communes)) or 'NULL'})"
            args += communes
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM handoffs WHERE {where} "
            "ORDER BY CASE status WHEN 'waiting' THEN 0 WHEN 'open' THEN 1 ELSE 2 END, id DESC LIMIT ?",
            [*args, limit],
        ).fetchall()
        return [_handoff(r) for r in rows]

    def transcript(self, key: ConversationKey) -> list[Line]:
        """A person's recent messages, oldest first."""
        rows = self.db.execute(
            "SELECT id, role, author, text, at FROM chat_log WHERE channel = ? AND user = ? ORDER BY id",
            [key.channel, key.user],
        ).fetchall()
        return [Line(int(i), str(r), str(a or ""), str(t), str(at)) for i, r, a, t, at in rows]

    def last_message(self, key: ConversationKey) -> str:
        """What the person last wrote, if anything is kept."""
        row = self.db.execute(
            "SELECT text FROM chat_log WHERE channel = ? AND user = ? AND role = 'person' ORDER BY id DESC LIMIT 1",
            [key.channel, key.user],
        ).fetchone()
        return str(row[0]) if row else ""

    def last_said_at(self, key: ConversationKey) -> str:
        """When the person last wrote, as far as the transcript keeps it (ISO 8601; empty if nothing kept)."""
        row = self.db.execute(
            "SELECT at FROM chat_log WHERE channel = ? AND user = ? AND role = 'person' ORDER BY id DESC LIMIT 1",
            [key.channel, key.user],
        ).fetchone()
        return str(row[0]) if row else ""

    def staff_said(self, handoff: Handoff, author: str, text: str, actor: str = "") -> int:
        """A staff reply: in the transcript, queued for the person's platform, the chat held by staff; its id.

        `author`: the name it is signed with; `actor`: the staff account that sent it (for the audit).
        """
        stamp = now()
        with self.repo._tx() as cur:
            line = self._say(cur, handoff.key, "staff", author, text)
            cur.execute(
                "UPDATE handoffs SET status = 'open', staff_name = ?, last_staff_at = ?, undelivered = NULL, "
                "first_reply_at = coalesce(first_reply_at, ?), closed_at = NULL, closed_by = NULL WHERE id = ?",
                [author, stamp, stamp, handoff.id],
            )
            _audit(cur, handoff.id, actor or author, "reply", f"ký tên {author}, {len(text)} ký tự")
            return line

    def close(self, handoff: Handoff, by: str, notice: str | None, actor: str = "") -> bool:
        """Give the chat back to the assistant (telling the person when `notice`); False if it was closed already."""
        with self.repo._tx() as cur:
            cur.execute(
                "UPDATE handoffs SET status = 'closed', closed_at = ?, closed_by = ? "
                "WHERE id = ? AND status IN ('waiting', 'open')",
                [now(), by, handoff.id],
            )
            if cur.rowcount != 1:
                return False
            _audit(cur, handoff.id, actor or by, "back", by)
            if notice:
                self._say(cur, handoff.key, "notice", "", notice)
            return True

    def idle(self, before: str) -> list[Handoff]:
        """Handoffs waiting or held with nothing said by anyone since `before`."""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM handoffs WHERE status IN ('waiting', 'open') "
            "AND max(coalesce(last_person_at, at), coalesce(last_staff_at, '')) < ?",
            [before],
        ).fetchall()
        return [_handoff(r) for r in rows]

    def staff_wrote_elsewhere(
        self, key: ConversationKey, reason: Reason, commune_code: int | None, commune: str, author: str, text: str
    ) -> Handoff:
        """Staff wrote to the person themselves (the Zalo OA's own chat): the chat is theirs now, the text kept.

        Nothing is queued: the message already reached the person. A handoff is opened by staff if none is.
        """
        stamp = now()
        with self.repo._tx() as cur:
            current = self.active(key)
            handoff_id = (
                current.id if current else self._open_for_staff(cur, key, reason, commune_code, commune, author)
            )
            log_messages(cur, key, [("staff", author, text)])
            cur.execute(
                "UPDATE handoffs SET status = 'open', staff_name = ?, last_staff_at = ?, "
                "first_reply_at = coalesce(first_reply_at, ?) WHERE id = ?",
                [author, stamp, stamp, handoff_id],
            )
            _audit(cur, handoff_id, author, "reply", f"{len(text)} ký tự, ngoài trợ lý")
        found = self.get(handoff_id)
        assert found is not None
        return found

    def opened_by_staff(self, key: ConversationKey, reason: Reason, commune_code: int | None, commune: str) -> Handoff:
        """The person's open handoff, or a new one opened by staff (held by them: the assistant keeps quiet)."""
        current = self.active(key)
        if current is not None:
            return current
        with self.repo._tx() as cur:
            handoff_id = self._open_for_staff(cur, key, reason, commune_code, commune, "staff")
        found = self.get(handoff_id)
        assert found is not None
        return found

    def _open_for_staff(
        self, cur: sqlite3.Cursor, key: ConversationKey, reason: Reason, code: int | None, commune: str, actor: str
    ) -> int:
        """A handoff staff open themselves, held by them; the person's last message (not now) starts Zalo's window."""
        cur.execute(
            "INSERT INTO handoffs (channel, user, note, commune_code, status, at, reason, commune, "
            "last_person_at, told, opened_by) VALUES (?,?,'',?,'open',?,?,?,?,1,'staff')",
            [key.channel, key.user, code, now(), reason, commune, self.last_said_at(key) or None],
        )
        handoff_id = int(cur.lastrowid or 0)
        _audit(cur, handoff_id, actor, "opened", reason)
        return handoff_id

    def question(self, question_id: int) -> tuple[ConversationKey | None, int | None, str, str] | None:
        """A stored unanswered question: who asked (None: not from a chat), their commune, its text, when."""
        row = self.db.execute(
            "SELECT channel, user, commune_code, example, at FROM questions WHERE id = ?", [question_id]
        ).fetchone()
        if row is None:
            return None
        channel, user, code, example, at = row
        key = ConversationKey(str(channel), str(user)) if channel and user else None
        return key, code, str(example or ""), str(at)

    def sent(self, channel: str, message_ids: list[str]) -> None:
        """The ids a platform gave our own sends (their echoes are ours, not a human's)."""
        with self.repo._tx() as cur:
            cur.executemany(
                "INSERT OR IGNORE INTO sent_ids (channel, message_id, at) VALUES (?,?,?)",
                [(channel, m, now()) for m in message_ids],
            )

    def ours(self, channel: str, message_id: str) -> bool:
        """Whether a platform message id is one of our own sends."""
        row = self.db.execute(
            "SELECT 1 FROM sent_ids WHERE channel = ? AND message_id = ?", [channel, message_id]
        ).fetchone()
        return row is not None

    def undeliverable(self, key: ConversationKey) -> None:
        """A reply to the person was refused for the platform's window: their latest handoff says so to staff."""
        with self.repo._tx() as cur:
            row = cur.execute(
                "SELECT id FROM handoffs WHERE channel = ? AND user = ? AND status IN ('waiting', 'open') "
                "ORDER BY id DESC LIMIT 1",
                [key.channel, key.user],
            ).fetchone()
            if row is None:
                return
            cur.execute("UPDATE handoffs SET undelivered = ? WHERE id = ?", [now(), row[0]])
            _audit(cur, int(row[0]), "system", "undelivered", "ngoài thời hạn nhắn của nền tảng")

    def due_reminders(self, before: str) -> list[Handoff]:
        """Handoffs waiting since before `before` with no staff reply and no reminder yet."""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM handoffs WHERE status = 'waiting' AND first_reply_at IS NULL "
            "AND reminded_at IS NULL AND at < ? ORDER BY id",
            [before],
        ).fetchall()
        return [_handoff(r) for r in rows]

    def reminded(self, handoff_id: int) -> bool:
        """Mark a handoff reminded (once); False when another process did it first."""
        with self.repo._tx() as cur:
            cur.execute("UPDATE handoffs SET reminded_at = ? WHERE id = ? AND reminded_at IS NULL", [now(), handoff_id])
            if cur.rowcount != 1:
                return False
            _audit(cur, handoff_id, "system", "reminded", "")
            return True

    def audit_of(self, handoff_id: int) -> list[tuple[str, str, str, str]]:
        """What happened to a handoff: (at, actor, action, detail), oldest first."""
        rows = self.db.execute(
            "SELECT at, actor, action, detail FROM handoff_audit WHERE handoff_id = ? ORDER BY id", [handoff_id]
        ).fetchall()
        return [(str(a), str(b), str(c), str(d)) for a, b, c, d in rows]

    def opened_since(self, communes: list[int] | None, since: str) -> list[Handoff]:
        """Handoffs opened since `since` (ISO 8601) in these communes (None: all)."""
        where, args = "at >= ?", list[Any]([since])
        if communes is not None:
            where += f" AND commune_code IN ({','.join('?' * len(communes)) or 'NULL'})"
            args += communes
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM handoffs WHERE {where} ORDER BY id", args).fetchall()
        return [_handoff(r) for r in rows]

    # --- the web widget's updates ---------------------------------------------------------------

    def web_updates(self, user: str, after: int) -> list[Line]:
        """Staff replies and notices for a web chat newer than `after`, oldest first."""
        rows = self.db.execute(
            "SELECT id, role, author, text, at FROM chat_log WHERE channel = 'web' AND user = ? AND id > ? "
            "AND role IN ('staff', 'notice') ORDER BY id LIMIT 50",
            [user, after],
        ).fetchall()
        return [Line(int(i), str(r), str(a or ""), str(t), str(at)) for i, r, a, t, at in rows]

    def web_people_after(self, after: int) -> tuple[int, set[str]]:
        """The newest transcript id, and the web chats given a staff reply or notice after `after`."""
        top = int(self.db.execute("SELECT coalesce(max(id), 0) FROM chat_log").fetchone()[0])
        if top <= after:
            return top, set()
        rows = self.db.execute(
            "SELECT DISTINCT user FROM chat_log WHERE id > ? AND channel = 'web' AND role IN ('staff', 'notice')",
            [after],
        ).fetchall()
        return top, {str(r[0]) for r in rows}

    def _say(self, cur: sqlite3.Cursor, key: ConversationKey, role: str, author: str, text: str) -> int:
        """A message from staff or the system: in the transcript, and on a platform through the outbox."""
        line = log_messages(cur, key, [(role, author, text)])
        if key.channel in PLATFORMS:
            self.repo._queue(cur, key, key.user, [Reply(text)])
            cur.execute(
                "INSERT INTO inbox (channel, payload, at, person) VALUES (?,?,?,?)",
                [key.channel, nudge(key.user), now(), key.user],
            )
        return line


def _audit(cur: sqlite3.Cursor, handoff_id: int, actor: str, action: str, detail: str) -> None:
    """One line of a handoff's record: who did what (never the person's text)."""
    cur.execute(
        "INSERT INTO handoff_audit (handoff_id, at, actor, action, detail) VALUES (?,?,?,?,?)",
        [handoff_id, now(), actor, action, detail],
    )


def _handoff(row: tuple[Any, ...]) -> Handoff:
    i, channel, user, status, reason, code, commune, at, person_at, staff_at, staff, closed, phone, told = row[:14]
    note, reminded, undelivered, first_reply, opened_by = row[14:]
    return Handoff(
        int(i),
        str(channel),
        str(user),
        status,
        str(reason or "asked"),
        code,
        str(commune or ""),
        str(at),
        str(person_at or ""),
        str(staff_at or ""),
        str(staff or ""),
        str(closed or ""),
        str(phone or ""),
        bool(told),
        str(note or ""),
        str(reminded or ""),
        str(undelivered or ""),
        str(first_reply or ""),
        str(opened_by or ""),
    )
