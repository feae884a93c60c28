"""Staff accounts as the dashboard and the command line keep them: the checks, the changes, and their audit.

One library for both: an admin adds, disables, resets and re-scopes officers in the dashboard, the server's
operator does the same from `khuyencong staff …`; every change is audited with who, when and old → new in the
words an admin reads. Passwords come in already hashed (argon2 is slow: the caller hashes off its busy thread).
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher

from bot.places import Gazetteer, Place
from bot.staff.store import Staff
from bot.storage.sqlite import SqliteRepository, now

ROLES = {"officer": "Cán bộ xã", "admin": "Quản trị (mọi xã)"}
ACTIONS = {
    "created": "Tạo tài khoản",
    "password reset": "Đặt lại mật khẩu",
    "disabled": "Khóa tài khoản",
    "enabled": "Mở lại tài khoản",
    "access changed": "Đổi vai trò, xã phụ trách hoặc tên",
    "own password changed": "Tự đổi mật khẩu",
    "signed out everywhere": "Kết thúc mọi phiên đăng nhập",
    "removed": "Xóa tài khoản",
}
CLI = "cli"  # the server's operator at the command line
ACTIVE = {True: "Đang dùng", False: "Đã khóa"}
ALL_COMMUNES = "Mọi xã"
ONE_TIME = "mật khẩu tạm (phải đổi khi đăng nhập)"
MIN_PASSWORD, MAX_PASSWORD = 10, 200
MAX_DISPLAY, MAX_COMMUNES = 80, 50
LOGIN = re.compile(r"[a-z0-9][a-z0-9._-]{1,31}")
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or copied from a screen without doubt
_hasher = PasswordHasher()


class Refused(Exception):
    """A change that cannot be made; the message says why, politely, in Vietnamese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Account:
    """An account as the admin's page lists it (never its password hash)."""

    id: int
    login: str
    display_name: str
    admin: bool
    communes: tuple[int, ...]
    active: bool
    must_change: bool
    last_sign_in: str  # UTC ISO instant, '' before the first sign-in

    @property
    def role(self) -> str:
        """The role in words."""
        return ROLES["admin" if self.admin else "officer"]


# --- checks of what was typed (pure) -------------------------------------------------------------------


def typed(value: object, label: str, limit: int) -> str:
    """A form value as text: refused when it is no text, holds a character that cannot be stored, or is too long."""
    if not isinstance(value, str):
        return ""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (e.g. from a shell argument)
        raise Refused(f"{label}: có ký tự không đọc được, xin gõ lại.") from None
    if "\ufffd" in value:  # what a lone surrogate or broken bytes become once a form is decoded
        raise Refused(f"{label}: có ký tự không đọc được, xin gõ lại.")
    if len(value) > limit:
        raise Refused(f"{label}: tối đa {limit} ký tự.")
    if any(unicodedata.category(c) == "Cc" and c not in "\r\n\t" for c in value):
        raise Refused(f"{label}: có ký tự điều khiển không hợp lệ, xin gõ lại.")
    return value


def check_login(value: object) -> str:
    """A login name: short, lower-case letters without marks, digits and . - _ (what people type on any phone)."""
    login = typed(value, "Tên đăng nhập", 100_000).strip()
    if not LOGIN.fullmatch(login):
        raise Refused(
            "Tên đăng nhập chỉ gồm chữ thường không dấu, chữ số và các dấu . - _ (2 đến 32 ký tự), ví dụ lan.vt."
        )
    return login


def check_display(value: object) -> str:
    """The name people read: a person's name, no markup, nothing a spreadsheet would run as a formula."""
    name = " ".join(typed(value, "Họ tên", 100_000).split())
    if not name:
        raise Refused("Xin nhập họ tên của cán bộ.")
    if len(name) > MAX_DISPLAY:
        raise Refused(f"Họ tên: tối đa {MAX_DISPLAY} ký tự.")
    if "<" in name or ">" in name:
        raise Refused("Họ tên không được chứa dấu < hoặc >.")
    if name[0] in "=+-@":
        raise Refused("Họ tên không được bắt đầu bằng = + - @ (Excel sẽ hiểu là công thức).")
    return name


def check_password(value: object) -> str:
    """A password a person chose: the house rule is at least ten characters."""
    password = typed(value, "Mật khẩu", 10_000)
    if len(password) < MIN_PASSWORD:
        raise Refused(f"Mật khẩu cần ít nhất {MIN_PASSWORD} ký tự.")
    if len(password) > MAX_PASSWORD:
        raise Refused(f"Mật khẩu: tối đa {MAX_PASSWORD} ký tự.")
    return password


