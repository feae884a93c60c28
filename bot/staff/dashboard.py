"""The staff dashboard at /staff/: sign in, the commune's leads, one lead's follow-up, exports."""

from __future__ import annotations

import functools
import logging
import re
import secrets
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode

import jinja2
from aiohttp import web

from bot.app import App, OrderedHandler
from bot.channels.zalo_auth import auth_notice
from bot.knowledge import vn_today
from bot.proxy import bucket, client_address, trusted_networks
from bot.staff import forms, labels
from bot.staff.announce_pages import AnnouncePages
from bot.staff.answer_pages import DONE, AnswerPages
from bot.staff.exports import ELIGIBLE_LABELS, STATUS_LABELS, WRITERS, download_name, duplicate_text, local_time
from bot.staff.form_pages import FormPages
from bot.staff.handoff_stats import handoff_stats
from bot.staff.lead_edits import LABELS as EDIT_LABELS
from bot.staff.lead_pages import LeadPages
from bot.staff.login import DEVICE_COOKIE, DEVICE_DAYS, Attempt, Busy, RefusalLog, SignIn, Throttled
from bot.staff.print_page import PrintPage
from bot.staff.store import LeadQuery, Session, StaffStore
from bot.storage import LeadStatus
from bot.text import national_phone

log = logging.getLogger("khuyencong.staff")
COOKIE, LOGIN_COOKIE = "kc_staff", "kc_login"
MY_ACCOUNT = "/staff/account"  # "Tài khoản của tôi": the one page open while a one-time password waits
PER_PAGE = 50
MAX_ASSIGNEE, MAX_NOTE = 100, 2000
EXPORT_CHUNK = 256 * 1024
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("bot.staff", "templates"), autoescape=True, undefined=jinja2.StrictUndefined
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FUNDING = {"national": "quốc gia", "provincial": "tỉnh", "commune": "xã"}
REASONS = {
    "legal_form_ok": "Loại hình hợp lệ",
    "unregistered": "Chưa đăng ký kinh doanh",
    "sme_ok": "Doanh nghiệp nhỏ và vừa",
    "large_enterprise": "Vượt quy mô DN vừa",
    "cleaner_production_subject": "Cơ sở sản xuất sạch hơn",
    "sector_ok": "Ngành được hỗ trợ",
    "not_industrial_activity": "Không phải sản xuất công nghiệp",
    "excluded_brick_kiln": "Lò gạch bị loại trừ",
    "mining_outside_difficult_area": "Khai khoáng ngoài địa bàn khó khăn",
    "mining_ok": "Khai khoáng ở địa bàn khó khăn",
    "location_ok": "Địa bàn hợp lệ",
    "location_craft_village": "Trong làng nghề",
    "location_not_covered": "Phường của thành phố trực thuộc TW",
}


def _vn_time(stamp: str) -> str:
    moment = local_time(stamp or "")
    return moment.strftime("%d/%m/%Y %H:%M") if moment else ""


def _vn_day(day: str) -> str:
    """An ISO calendar day ('2026-12-01') as people here write it ('01/12/2026')."""
    found = forms.day(day or "")
    return found.strftime("%d/%m/%Y") if found else (day or "")


_TEMPLATES.filters.update(
    phone=national_phone,
    vntime=_vn_time,
    vnday=_vn_day,
    channel=labels.channel,
    actor=labels.actor,
    action=labels.action,
)
_TEMPLATES.globals.update(
    funding=FUNDING, reasons=REASONS, duplicate_text=duplicate_text, eligible_labels=ELIGIBLE_LABELS
)
_TEMPLATES.globals.update(EDIT_LABELS)
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def render(name: str, **context: Any) -> web.Response:
    """A page from templates/, escaped."""
    html = _TEMPLATES.get_template(name).render(statuses=STATUS_LABELS, **context)
    return web.Response(text=html, content_type="text/html", charset="utf-8", headers=_HEADERS)


BUSY = "Hệ thống đang bận vì nhiều người đăng nhập cùng lúc. Xin thử lại sau ít phút."


