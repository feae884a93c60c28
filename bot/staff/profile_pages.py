"""Dashboard pages of the commune profiles: an officer edits her commune's, an admin any; audit and YAML export."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.knowledge import Knowledge, Locality, vn_today
from bot.places import Place
from bot.profiles import profile_warnings
from bot.staff import forms
from bot.staff.profile_form import (
    FORM_ROWS,
    FUNDING_LABELS,
    LINE_ROWS,
    Posted,
    ProfileForm,
    changes,
    shown,
    slug,
    to_yaml,
    values_of,
)
from bot.staff.store import Session
from bot.storage.profiles import ProfileStore

if TYPE_CHECKING:
    from bot.staff.dashboard import Dashboard

NOT_YOURS = "Không có xã này, hoặc xã này không thuộc tài khoản của bạn."
BACK_NOT_SURE = "Chưa trở về hồ sơ gốc: xin đánh dấu ô “Chắc chắn” bên cạnh nút rồi bấm lại."


class ProfilePages:
    """/staff/profiles: the list, one commune's form and history, and its YAML."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dash = dashboard
        self.app, self.handler = dashboard.app, dashboard.handler
        self.store = ProfileStore(self.app.repo)

    def routes(self) -> list[web.RouteDef]:
        """The routes, each behind the dashboard's sign-in (and CSRF on POST)."""
        guard = self.dash.signed_in
        return [
            web.get("/staff/profiles", guard(self.index)),
            web.get(r"/staff/profiles/{code:\d{1,9}}", guard(self.page)),
            web.post(r"/staff/profiles/{code:\d{1,9}}", guard(self.save)),
            web.get(r"/staff/profiles/{code:\d{1,9}}/yaml", guard(self.export)),
            web.post(r"/staff/profiles/{code:\d{1,9}}/bundled", guard(self.back_to_bundled)),
        ]

    async def _current(self) -> list[Locality]:
        """The merged profiles as the assistant sees them now (another process may have saved since)."""
        if self.app.profiles is not None:
            await self.handler.call(self.app.profiles.refresh)
        return self.app.engine.kb.localities

    def _place(self, request: web.Request, session: Session) -> Place:
        code = forms.number(request.match_info["code"])
        place = self.app.engine.assessor.gazetteer.place_by_code(code) if code is not None else None
        if place is None or not session.staff.sees(place.code):
            raise web.HTTPNotFound(text=NOT_YOURS)
        return place

    @staticmethod
    def _of(localities: list[Locality], code: int) -> Locality | None:
        return next((x for x in localities if not x.historical and x.level == "commune" and x.ward_code == code), None)

    async def index(self, request: web.Request, session: Session) -> web.StreamResponse:
        """The communes this account keeps, with what their profiles lack; an admin may open any by its code."""
        wanted = forms.number(forms.query(request).get("code", ""))
        if wanted is not None:
            raise web.HTTPFound(f"/staff/profiles/{wanted}")
        localities = await self._current()
        gazetteer = self.app.engine.assessor.gazetteer
        staff = session.staff
        codes = [x.ward_code for x in localities if x.level == "commune" and x.ward_code and not x.historical]
        shown_codes = sorted(set(codes)) if staff.all_communes else list(staff.communes)
        rows = []
        for code in shown_codes:
            place = gazetteer.place_by_code(code)
            if place is not None:
                rows.append({"code": code, "name": place.label, "has": self._of(localities, code) is not None})
        warnings = await self._warnings(staff.scope)
        return self.dash.render("profiles.html", session=session, rows=rows, warnings=warnings)

    async def _warnings(self, scope: list[int] | None) -> list[str]:
        saved = await self.handler.call(self.store.codes)
        kb = self.app.engine.kb
        found = profile_warnings(kb, vn_today(), saved)
        return [w.text for w in found if scope is None or w.ward_code in scope]

    async def page(self, request: web.Request, session: Session, **extra: Any) -> web.Response:
        """One commune's profile form and its history."""
        place = self._place(request, session)
        current = self._of(await self._current(), place.code)
        history = await self.handler.call(self.store.history, place.code)
        posted: Posted = extra.pop("posted", None) or Posted(values_of(current))
        kb = self.app.engine.kb
        response = self.dash.render(
            "profile.html",
            session=session,
            place=place,
            current=current,
            posted=posted,
            history=history,
            line_names=kb.line_names,
            documents={d.code: d.name for d in kb.documents.documents},
            funding_labels=FUNDING_LABELS,
            line_rows=range(min(LINE_ROWS, max(4, len(current.budget_lines) + 3 if current else 4))),
            form_rows=range(min(FORM_ROWS, max(3, len(current.forms) + 2 if current else 3))),
            facts=shown(kb, current),
            saved=place.code in await self.handler.call(self.store.codes),
            has_bundled=self.app.profiles is not None and self.app.profiles.bundled_of(place.code) is not None,
            **extra,
        )
        if posted.errors:
            response.set_status(400)
        return response

    async def save(self, request: web.Request, session: Session) -> web.Response:
        """Save the posted profile; any bad value refuses the whole form, politely, and nothing changes."""
        place = self._place(request, session)
        current = self._of(await self._current(), place.code)
        kb = self.app.engine.kb
        posted, new = ProfileForm(kb, place, current, vn_today()).read(await forms.posted(request))
        if new is None:
            return await self.page(request, session, posted=posted)
        diff = changes(kb, current, new)
        if not diff:
            return await self.page(request, session, posted=posted, message="Không có gì thay đổi.")
        await self.handler.call(self.store.save, new, session.staff.name, diff)
        return await self.page(request, session, message="Đã lưu. Trợ lý dùng hồ sơ mới từ tin nhắn tiếp theo.")

    async def back_to_bundled(self, request: web.Request, session: Session) -> web.Response:
        """Drop what was saved on the dashboard: the bundled plan (or none) applies again, audited old → new."""
        place = self._place(request, session)
        if forms.clean((await forms.posted(request)).get("sure"), 5) != "yes":
            refused = await self.page(request, session, error_top=BACK_NOT_SURE)
            refused.set_status(400)
            return refused
        kb = self.app.engine.kb
        current = self._of(await self._current(), place.code)
        bundled = self.app.profiles.bundled_of(place.code) if self.app.profiles is not None else None
        diff = changes(kb, current, bundled) if bundled else _emptied(kb, current)
        dropped = await self.handler.call(self.store.drop, place.code, session.staff.name, diff)
        said = "Đã trở về hồ sơ gốc đi kèm phần mềm." if dropped else "Hồ sơ đang là bản gốc, không có gì thay đổi."
        return await self.page(request, session, message=said)

    async def export(self, request: web.Request, session: Session) -> web.Response:
        """The profile as a YAML file for knowledge/localities/."""
        place = self._place(request, session)
        current = self._of(await self._current(), place.code)
        if current is None:
            raise web.HTTPNotFound(text="Xã này chưa có hồ sơ để xuất.")
        name = f"{slug(place.name)}.yaml"
        return web.Response(
            text=to_yaml(current, vn_today()),
            content_type="application/yaml",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )


def _emptied(kb: Knowledge, current: Locality | None) -> dict[str, list[str]]:
    """Each field of a profile that goes away entirely (the commune has no bundled plan): old → (trống)."""
    return {k: [v, "(trống)"] for k, v in shown(kb, current).items()}
