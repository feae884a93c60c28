"""Dashboard pages of staff accounts: an admin manages officers and their communes; each officer sees her own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.staff import forms
from bot.staff.accounts import (
    ACTIONS,
    ACTIVE,
    ROLES,
    Account,
    AccountBook,
    Refused,
    actor_text,
    check_display,
    check_login,
    check_password,
    check_role,
    generate_password,
    resolve_communes,
    typed,
)
from bot.staff.store import Session

if TYPE_CHECKING:
    from bot.staff.dashboard import Dashboard

MINE = "/staff/account"  # her own page: reachable, and the only one, while a one-time password waits to be changed
ADMINS_ONLY = "Chỉ tài khoản quản trị mới dùng được trang này."
CHANGE_KEY, CHANGE_TRIES = "change-password:", 5  # wrong current passwords per account in the throttle's window
FIELD_LIMIT = 20_000  # characters read of any field before its own check says what is wrong


class AccountPages:
    """/staff/account (everyone) and /staff/accounts… (admins)."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dash = dashboard
        self.app, self.handler = dashboard.app, dashboard.handler
        self.book = AccountBook(self.app.repo, self.app.engine.assessor.gazetteer)

    def routes(self) -> list[web.RouteDef]:
        """The routes, each behind the dashboard's sign-in (and CSRF on POST)."""
        guard, admin = self.dash.signed_in, self._admin
        one = r"/staff/accounts/{id:\d{1,9}}"
        return [
            web.get(MINE, guard(self.mine)),
            web.post(MINE, guard(self.change_mine)),
            web.get("/staff/accounts", guard(admin(self.index))),
            web.post("/staff/accounts", guard(admin(self.add))),
            web.get(one, guard(admin(self.page))),
            web.post(one + "/access", guard(admin(self.access))),
            web.post(one + "/reset", guard(admin(self.reset))),
            web.post(one + "/active", guard(admin(self.active))),
        ]

    @staticmethod
    def _admin(handler: Any) -> Any:
        """Only for an admin (an account that sees every commune): an officer gets 403."""

        async def checked(request: web.Request, session: Session) -> web.StreamResponse:
            if not session.staff.all_communes:
                raise web.HTTPForbidden(text=ADMINS_ONLY)
            response: web.StreamResponse = await handler(request, session)
            return response

        return checked

    def _shown(self, account: Account) -> dict[str, Any]:
        """An account as the pages show it: every value in words."""
        return {
            "id": account.id,
            "login": account.login,
            "name": account.display_name or account.login,
            "role": account.role,
            "communes": self.book.communes_text(account.admin, account.communes),
            "active": ACTIVE[account.active],
            "is_active": account.active,
            "must_change": account.must_change,
            "last_sign_in": account.last_sign_in,
            "admin": account.admin,
        }

    def _history(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {**row, "actor": actor_text(row["actor"]), "action": ACTIONS.get(row["action"], "Thay đổi")} for row in rows
        ]

    def _render(self, name: str, session: Session, status: int = 200, **context: Any) -> web.Response:
        response = self.dash.render(name, session=session, roles=ROLES, **context)
        response.set_status(status)
        return response

    # --- the admin's list and the new account ---------------------------------------------------------

    async def index(self, request: web.Request, session: Session, status: int = 200, **extra: Any) -> web.Response:
        """Every account with its role, communes, state and last sign-in; the add form; the latest changes."""
        accounts = await self.handler.call(self.book.accounts)
        history = await self.handler.call(self.book.history, None, 50)
        extra.setdefault("posted", {"role": "officer"})
        return self._render(
            "accounts.html",
            session,
            status,
            accounts=[self._shown(a) for a in accounts],
            history=self._history(history),
            **extra,
        )

    async def add(self, request: web.Request, session: Session) -> web.Response:
        """A new account; a password left empty is generated, and either is shown once and changed at first sign-in."""
        form = await forms.posted(request)
        posted = {k: forms.clean(form.get(k), 2000) for k in ("login", "display_name", "role", "communes")}
        try:
            login, name = check_login(form.get("login")), check_display(form.get("display_name"))
            admin = check_role(form.get("role"))
            communes = () if admin else resolve_communes(self.app.engine.assessor.gazetteer, form.get("communes"))
            chosen = typed(form.get("password"), "Mật khẩu", FIELD_LIMIT)
            password = check_password(chosen) if chosen else generate_password()
            hashed = await self.dash.sign_in.hash(password)
            account = await self.handler.call(
                self.book.create, f"staff:{session.staff.name}", login, name, admin, communes, hashed, True
            )
        except Refused as refused:
            return await self.index(request, session, 400, error=refused.message, posted=posted)
        shown = self._shown(account)
        return await self.index(request, session, created=shown, password=None if chosen else password)

    # --- one account ---------------------------------------------------------------------------------------

    async def _account(self, request: web.Request) -> Account:
        account = await self.handler.call(self.book.get, int(request.match_info["id"]))
        if account is None:
            raise web.HTTPNotFound(text="Không có tài khoản này.")
        return account

    async def page(self, request: web.Request, session: Session, status: int = 200, **extra: Any) -> web.Response:
        """One account: its role and communes to change, a password reset, disable or enable, its history."""
        account = await self._account(request)
        history = await self.handler.call(self.book.history, account.login, 100)
        shown = self._shown(account)
        lines = "" if account.admin else shown["communes"].replace("; ", "\n")
        extra.setdefault(
            "posted",
            {
                "display_name": account.display_name or account.login,
                "role": "admin" if account.admin else "officer",
                "communes": lines,
            },
        )
        return self._render(
            "account_edit.html", session, status, account=shown, history=self._history(history), **extra
        )

    async def access(self, request: web.Request, session: Session) -> web.Response:
        """Change the name, role and communes; the account's open pages see the new communes at their next click."""
        account = await self._account(request)
        form = await forms.posted(request)
        posted = {k: forms.clean(form.get(k), 2000) for k in ("display_name", "role", "communes")}
        try:
            name, admin = check_display(form.get("display_name")), check_role(form.get("role"))
            communes = () if admin else resolve_communes(self.app.engine.assessor.gazetteer, form.get("communes"))
            changes = await self.handler.call(self.book.set_access, session.staff, account.id, name, admin, communes)
        except Refused as refused:
            return await self.page(request, session, 400, error=refused.message, posted=posted)
        return await self.page(request, session, message="Đã lưu." if changes else "Không có gì thay đổi.")

    async def reset(self, request: web.Request, session: Session) -> web.Response:
        """A one-time password, shown once; every session of the account ends at once."""
        account = await self._account(request)
        if not _sure(await forms.posted(request)):
            return await self.page(request, session, 400, error=NOT_SURE.format(what="đặt lại mật khẩu"))
        password = generate_password()
        try:
            hashed = await self.dash.sign_in.hash(password)
            await self.handler.call(self.book.reset_password, session.staff, account.id, hashed)
        except Refused as refused:
            return await self.page(request, session, 400, error=refused.message)
        return await self.page(request, session, password=password)

    async def active(self, request: web.Request, session: Session) -> web.Response:
        """Disable (every session ends at once) or enable the account."""
        account = await self._account(request)
        posted = await forms.posted(request)
        wanted = forms.clean(posted.get("active"), 10)
        if wanted not in ("0", "1"):
            return await self.page(request, session, 400, error="Yêu cầu không hợp lệ, xin tải lại trang.")
        if wanted == "0" and not _sure(posted):  # opening an account again needs no second thought
            return await self.page(request, session, 400, error=NOT_SURE.format(what="khóa tài khoản"))
        try:
            await self.handler.call(self.book.set_active, session.staff, account.id, wanted == "1")
        except Refused as refused:
            return await self.page(request, session, 400, error=refused.message)
        done = (
            "Đã mở lại tài khoản."
            if wanted == "1"
            else "Đã khóa tài khoản; mọi phiên đăng nhập của tài khoản đã kết thúc."
        )
        return await self.page(request, session, message=done)

    # --- her own account -------------------------------------------------------------------------------------

    async def mine(self, request: web.Request, session: Session, status: int = 200, **extra: Any) -> web.Response:
        """Her name, role, the communes she manages, her last sign-in, and the form to change her password."""
        account = await self.handler.call(self.book.get, session.staff.id)
        if account is None:  # removed a moment ago: the next click signs her out
            raise web.HTTPFound("/staff/login")
        return self._render("my_account.html", session, status, account=self._shown(account), **extra)

    async def change_mine(self, request: web.Request, session: Session) -> web.Response:
        """A new password for her own account: the current one checked (throttled), her other sessions end."""
        form = await forms.posted(request)
        try:
            new = check_password(form.get("new_password"))
            if typed(form.get("repeat"), "Nhập lại mật khẩu mới", FIELD_LIMIT) != new:
                raise Refused("Hai lần nhập mật khẩu mới không giống nhau.")
            current = typed(form.get("current"), "Mật khẩu hiện tại", FIELD_LIMIT)
            if current == new:
                raise Refused("Mật khẩu mới cần khác mật khẩu hiện tại.")
            await self._check_current(session, current)
            hashed = await self.dash.sign_in.hash(new)
            await self.handler.call(self.book.change_own_password, session.staff, hashed, session.token)
        except Refused as refused:
            return await self.mine(request, session, 400, error=refused.message)
        fresh = await self.handler.call(self.dash.store.session, session.token)
        return await self.mine(
            request, fresh or session, message="Đã đổi mật khẩu. Các phiên đăng nhập khác đã kết thúc."
        )

    async def _check_current(self, session: Session, current: str) -> None:
        """The current password, counted before it is checked: a stolen session cannot guess it at leisure."""
        key = f"{CHANGE_KEY}{session.staff.id}"
        rows = await self.handler.call(self.dash.store.attempt, [(key, CHANGE_TRIES)])
        if rows is None:
            raise Refused("Sai mật khẩu hiện tại quá nhiều lần. Xin thử lại sau 15 phút.")
        found = await self.handler.call(self.dash.store.credentials, session.staff.name)
        if found is None or not await self.dash.sign_in.verify(found[1], current):
            raise Refused("Mật khẩu hiện tại không đúng.")
        await self.handler.call(self.dash.store.succeeded, rows, [key])


NOT_SURE = "Chưa {what}: xin đánh dấu ô “Chắc chắn” bên cạnh nút rồi bấm lại."


def _sure(posted: Mapping[str, Any]) -> bool:
    """The tick that confirms an action taken at once on someone else's account (no script: our CSP forbids it)."""
    return forms.clean(posted.get("sure"), 5) == "yes"
