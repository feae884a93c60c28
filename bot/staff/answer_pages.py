"""Dashboard pages for unanswered questions: mark one answered, add the answer as the commune's own FAQ entry.

A reply to the person who asked belongs to the handoff library: `reply_url` is the hook it fills (a link shown
only when set).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.app import App, OrderedHandler
from bot.staff import forms
from bot.staff.local_faq import Draft, LocalFaqStore, Refused, entry_of
from bot.staff.store import Session, Staff

Route = Callable[[web.Request, Session], Awaitable[web.StreamResponse]]
Render = Callable[..., web.Response]
UNKNOWN_COMMUNE = "Chưa rõ xã"
NOT_YOURS = "Không có câu trả lời này, hoặc không thuộc xã của bạn."
DONE = {
    "answered": "Đã đánh dấu là đã trả lời.",
    "added": "Đã lưu vào hỏi đáp của xã. Trợ lý dùng ngay từ tin nhắn tiếp theo.",
    "updated": "Đã lưu thay đổi.",
    "removed": "Đã xóa câu trả lời của xã.",
}


class AnswerPages:
    """Routes of /staff/questions and /staff/local-faq; `guard` is the dashboard's signed-in check."""

    def __init__(self, app: App, handler: OrderedHandler, render: Render) -> None:
        self.app, self.handler, self.render = app, handler, render
        self.store = LocalFaqStore(app.repo)
        # Set by the handoff library when it can reply in the person's channel: question row id → its page.
        self.reply_url: Callable[[int], str | None] | None = None

    def routes(self, guard: Callable[[Route], Callable[[web.Request], Awaitable[web.StreamResponse]]]) -> list[Any]:
        """The routes, each behind the dashboard's sign-in (and CSRF for POST)."""
        return [
            web.get("/staff/questions", guard(self.questions)),
            web.post("/staff/questions/answered", guard(self.answered)),
            web.post("/staff/local-faq", guard(self.add)),
            web.get(r"/staff/local-faq/{id:\d{1,9}}", guard(self.edit_page)),
            web.post(r"/staff/local-faq/{id:\d{1,9}}", guard(self.edit)),
            web.post(r"/staff/local-faq/{id:\d{1,9}}/remove", guard(self.remove)),
        ]

    # --- helpers ----------------------------------------------------------------------------------

    def commune_name(self, code: int | None) -> str:
        """A commune as staff read it ('Xã Vĩnh Thủy, Quảng Trị'); unknown ones plainly so."""
        place = self.app.engine.assessor.gazetteer.place_by_code(code) if code else None
        return place.label if place is not None else UNKNOWN_COMMUNE

    async def local_entries(self, staff: Staff) -> list[dict[str, Any]]:
        """The local entries this account sees, with their commune's name, for the knowledge page."""
        rows = await self.handler.call(self.store.entries, staff)
        return [row | {"commune": self.commune_name(row["commune_code"])} for row in rows]

    @staticmethod
    def _allowed(staff: Staff, commune: int | None) -> bool:
        return commune is not None and commune > 0 and staff.sees(commune)

    # --- the questions page ---------------------------------------------------------------------------

    async def questions(
        self, request: web.Request, session: Session, error: str = "", status: int = 200
    ) -> web.Response:
        """What people of her communes asked that no answer fitted, most asked first, with what she can do."""
        repo, scope = self.app.repo, session.staff.scope
        open_ = await self.handler.call(repo.misses, scope)
        answered = await self.handler.call(repo.misses, scope, 50, True)
        for row in [*open_, *answered]:
            row["commune"] = self.commune_name(row["commune_code"])
            row["reply_url"] = self.reply_url(row["id"]) if self.reply_url else None
        done = DONE.get(forms.query(request).get("done", ""), "")
        response = self.render(
            "questions.html", session=session, misses=open_, answered=answered, error=error, done=done
        )
        response.set_status(status)
        return response

    async def answered(self, request: web.Request, session: Session) -> web.StreamResponse:
        """Mark a question of one of her communes answered (all its askings there)."""
        form = await forms.posted(request)
        key, commune = forms.clean(form.get("key"), 300), forms.number(forms.clean(form.get("commune"), 20))
        no_commune = commune is None and session.staff.all_communes  # asked before any commune was known
        if not key or not (no_commune or self._allowed(session.staff, commune)):
            return await self.questions(request, session, NOT_YOURS, 404)
        await self.handler.call(self.app.repo.mark_answered, key, commune, session.staff.name)
        raise web.HTTPSeeOther("/staff/questions?done=answered")

    async def add(self, request: web.Request, session: Session) -> web.StreamResponse:
        """Add the answer as a local FAQ entry of one of her communes; the question is answered with it."""
        form = await forms.posted(request)
        commune = forms.number(forms.clean(form.get("commune"), 20))
        if not self._allowed(session.staff, commune) or self.commune_name(commune) == UNKNOWN_COMMUNE:
            return await self.questions(request, session, NOT_YOURS, 404)
        try:
            entry = entry_of(_draft(form), commune or 0, session.staff.name)
        except Refused as exc:
            return await self.questions(request, session, str(exc), 400)
        key = forms.clean(form.get("key"), 300) or None
        await self.handler.call(self.store.add, session.staff, entry, key)
        raise web.HTTPSeeOther("/staff/questions?done=added")

    async def edit_page(
        self, request: web.Request, session: Session, error: str = "", status: int = 200
    ) -> web.Response:
        """One local entry in a form, with its history."""
        entry_id = int(request.match_info["id"])
        entry = await self.handler.call(self.store.entry, session.staff, entry_id)
        if entry is None:
            raise web.HTTPNotFound(text=NOT_YOURS)
        history = await self.handler.call(self.store.history, entry_id)
        response = self.render(
            "local_faq.html",
            session=session,
            entry=entry,
            commune=self.commune_name(entry["commune_code"]),
            history=history,
            error=error,
        )
        response.set_status(status)
        return response

    async def edit(self, request: web.Request, session: Session) -> web.StreamResponse:
        """Change a local entry of her communes; refused input changes nothing."""
        entry_id = int(request.match_info["id"])
        old = await self.handler.call(self.store.entry, session.staff, entry_id)
        if old is None:
            raise web.HTTPNotFound(text=NOT_YOURS)
        try:
            entry = entry_of(_draft(await forms.posted(request)), old["commune_code"], session.staff.name)
        except Refused as exc:
            return await self.edit_page(request, session, str(exc), 400)
        await self.handler.call(self.store.update, session.staff, entry_id, entry)
        raise web.HTTPSeeOther("/staff/knowledge?done=updated#local")

    async def remove(self, request: web.Request, session: Session) -> web.StreamResponse:
        """Delete a local entry of her communes (audited)."""
        if not await self.handler.call(self.store.remove, session.staff, int(request.match_info["id"])):
            raise web.HTTPNotFound(text=NOT_YOURS)
        raise web.HTTPSeeOther("/staff/knowledge?done=removed#local")


def _draft(form: Any) -> Draft:
    """The entry's three fields as posted, cut to storable sizes (the schema says what is too long)."""
    return Draft(
        forms.clean(form.get("question"), 1000),
        forms.clean(form.get("variants"), 10_000),
        forms.clean(form.get("answer"), 5000),
    )
