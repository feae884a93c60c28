"""A lead on one printed A4 page: facts, assessment with citations, follow-up, consent, recent history.

No navigation, buttons or forms: what the printer gets is the page itself (staff.css sets the A4 page).
Long free text is cut so that the page stays one sheet; the screen version of the lead keeps all of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.knowledge import vn_today
from bot.staff.store import Session

if TYPE_CHECKING:
    from bot.staff.dashboard import Dashboard

NOTE_CHARS = 450  # of each note on paper: two full notes (2,000 characters each) would not fit one sheet
HISTORY_ROWS = 5  # the newest changes; older ones are counted


def clip(text: str, most: int = NOTE_CHARS, mark: str = " … (còn tiếp, xem trên hệ thống)") -> str:
    """Text cut at a word near `most` characters, marked as cut."""
    text = " ".join((text or "").split())
    if len(text) <= most:
        return text
    return text[:most].rsplit(" ", 1)[0] + mark


class PrintPage:
    """/staff/leads/{ref}/print."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dash = dashboard

    def routes(self) -> list[web.RouteDef]:
        """The route, behind the dashboard's sign-in."""
        return [web.get("/staff/leads/{ref}/print", self.dash.signed_in(self.page))]

    async def page(self, request: web.Request, session: Session) -> web.Response:
        """The print layout of one lead this account may see."""
        facts: dict[str, Any] = await self.dash.lead_facts(request, session)
        history = facts["history"]
        return self.dash.render(
            "lead_print.html",
            printed_by=session.staff.name,
            today=vn_today().strftime("%d/%m/%Y"),
            clip=clip,
            recent=history[-HISTORY_ROWS:][::-1],
            older=max(0, len(history) - HISTORY_ROWS),
            **facts,
        )
