"""/staff/announcements: compose an announcement, preview it with its counts and who to call, send; statistics."""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.announce.delivery import compose
from bot.announce.limits import Rules
from bot.announce.queue import Announcer, Plan, Request
from bot.announce.reminders import Reminders
from bot.staff import forms
from bot.staff.announce_form import Draft, blank, read_form
from bot.staff.exports import STATUS_LABELS
from bot.staff.labels import money
from bot.staff.store import Session, Staff
from bot.storage.announce_notes import AnnounceNotes, Contact
from bot.storage.announcements import Announcement

if TYPE_CHECKING:
    from bot.staff.dashboard import Dashboard

log = logging.getLogger("khuyencong.announce")
GROUPS = {
    ("zalo", "free"): "Zalo – nhắn miễn phí (bà con nhắn trợ lý trong 48 giờ qua)",
    ("zalo", "charged"): "Zalo – tính phí (nhắn trợ lý từ 48 giờ đến 7 ngày trước)",
    ("zalo", "closed"): "Zalo – không nhắn được (quá 7 ngày chưa nhắn trợ lý)",
    ("telegram", "send"): "Telegram",
    ("web", "send"): "Trò chuyện trên trang web (hiện khi bà con mở lại)",
}
ZBS_GROUP = "Zalo – tin mẫu trả phí (ZBS): ngoài 48 giờ, có số điện thoại đã đăng ký"
REASONS = {
    "zalo_charged": "Zalo tính phí nên không gửi; nên gọi điện",
    "zalo_closed": "Zalo quá 7 ngày không nhắn được; nên gọi điện",
    "zalo_window": "Zalo báo đã quá hạn nhắn; nên gọi điện",
    "weekly_limit": "đã nhận đủ số tin trong tuần",
    "no_channel": "kênh này không nhắn được",
    "blocked": "đã chặn trợ lý (đã tự hủy nhận tin)",
    "interrupted": "gián đoạn khi đang gửi (không gửi lại để tránh trùng)",
    "unsubscribed": "đã hủy nhận tin trước khi gửi",
    "erased": "đã xóa dữ liệu",
    "refused": "nền tảng từ chối",
    "platform": "lỗi của nền tảng",
    "rate_limited": "nền tảng báo gửi quá nhanh",
    "error": "lỗi khi gửi",
    "zbs_no_phone": "Zalo ngoài 48 giờ và không có số điện thoại đăng ký nên không gửi được tin mẫu trả phí",
    "zbs_phone": "số điện thoại không nhận được tin mẫu của Zalo; nên gọi điện",
    "zbs_refused": "Zalo từ chối tin mẫu trả phí; báo cán bộ kỹ thuật kiểm tra mẫu tin và tài khoản Zalo OA",
    "zbs_off": "tin mẫu trả phí đã tắt trước khi gửi; nên gọi điện",
}
TO_CALL = ("zalo_charged", "zalo_closed", "zalo_window", "zbs_no_phone", "zbs_phone", "zbs_refused", "zbs_off")
ONCE = re.compile(r"[A-Za-z0-9_-]{20,60}")  # a preview's one-time send token


def audience_label(audience: dict[str, Any], kb_lines: dict[str, str], kb_sectors: dict[str, str]) -> str:
    """An audience filter as an officer reads it."""
    parts = []
    if audience.get("sector"):
        parts.append("ngành " + ", ".join(kb_sectors.get(s, "khác") for s in audience["sector"]))
    if audience.get("line"):
        parts.append("muốn " + ", ".join(kb_lines.get(x, "nội dung khác") for x in audience["line"]))
    if "registered" in audience:
        parts.append("đã đăng ký" if audience["registered"] else "chưa đăng ký")
    if audience.get("status"):
        parts.append("trạng thái " + ", ".join(STATUS_LABELS.get(s, "khác") for s in audience["status"]))
    return "; ".join(parts) or "mọi người nhận tin"