def check_role(value: object) -> bool:
    """Whether the chosen role is admin; anything but the two roles is refused."""
    if value not in ROLES:
        raise Refused("Xin chọn vai trò: Cán bộ xã hoặc Quản trị.")
    return value == "admin"


def generate_password() -> str:
    """A one-time password, e.g. 'k7mp-3xaq-r9tf': about 59 bits, easy to read out and to type on a phone."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3))


def hash_password(password: str) -> str:
    """The argon2id hash kept instead of the password (slow on purpose: call it off a busy thread)."""
    return _hasher.hash(password)


def resolve_communes(gazetteer: Gazetteer, text: object) -> tuple[int, ...]:
    """Communes typed one a line (or split by ';'): a name with or without marks, optionally ', tỉnh', or a code."""
    pieces = [p.strip() for p in re.split(r"[\n;]", typed(text, "Xã phụ trách", 10_000)) if p.strip()]
    if len(pieces) > MAX_COMMUNES:
        raise Refused(f"Xã phụ trách: tối đa {MAX_COMMUNES} xã.")
    return tuple(dict.fromkeys(_commune(gazetteer, piece).code for piece in pieces))


def _commune(gazetteer: Gazetteer, piece: str) -> Place:
    """One commune typed: refused, with what it might be, when it names none or several."""
    if piece.isascii() and piece.isdigit():
        found = gazetteer.place_by_code(int(piece)) if len(piece) <= 9 else None
        if found is None:
            raise Refused(f"Không có xã, phường nào mang mã {piece[:12]}.")
        return found
    name, _, province_typed = piece.rpartition(",") if "," in piece else (piece, "", "")
    province = gazetteer.province(province_typed) if province_typed.strip() else None
    split = None if province_typed.strip() else gazetteer.trailing_province(piece)  # 'binh giang ninh binh'
    if split is not None and gazetteer.communes(split[0], split[1], fuzzy=False):
        name, province = split
    places = [] if province_typed.strip() and province is None else gazetteer.communes(name, province, fuzzy=False)
    if len(places) == 1:
        return places[0]
    shown = piece if len(piece) <= 60 else piece[:60] + "…"
    if places:
        options = "; ".join(p.label for p in places[:6])
        raise Refused(
            f"“{shown}” có ở nhiều nơi: {options}. Xin ghi thêm tỉnh sau dấu phẩy, ví dụ “{places[0].label}”."
        )
    guesses = [p.label for p in gazetteer.resolve_text(piece[:100]).candidates[:3]]
    hint = f" Có phải: {'; '.join(guesses)}?" if guesses else ""
    raise Refused(f"Không tìm thấy xã/phường “{shown}”.{hint} Xin gõ tên xã (có dấu hoặc không) hoặc mã xã.")


# --- the accounts ----------------------------------------------------------------------------------------


class AccountBook:
    """The staff table as an admin changes it; every change is one transaction with its audit row."""

    def __init__(self, repo: SqliteRepository, gazetteer: Gazetteer) -> None:
        self.repo, self.gazetteer = repo, gazetteer

    def accounts(self) -> list[Account]:
        """Every account, admins first, then by login."""
        rows = self.repo.db.execute(f"{_SELECT} ORDER BY all_communes DESC, name").fetchall()
        return [_account(row) for row in rows]

    def get(self, account_id: int) -> Account | None:
        """One account by its id."""
        row = self.repo.db.execute(f"{_SELECT} WHERE id = ?", [account_id]).fetchone()
        return _account(row) if row else None

    def by_login(self, login: str) -> Account | None:
        """One account by its login name."""
        row = self.repo.db.execute(f"{_SELECT} WHERE name = ?", [login]).fetchone()
        return _account(row) if row else None

    def communes_text(self, admin: bool, communes: tuple[int, ...]) -> str:
        """The communes an account sees, by name ('Xã Vĩnh Thủy, Quảng Trị; …')."""
        if admin:
            return ALL_COMMUNES
        labels = [p.label if (p := self.gazetteer.place_by_code(c)) else f"xã không rõ (mã {c})" for c in communes]
        return "; ".join(labels) or "Chưa có xã"

    def create(
        self, actor: str, login: str, display_name: str, admin: bool, communes: tuple[int, ...], hashed: str, once: bool
    ) -> Account:
        """A new account; `once`: its password is a one-time one, to be changed at the first sign-in."""
        if not admin and not communes:
            raise Refused("Cán bộ xã cần ít nhất một xã phụ trách.")
        with self.repo._tx() as cur:
            if cur.execute("SELECT 1 FROM staff WHERE name = ?", [login]).fetchone():
                raise Refused(f"Tên đăng nhập “{login}” đã có người dùng. Xin chọn tên khác.")
            cur.execute(
                "INSERT INTO staff (name, password_hash, communes, all_communes, created_at, display_name, "
                "must_change_password) VALUES (?,?,?,?,?,?,?)",
                [
                    login,
                    hashed,
                    json.dumps([] if admin else list(communes)),
                    int(admin),
                    now(),
                    display_name,
                    int(once),
                ],
            )
            changes = {
                "Họ tên": ["", display_name],
                "Vai trò": ["", ROLES["admin" if admin else "officer"]],
                "Xã phụ trách": ["", self.communes_text(admin, communes)],
                "Mật khẩu": ["", ONE_TIME if once else "do người tạo đặt"],
            }
            _audit(cur, actor, login, "created", changes)
        found = self.by_login(login)
        assert found is not None
        return found

    def reset_password(self, actor: Staff | None, account_id: int, hashed: str, once: bool = True) -> Account:
        """A new password for the account; every session of it ends at once."""
        with self.repo._tx() as cur:
            target = self._target(cur, account_id)
            if actor is not None and actor.id == target.id:
                raise Refused("Mật khẩu của chính bạn được đổi ở trang “Tài khoản của tôi”.")
            cur.execute(
                "UPDATE staff SET password_hash = ?, must_change_password = ? WHERE id = ?",
                [hashed, int(once), target.id],
            )
            cur.execute("DELETE FROM sessions WHERE staff_id = ?", [target.id])
            _audit(cur, _who(actor), target.login, "password reset", {"Mật khẩu": ["", ONE_TIME if once else "mới"]})
        return target

    def set_active(self, actor: Staff | None, account_id: int, active: bool) -> Account:
        """Disable (every session ends at once) or enable an account; never oneself or the last active admin."""
        with self.repo._tx() as cur:
            target = self._target(cur, account_id)
            if target.active == active:
                return target
            if not active:
                _keep_an_admin(cur, actor, target, "khóa")
                cur.execute("DELETE FROM sessions WHERE staff_id = ?", [target.id])
            cur.execute("UPDATE staff SET active = ? WHERE id = ?", [int(active), target.id])
            action = "enabled" if active else "disabled"
            _audit(cur, _who(actor), target.login, action, {"Trạng thái": [ACTIVE[not active], ACTIVE[active]]})
        return target

    def set_access(
        self, actor: Staff | None, account_id: int, display_name: str, admin: bool, communes: tuple[int, ...]
    ) -> dict[str, list[str]]:
        """Change the name, role and communes of an account; what changed (old → new), empty when nothing did."""
        if not admin and not communes:
            raise Refused("Cán bộ xã cần ít nhất một xã phụ trách.")
        with self.repo._tx() as cur:
            target = self._target(cur, account_id)
            if target.admin and not admin:
                _keep_an_admin(cur, actor, target, "bỏ quyền quản trị của")
            kept = () if admin else communes
            before = {
                "Họ tên": target.display_name,
                "Vai trò": target.role,
                "Xã phụ trách": self.communes_text(target.admin, target.communes),
            }
            after = {
                "Họ tên": display_name,
                "Vai trò": ROLES["admin" if admin else "officer"],
                "Xã phụ trách": self.communes_text(admin, kept),
            }
            changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
            if changes:
                cur.execute(
                    "UPDATE staff SET display_name = ?, all_communes = ?, communes = ? WHERE id = ?",
                    [display_name, int(admin), json.dumps(list(kept)), target.id],
                )
                _audit(cur, _who(actor), target.login, "access changed", changes)
        return changes

    def change_own_password(self, staff: Staff, hashed: str, keep_token: str) -> None:
        """An officer's own new password: her one-time password no longer counts, her other sessions end."""
        with self.repo._tx() as cur:
            cur.execute("UPDATE staff SET password_hash = ?, must_change_password = 0 WHERE id = ?", [hashed, staff.id])
            cur.execute("DELETE FROM sessions WHERE staff_id = ? AND token != ?", [staff.id, keep_token])
            _audit(cur, f"staff:{staff.name}", staff.name, "own password changed", {"Mật khẩu": ["", "mới"]})

    def put(self, login: str, hashed: str, admin: bool, communes: tuple[int, ...]) -> bool:
        """The command line's `staff add`: create, or reset the password and set the communes; whether it existed.

        The operator typed the password at the server, so it is no one-time password; a reset ends every session.
        """
        existing = self.by_login(login)
        if existing is None:
            self.create(CLI, login, "", admin, communes, hashed, once=False)
            return False
        self.set_access(None, existing.id, existing.display_name, admin, communes)
        self.set_active(None, existing.id, True)  # the operator at the server is the last resort for a locked account
        self.reset_password(None, existing.id, hashed, once=False)
        return True

    def end_sessions(self, login: str) -> int | None:
        """Sign an account out everywhere (the command line); how many sessions ended, None if no such account."""
        with self.repo._tx() as cur:
            row = cur.execute("SELECT id FROM staff WHERE name = ?", [login]).fetchone()
            if row is None:
                return None
            cur.execute("DELETE FROM sessions WHERE staff_id = ?", [row[0]])
            ended = int(cur.rowcount)
            _audit(cur, CLI, login, "signed out everywhere", {})
        return ended

    def remove(self, login: str) -> bool:
        """Delete an account and its sessions (the command line); whether it existed."""
        with self.repo._tx() as cur:
            cur.execute("DELETE FROM sessions WHERE staff_id IN (SELECT id FROM staff WHERE name = ?)", [login])
            cur.execute("DELETE FROM staff WHERE name = ?", [login])
            if not cur.rowcount:
                return False
            _audit(cur, CLI, login, "removed", {})
        return True

    def link_telegram(self, login: str, telegram_id: int) -> bool:
        """Tie a Telegram user to the account (the staff commands there then show its communes only)."""
        from bot.staff.store import StaffStore

        return StaffStore(self.repo).link_telegram(login, telegram_id)

    def history(self, login: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The latest account changes (of one account, or of all), newest first."""
        where, args = ("WHERE account = ?", [login]) if login is not None else ("", [])
        rows = self.repo.db.execute(
            f"SELECT at, actor, account, action, changes FROM staff_audit {where} ORDER BY id DESC LIMIT ?",
            [*args, limit],
        ).fetchall()
        keys = ("at", "actor", "account", "action", "changes")
        return [dict(zip(keys, [*row[:4], json.loads(row[4])], strict=True)) for row in rows]

    @staticmethod
    def _target(cur: Any, account_id: int) -> Account:
        row = cur.execute(f"{_SELECT} WHERE id = ?", [account_id]).fetchone()
        if row is None:
            raise Refused("Không có tài khoản này.")
        return _account(row)


_SELECT = "SELECT id, name, display_name, all_communes, communes, active, must_change_password, last_sign_in FROM staff"


def _account(row: tuple[Any, ...]) -> Account:
    return Account(
        int(row[0]),
        row[1],
        row[2] or "",
        bool(row[3]),
        tuple(json.loads(row[4] or "[]")),
        bool(row[5]),
        bool(row[6]),
        row[7] or "",
    )


def _keep_an_admin(cur: Any, actor: Staff | None, target: Account, doing: str) -> None:
    """Refuse to lock out or demote oneself, or the last active admin (nobody could manage accounts then)."""
    if actor is not None and actor.id == target.id:
        raise Refused(f"Bạn không thể tự {doing} chính mình: nhờ một quản trị khác làm việc này.")
    if target.admin and target.active:
        others = cur.execute(
            "SELECT count(*) FROM staff WHERE all_communes = 1 AND active = 1 AND id != ?", [target.id]
        ).fetchone()[0]
        if not others:
            raise Refused(
                f"Không thể {doing} tài khoản quản trị cuối cùng còn hoạt động: "
                "hãy thêm hoặc mở lại một quản trị khác trước."
            )


def _who(actor: Staff | None) -> str:
    return CLI if actor is None else f"staff:{actor.name}"


def _audit(cur: Any, actor: str, login: str, action: str, changes: dict[str, list[str]]) -> None:
    cur.execute(
        "INSERT INTO staff_audit (at, actor, account, action, changes) VALUES (?,?,?,?,?)",
        [now(), actor, login, action, json.dumps(changes, ensure_ascii=False)],
    )


def actor_text(who: str) -> str:
    """Who made an account change, in words."""
    kind, _, name = who.partition(":")
    if kind == "staff" and name:
        return name
    return "Quản trị trên máy chủ (dòng lệnh)" if who == CLI else "Hệ thống"