def _secure(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"


class Dashboard:
    """Routes of /staff/. Every route but the login page needs a signed-in account."""

    def __init__(self, app: App, handler: OrderedHandler) -> None:
        self.app, self.handler = app, handler
        self.store = StaffStore(app.repo)
        self.sign_in, self.refusals = SignIn(self.store, handler), RefusalLog()
        self.trusted = trusted_networks(app.settings.web_trusted_proxies)
        self.answers = AnswerPages(app, handler, render)  # questions answered, the communes' own FAQ entries
        self.lead_pages = LeadPages(self)  # a contact corrected, a registration taken at the office; slots
        self.form_pages = FormPages(self)  # a lead's filled Mẫu 01a/01b; the layouts a province replaces
        self.announce_pages = AnnouncePages(self)  # compose, preview and send announcements; their statistics

    def close(self) -> None:
        """Stop the password checks' thread."""
        self.sign_in.close()

    def routes(self) -> list[web.RouteDef]:
        """The routes, for the web application."""
        return [
            web.get("/staff/login", self.login_page),
            web.post("/staff/login", self.login),
            web.post("/staff/logout", self.signed_in(self.logout)),
            web.get("/staff/", self.signed_in(self.leads)),
            web.get("/staff/leads/{ref}", self.signed_in(self.lead)),
            web.post("/staff/bulk", self.signed_in(self.bulk)),
            web.post("/staff/leads/{ref}", self.signed_in(self.update)),
            web.get("/staff/export/{fmt}", self.signed_in(self.export)),
            web.get("/staff/stats", self.signed_in(self.stats)),
            *self.answers.routes(self.signed_in),
            web.get("/staff/knowledge", self.signed_in(self.knowledge)),
            *self._profile_routes(),
            *self.lead_pages.routes(),
            *PrintPage(self).routes(),
            *self._account_routes(),
            *self.form_pages.routes(),
            *self.announce_pages.routes(),
            web.get(r"/staff/{tail:[\s\S]*}", self.signed_in(self.not_found)),  # last: any other address under /staff/
            web.post(r"/staff/{tail:[\s\S]*}", self.signed_in(self.not_found)),
        ]

    def _profile_routes(self) -> list[web.RouteDef]:
        from bot.staff.profile_pages import ProfilePages  # it renders through this module's templates

        return ProfilePages(self).routes()

    def _account_routes(self) -> list[web.RouteDef]:
        from bot.staff.account_pages import AccountPages  # it renders through this module's templates

        return AccountPages(self).routes()

    @staticmethod
    def render(name: str, **context: Any) -> web.Response:
        """A page from templates/ (for the pages kept in their own modules)."""
        return render(name, **context)

    # --- access ---------------------------------------------------------------------------------

    def signed_in(self, handler: Callable[[web.Request, Session], Awaitable[web.StreamResponse]]) -> Handler:
        """Only for a live session; every POST must also carry the session's CSRF token."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            token = forms.clean(request.cookies.get(COOKIE, ""), 100)  # a cookie may hold any bytes
            session = await self.handler.call(self.store.session, token) if token else None
            if session is None:
                if request.method in ("GET", "HEAD"):
                    raise web.HTTPFound("/staff/login")
                raise web.HTTPForbidden(text="Cần đăng nhập.")
            if request.method == "POST":
                form = await forms.posted(request)
                if not forms.same(forms.clean(form.get("csrf")), session.csrf):
                    raise web.HTTPForbidden(text="Phiên làm việc không hợp lệ, hãy tải lại trang.")
            if session.staff.must_change and request.path not in (MY_ACCOUNT, "/staff/logout"):
                # A one-time password (new account, reset): nothing but setting her own until she has.
                if request.method in ("GET", "HEAD"):
                    raise web.HTTPFound(MY_ACCOUNT)
                raise web.HTTPForbidden(text="Xin đổi mật khẩu tạm ở trang Tài khoản của tôi trước.")
            return await handler(request, session)

        return guarded

    async def login_page(self, request: web.Request, error: str = "") -> web.Response:
        """The sign-in form, with a double-submit CSRF token."""
        token = secrets.token_urlsafe(24)
        response = render("login.html", csrf=token, error=error)
        response.set_cookie(
            LOGIN_COOKIE, token, httponly=True, samesite="Strict", secure=_secure(request), path="/staff", max_age=3600
        )
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        """Check the password: counted before it is checked, throttled per account, address and known device."""
        form = await forms.posted(request)
        if not forms.same(forms.clean(form.get("csrf")), request.cookies.get(LOGIN_COOKIE, "") or "-"):
            return await self.login_page(request, "Phiên đăng nhập hết hạn, hãy thử lại.")
        # An IPv6 subscriber picks from a whole /64: counted as one address, as in the web chat.
        address = bucket(client_address(request.remote, request.headers.get("X-Forwarded-For"), self.trusted))
        device = forms.clean(request.cookies.get(DEVICE_COOKIE, ""), 200)
        attempt = Attempt(
            forms.clean(form.get("name"), 100).strip(), forms.clean(form.get("password"), 200), address, device
        )
        try:
            staff = await self.sign_in.check(attempt)
        except Busy:
            self.refusals.note("too many at once", address)
            return await self._refused(request, BUSY, 503)
        except Throttled:
            self.refusals.note("too many wrong passwords", address)
            return await self._refused(request, "Sai quá nhiều lần. Hãy thử lại sau 15 phút.", 429)
        if staff is None:  # logged by SignIn, without what was typed
            return await self.login_page(request, "Tên đăng nhập hoặc mật khẩu không đúng.")
        if not staff.active:  # said only to someone who knows the password
            return await self.login_page(request, "Tài khoản này đang bị khóa. Xin liên hệ người quản trị.")
        session = await self.handler.call(self.store.open_session, staff)
        response = web.HTTPFound(MY_ACCOUNT if staff.must_change else "/staff/")
        secure = _secure(request)
        response.set_cookie(COOKIE, session.token, httponly=True, samesite="Strict", secure=secure, path="/staff")
        response.set_cookie(
            DEVICE_COOKIE,
            await self.sign_in.device_cookie(staff, device),
            httponly=True,
            samesite="Strict",
            secure=secure,
            path="/staff",
            max_age=DEVICE_DAYS * 86400,
        )
        response.del_cookie(LOGIN_COOKIE, path="/staff")
        raise response

    async def _refused(self, request: web.Request, error: str, status: int) -> web.Response:
        """The sign-in form again, with why and a status a client or a proxy understands."""
        response = await self.login_page(request, error)
        response.set_status(status)
        response.headers["Retry-After"] = "30" if status == 503 else str(15 * 60)
        return response

    async def logout(self, request: web.Request, session: Session) -> web.StreamResponse:
        """End the session."""
        await self.handler.call(self.store.close_session, session.token)
        response = web.HTTPFound("/staff/login")
        response.del_cookie(COOKIE, path="/staff")
        raise response

    async def not_found(self, request: web.Request, session: Session) -> web.Response:
        """An address under /staff/ that is no page: said in Vietnamese, to a signed-in officer only."""
        raise web.HTTPNotFound(text="Không có trang này.")

    # --- pages ------------------------------------------------------------------------------------

    def _query(self, request: web.Request) -> LeadQuery:
        """The list's filters from the query string; a value that cannot be one is ignored, never an error."""
        q = forms.query(request)
        commune = q.get("commune", "").strip()
        return LeadQuery(
            commune=forms.number(commune),
            communes=self._communes_named(commune) if commune and forms.number(commune) is None else None,
            due=vn_today().isoformat() if q.get("view") == "due" else None,
            status=q.get("status") or None,
            line=q.get("line") or None,
            sector=q.get("sector") or None,
            since=q.get("since") or None,
            until=q.get("until") or None,
            q=q.get("q") or None,
            page=forms.number(q.get("page", "")) or 1,
            per_page=PER_PAGE,
        )

    def _communes_named(self, typed: str) -> tuple[int, ...]:
        """The communes a typed name may mean ('vinh thuy', 'Xã Vĩnh Thủy'), without fuzzy guesses."""
        places = self.app.engine.assessor.gazetteer.communes(typed[:100], fuzzy=False)
        return tuple(p.code for p in places)

    async def leads(self, request: web.Request, session: Session) -> web.Response:
        """The lead list with filters, search and pages."""
        query = self._query(request)
        leads, total = await self.handler.call(self.store.leads, session.staff, query)
        followups = await self.handler.call(self.store.followups, [lead.ref for lead in leads])
        _, due = await self.handler.call(
            self.store.leads, session.staff, LeadQuery(due=vn_today().isoformat(), per_page=1)
        )
        today = vn_today().isoformat()
        _, fresh = await self.handler.call(
            self.store.leads, session.staff, LeadQuery(status="new", since=today, per_page=1)
        )
        kb = self.app.engine.kb
        return render(
            "leads.html",
            session=session,
            leads=leads,
            followups=followups,
            due=due,
            done=bulk_done(forms.query(request).get("done", "")),
            no_commune=query.communes == (),  # a name typed that is no commune's
            total=total,
            fresh=fresh,
            today=today,
            query=query,
            pages=max(1, -(-total // PER_PAGE)),
            params=forms.query(request),
            lines=kb.line_names,
            sectors=kb.sector_names,
            zalo_notice=await self.handler.call(auth_notice, self.app.repo),
            slots=await self.lead_pages.slots(session.staff),
            colleagues=await self.handler.call(self.store.colleagues, session.staff),
        )

    async def lead(self, request: web.Request, session: Session, saved: bool = False) -> web.Response:
        """One lead: answers, assessment with citations, consent, follow-up form and history."""
        return render("lead.html", session=session, saved=saved, **await self.lead_facts(request, session))

    async def lead_facts(self, request: web.Request, session: Session) -> dict[str, Any]:
        """What the lead page and its print layout show: the lead, follow-up, consent, history and their words."""
        ref = forms.clean(request.match_info["ref"], 20)
        lead = await self.handler.call(self.store.lead, session.staff, ref)
        if lead is None:
            raise web.HTTPNotFound(text="Không có đăng ký này, hoặc không thuộc xã của bạn.")
        return {
            "lead": lead,
            "followup": await self.handler.call(self.store.followup, ref),
            "consent": await self.handler.call(self.store.consent, lead.consent_id),
            "history": await self.handler.call(self.app.repo.audit, ref),
            "lines": self.app.engine.kb.line_names,
            "colleagues": await self.handler.call(self.store.colleagues, session.staff),
            "labeller": labels.Labeller(self.app.engine.kb),
        }

    async def update(self, request: web.Request, session: Session) -> web.Response:
        """Change status, assignee, follow-up date and note; a value that cannot be stored changes nothing."""
        form = await forms.posted(request)
        status, follow_up = forms.clean(form.get("status"), 50), forms.clean(form.get("follow_up"), 50)
        assignee, note = forms.clean(form.get("assignee"), 10_000), forms.clean(form.get("note"), 100_000)
        if status not in STATUS_LABELS:
            raise web.HTTPBadRequest(text="Trạng thái không hợp lệ.")
        if follow_up and forms.day(follow_up) is None:
            raise web.HTTPBadRequest(text="Ngày hẹn liên hệ không hợp lệ, hãy chọn lại ngày.")
        if len(assignee) > MAX_ASSIGNEE or len(note) > MAX_NOTE:
            raise web.HTTPBadRequest(
                text=f"Người phụ trách tối đa {MAX_ASSIGNEE} ký tự, ghi chú tối đa {MAX_NOTE} ký tự."
            )
        ref = forms.clean(request.match_info["ref"], 20)
        changed = await self.handler.call(self.store.update, session.staff, ref, status, assignee, follow_up, note)
        if not changed:
            raise web.HTTPNotFound(text="Không có đăng ký này, hoặc không thuộc xã của bạn.")
        return await self.lead(request, session, saved=True)

    async def bulk(self, request: web.Request, session: Session) -> web.Response:
        """Set the status and/or assignee of the leads ticked in the list; each change audited on its lead."""
        form = await forms.posted(request)
        refs = [forms.clean(r, 20) for r in form.getall("ref", [])][: PER_PAGE * 4]
        status, assignee = forms.clean(form.get("status"), 50), forms.clean(form.get("assignee"), 10_000).strip()
        if status and status not in STATUS_LABELS:
            raise web.HTTPBadRequest(text="Trạng thái không hợp lệ.")
        if len(assignee) > MAX_ASSIGNEE:
            raise web.HTTPBadRequest(text=f"Người phụ trách tối đa {MAX_ASSIGNEE} ký tự.")
        if not refs or not (status or assignee):
            raise web.HTTPBadRequest(text="Hãy chọn ít nhất một đăng ký và trạng thái hoặc người phụ trách mới.")
        changed = await self.handler.call(
            self.store.update_many, session.staff, refs, cast(LeadStatus, status) or None, assignee or None
        )
        # Back to the same list: the filters it was sent from, rebuilt as a query string (never a path).
        kept = [(k, v) for k, v in parse_qsl(forms.clean(form.get("back"), 1000)) if k not in ("done", "page")]
        raise web.HTTPFound("/staff/?" + urlencode([*kept, ("done", f"bulk{changed}")]))

    async def stats(self, request: web.Request, session: Session) -> web.Response:
        """The funnel and the leads per support line, drawn as SVG on the server."""
        funnel = await self.handler.call(self.store.funnel, session.staff)
        per_line = await self.handler.call(self.store.per_line, session.staff)
        handoffs = await self.handler.call(handoff_stats, self.app.repo.handoffs, session.staff)
        names = self.app.engine.kb.line_names
        return render(
            "stats.html",
            session=session,
            funnel=bars(funnel),
            per_line=bars([(names.get(code, "Nội dung khác"), n) for code, n in per_line]),
            slots=await self.lead_pages.slots(session.staff),
            handoffs=handoffs,
            announcements=await self.announce_pages.history(session.staff, limit=10),
        )

    async def knowledge(self, request: web.Request, session: Session) -> web.Response:
        """The knowledge check, and every entry still resting on a secondary or unverified source."""
        from bot.checks import dialog_problems
        from bot.knowledge import load_knowledge
        from bot.knowledge_errors import KnowledgeError

        kb = self.app.engine.kb
        profiles = await self._profile_warnings(session)
        try:
            problems = [str(p) for p in dialog_problems(load_knowledge(kb.root), self.app.engine.dialogs)]
        except KnowledgeError as exc:
            problems = [str(p) for p in exc.problems]
        weak = [
            ("Nội dung hỗ trợ", ln.name, ln.status, ln.citation) for ln in kb.support_lines.lines if ln.status != "P"
        ]
        weak += [("Hỏi đáp", e.question, e.status, e.citation) for e in kb.faq.entries if e.status != "P"]
        weak += [
            ("Quy tắc ưu tiên", _plain(t.text), t.status, t.citation)
            for t in kb.rules.priorities.values()
            if t.status != "P"
        ]
        local = await self.answers.local_entries(session.staff)
        done = DONE.get(forms.query(request).get("done", ""), "")
        return render(
            "knowledge.html", session=session, problems=problems, weak=weak, local=local, done=done, profiles=profiles
        )

    async def _profile_warnings(self, session: Session) -> list[str]:
        """Communes (of this account) whose profile lacks a phone or whose plan has expired."""
        from bot.profiles import profile_warnings
        from bot.storage.profiles import ProfileStore

        if self.app.profiles is not None:
            await self.handler.call(self.app.profiles.refresh)
        saved = await self.handler.call(ProfileStore(self.app.repo).codes)
        scope = session.staff.scope
        found = profile_warnings(self.app.engine.kb, vn_today(), saved)
        return [w.text for w in found if scope is None or w.ward_code in scope]

    async def export(self, request: web.Request, session: Session) -> web.StreamResponse:
        """The leads this account sees (with the list's filters) as CSV, XLSX or the summary."""
        fmt = request.match_info["fmt"]
        if fmt not in WRITERS:
            raise web.HTTPNotFound(text="Không có trang này.")
        query = self._query(request)
        if query.commune is not None and not session.staff.sees(query.commune):
            raise web.HTTPNotFound(text="Không có trang này.")
        name = download_name(fmt, self._export_commune(session, query), vn_today())
        # Exactly what the list shows, without pages, with each lead's follow-up.
        leads, followups = self.store.with_followups(self.store.iter_leads(session.staff, query))
        write = functools.partial(WRITERS[fmt], followups=followups)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8" if fmt == "csv" else XLSX_TYPE,
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            }
        )
        with tempfile.TemporaryDirectory(prefix="khuyencong-export-") as folder:  # no copy of the leads stays
            path = Path(folder) / name
            count = await self.handler.call(write, leads, path, self.app.engine.kb)
            scope = forms.query(request) | {"communes": "all" if session.staff.all_communes else session.staff.communes}
            await self.handler.call(self.app.repo.log_export, f"staff:{session.staff.name}", fmt, str(scope), count)
            response.content_length = path.stat().st_size
            await response.prepare(request)
            with path.open("rb") as fh:  # sent in pieces: a list of 100,000 leads is never held in memory
                while chunk := fh.read(EXPORT_CHUNK):
                    await response.write(chunk)
        await response.write_eof()
        return response

    def _export_commune(self, session: Session, query: LeadQuery) -> str | None:
        """The one commune an export covers (its filter, else the officer's only commune), for the file name."""
        codes = [query.commune] if query.commune is not None else list(query.communes or session.staff.scope or [])
        if len(set(codes)) != 1 or codes[0] is None:
            return None
        place = self.app.engine.assessor.gazetteer.place_by_code(codes[0])
        return place.name if place is not None else None


def _plain(template: str) -> str:
    """A rule's text with its blanks ('{sector}') shown as '…'."""
    return re.sub(r"\{\w+\}", "…", template)


def bulk_done(value: str) -> str:
    """What the list says after a change of several leads ('done=bulk3')."""
    count = forms.number(value.removeprefix("bulk")) if value.startswith("bulk") else None
    return "" if count is None else f"Đã cập nhật {count} đăng ký."


def bars(items: list[tuple[str, int]], width: int = 420) -> dict[str, Any]:
    """Horizontal bars for an SVG chart: label, count and bar length in pixels."""
    top = max((n for _, n in items), default=0) or 1
    rows = [
        {"label": label, "count": n, "width": round(width * n / top), "y": 8 + i * 34}
        for i, (label, n) in enumerate(items)
    ]
    return {"rows": rows, "height": 16 + 34 * len(items), "width": width}