class AnnouncePages:
    """The compose page (GET), its preview and its send (POST), and the statistics of past announcements."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dash = dashboard
        self.app, self.handler = dashboard.app, dashboard.handler
        self.notes = AnnounceNotes(self.app.repo)
        self.announcer = Announcer(self.app.repo, Rules.of(self.app.settings))
        # A registration moved to a status that concerns its person: told once, through the queue.
        dashboard.store.on_status = Reminders.of(self.app).status_changed

    def routes(self) -> list[web.RouteDef]:
        """The routes, each behind the dashboard's sign-in (and CSRF on POST)."""
        guard = self.dash.signed_in
        return [
            web.get("/staff/announcements", guard(self.page)),
            web.post("/staff/announcements", guard(self.post)),
        ]

    # --- choices ----------------------------------------------------------------------------------

    async def choices(self, staff: Staff) -> dict[int, str]:
        """The communes this account may announce to: an officer's own; for an admin, every commune with subscribers."""
        if staff.all_communes:
            return {code: self._label(code) for code in await self.handler.call(self.notes.subscribed_communes)}
        return {code: self._label(code) for code in staff.communes}

    def _label(self, code: int) -> str:
        from bot.answers import place_slot
        from bot.dialog.news import News

        place = self.app.engine.assessor.gazetteer.place_by_code(code)
        return News.label(place_slot(place)) if place else f"xã mã số {code}"

    # --- handlers ---------------------------------------------------------------------------------

    async def page(self, request: web.Request, session: Session) -> web.Response:
        """The empty form, and what became of the account's recent announcements."""
        choices = await self.choices(session.staff)
        values = blank(list(choices)[:1] if len(choices) == 1 else [])
        sent = forms.number(forms.query(request).get("sent", ""))
        return await self._render(session, choices, Draft(values), sent=sent)

    async def post(self, request: web.Request, session: Session) -> web.StreamResponse:
        """Preview (the default) or send: bad input shows the form again with why, and nothing is queued."""
        form = await forms.posted(request)
        choices = await self.choices(session.staff)
        at = dt.datetime.now(dt.UTC)
        draft = read_form(form, choices, self.app.engine.kb, session.staff.name, at)
        if draft.errors or draft.request is None:
            page = await self._render(session, choices, draft)
            page.set_status(400)
            return page
        req = draft.request
        if forms.clean(form.get("action"), 20) != "send":
            plan = await self.handler.call(self.announcer.plan, req, draft.when or at)
            return await self._render(session, choices, draft, preview=await self._preview(session, req, plan))
        once = forms.clean(form.get("once"), 60)
        if not ONCE.fullmatch(once):  # the send button is on the preview only: a form from elsewhere
            draft.errors.append("Hãy bấm “Xem trước” để xem số người nhận, rồi mới gửi.")
            page = await self._render(session, choices, draft)
            page.set_status(400)
            return page
        ident = await self._queue(once, req, draft, session, at)
        raise web.HTTPFound(f"/staff/announcements?sent={ident}#a{ident}" if ident else "/staff/announcements")

    async def _queue(self, once: str, req: Request, draft: Draft, session: Session, at: dt.datetime) -> int:
        """Queue once per preview (a double click or a resent form finds the first); the announcement's id."""
        made = await self.handler.call(self.notes.claim, once, draft.urgent_reason, session.staff.name)
        if made is not None:
            return made
        try:
            ident, _ = await self.handler.call(self.announcer.queue, req, draft.when or at)
        except BaseException:
            await self.handler.call(self.notes.release, once)
            raise
        await self.handler.call(self.notes.settle, once, ident)
        if req.urgent:
            log.warning(
                "announcement %s may go at night: urgent, by %s, because %r",
                ident,
                session.staff.name,
                draft.urgent_reason,
            )
        return ident

    # --- what the page shows ----------------------------------------------------------------------

    async def _render(
        self, session: Session, choices: dict[int, str], draft: Draft, sent: int | None = None, preview: Any = None
    ) -> web.Response:
        kb = self.app.engine.kb
        rules = self.announcer.rules
        return self.dash.render(
            "announcements.html",
            session=session,
            choices=choices,
            values=draft.values,
            errors=draft.errors,
            preview=preview,
            sent=sent,
            history=await self.history(session.staff),
            sectors=kb.sector_names,
            lines=kb.line_names,
            night=(rules.night_start, rules.night_end),
            per_week=rules.per_week,
            zbs_on=rules.zalo_zbs,
        )

    async def _preview(self, session: Session, req: Request, plan: Plan) -> dict[str, Any]:
        """The message as people get it, the counts per channel and group, what is skipped and why, who to call."""
        first = next(iter(req.communes.values()))
        shown = Announcement(
            0, list(req.communes), req.text, req.link, req.deadline.isoformat() if req.deadline else "", {}, req.urgent,
            plan.charged, req.created_by, "", "", {},
        )  # fmt: skip
        message = compose(self.app.engine.texts.news, shown, first, button=True)
        data = plan.as_json()
        groups = [(GROUPS.get(key, "Kênh khác"), n) for key, n in sorted(plan.split.groups.items())]
        zbs = plan.split.zbs
        if zbs is not None:  # the fourth Zalo group, only when the paid template is configured
            groups.append((ZBS_GROUP, zbs.people))
        skipped = [(REASONS.get(reason, "lý do khác"), n) for reason, n in data["skipped"].items()]
        keys = [(r.key.channel, r.key.user, r.reason) for r in plan.split.rows if r.reason in TO_CALL]
        return {
            "text": message.text,
            "buttons": [b.label for b in message.buttons],
            "groups": groups,
            "skipped": skipped,
            "to_send": plan.split.to_send,
            "night": plan.night,
            "not_before": plan.not_before.isoformat(timespec="seconds"),
            "to_call": await self._to_call(session.staff, keys),
            "zbs": None if zbs is None else {**zbs.as_json(), "cost": money(zbs.to_send * zbs.price_vnd)},
            "once": secrets.token_urlsafe(24),  # the send button's one-time token
        }

    async def _to_call(self, staff: Staff, keys: Iterable[tuple[str, str, str]]) -> list[dict[str, str]]:
        """Who to phone instead: name and phone from their registration in this account's communes only."""
        wanted = list(keys)
        found: dict[tuple[str, str], Contact] = await self.handler.call(
            self.notes.contacts, [(c, u) for c, u, _ in wanted]
        )
        people = []
        for channel, user, reason in wanted:
            contact = found.get((channel, user))
            mine = contact is not None and contact.commune_code is not None and staff.sees(contact.commune_code)
            unknown = (
                "Đăng ký ở xã khác (không hiện số điện thoại)" if contact else "Chưa đăng ký (không có số điện thoại)"
            )
            people.append(
                {
                    "name": contact.name if contact and mine else unknown,
                    "phone": contact.phone if contact and mine else "",
                    "facility": contact.facility if contact and mine else "",
                    "reason": REASONS.get(reason, "lý do khác"),
                }
            )
        return people

    async def history(self, staff: Staff, limit: int = 20) -> list[dict[str, Any]]:
        """The account's recent announcements with their statistics, newest first."""
        kb = self.app.engine.kb
        found = []
        for ident in await self.handler.call(self.notes.recent, staff.scope, limit):
            report = await self.handler.call(self.announcer.report, ident)
            announcement = await self.handler.call(self.app.repo.announcements.get, ident)
            if report is None or announcement is None:
                continue
            labels: dict[str, str] = announcement.planned.get("labels", {})
            calls = [
                (r["channel"], r["user"], r["reason"]) for r in await self.handler.call(self.announcer.to_call, ident)
            ]
            found.append(
                {
                    "id": ident,
                    "created_at": announcement.created_at,
                    "not_before": announcement.not_before,
                    "by": announcement.created_by,
                    "communes": [labels.get(str(c), self._label(c)) for c in announcement.communes],
                    "audience": audience_label(announcement.audience, kb.line_names, kb.sector_names),
                    "text": announcement.text,
                    "urgent_reason": await self.handler.call(self.notes.urgent_reason, ident),
                    "recipients": report["recipients"],
                    "sent": report["sent"],
                    "zbs_sent": report.get("zbs_sent", 0),
                    "waiting": report["waiting"],
                    "failed": [(REASONS.get(r, "lý do khác"), n) for r, n in report["failed"].items()],
                    "skipped": [(REASONS.get(r, "lý do khác"), n) for r, n in report["skipped"].items()],
                    "unsubscribed": report["unsubscribed_after"],
                    "to_call": await self._to_call(staff, calls),
                }
            )
        return found
