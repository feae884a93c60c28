"""The "Hỏi cán bộ" inbox at /staff/handoffs: the commune's handoffs, a transcript, a reply box, handing back."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from bot.answers import place_slot
from bot.app import App, OrderedHandler
from bot.dialog.handoff import commune_label
from bot.staff import forms
from bot.staff.dashboard import Dashboard, render
from bot.staff.handoffs import CHANNELS, MAX_NAME, MAX_REPLY, Handoffs, ReplyRefused
from bot.staff.store import Session

NOT_FOUND = "Không có yêu cầu này, hoặc không thuộc xã của bạn."
NOT_YOURS = "Không có câu hỏi này, hoặc không thuộc xã của bạn."
ROLES = {"person": "Bà con", "bot": "Trợ lý", "staff": "Cán bộ", "notice": "Thông báo"}


class InboxPages:
    """Routes of the inbox; `replied` wakes the web widgets waiting for a staff reply."""

    def __init__(self, app: App, handler: OrderedHandler, dashboard: Dashboard, replied: Callable[[], None]) -> None:
        self.app, self.handler, self.dashboard, self.replied = app, handler, dashboard, replied
        self.handoffs = Handoffs(app.repo, app.engine.texts.handoff, app.settings)
        dashboard.answers.reply_url = lambda question_id: f"/staff/questions/{question_id}/reply"

    def routes(self) -> list[web.RouteDef]:
        """The routes; mounted before the dashboard's catch-all."""
        guard = self.dashboard.signed_in
        return [
            web.get("/staff/handoffs", guard(self.inbox)),
            web.get(r"/staff/handoffs/{id:\d{1,9}}", guard(self.one)),
            web.post(r"/staff/handoffs/{id:\d{1,9}}/reply", guard(self.reply)),
            web.post(r"/staff/handoffs/{id:\d{1,9}}/back", guard(self.back)),
            web.get(r"/staff/questions/{id:\d{1,9}}/reply", guard(self.asker)),
            web.post(r"/staff/questions/{id:\d{1,9}}/reply", guard(self.answer_asker)),
        ]

    async def inbox(self, request: web.Request, session: Session) -> web.Response:
        """Waiting first, then those staff hold, then those given back."""
        commune = forms.number(forms.query(request).get("commune", ""))
        items = await self.handler.call(self.handoffs.listed, session.staff, commune)
        return render("handoffs.html", session=session, items=items)

    async def one(self, request: web.Request, session: Session, note: str = "", error: str = "") -> web.Response:
        """One handoff: who, why, Zalo's window, the transcript, the reply box and the hand-back button."""
        note = note or DONE.get(forms.query(request).get("done", ""), "")
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
        raise _done(handoff_id, "sent")  # a reload of the page must not send the reply again

    async def back(self, request: web.Request, session: Session) -> web.Response:
        """Give the chat back to the assistant (the person is told)."""
        handoff_id = int(request.match_info["id"])
        done = await self.handler.call(self.handoffs.hand_back, session.staff, handoff_id)
        if done:
            self.replied()
        raise _done(handoff_id, "back" if done else "")

    async def asker(self, request: web.Request, session: Session, error: str = "", status: int = 200) -> web.Response:
        """A reply to the person who asked a question the assistant could not answer, where the window allows."""
        asker = await self.handler.call(self.handoffs.asker, session.staff, int(request.match_info["id"]))
        if asker is None:
            raise web.HTTPNotFound(text=NOT_YOURS)
        response = render(
            "question_reply.html",
            session=session,
            asker=asker,
            channel=CHANNELS.get(asker.key.channel, "") if asker.key else "",
            error=error,
            max_reply=MAX_REPLY,
            max_name=MAX_NAME,
        )
        response.set_status(status)
        return response

    async def answer_asker(self, request: web.Request, session: Session) -> web.StreamResponse:
        """Send the reply in the asker's chat (held by staff from now on), or say plainly why it cannot go."""
        form = await forms.posted(request)
        text, name = forms.clean(form.get("text"), 10_000), forms.clean(form.get("name"), 200)
        question_id = int(request.match_info["id"])
        found = await self.handler.call(self.handoffs.asker, session.staff, question_id)
        if found is None:
            raise web.HTTPNotFound(text=NOT_YOURS)
        try:
            handoff = await self.handler.call(
                self.handoffs.answer_asker, session.staff, question_id, text, name, self._commune(found.commune_code)
            )
        except ReplyRefused as refused:
            status = 409 if found.refused or found.key is None else 400
            return await self.asker(request, session, str(refused).split(": ", 1)[-1], status)
        self.replied()
        raise web.HTTPSeeOther(f"/staff/handoffs/{handoff.id}")

    def _commune(self, code: int | None) -> str:
        """The commune as a reply is signed: 'xã Vĩnh Thủy'."""
        place = self.app.engine.assessor.gazetteer.place_by_code(code) if code else None
        return commune_label(place_slot(place)) if place is not None else ""


DONE = {"sent": "Đã gửi câu trả lời cho bà con.", "back": "Đã trả lại cho trợ lý."}


def _done(handoff_id: int, done: str) -> web.HTTPSeeOther:
    """Back to the handoff's page after a change (Post/Redirect/Get), with what was done said there."""
    return web.HTTPSeeOther(f"/staff/handoffs/{handoff_id}" + (f"?done={done}" if done else ""))
