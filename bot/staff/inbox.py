"""The "Hỏi cán bộ" inbox at /staff/handoffs: the commune's handoffs, a transcript, a reply box, handing back."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from bot.app import App, OrderedHandler
from bot.staff import forms
from bot.staff.dashboard import Dashboard, render
from bot.staff.handoffs import MAX_NAME, MAX_REPLY, Handoffs, ReplyRefused
from bot.staff.store import Session

NOT_FOUND = "Không có yêu cầu này, hoặc không thuộc xã của bạn."
ROLES = {"person": "Bà con", "bot": "Trợ lý", "staff": "Cán bộ", "notice": "Thông báo"}


class InboxPages:
    """Routes of the inbox; `replied` wakes the web widgets waiting for a staff reply."""

    def __init__(self, app: App, handler: OrderedHandler, dashboard: Dashboard, replied: Callable[[], None]) -> None:
        self.handler, self.dashboard, self.replied = handler, dashboard, replied
        self.handoffs = Handoffs(app.repo, app.engine.texts.handoff, app.settings)

    def routes(self) -> list[web.RouteDef]:
        """The routes; mounted before the dashboard's catch-all."""
        guard = self.dashboard.signed_in
        return [
            web.get("/staff/handoffs", guard(self.inbox)),
            web.get(r"/staff/handoffs/{id:\d{1,9}}", guard(self.one)),
            web.post(r"/staff/handoffs/{id:\d{1,9}}/reply", guard(self.reply)),
            web.post(r"/staff/handoffs/{id:\d{1,9}}/back", guard(self.back)),
        ]

    async def inbox(self, request: web.Request, session: Session) -> web.Response:
        """Waiting first, then those staff hold, then those given back."""
        commune = forms.number(forms.query(request).get("commune", ""))
        items = await self.handler.call(self.handoffs.listed, session.staff, commune)
        return render("handoffs.html", session=session, items=items)

    async def one(self, request: web.Request, session: Session, note: str = "", error: str = "") -> web.Response:
        """One handoff: who, why, Zalo's window, the transcript, the reply box and the hand-back button."""
        found = await self.handler.call(self.handoffs.one, session.staff, int(request.match_info["id"]))
        if found is None:
            raise web.HTTPNotFound(text=NOT_FOUND)
        item, lines = found
        response = render(
            "handoff.html",
            session=session,
            item=item,
            lines=lines,
            roles=ROLES,
            note=note,
            error=error,
            max_reply=MAX_REPLY,
            max_name=MAX_NAME,
        )
        if error:
            response.set_status(400 if item.window is None or not item.window.closed else 409)
        return response

    async def reply(self, request: web.Request, session: Session) -> web.Response:
        """Send a reply in the person's channel, or say plainly why it cannot go."""
        form = await forms.posted(request)
        text, name = forms.clean(form.get("text"), 10_000), forms.clean(form.get("name"), 200)
        handoff_id = int(request.match_info["id"])
        try:
            await self.handler.call(self.handoffs.reply, session.staff, handoff_id, text, name)
        except ReplyRefused as refused:
            return await self.one(request, session, error=str(refused).split(": ", 1)[-1])
        self.replied()
        return await self.one(request, session, note="Đã gửi câu trả lời cho bà con.")

    async def back(self, request: web.Request, session: Session) -> web.Response:
        """Give the chat back to the assistant (the person is told)."""
        done = await self.handler.call(self.handoffs.hand_back, session.staff, int(request.match_info["id"]))
        if done:
            self.replied()
        return await self.one(request, session, note="Đã trả lại cho trợ lý." if done else "")
