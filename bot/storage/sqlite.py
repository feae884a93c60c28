"""The Repository on a SQLite file through sqlite-utils: WAL, busy timeout, numbered migrations."""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from bot.files import owner_only, private_dir
from bot.masking import mask_personal
from bot.messages import Button, ConversationKey, Reply
from bot.slots import APPROVED, NOT_COUNTED, Demand
from bot.storage import Consent, Conversation, Lead, Outbox, search_keys

if TYPE_CHECKING:
    from bot.storage.announcements import AnnouncementStore
    from bot.storage.handoffs import HandoffStore

MIGRATIONS = Migrations("khuyencong")
log = logging.getLogger("khuyencong.storage")
_REF_ALPHABET = "ACDEFHJKMNPRTUVWXY34679"  # no 0/O, 1/I/L, 2/Z, 5/S, 8/B: easy to read out on the phone
_LEAD_JSON = ("profile", "assessment", "lines_wanted")
Batch = tuple[Sequence[Any], list[tuple[Any, ...]]]  # a cursor's description and some of its rows


@MIGRATIONS()
def m001_initial(db: Database) -> None:
    """Conversations, processed inbound ids, consents, leads and their audit log, handoffs."""
    db.table("conversations").create(
        {
            "channel": str,
            "user": str,
            "flow": str,
            "step": str,
            "slots": str,
            "history": str,
            "misses": int,
            "pending": str,
            "flow_version": int,
            "greeted": int,
            "updated_at": str,
        },
        pk=("channel", "user"),
    )
    db.table("processed").create(
        {"channel": str, "message_id": str, "user": str, "at": str}, pk=("channel", "message_id")
    )
    db.table("consents").create(
        {
            "id": int,
            "channel": str,
            "user": str,
            "purpose": str,
            "text_version": str,
            "text": str,
            "given": int,
            "at": str,
        },
        pk="id",
    )
    db.table("leads").create(
        {
            "ref": str,
            "channel": str,
            "user": str,
            "name": str,
            "phone": str,
            "facility_name": str,
            "commune_code": int,
            "commune": str,
            "province": str,
            "profile": str,
            "assessment": str,
            "lines_wanted": str,
            "note": str,
            "consent_id": int,
            "status": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="ref",
    )
    db.table("leads").create_index(["phone", "commune_code"])
    db.table("leads").create_index(["channel", "user"])
    db.table("leads").create_index(["status", "created_at"])
    db.table("lead_audit").create(
        {"id": int, "lead_ref": str, "at": str, "actor": str, "action": str, "changes": str}, pk="id"
    )
    db.table("lead_audit").create_index(["lead_ref"])
    db.table("handoffs").create(
        {"id": int, "channel": str, "user": str, "note": str, "commune_code": int, "status": str, "at": str}, pk="id"
    )


@MIGRATIONS()
def m002_channels(db: Database) -> None:
    """Webhook events claimed on receipt, the rotating Zalo tokens, people a platform says we cannot reach."""
    db.table("inbound_events").create({"channel": str, "event_id": str, "at": str}, pk=("channel", "event_id"))
    db.table("tokens").create(
        {"name": str, "access_token": str, "refresh_token": str, "expires_at": str, "updated_at": str}, pk="name"
    )
    db.table("unreachable").create({"channel": str, "user": str, "code": int, "at": str}, pk=("channel", "user"))


@MIGRATIONS()
def m003_staff(db: Database) -> None:
    """Staff accounts, their sessions, failed logins (for throttling), and the follow-up of each lead."""
    db.table("staff").create(
        {"id": int, "name": str, "password_hash": str, "communes": str, "all_communes": int, "created_at": str},
        pk="id",
    )
    db.table("staff").create_index(["name"], unique=True)
    db.table("sessions").create(
        {"token": str, "staff_id": int, "csrf": str, "created_at": str, "expires_at": str}, pk="token"
    )
    db.table("login_failures").create({"id": int, "key": str, "at": str}, pk="id")
    db.table("login_failures").create_index(["key", "at"])
    db.table("lead_followup").create(
        {"ref": str, "assignee": str, "follow_up": str, "note": str, "updated_at": str}, pk="ref"
    )


@MIGRATIONS()
def m004_faq_misses(db: Database) -> None:
    """Questions the FAQ could not answer, grouped by their folded text, for staff to improve the FAQ."""
    db.table("faq_misses").create({"key": str, "example": str, "count": int, "last_at": str}, pk="key")


@MIGRATIONS()
def m005_export_log(db: Database) -> None:
    """Who exported which leads when: exports carry personal data."""
    db.table("export_log").create(
        {"id": int, "at": str, "actor": str, "format": str, "scope": str, "count": int}, pk="id"
    )


@MIGRATIONS()
def m006_inbox(db: Database) -> None:
    """Accepted webhook events waiting for the worker: durable, so a 200 given is never a message lost."""
    # AUTOINCREMENT: ids never come back after a delete, so the worker's "after id N" cursor is sound.
    db.execute("CREATE TABLE inbox (id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT, payload TEXT, at TEXT)")


@MIGRATIONS()
def m007_lead_ownership(db: Database) -> None:
    """Leads flagged as possible duplicates of another chat's; unanswered questions kept with who asked them.

    A question is one row per asking (channel, user, commune then, time), so that it can be erased with the
    person and purged by age; staff see them grouped. The old grouped faq_misses rows knew no asker: they move
    over as one row each with no asker and no commune (seen by all-commune accounts only, purged by age).
    """
    db.execute("ALTER TABLE leads ADD COLUMN duplicate_of TEXT")
    db.table("questions").create(
        {"id": int, "channel": str, "user": str, "commune_code": int, "key": str, "example": str, "at": str},
        pk="id",
    )
    db.table("questions").create_index(["channel", "user"])
    db.table("questions").create_index(["at"])
    db.execute(
        "INSERT INTO questions (channel, user, commune_code, key, example, at) "
        "SELECT NULL, NULL, NULL, key, example, last_at FROM faq_misses"
    )
    db.table("faq_misses").drop()


@MIGRATIONS()
def m008_staff_security(db: Database) -> None:
    """The key that signs known-device cookies; old throttle rows go, their keys held the typed login names."""
    db.table("staff_secrets").create({"name": str, "value": str, "created_at": str}, pk="name")
    db.execute("DELETE FROM login_failures")


@MIGRATIONS()
def m010_token_state(db: Database) -> None:
    """Each platform's auth state (for /healthz and staff), and which settings tokens the stored ones came from."""
    db.table("tokens").add_column("seed", str)
    db.table("token_state").create({"name": str, "state": str, "detail": str, "at": str}, pk="name")


@MIGRATIONS()
def m011_staff_telegram(db: Database) -> None:
    """A staff account's Telegram user id: staff commands there show that account's communes only."""
    db.table("staff").add_column("telegram_id", int)
    db.table("staff").create_index(["telegram_id"], unique=True)  # one account per Telegram user (NULLs apart)


@MIGRATIONS()
def m009_outbox(db: Database) -> None:
    """A turn's replies kept with it until the platform took them; a failed inbox event waits for its retry."""
    # person: the event's sender, so a later message of theirs never overtakes a failed earlier one.
    db.execute("ALTER TABLE inbox ADD COLUMN person TEXT")
    db.execute("ALTER TABLE inbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE inbox ADD COLUMN next_try REAL NOT NULL DEFAULT 0")  # Unix time
    db.execute(
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, user TEXT NOT NULL, "
        "address TEXT NOT NULL, reply TEXT NOT NULL, at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX outbox_person ON outbox (channel, user, id)")


@MIGRATIONS()
def m012_commune_profiles(db: Database) -> None:
    """Commune profiles saved by staff (a whole Locality as JSON) and who changed what, when."""
    db.table("commune_profiles").create(
        {"ward_code": int, "locality": str, "updated_at": str, "updated_by": str}, pk="ward_code"
    )
    # AUTOINCREMENT: the newest id is the profiles' version stamp; it never goes back after a delete.
    db.execute(
        "CREATE TABLE commune_profile_audit (id INTEGER PRIMARY KEY AUTOINCREMENT, ward_code INTEGER NOT NULL, "
        "at TEXT NOT NULL, actor TEXT NOT NULL, changes TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX commune_profile_audit_unit ON commune_profile_audit (ward_code, id)")


@MIGRATIONS()
def m014_local_faq(db: Database) -> None:
    """Questions masked and markable as answered; a commune's own FAQ entries, written by its staff, audited.

    Phones, e-mail addresses and ID or account numbers typed in a stored question are masked, as new ones are;
    the key is folded again from the masked text so that old and new askings still group together.
    Each change of a local entry is an audit row; its id orders the changes, and the newest id of a commune is
    the version any process compares to know its cached entries are stale.
    """
    from bot.text import fold  # the fold of today: the same as new rows get

    rows = db.execute("SELECT id, example FROM questions").fetchall()
    masked = [(mask_personal(example or ""), row_id) for row_id, example in rows]
    db.conn.executemany(
        "UPDATE questions SET example = ?, key = ? WHERE id = ?", [(m, fold(m)[:300], i) for m, i in masked]
    )
    db.execute("ALTER TABLE questions ADD COLUMN answered_at TEXT")
    db.execute("ALTER TABLE questions ADD COLUMN answered_by TEXT")
    db.execute(
        "CREATE TABLE local_faq (id INTEGER PRIMARY KEY AUTOINCREMENT, commune_code INTEGER NOT NULL, "
        "question TEXT NOT NULL, variants TEXT NOT NULL, answer TEXT NOT NULL, author TEXT NOT NULL, "
        "created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX local_faq_commune ON local_faq (commune_code)")
    db.execute(
        "CREATE TABLE local_faq_audit (id INTEGER PRIMARY KEY AUTOINCREMENT, entry_id INTEGER NOT NULL, "
        "commune_code INTEGER NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, "
        "changes TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX local_faq_audit_commune ON local_faq_audit (commune_code, id)")


@MIGRATIONS()
def m013_handoff_modes(db: Database) -> None:
    """A conversation's mode (held by its open handoff), its recent messages in and out, and staff replies.

    A handoff is `waiting` (for staff), `open` (staff hold it) or `closed`; the rows of the old table were
    requests nobody answered in the chat: they stay, closed, so no old conversation falls silent.
    """
    for name, kind in (
        ("reason", str),
        ("commune", str),
        ("staff_name", str),
        ("last_person_at", str),
        ("last_staff_at", str),
        ("first_reply_at", str),
        ("closed_at", str),
        ("closed_by", str),
        ("callback_phone", str),
        ("callback_consent_id", int),
        ("told", int),
    ):
        db.table("handoffs").add_column(name, kind)
    db.execute("UPDATE handoffs SET status = 'closed', reason = 'asked', closed_by = 'system' WHERE status = 'open'")
    db.table("handoffs").create_index(["channel", "user", "status"])
    db.table("handoffs").create_index(["status", "at"])
    db.execute("ALTER TABLE conversations ADD COLUMN fails INTEGER NOT NULL DEFAULT 0")
    # role: person, bot, staff or notice; AUTOINCREMENT: the web widget's "after N" cursor is sound.
    db.execute(
        "CREATE TABLE chat_log (id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, user TEXT NOT NULL, "
        "role TEXT NOT NULL, author TEXT, text TEXT NOT NULL, at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX chat_log_person ON chat_log (channel, user, id)")


@MIGRATIONS()
def m015_search_keys(db: Database) -> None:
    """Each lead's folded search key (name, facility, product, reference, phone digits) in a narrow table.

    Narrow, so that a substring search over 100,000 leads scans a few megabytes, not the leads' JSON columns.
    The keys of existing leads are made here; temporary triggers (bot/storage/search_keys.py) keep them in step.
    """
    from bot.storage.search_keys import search_key

    db.execute("CREATE TABLE lead_search (ref TEXT PRIMARY KEY, key TEXT NOT NULL) WITHOUT ROWID")
    rows = db.execute("SELECT name, phone, facility_name, ref, profile FROM leads").fetchall()
    db.conn.executemany("INSERT INTO lead_search VALUES (?, ?)", [(r[3], search_key(*r)) for r in rows])


@MIGRATIONS()
def m016_leads_fix_add(db: Database) -> None:
    """A consent given aloud, at the office or on the phone, keeps the officer who read the text and ticked it."""
    db.execute("ALTER TABLE consents ADD COLUMN recorded_by TEXT")


@MIGRATIONS()
def m017_handoff_relay(db: Database) -> None:
    """Staff answering from Telegram and Zalo's own chat: our own sends recognised, reminders, what failed, audit.

    `sent_ids`: the message id each of our Zalo sends got back, so that its echo is not taken for a human.
    `undelivered`: when a staff reply could not reach the person (Zalo's window), shown in the inbox.
    """
    for name in ("reminded_at", "undelivered", "opened_by"):
        db.table("handoffs").add_column(name, str)
    db.execute(
        "CREATE TABLE sent_ids (channel TEXT NOT NULL, message_id TEXT NOT NULL, at TEXT NOT NULL, "
        "PRIMARY KEY (channel, message_id))"
    )
    db.execute(
        "CREATE TABLE handoff_audit (id INTEGER PRIMARY KEY AUTOINCREMENT, handoff_id INTEGER NOT NULL, "
        "at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX handoff_audit_handoff ON handoff_audit (handoff_id, id)")


@MIGRATIONS()
def m018_form_templates(db: Database) -> None:
    """A province's or commune's own Word layout of a registration form (Mẫu 01a, 01b), and who changed it when.

    level: 'province' (code: the province's) or 'commune' (code: the ward's). No row: the bundled reference layout.
    """
    db.execute(
        "CREATE TABLE form_templates (form TEXT NOT NULL, level TEXT NOT NULL, code INTEGER NOT NULL, "
        "body BLOB NOT NULL, file_name TEXT NOT NULL, uploaded_at TEXT NOT NULL, uploaded_by TEXT NOT NULL, "
        "PRIMARY KEY (form, level, code))"
    )
    db.execute(
        "CREATE TABLE form_template_audit (id INTEGER PRIMARY KEY AUTOINCREMENT, form TEXT NOT NULL, "
        "level TEXT NOT NULL, code INTEGER NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, "
        "detail TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX form_template_audit_target ON form_template_audit (level, code, id)")


@MIGRATIONS()
def m019_staff_accounts(db: Database) -> None:
    """Accounts kept in the dashboard: a display name, disabled or not, a one-time password to change, the last
    sign-in; and `staff_audit`, who changed which account how (old → new, in words an admin reads)."""
    db.execute("ALTER TABLE staff ADD COLUMN display_name TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE staff ADD COLUMN active INTEGER NOT NULL DEFAULT 1")
    db.execute("ALTER TABLE staff ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE staff ADD COLUMN last_sign_in TEXT")
    db.execute(
        "CREATE TABLE staff_audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, "
        "account TEXT NOT NULL, action TEXT NOT NULL, changes TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX staff_audit_account ON staff_audit (account, id)")


@MIGRATIONS()
def m020_announcements(db: Database) -> None:
    """Subscriptions to a commune's news (with their consent), announcements, and one queue row per recipient.

    A recipient row is `waiting`, `sending` (claimed by the worker just before the platform is called), `sent`,
    `failed` or `skipped` (with a reason); see bot/announce/delivery.py for why `sending` is never sent again.
    """
    db.execute(
        "CREATE TABLE subscriptions (id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, "
        "user TEXT NOT NULL, commune_code INTEGER NOT NULL, commune TEXT NOT NULL, consent_id INTEGER NOT NULL, "
        "at TEXT NOT NULL, UNIQUE (channel, user, commune_code))"
    )
    db.execute("CREATE INDEX subscriptions_commune ON subscriptions (commune_code)")
    db.execute(
        "CREATE TABLE announcements (id INTEGER PRIMARY KEY AUTOINCREMENT, communes TEXT NOT NULL, "
        "text TEXT NOT NULL, link TEXT, deadline TEXT, audience TEXT NOT NULL, urgent INTEGER NOT NULL, "
        "charged INTEGER NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL, not_before TEXT NOT NULL, "
        "planned TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE announcement_recipients (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "announcement_id INTEGER NOT NULL, channel TEXT NOT NULL, user TEXT NOT NULL, address TEXT NOT NULL, "
        "commune_code INTEGER, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', at TEXT NOT NULL, "
        "unsubscribed_at TEXT, UNIQUE (announcement_id, channel, user))"
    )
    db.execute("CREATE INDEX announcement_recipients_status ON announcement_recipients (status, channel, id)")
    db.execute("CREATE INDEX announcement_recipients_person ON announcement_recipients (channel, user, at)")


@MIGRATIONS()
def m021_processed_replies(db: Database) -> None:
    """The web chat's replies kept with the message id: a page that lost an answer and sends again gets it again."""
    db.table("processed").add_column("replies", str)


@MIGRATIONS()
def m022_announce_reminders(db: Database) -> None:
    """What the dashboard keeps of a send (its one-time token, an urgent send's reason) and the reminders queued.

    A send's token is unique: a form sent twice (a double click, a resent request) queues one announcement.
    A reminder's key (the deadline or the status it is about, and the lead) is unique: each goes at most once.
    """
    db.execute(
        "CREATE TABLE announcement_notes (once TEXT PRIMARY KEY, announcement_id INTEGER NOT NULL, "
        "urgent_reason TEXT NOT NULL, by TEXT NOT NULL, at TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX announcement_notes_announcement ON announcement_notes (announcement_id)")
    db.execute("CREATE TABLE reminders_sent (key TEXT PRIMARY KEY, announcement_id INTEGER NOT NULL, at TEXT NOT NULL)")


@MIGRATIONS()
def m024_inbox_person_index(db: Database) -> None:
    """The inbox by person in arrival order: "is this the person's earliest event?" is a look-up, not a scan.

    Every worker asks it of every event it claims (bot/storage/postgres.py::SharedInbox); without the index
    each asking reads the whole inbox, and a backlog (a worker down, a burst) slows every claim down with it.
    """
    db.execute("CREATE INDEX inbox_person ON inbox (channel, person, id)")


@dataclass
class InboxEvent:
    """A stored webhook event waiting for its turn; attempts and next_try change when a turn fails."""

    id: int
    channel: str
    payload: str
    person: str | None
    attempts: int
    next_try: float  # Unix time; 0 = at once
    arrived: float  # Unix time


def person_of(channel: str, person: str | None, event_id: int) -> str:
    """Whose inbox events keep their order: the sender, or the event alone when it has none."""
    return f"{channel}:{person}" if person else f"#{event_id}"


def now() -> str:
    """The current time in UTC, ISO 8601."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def new_ref() -> str:
    """A short reference code a person can read out on the phone: 'KC-7HX4KT'."""
    return "KC-" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(6))


class LeadRefused(ValueError):
    """A lead without a consent to registration given by the chat it comes from: never stored."""


def lead_changes(old: Lead, new: Lead) -> dict[str, list[Any]]:
    """Fields that differ between two versions of a lead: {field: [old, new]}."""
    before, after = asdict(old), asdict(new)
    skip = {"ref", "created_at", "updated_at", "status", "assessment", "merged", "duplicate_of"}
    return {k: [before[k], after[k]] for k in after if k not in skip and before[k] != after[k]}


class SqliteRepository:
    """Conversations and leads in one SQLite file; each public method is one transaction."""

    def __init__(self, path: Path | str, busy_timeout: float = 10.0) -> None:
        path = Path(path)
        self.busy_timeout = busy_timeout  # seconds a write waits for another connection's lock, then fails
        self.path = None if str(path) == ":memory:" else path
        if self.path is not None:
            private_dir(path.parent)
        # One connection, used by one thread at a time (the caller serialises turns).
        conn = sqlite3.connect(str(path), timeout=busy_timeout, check_same_thread=False, isolation_level=None)
        self.db = Database(conn)
        if self.path is not None:
            self.db.enable_wal()
        self.db.execute(f"PRAGMA busy_timeout = {round(busy_timeout * 1000)}")
        # In WAL mode NORMAL survives any crash of the process; only a power cut may lose the last commits.
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA secure_delete = ON")  # erased rows are zeroed on disk, whatever the build default
        MIGRATIONS.apply(self.db)
        search_keys.install(self.db.conn)
        if self.path is not None:  # SQLite gives the -wal and -shm files the database file's mode
            owner_only(path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))

    @property
    def target(self) -> str:
        """The file this repository opened, as --db and KHUYENCONG_DB take it ('' for an in-memory database)."""
        return str(self.path) if self.path is not None else ""

    def table_names(self) -> list[str]:
        """The database's tables, by name (the migrations' bookkeeping included, SQLite's own not)."""
        rows = self.db.execute(  # not SQLite's own (sqlite_sequence: the AUTOINCREMENT counters)
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name"
        ).fetchall()
        return [str(r[0]) for r in rows]

    def reopen(self) -> SqliteRepository | None:
        """A second connection to the same database, for another thread (None: an in-memory one is not shared)."""
        return SqliteRepository(self.path, self.busy_timeout) if self.path is not None else None

    def close(self) -> None:
        """Close the connection."""
        self.db.conn.close()

    @cached_property
    def handoffs(self) -> HandoffStore:
        """Handoffs to staff and the transcripts they read, on this connection."""
        from bot.storage.handoffs import HandoffStore

        return HandoffStore(self)

    @cached_property
    def announcements(self) -> AnnouncementStore:
        """Subscriptions to a commune's news and the announcement queue, on this connection."""
        from bot.storage.announcements import AnnouncementStore

        return AnnouncementStore(self)

    # --- one transaction -------------------------------------------------------------

    def _tx(self) -> _Transaction:
        return _Transaction(self.db.conn)

    def person_turn(self, key: ConversationKey) -> AbstractContextManager[None]:
        """Nothing to hold: one process serves a SQLite file (PostgreSQL's several take a lock here)."""
        return nullcontext()

    # --- conversations -----------------------------------------------------------------

    def load(self, key: ConversationKey) -> Conversation | None:
        """The conversation of a person, if any."""
        cur = self.db.conn.execute(
            "SELECT * FROM conversations WHERE channel = ? AND user = ?", [key.channel, key.user]
        )
        row = cur.fetchone()
        if row is None:
            return None
        r = dict(zip([c[0] for c in cur.description], row, strict=True))
        return Conversation(
            key=key,
            flow=r["flow"],
            step=r["step"],
            slots=json.loads(r["slots"] or "{}"),
            history=json.loads(r["history"] or "[]"),
            misses=r["misses"] or 0,
            pending=json.loads(r["pending"] or "{}"),
            flow_version=r["flow_version"] or 0,
            greeted=bool(r["greeted"]),
            updated_at=r["updated_at"] or "",
            fails=r.get("fails") or 0,
        )

    def seen(self, key: ConversationKey, message_id: str) -> bool:
        """Whether this inbound message was already processed."""
        row = self.db.execute(
            "SELECT 1 FROM processed WHERE channel = ? AND message_id = ?", [key.channel, message_id]
        ).fetchone()
        return row is not None

    def replayed(self, key: ConversationKey, message_id: str) -> list[Reply]:
        """The replies kept with an answered-at-once message that was already processed (else none)."""
        row = self.db.execute(
            "SELECT replies FROM processed WHERE channel = ? AND message_id = ? AND user = ?",
            [key.channel, message_id, key.user],
        ).fetchone()
        return [_reply(r) for r in json.loads(row[0])] if row and row[0] else []

    def save_turn(
        self, conversation: Conversation, message_id: str | None, lead: Lead | None = None, outbox: Outbox | None = None
    ) -> Lead | None:
        """Store the turn atomically: conversation, processed id, (de-duplicated) lead and the replies to deliver."""
        key = conversation.key
        conversation.updated_at = conversation.updated_at or now()
        with self._tx() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO conversations (channel, user, flow, step, slots, history, misses, pending, "
                "flow_version, greeted, updated_at, fails) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    key.channel,
                    key.user,
                    conversation.flow,
                    conversation.step,
                    json.dumps(conversation.slots, ensure_ascii=False),
                    json.dumps(conversation.history),
                    conversation.misses,
                    json.dumps(conversation.pending, ensure_ascii=False),
                    conversation.flow_version,
                    int(conversation.greeted),
                    conversation.updated_at,
                    conversation.fails,
                ],
            )
            if conversation.said:
                log_messages(cur, key, conversation.said)
                conversation.said = []
            if message_id is not None:
                cur.execute(
                    "INSERT OR IGNORE INTO processed (channel, message_id, user, at) VALUES (?,?,?,?)",
                    [key.channel, message_id, key.user, now()],
                )
            stored = self._upsert_lead(cur, lead) if lead is not None else None
            if outbox is not None:  # the replies commit with the turn: a crash cannot keep one without the other
                self._keep_replies(cur, key, message_id, outbox, stored)
            return stored

    def _upsert_lead(self, cur: sqlite3.Cursor, lead: Lead) -> Lead:
        """This chat's earlier lead for the phone and commune is updated; anything else is a new lead."""
        self._check_consent(cur, lead)
        existing = self._own_earlier(cur, lead)
        if existing is None:
            return self._insert_lead(cur, lead)
        changes = lead_changes(existing, lead)
        lead.ref, lead.created_at, lead.status = existing.ref, existing.created_at, existing.status
        lead.updated_at, lead.duplicate_of, lead.merged = now(), existing.duplicate_of, True
        row = self._row(lead)
        cur.execute(f"UPDATE leads SET {', '.join(f'{k} = ?' for k in row)} WHERE ref = ?", [*row.values(), lead.ref])
        self._audit(cur, lead.ref, "bot", "updated by a new registration", changes)
        return lead

    def _insert_lead(self, cur: sqlite3.Cursor, lead: Lead) -> Lead:
        # Another chat's lead with this phone and commune is neither shown nor changed: staff see a flag.
        lead.duplicate_of = self._other_earlier(cur, lead)
        lead.ref = lead.ref or self._unique_ref(cur)
        lead.created_at = lead.updated_at = now()
        row = self._row(lead)
        cur.execute(f"INSERT INTO leads ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
        self._audit(cur, lead.ref, "bot", "created", {})
        return lead

    @staticmethod
    def _check_consent(cur: sqlite3.Cursor, lead: Lead) -> None:
        """The engine asks consent first; this holds even if a path through the dialog forgets to."""
        if not _consented(cur, ConversationKey(lead.channel, lead.user), lead.consent_id):
            raise LeadRefused("a lead needs a consent to registration given by the same chat")

    def _own_earlier(self, cur: sqlite3.Cursor, lead: Lead) -> Lead | None:
        row = cur.execute(
            "SELECT * FROM leads WHERE channel = ? AND user = ? AND phone = ? AND commune_code IS ? "
            "ORDER BY created_at LIMIT 1",
            [lead.channel, lead.user, lead.phone, lead.commune_code],
        ).fetchone()
        return self._lead(cur, row) if row else None

    @staticmethod
    def _other_earlier(cur: sqlite3.Cursor, lead: Lead) -> str | None:
        row = cur.execute(
            "SELECT ref FROM leads WHERE phone = ? AND commune_code IS ? AND NOT (channel = ? AND user = ?) "
            "ORDER BY created_at, ref LIMIT 1",
            [lead.phone, lead.commune_code, lead.channel, lead.user],
        ).fetchone()
        return str(row[0]) if row else None

    def _unique_ref(self, cur: sqlite3.Cursor) -> str:
        while True:
            ref = new_ref()
            if cur.execute("SELECT 1 FROM leads WHERE ref = ?", [ref]).fetchone() is None:
                return ref

    @staticmethod
    def _row(lead: Lead) -> dict[str, Any]:
        row = asdict(lead)
        del row["merged"]
        for name in _LEAD_JSON:
            row[name] = json.dumps(row[name], ensure_ascii=False)
        return row

    @staticmethod
    def _lead(cur: sqlite3.Cursor, row: tuple[Any, ...]) -> Lead:
        return _decoder(cur)(row)

    @staticmethod
    def _audit(cur: sqlite3.Cursor, ref: str, actor: str, action: str, changes: dict[str, Any]) -> None:
        cur.execute(
            "INSERT INTO lead_audit (lead_ref, at, actor, action, changes) VALUES (?,?,?,?,?)",
            [ref, now(), actor, action, json.dumps(changes, ensure_ascii=False)],
        )

    # --- consents, leads, handoffs -------------------------------------------------------

    def add_consent(self, consent: Consent) -> int:
        """Record a consent decision with the exact text shown; returns its id."""
        with self._tx() as cur:
            return insert_consent(cur, consent)

    def consent_given(self, key: ConversationKey, consent_id: int) -> bool:
        """Whether this consent exists, was given, for registration, by this chat."""
        return _consented(self.db.conn.cursor(), key, consent_id)

    def leads_of(self, key: ConversationKey) -> list[Lead]:
        """The leads a person registered."""
        cur = self.db.conn.cursor()
        rows = cur.execute(
            "SELECT * FROM leads WHERE channel = ? AND user = ? ORDER BY created_at", [key.channel, key.user]
        ).fetchall()
        return [self._lead(cur, r) for r in rows]

    def delete_person(self, key: ConversationKey) -> int:
        """Erase everything the person's chat produced; the audit keeps that a lead was erased, nothing personal.

        Leads with their staff follow-up, consents, handoffs, questions asked, the conversation, the ids of
        messages processed and a platform's "unreachable" mark.
        """
        with self._tx() as cur:
            refs = [r[0] for r in cur.execute("SELECT ref FROM leads WHERE channel = ? AND user = ?", [*_k(key)])]
            self._forget_leads(cur, refs, "person", "erased at the person's request")
            tables = ("leads", "consents", "handoffs", "questions", "conversations", "processed", "unreachable")
            cur.execute(
                "DELETE FROM handoff_audit WHERE handoff_id IN "
                "(SELECT id FROM handoffs WHERE channel = ? AND user = ?)",
                [*_k(key)],
            )
            for table in (*tables, "chat_log"):
                cur.execute(f"DELETE FROM {table} WHERE channel = ? AND user = ?", [*_k(key)])
            from bot.storage.announcements import erase  # subscriptions, and their id in announcement rows

            erase(cur, key)
            erased = len(refs)
        self._forget_old_pages()
        return erased

    def _forget_old_pages(self) -> None:
        """Old copies of erased rows can linger in the write-ahead log: fold it in and empty it (best effort)."""
        try:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # blocked by a reader now: the next one will do
        except sqlite3.Error:
            log.info("erasure: the write-ahead log could not be emptied now")

    def _forget_leads(self, cur: sqlite3.Cursor, refs: list[str], actor: str, action: str) -> None:
        """Before leads go: their audit emptied of personal data, their follow-up erased, flags to them cleared."""
        for ref in refs:
            self._audit(cur, ref, actor, action, {})
            cur.execute("UPDATE lead_audit SET changes = '{}' WHERE lead_ref = ?", [ref])
            cur.execute("DELETE FROM lead_followup WHERE ref = ?", [ref])
            cur.execute("UPDATE leads SET duplicate_of = NULL WHERE duplicate_of = ?", [ref])

    def purge(self, keep_until: str, dedup_until: str) -> dict[str, int]:
        """Erase what is older than the retention period (leads, consents, handoffs, questions, chats).

        `keep_until`: personal data last changed before this time goes. `dedup_until`: platform event ids
        older than this are no longer needed to spot a redelivery (platforms retry for hours, not weeks).
        """
        with self._tx() as cur:
            refs = [r[0] for r in cur.execute("SELECT ref FROM leads WHERE updated_at < ?", [keep_until])]
            self._forget_leads(cur, refs, "system", "erased: the retention period is over")
            cur.execute("DELETE FROM leads WHERE updated_at < ?", [keep_until])
            # A consent is kept while a lead it covers is: it is the proof the data may be held.
            cur.execute(
                "DELETE FROM consents WHERE at < ? "
                "AND id NOT IN (SELECT consent_id FROM leads WHERE consent_id IS NOT NULL) "
                "AND id NOT IN (SELECT consent_id FROM subscriptions)",  # a live subscription keeps its proof too
                [keep_until],
            )
            consents = cur.rowcount
            cur.execute("DELETE FROM handoffs WHERE at < ?", [keep_until])
            handoffs = cur.rowcount
            cur.execute("DELETE FROM questions WHERE at < ?", [keep_until])
            questions = cur.rowcount
            cur.execute("DELETE FROM conversations WHERE updated_at < ?", [keep_until])
            chats = cur.rowcount
            cur.execute("DELETE FROM chat_log WHERE at < ?", [keep_until])  # what was said, kept no longer
            cur.execute("DELETE FROM unreachable WHERE at < ?", [keep_until])  # a chat id, kept no longer than a lead
            cur.execute("DELETE FROM inbound_events WHERE at < ?", [dedup_until])
            events = cur.rowcount
            cur.execute("DELETE FROM processed WHERE at < ?", [dedup_until])
            events += cur.rowcount
            cur.execute("DELETE FROM sent_ids WHERE at < ?", [dedup_until])  # an echo comes within seconds
            cur.execute("DELETE FROM handoff_audit WHERE handoff_id NOT IN (SELECT id FROM handoffs)")
            # A reply no platform took in a week is no use now (Zalo's window is 7 days): it goes with its text.
            cur.execute("DELETE FROM outbox WHERE at < ?", [dedup_until])
            replies = cur.rowcount
            cur.execute("DELETE FROM announcement_recipients WHERE at < ?", [keep_until])  # chat ids, kept no longer
        self._forget_old_pages()
        return {
            "leads": len(refs),
            "consents": consents,
            "handoffs": handoffs,
            "questions": questions,
            "chats": chats,
            "event_ids": events,
            "replies": replies,
        }

    def backup(self, target: Path) -> int:
        """Copy the database to `target` with SQLite's online backup (safe while serving); the leads copied."""
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        dest = sqlite3.connect(str(partial))
        owner_only(partial)  # a copy of the personal data is as private as the original
        try:
            self.db.conn.backup(dest)  # one consistent snapshot; in WAL mode writers carry on meanwhile
            ok = dest.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            count = int(dest.execute("SELECT count(*) FROM leads").fetchone()[0])
        finally:
            dest.close()
        if not ok:
            partial.unlink(missing_ok=True)
            raise sqlite3.DatabaseError("the copy failed its integrity check")
        partial.replace(target)  # a reader of `target` never sees a half-written copy
        return count

    def add_handoff(self, key: ConversationKey, note: str, commune_code: int | None) -> int:
        """Record a request to talk to staff."""
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO handoffs (channel, user, note, commune_code, status, at) VALUES (?,?,?,?,?,?)",
                [key.channel, key.user, note, commune_code, "open", now()],
            )
            return int(cur.lastrowid or 0)

    def audit(self, lead_ref: str) -> list[dict[str, Any]]:
        """The history of a lead, oldest first."""
        rows = self.db.execute(
            "SELECT at, actor, action, changes FROM lead_audit WHERE lead_ref = ? ORDER BY id", [lead_ref]
        ).fetchall()
        return [{"at": a, "actor": b, "action": c, "changes": json.loads(d)} for a, b, c, d in rows]

    # --- channels ------------------------------------------------------------------------

    def claim_events(
        self, events: Sequence[tuple[str, str, str | None] | tuple[str, str, str | None, str | None]]
    ) -> list[bool]:
        """Claim events (channel, id, payload[, sender]) at once: whether each is new; new payloads join the inbox."""
        with self._tx() as cur:
            return self._claim_in(cur, events)

    @staticmethod
    def _claim_in(
        cur: sqlite3.Cursor, events: Sequence[tuple[str, str, str | None] | tuple[str, str, str | None, str | None]]
    ) -> list[bool]:
        stamp = now()
        result = []
        for channel, event_id, payload, *sender in events:
            person = sender[0] if sender else None
            cur.execute("INSERT OR IGNORE INTO inbound_events VALUES (?,?,?)", [channel, event_id, stamp])
            fresh = cur.rowcount == 1
            if fresh and payload is not None:
                cur.execute(
                    "INSERT INTO inbox (channel, payload, at, person) VALUES (?,?,?,?)",
                    [channel, payload, stamp, person],
                )
            result.append(fresh)
        return result

    def inbox_after(self, after: int, limit: int) -> list[InboxEvent]:
        """Waiting events in the order they arrived."""
        rows = self.db.execute(
            "SELECT id, channel, payload, person, attempts, next_try, at FROM inbox WHERE id > ? ORDER BY id LIMIT ?",
            [after, limit],
        ).fetchall()
        return [
            InboxEvent(int(i), str(c), str(p), who, int(n), float(t), dt.datetime.fromisoformat(a).timestamp())
            for i, c, p, who, n, t, a in rows
        ]

    def inbox_retry(self, event_id: int, attempts: int, next_try: float) -> None:
        """A turn failed: count the attempt and keep the time of the next one (a restart keeps the back-off)."""
        with self._tx() as cur:
            cur.execute("UPDATE inbox SET attempts = ?, next_try = ? WHERE id = ?", [attempts, next_try, event_id])

    def inbox_oldest(self) -> str | None:
        """When the oldest waiting event arrived (ISO 8601), if any waits."""
        row = self.db.execute("SELECT at FROM inbox ORDER BY id LIMIT 1").fetchone()
        return str(row[0]) if row else None

    def inbox_done(self, ids: list[int]) -> None:
        """Forget events whose turn is over (replies sent or given up)."""
        with self._tx() as cur:
            cur.executemany("DELETE FROM inbox WHERE id = ?", [[i] for i in ids])

    def inbox_size(self) -> int:
        """How many accepted events wait for the worker."""
        return int(self.db.execute("SELECT count(*) FROM inbox").fetchone()[0])

    # --- the outbox: replies kept until the platform took them -------------------------------

    def _keep_replies(
        self, cur: sqlite3.Cursor, key: ConversationKey, message_id: str | None, outbox: Outbox, stored: Lead | None
    ) -> None:
        """Queue a platform's replies; or keep answered-at-once replies with the message id for a resend."""
        replies = outbox.fill(stored)
        if outbox.address is not None:
            self._queue(cur, key, outbox.address, replies)
        elif message_id is not None:
            kept = json.dumps([r.as_json() for r in replies], ensure_ascii=False)
            cur.execute(
                "UPDATE processed SET replies = ? WHERE channel = ? AND message_id = ?", [kept, key.channel, message_id]
            )

    @staticmethod
    def _queue(cur: sqlite3.Cursor, key: ConversationKey, address: str, replies: list[Reply]) -> None:
        stamp = now()
        cur.executemany(
            "INSERT INTO outbox (channel, user, address, reply, at) VALUES (?,?,?,?,?)",
            [[key.channel, key.user, address, json.dumps(r.as_json(), ensure_ascii=False), stamp] for r in replies],
        )

    def outbox_add(self, key: ConversationKey, address: str, replies: list[Reply]) -> None:
        """Keep replies that belong to no stored turn (a polite note), behind the person's earlier ones."""
        with self._tx() as cur:
            self._queue(cur, key, address, replies)

    def outbox_of(self, key: ConversationKey) -> list[tuple[int, str, Reply]]:
        """A person's undelivered replies (row id, address, reply), oldest first."""
        rows = self.db.execute(
            "SELECT id, address, reply FROM outbox WHERE channel = ? AND user = ? ORDER BY id", [*_k(key)]
        ).fetchall()
        return [(int(i), str(a), _reply(json.loads(r))) for i, a, r in rows]

    def outbox_people(self, channel: str) -> list[ConversationKey]:
        """The people of a channel with replies waiting."""
        rows = self.db.execute("SELECT DISTINCT user FROM outbox WHERE channel = ?", [channel]).fetchall()
        return [ConversationKey(channel, str(r[0])) for r in rows]

    def outbox_sent(self, row_id: int) -> None:
        """The platform took this reply (or refused it for good): it is never sent again."""
        with self._tx() as cur:
            cur.execute("DELETE FROM outbox WHERE id = ?", [row_id])

    def outbox_drop(self, key: ConversationKey) -> int:
        """Forget a person's undelivered replies (the platform says they cannot be reached); how many."""
        with self._tx() as cur:
            cur.execute("DELETE FROM outbox WHERE channel = ? AND user = ?", [*_k(key)])
            return cur.rowcount

    def outbox_size(self) -> int:
        """How many replies wait for delivery."""
        return int(self.db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def load_tokens(self, name: str) -> dict[str, str] | None:
        """The stored tokens of a platform, if any (as stored: encrypted when a key is set)."""
        row = self.db.execute(
            "SELECT access_token, refresh_token, expires_at, seed FROM tokens WHERE name = ?", [name]
        ).fetchone()
        keys = ("access_token", "refresh_token", "expires_at", "seed")
        return {k: v for k, v in zip(keys, row, strict=True) if v is not None} if row else None

    def save_tokens(self, name: str, access_token: str, refresh_token: str, expires_at: str, seed: str = "") -> None:
        """Replace a platform's tokens in one transaction: the old refresh token is gone only once the new is kept.

        `seed` fingerprints the first tokens from the settings these descend from: new ones there win.
        """
        with self._tx() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO tokens (name, access_token, refresh_token, expires_at, updated_at, seed)"
                " VALUES (?,?,?,?,?,?)",
                [name, access_token, refresh_token, expires_at, now(), seed or None],
            )

    def token_refresh_lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """Held while a platform's tokens are refreshed, so that processes sharing the database refresh in turn.

        Nothing on SQLite: one process refreshes there (its own lock suffices; holding the file's write lock
        across a call to Zalo would stop every turn). PostgreSQL's repository takes a lock in the database.
        """
        return nullcontext()

    def token_state(self, name: str) -> str | None:
        """A platform's auth state as last recorded ('ok', 'refresh_failing', 'needs_new_token'), if any."""
        row = self.db.execute("SELECT state FROM token_state WHERE name = ?", [name]).fetchone()
        return str(row[0]) if row else None

    def save_token_state(self, name: str, state: str, detail: str) -> None:
        """Record a platform's auth state (what /healthz and the dashboard show)."""
        with self._tx() as cur:
            cur.execute("INSERT OR REPLACE INTO token_state VALUES (?,?,?,?)", [name, state, detail, now()])

    def mark_unreachable(self, key: ConversationKey, code: int) -> None:
        """A platform said this person cannot be messaged now (e.g. Zalo's 7-day window)."""
        with self._tx() as cur:
            cur.execute("INSERT OR REPLACE INTO unreachable VALUES (?,?,?,?)", [key.channel, key.user, code, now()])

    def clear_unreachable(self, key: ConversationKey) -> None:
        """The person wrote again: they can be answered."""
        if not self.is_unreachable(key):  # the usual case: a read, no write lock on every turn
            return
        with self._tx() as cur:
            cur.execute("DELETE FROM unreachable WHERE channel = ? AND user = ?", [key.channel, key.user])

    def is_unreachable(self, key: ConversationKey) -> bool:
        """Whether sending to this person is known to fail."""
        row = self.db.execute(
            "SELECT 1 FROM unreachable WHERE channel = ? AND user = ?", [key.channel, key.user]
        ).fetchone()
        return row is not None

    def healthy(self) -> bool:
        """Whether the database answers."""
        return bool(self.db.execute("SELECT 1").fetchone() == (1,))

    # --- reading leads ---------------------------------------------------------------------

    def batches(self, sql: str, params: Sequence[Any], batch: int = 2000) -> Iterator[Batch]:
        """A SELECT's rows, `batch` at a time with the columns' description (exports never hold them all)."""
        cur = self.db.conn.execute(sql, params)
        while rows := cur.fetchmany(batch):
            yield cur.description, rows

    def leads_streamed(self, sql: str, params: Sequence[Any], batch: int = 2000) -> Iterator[Lead]:
        """The leads of a `SELECT * FROM leads …`, read and decoded a batch at a time."""
        decode: Callable[[tuple[Any, ...]], Lead] | None = None
        for description, rows in self.batches(sql, params, batch):
            decode = decode or _decoder_of(description)
            yield from map(decode, rows)

    def log_export(self, actor: str, fmt: str, scope: str, count: int) -> None:
        """Record an export (who, what, how many)."""
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO export_log (at, actor, format, scope, count) VALUES (?,?,?,?,?)",
                [now(), actor, fmt, scope, count],
            )

    def record_miss(
        self, key: str, example: str, asker: ConversationKey | None = None, commune_code: int | None = None
    ) -> None:
        """Keep a question the FAQ could not answer (key: its folded text), with who asked and their commune.

        Phones, e-mail addresses and ID or account numbers in it are masked here too, whoever calls.
        """
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO questions (channel, user, commune_code, key, example, at) VALUES (?,?,?,?,?,?)",
                [
                    asker.channel if asker else None,
                    asker.user if asker else None,
                    commune_code,
                    mask_personal(key[:300]),
                    mask_personal(example[:300]),
                    now(),
                ],
            )

    def misses(
        self, communes: list[int] | None = None, limit: int = 200, answered: bool = False
    ) -> list[dict[str, Any]]:
        """The most asked questions not yet answered (or answered), grouped by folded text and commune.

        `communes`: all (None), or those asked in these communes. A question asked before the person's commune
        was known belongs to no commune: only `None` (every commune) shows it.
        """
        where, args = [f"answered_at IS {'NOT ' if answered else ''}NULL"], []
        if communes is not None:
            where.append(f"commune_code IN ({','.join('?' * len(communes)) or 'NULL'})")
            args = list(communes)
        # SQLite takes a bare column from the row that gave max(): the example is the latest asking's text.
        rows = self.db.execute(
            "SELECT example, count(*) AS n, max(at) AS last_at, key, commune_code, answered_by, id FROM questions "
            f"WHERE {' AND '.join(where)} GROUP BY key, commune_code ORDER BY n DESC, last_at DESC LIMIT ?",
            [*args, limit],
        ).fetchall()
        keys = ("question", "count", "last_at", "key", "commune_code", "answered_by", "id")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def mark_answered(self, key: str, commune_code: int | None, actor: str) -> int:
        """Every asking of a question (folded text) in one commune marked answered by `actor`; how many."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE questions SET answered_at = ?, answered_by = ? "
                "WHERE key = ? AND commune_code IS ? AND answered_at IS NULL",
                [now(), actor, key, commune_code],
            )
            return int(cur.rowcount)

    def local_faq_version(self, commune_code: int) -> int:
        """The newest change of a commune's own FAQ entries (0: never any): a cache is stale when this moved."""
        row = self.db.execute("SELECT max(id) FROM local_faq_audit WHERE commune_code = ?", [commune_code]).fetchone()
        return int(row[0] or 0)

    def local_faq(self, communes: list[int] | None = None) -> list[dict[str, Any]]:
        """A commune's own FAQ entries (all when None), oldest first, their variants decoded."""
        where, args = "", []
        if communes is not None:
            where, args = f"WHERE commune_code IN ({','.join('?' * len(communes)) or 'NULL'})", list(communes)
        cur = self.db.execute(f"SELECT * FROM local_faq {where} ORDER BY commune_code, id", args)
        names = [c[0] for c in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        for row in rows:
            row["variants"] = json.loads(row["variants"])
        return rows

    def line_demand(self, communes: list[int] | None = None) -> dict[int, dict[str, Demand]]:
        """Live registrations and approvals per commune and support line wanted (None: every commune)."""
        where = "" if communes is None else f" AND commune_code IN ({','.join('?' * len(communes)) or 'NULL'})"
        rows = self.db.execute(
            "SELECT commune_code, j.value, count(*), sum(CASE WHEN status = ? THEN 1 ELSE 0 END) "
            "FROM leads, json_each(leads.lines_wanted) j "
            f"WHERE commune_code IS NOT NULL AND status NOT IN (?, ?){where} GROUP BY commune_code, j.value",
            [APPROVED, *NOT_COUNTED, *(communes or [])],
        ).fetchall()
        found: dict[int, dict[str, Demand]] = {}
        for commune, code, registered, approved in rows:
            found.setdefault(int(commune), {})[str(code)] = Demand(int(registered), int(approved or 0))
        return found

    def count_conversations(self) -> int:
        """How many conversations are stored."""
        return int(self.db.execute("SELECT count(*) FROM conversations").fetchone()[0])


def _decoder(cur: sqlite3.Cursor) -> Callable[[tuple[Any, ...]], Lead]:
    """Turns rows of `SELECT * FROM leads` into Leads; the three JSON columns decoded, empty ones emptied."""
    return _decoder_of(cur.description)


def _decoder_of(description: Sequence[Any]) -> Callable[[tuple[Any, ...]], Lead]:
    """The decoder of rows of `SELECT * FROM leads` with these columns."""
    names = [c[0] for c in description]
    json_at = [(names.index(n), n == "lines_wanted") for n in _LEAD_JSON]
    # By name, in the dataclass's order: columns added by later migrations sit at the table's end.
    order = [names.index(f.name) for f in fields(Lead) if f.name in names]
    loads = json.loads

    def decode(row: tuple[Any, ...]) -> Lead:
        values = list(row)
        for i, is_list in json_at:
            values[i] = loads(values[i]) if values[i] else ([] if is_list else {})
        return Lead(*[values[i] for i in order])

    return decode


TRANSCRIPT_KEPT = 50  # messages (in and out) kept per person, for staff taking over the conversation


def log_messages(cur: sqlite3.Cursor, key: ConversationKey, said: Sequence[tuple[str, str, str]]) -> int:
    """Add messages to a person's transcript, keeping only the newest ones; the id of the last."""
    stamp = now()
    last = 0
    for role, author, text in said:
        cur.execute(
            "INSERT INTO chat_log (channel, user, role, author, text, at) VALUES (?,?,?,?,?,?)",
            [key.channel, key.user, role, author or None, text[:4000], stamp],
        )
        last = int(cur.lastrowid or 0)
    cur.execute(
        "DELETE FROM chat_log WHERE channel = ? AND user = ? AND id <= "
        "(SELECT id FROM chat_log WHERE channel = ? AND user = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
        [*_k(key), *_k(key), TRANSCRIPT_KEPT],
    )
    return last


def insert_consent(cur: sqlite3.Cursor, consent: Consent) -> int:
    """A consent decision with the exact text shown, inside the caller's transaction; its id."""
    cur.execute(
        "INSERT INTO consents (channel, user, purpose, text_version, text, given, at) VALUES (?,?,?,?,?,?,?)",
        [
            consent.channel,
            consent.user,
            consent.purpose,
            consent.text_version,
            consent.text,
            int(consent.given),
            consent.at or now(),
        ],
    )
    return int(cur.lastrowid or 0)


def _reply(data: dict[str, Any]) -> Reply:
    """A Reply from its stored JSON (Reply.as_json)."""
    return Reply(str(data["text"]), tuple(Button(str(b["label"]), str(b["payload"])) for b in data["buttons"]))


def _consented(cur: sqlite3.Cursor, key: ConversationKey, consent_id: int) -> bool:
    row = cur.execute(
        "SELECT 1 FROM consents WHERE id = ? AND channel = ? AND user = ? AND purpose = 'registration' AND given = 1",
        [consent_id, key.channel, key.user],
    ).fetchone()
    return row is not None


def _k(key: ConversationKey) -> tuple[str, str]:
    return key.channel, key.user


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error: a turn is stored whole or not at all."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Cursor:
        self.cur = self.conn.cursor()
        self.cur.execute("BEGIN IMMEDIATE")
        return self.cur

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.cur.execute("COMMIT" if exc_type is None else "ROLLBACK")
