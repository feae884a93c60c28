"""Staff data: accounts, sessions, login throttling, lead follow-up and the filtered lead list."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher

from bot.knowledge import VN_TIME
from bot.storage import Lead, LeadStatus
from bot.storage.search_keys import search_term
from bot.storage.sqlite import SqliteRepository, now
from bot.text import fold

log = logging.getLogger("khuyencong.staff")

SESSION_HOURS = 12
ACCOUNT = "id, name, communes, all_communes, display_name, active, must_change_password"  # what _staff reads
FAILURE_WINDOW = dt.timedelta(minutes=15)
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Staff:
    """A staff account: a commune officer (some communes) or a provincial admin (all)."""

    id: int
    name: str
    communes: tuple[int, ...]
    all_communes: bool
    display_name: str = ""  # how the dashboard greets her ("Nguyễn Thị Lan"); the login name when empty
    active: bool = True  # a disabled account cannot sign in, and its sessions are gone
    must_change: bool = False  # signed in with a one-time password: she sets her own before anything else

    @property
    def shown_name(self) -> str:
        """The name people read: the display name, else the login name."""
        return self.display_name or self.name

    def sees(self, commune_code: int | None) -> bool:
        """Whether this account may see a lead of that commune."""
        return self.all_communes or commune_code in self.communes

    @property
    def scope(self) -> list[int] | None:
        """The commune filter for queries (None: everything)."""
        return None if self.all_communes else list(self.communes)


@dataclass(frozen=True)
class FollowUp:
    """A lead's follow-up as an export reads it: who is in charge, the ISO day to call back, the staff note."""

    assignee: str = ""
    follow_up: str = ""
    note: str = ""


FollowUps = Callable[[str], FollowUp]  # a lead's reference → its follow-up


NO_FOLLOWUP = FollowUp()


def no_followups(ref: str) -> FollowUp:
    """No follow-up known (an export outside the staff tables)."""
    return NO_FOLLOWUP


EVERYONE = Staff(0, "all", (), True)  # the command line and the unit's Telegram staff see every commune


@dataclass(frozen=True)
class Session:
    """A signed-in session: who, and the CSRF token its forms carry."""

    token: str
    staff: Staff
    csrf: str


@dataclass(frozen=True)
class LeadQuery:
    """The lead list's filters, search and page."""

    commune: int | None = None
    status: str | None = None
    line: str | None = None
    sector: str | None = None
    since: str | None = None  # ISO date, Vietnam time
    until: str | None = None
    q: str | None = None
    page: int = 1
    per_page: int = 50
    communes: tuple[int, ...] | None = None  # a commune typed by name: the units that name may mean
    due: str | None = None  # ISO day: only open leads whose follow-up falls on it or before ("cần gọi hôm nay")


class StaffStore:
    """Staff tables over the repository's connection (one thread at a time, like the repository)."""

    def __init__(self, repo: SqliteRepository) -> None:
        self.repo = repo
        self.db = repo.db
        self.on_status: Callable[[str, str], object] | None = None  # told (ref, status) after staff change a status

    # --- accounts and sessions ----------------------------------------------------------------

    def add(self, name: str, password: str, communes: list[int], all_communes: bool) -> int:
        """Create or replace an account, unaudited (seeding a database); people go through bot.staff.accounts."""
        with self.repo._tx() as cur:
            cur.execute(
                "INSERT INTO staff (name, password_hash, communes, all_communes, created_at) VALUES (?,?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET password_hash = excluded.password_hash, "
                "communes = excluded.communes, all_communes = excluded.all_communes",
                [name, _hasher.hash(password), json.dumps(communes), int(all_communes), now()],
            )
            row = cur.execute("SELECT id FROM staff WHERE name = ?", [name]).fetchone()
            cur.execute("DELETE FROM sessions WHERE staff_id = ?", [row[0]])  # a reset password ends every session
            return int(row[0])

    def account(self, name: str) -> Staff | None:
        """The account of that exact name, if any."""
        row = self.db.execute(f"SELECT {ACCOUNT} FROM staff WHERE name = ?", [name]).fetchone()
        return self._staff(row) if row else None

    def accounts(self) -> list[Staff]:
        """Every account, by name (no password hashes)."""
        rows = self.db.execute(f"SELECT {ACCOUNT} FROM staff ORDER BY name").fetchall()
        return [self._staff(row) for row in rows]

    def colleagues(self, staff: Staff) -> list[str]:
        """The names to give a lead to: active accounts sharing a commune with `staff` (every one for an admin)."""
        mine = set(staff.communes)
        names = {
            s.shown_name
            for s in self.accounts()
            if s.active and (staff.all_communes or s.all_communes or mine & set(s.communes))
        }
        return sorted(names, key=lambda name: fold(name))  # 'Trần' among the t's, as people read it

    def _staff(self, row: tuple[Any, ...]) -> Staff:
        communes = tuple(json.loads(row[2] or "[]"))
        return Staff(int(row[0]), row[1], communes, bool(row[3]), str(row[4] or ""), bool(row[5]), bool(row[6]))

    def credentials(self, name: str) -> tuple[Staff, str] | None:
        """The account of that name and its argon2 hash, for a check off this thread."""
        row = self.db.execute(f"SELECT {ACCOUNT}, password_hash FROM staff WHERE name = ?", [name]).fetchone()
        return (self._staff(row[:7]), str(row[7])) if row else None

    def attempt(self, limits: list[tuple[str, int]]) -> list[int] | None:
        """Record a sign-in attempt under each key, then count, in one transaction: its rows, or None if over a limit.

        An attempt counts from before its password is checked, so a concurrent burst cannot all pass the count.
        A refused attempt is not kept: it checked nothing, and a flood of them must not grow the table.
        """
        since = (dt.datetime.now(dt.UTC) - FAILURE_WINDOW).isoformat(timespec="seconds")
        with self.repo._tx() as cur:
            cur.execute("DELETE FROM login_failures WHERE at < ?", [since])
            rows = []
            for key, _ in limits:
                cur.execute("INSERT INTO login_failures (key, at) VALUES (?, ?)", [key, now()])
                rows.append(int(cur.lastrowid or 0))
            for key, most in limits:
                count = cur.execute("SELECT count(*) FROM login_failures WHERE key = ?", [key]).fetchone()[0]
                if int(count) > most:
                    cur.executemany("DELETE FROM login_failures WHERE id = ?", [[r] for r in rows])
                    return None
        return rows

    def succeeded(self, rows: list[int], keys: list[str]) -> None:
        """A right password: its attempt and the earlier failures under `keys` no longer count."""
        with self.repo._tx() as cur:
            cur.executemany("DELETE FROM login_failures WHERE id = ?", [[r] for r in rows])
            cur.executemany("DELETE FROM login_failures WHERE key = ?", [[k] for k in keys])

    def secret(self, name: str) -> bytes:
        """A random key kept in the database (made on first use), e.g. the one that signs device cookies."""
        with self.repo._tx() as cur:
            cur.execute(
                "INSERT OR IGNORE INTO staff_secrets VALUES (?, ?, ?)", [name, secrets.token_urlsafe(32), now()]
            )
            return str(cur.execute("SELECT value FROM staff_secrets WHERE name = ?", [name]).fetchone()[0]).encode()

    def open_session(self, staff: Staff) -> Session:
        """A new session with fresh random token and CSRF token."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=SESSION_HOURS)).isoformat(timespec="seconds")
        with self.repo._tx() as cur:
            cur.execute("INSERT INTO sessions VALUES (?,?,?,?,?)", [token, staff.id, csrf, now(), expires])
            cur.execute("UPDATE staff SET last_sign_in = ? WHERE id = ?", [now(), staff.id])
        return Session(token, staff, csrf)

    def session(self, token: str) -> Session | None:
        """The live session for a cookie value."""
        row = self.db.execute(
            "SELECT s.token, s.csrf, f.id, f.name, f.communes, f.all_communes, f.display_name, f.active, "
            "f.must_change_password FROM sessions s "
            "JOIN staff f ON f.id = s.staff_id WHERE s.token = ? AND s.expires_at > ? AND f.active = 1",
            [token, now()],
        ).fetchone()
        return Session(row[0], self._staff(row[2:]), row[1]) if row else None

    def close_session(self, token: str) -> None:
        """Log out."""
        with self.repo._tx() as cur:
            cur.execute("DELETE FROM sessions WHERE token = ?", [token])

    def link_telegram(self, name: str, telegram_id: int) -> bool:
        """Tie a Telegram user to an account (and to no other); False when the account does not exist."""
        with self.repo._tx() as cur:
            if cur.execute("SELECT 1 FROM staff WHERE name = ?", [name]).fetchone() is None:
                return False
            cur.execute("UPDATE staff SET telegram_id = NULL WHERE telegram_id = ?", [telegram_id])
            cur.execute("UPDATE staff SET telegram_id = ? WHERE name = ?", [telegram_id, name])
        return True

    def by_telegram(self, telegram_id: int) -> Staff | None:
        """The account a Telegram user is tied to, if any."""
        row = self.db.execute(
            f"SELECT {ACCOUNT} FROM staff WHERE telegram_id = ? AND active = 1", [telegram_id]
        ).fetchone()
        return self._staff(row) if row else None

    # --- leads ------------------------------------------------------------------------------

    def _where(self, staff: Staff, query: LeadQuery) -> tuple[str, list[Any]]:
        """The SQL condition of the list's filters, within what this account may see."""
        where: list[str] = ["1 = 1"]
        args: list[Any] = []
        scope = staff.scope
        if scope is not None:
            where.append(f"commune_code IN ({','.join('?' * len(scope)) or 'NULL'})")
            args += scope
        for clause, value in (
            ("commune_code = ?", query.commune),
            ("status = ?", query.status),
            ("json_extract(assessment, '$.sector') = ?", query.sector),
            ("created_at >= ?", _utc(query.since)),
            ("created_at < ?", _utc(query.until, 1)),
        ):
            if value not in (None, ""):
                where.append(clause)
                args.append(value)
        if query.line:
            where.append("EXISTS (SELECT 1 FROM json_each(lines_wanted) WHERE value = ?)")
            args.append(query.line)
        if query.communes is not None:
            where.append(f"commune_code IN ({','.join('?' * len(query.communes)) or 'NULL'})")
            args += query.communes
        if query.due:
            where.append(
                "status NOT IN ('supported', 'declined', 'withdrawn') AND ref IN "
                "(SELECT ref FROM lead_followup WHERE follow_up > '' AND follow_up <= ?)"
            )
            args.append(query.due)
        term = search_term(query.q or "")
        if term:  # the folded key of name, facility, product, reference and phone digits (m015)
            where.append("ref IN (SELECT ref FROM lead_search WHERE key LIKE ?)")
            args.append(f"%{term}%")
        elif query.q:  # only punctuation typed: nothing can match it
            where.append("0 = 1")
        return " AND ".join(where), args

    def leads(self, staff: Staff, query: LeadQuery) -> tuple[list[Lead], int]:
        """One page of the leads this account may see, and how many match in all."""
        clause, args = self._where(staff, query)
        total = self.count(staff, query)
        cur = self.db.conn.execute(
            f"SELECT * FROM leads WHERE {clause} ORDER BY created_at DESC, ref LIMIT ? OFFSET ?",
            [*args, query.per_page, (max(query.page, 1) - 1) * query.per_page],
        )
        return [self.repo._lead(cur, row) for row in cur.fetchall()], total

    def count(self, staff: Staff, query: LeadQuery) -> int:
        """How many leads match the filters, within what this account may see."""
        clause, args = self._where(staff, query)
        return int(self.db.execute(f"SELECT count(*) FROM leads WHERE {clause}", args).fetchone()[0])

    def iter_leads(self, staff: Staff, query: LeadQuery, batch: int = 2000) -> Iterator[Lead]:
        """Every lead matching the filters (no pages), oldest first, read `batch` at a time: for exports."""
        clause, args = self._where(staff, query)
        yield from self.repo.leads_streamed(f"SELECT * FROM leads WHERE {clause} ORDER BY created_at, ref", args, batch)

    def lead(self, staff: Staff, ref: str) -> Lead | None:
        """One lead, if this account may see it."""
        cur = self.db.conn.execute("SELECT * FROM leads WHERE ref = ?", [ref])
        row = cur.fetchone()
        lead = self.repo._lead(cur, row) if row else None
        return lead if lead is not None and staff.sees(lead.commune_code) else None

    def followup(self, ref: str) -> dict[str, str]:
        """Assignee, follow-up date and staff note of a lead."""
        row = self.db.execute("SELECT assignee, follow_up, note FROM lead_followup WHERE ref = ?", [ref]).fetchone()
        return (
            {"assignee": row[0] or "", "follow_up": row[1] or "", "note": row[2] or ""}
            if row
            else {"assignee": "", "follow_up": "", "note": ""}
        )

    def with_followups(self, leads: Iterable[Lead], batch: int = 2000) -> tuple[Iterator[Lead], FollowUps]:
        """The leads again, read a batch ahead, and the follow-up of the lead just given (one query per batch).

        For exports: 100,000 rows stay streamed, and a query per row would cost seconds.
        """
        current: dict[str, FollowUp] = {}

        def ahead() -> Iterator[Lead]:
            rows = iter(leads)
            while chunk := list(itertools.islice(rows, batch)):
                refs = [x.ref for x in chunk]
                found = self.db.conn.execute(
                    "SELECT ref, assignee, follow_up, note FROM lead_followup WHERE ref IN "
                    "(SELECT value FROM json_each(?))",
                    [json.dumps(refs)],
                )
                current.clear()
                current.update((r[0], FollowUp(r[1] or "", r[2] or "", r[3] or "")) for r in found)
                yield from chunk

        return ahead(), lambda ref: current.get(ref, NO_FOLLOWUP)

    def followups(self, refs: list[str]) -> dict[str, dict[str, str]]:
        """Assignee and follow-up date of each of these leads (those that have them), for the list."""
        rows = self.db.execute(
            f"SELECT ref, assignee, follow_up FROM lead_followup WHERE ref IN ({','.join('?' * len(refs)) or 'NULL'})",
            refs,
        ).fetchall()
        return {row[0]: {"assignee": row[1] or "", "follow_up": row[2] or ""} for row in rows}

    def update_many(self, staff: Staff, refs: list[str], status: LeadStatus | None, assignee: str | None) -> int:
        """Set the status and/or assignee of several leads at once, each audited; how many this account may see."""
        done = 0
        for ref in dict.fromkeys(refs):
            lead = self.lead(staff, ref)
            if lead is None:
                continue
            now_ = self.followup(ref)
            new_status = status or lead.status
            new_assignee = now_["assignee"] if assignee is None else assignee
            done += self.update(staff, ref, new_status, new_assignee, now_["follow_up"], now_["note"])
        return done

    def consent(self, consent_id: int) -> dict[str, Any] | None:
        """The consent record a lead was registered under."""
        row = self.db.execute(
            "SELECT text_version, text, given, at, recorded_by FROM consents WHERE id = ?", [consent_id]
        ).fetchone()
        keys = ("version", "text", "given", "at", "recorded_by")  # recorded_by: the officer of a verbal consent
        return dict(zip(keys, [*row[:2], bool(row[2]), *row[3:]], strict=True)) if row else None

    def update(self, staff: Staff, ref: str, status: LeadStatus, assignee: str, follow_up: str, note: str) -> bool:
        """Change a lead's status and follow-up; every change goes to the audit log with who made it."""
        lead = self.lead(staff, ref)
        if lead is None:
            return False
        before = {"status": lead.status, **self.followup(ref)}
        after = {"status": status, "assignee": assignee, "follow_up": follow_up, "note": note}
        changes = {k: [before[k], v] for k, v in after.items() if before[k] != v}
        if not changes:
            return True
        with self.repo._tx() as cur:
            cur.execute("UPDATE leads SET status = ?, updated_at = ? WHERE ref = ?", [status, now(), ref])
            cur.execute(
                "INSERT OR REPLACE INTO lead_followup VALUES (?,?,?,?,?)", [ref, assignee, follow_up, note, now()]
            )
            self.repo._audit(cur, ref, f"staff:{staff.name}", "follow-up updated", changes)
        if "status" in changes and self.on_status is not None:
            self._tell_status(ref, status)
        return True

    def _tell_status(self, ref: str, status: str) -> None:
        """The hook of a status change (a message to the person); its failure never undoes the change."""
        assert self.on_status is not None
        try:
            self.on_status(ref, status)
        except Exception:  # the worker's next pass tells them instead (bot/announce/reminders.py)
            log.exception("status hook failed for a lead")

    def funnel(self, staff: Staff) -> list[tuple[str, int]]:
        """Conversations → eligibility checked → registered → contacted → dossier submitted → supported."""
        scope = staff.scope
        code = "CAST(json_extract(slots, '$.place.code') AS INTEGER)"  # JSON text on PostgreSQL
        place = "" if scope is None else f" AND {code} IN ({','.join('?' * len(scope)) or 'NULL'})"
        lead = "" if scope is None else f" AND commune_code IN ({','.join('?' * len(scope)) or 'NULL'})"
        args = scope or []

        def one(sql: str) -> int:
            return int(self.db.execute(sql, args).fetchone()[0])

        leads_where = f"FROM leads WHERE 1 = 1{lead}"
        return [
            ("Cuộc trò chuyện", one(f"SELECT count(*) FROM conversations WHERE 1 = 1{place}")),
            (
                "Đã kiểm tra điều kiện",
                one(f"SELECT count(*) FROM conversations WHERE json_extract(slots, '$.assessment') IS NOT NULL{place}"),
            ),
            ("Đã đăng ký", one(f"SELECT count(*) {leads_where}")),
            (
                "Đã liên hệ",
                one(f"SELECT count(*) {leads_where} AND status IN ('contacted', 'dossier_submitted', 'supported')"),
            ),
            ("Đã nộp hồ sơ", one(f"SELECT count(*) {leads_where} AND status IN ('dossier_submitted', 'supported')")),
            ("Được hỗ trợ", one(f"SELECT count(*) {leads_where} AND status = 'supported'")),
        ]

    def per_line(self, staff: Staff) -> list[tuple[str, int]]:
        """How many leads want each support line."""
        scope = staff.scope
        lead = "" if scope is None else f" WHERE commune_code IN ({','.join('?' * len(scope)) or 'NULL'})"
        rows = self.db.execute(
            f"SELECT j.value, count(*) FROM leads, json_each(leads.lines_wanted) j{lead} GROUP BY j.value "
            "ORDER BY count(*) DESC",
            scope or [],
        ).fetchall()
        return [(str(code), int(n)) for code, n in rows]


def _utc(day: str | None, add_days: int = 0) -> str | None:
    """A Vietnam calendar day as the UTC instant it starts (stored times are UTC)."""
    if not day:
        return None
    try:
        start = dt.datetime.fromisoformat(day).replace(tzinfo=VN_TIME)
        return (start + dt.timedelta(days=add_days)).astimezone(dt.UTC).isoformat(timespec="seconds")
    except (ValueError, OverflowError):  # not a day, or one at the very edge of the calendar
        return None
