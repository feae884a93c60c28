"""Dashboard pages of the registration forms: a lead's filled Mẫu 01a/01b, and the layouts a province replaces."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.dialog.office import reach
from bot.slow_clients import roomy
from bot.staff import forms
from bot.staff.docx_forms import DOCX_TYPE, MAX_BYTES, TemplateRefused, check, reference, render
from bot.staff.form_fields import FIELDS, FORMS, ROW_FIELDS, fields_of
from bot.staff.store import Session, Staff
from bot.storage import Lead
from bot.storage.form_templates import FormTemplateStore, SavedTemplate, Target

if TYPE_CHECKING:
    from bot.staff.dashboard import Dashboard

NOT_YOURS = "Không có đăng ký này, hoặc không thuộc xã của bạn."
NOT_ALLOWED = "Bạn chỉ thay được mẫu của xã mình phụ trách; mẫu chung của tỉnh do tài khoản cấp tỉnh thay."
TOO_BIG = "Tệp mẫu quá lớn (tối đa 2 MB). Hãy bớt hình ảnh trong mẫu rồi tải lên lại."
NO_FILE = "Hãy chọn tệp mẫu (.docx) để tải lên."
NOT_FILLED = "Không điền được mẫu của tỉnh/xã cho đăng ký này. Hãy kiểm tra mẫu ở trang “Mẫu đăng ký”."
FORM_ROUTE = r"{form:01[ab]}"
log = logging.getLogger("khuyencong.staff")


@dataclass(frozen=True)
class Choice:
    """A province or commune whose layouts this account may replace, as the page names it."""

    target: Target
    label: str


class FormPages:
    """/staff/leads/{ref}/forms/{form} and /staff/forms (layouts: list, upload, reset, download)."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dash = dashboard
        self.app, self.handler = dashboard.app, dashboard.handler
        self.store = FormTemplateStore(self.app.repo)

    def routes(self) -> list[web.RouteDef]:
        """The routes, each behind the dashboard's sign-in (and CSRF on POST)."""
        guard = self.dash.signed_in
        # The server takes small bodies (chat messages); a layout may be up to 2 MB, with the form's fields around it.
        upload = roomy(guard(self.upload), MAX_BYTES + 64 * 1024, TOO_BIG)
        return [
            web.get(f"/staff/leads/{{ref}}/forms/{FORM_ROUTE}", guard(self.filled)),
            web.get("/staff/forms", guard(self.page)),
            web.post("/staff/forms", upload),
            web.post("/staff/forms/reset", guard(self.reset)),
            web.get(f"/staff/forms/{FORM_ROUTE}/layout", guard(self.layout)),
        ]

    # --- a lead's filled form ----------------------------------------------------------------------

    async def filled(self, request: web.Request, session: Session) -> web.Response:
        """The lead's Mẫu 01a or 01b filled from what the chat collected; recorded like an export."""
        form = request.match_info["form"]
        ref = forms.clean(request.match_info["ref"], 20)
        lead = await self.handler.call(self.dash.store.lead, session.staff, ref)
        if lead is None:
            raise web.HTTPNotFound(text=NOT_YOURS)
        if self.app.profiles is not None:
            await self.handler.call(self.app.profiles.refresh)  # the office as saved now
        saved = await self.handler.call(self.store.for_lead, form, lead.commune_code, self._province(lead))
        context = self._fields(lead)
        try:
            body = await asyncio.to_thread(render, saved.body if saved else reference(form), context)
        except Exception:  # a stored layout that passed its checks but fails on this lead's values
            log.exception("form %s of lead %s could not be filled", form, lead.ref)
            raise web.HTTPInternalServerError(text=NOT_FILLED) from None
        actor = f"staff:{session.staff.name}"
        await self.handler.call(self.app.repo.log_export, actor, f"form_{form}", str({"ref": lead.ref}), 1)
        name = f"mau-{form}-{lead.ref}.docx"
        return web.Response(
            body=body,
            content_type=DOCX_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )

    def _province(self, lead: Lead) -> int | None:
        place = self.app.engine.assessor.gazetteer.place_by_code(lead.commune_code) if lead.commune_code else None
        return place.province.code if place else None

    def _fields(self, lead: Lead) -> dict[str, Any]:
        where = {"code": lead.commune_code, "commune": lead.commune, "province": lead.province}
        found = reach(self.app.engine.ctx, where)
        return fields_of(lead, self.app.engine.kb, found.office if found.own else None)

    # --- layouts -------------------------------------------------------------------------------------

    def choices(self, staff: Staff) -> list[Choice]:
        """The provinces (a provincial account) and communes whose layouts this account may replace."""
        gazetteer = self.app.engine.assessor.gazetteer
        found: list[Choice] = []
        if staff.all_communes:
            provinces = {p.province.code: p.province.name for p in gazetteer.all_places()}
            found += [Choice(Target("province", c), f"Tỉnh/thành phố {n}") for c, n in sorted(provinces.items())]
            codes = sorted({x.ward_code for x in self.app.engine.kb.localities if x.ward_code and not x.historical})
        else:
            codes = list(staff.communes)
        for code in codes:
            place = gazetteer.place_by_code(code)
            if place is not None:
                found.append(Choice(Target("commune", code), place.label))
        return found

    def _target(self, staff: Staff, key: str) -> Choice:
        choice = next((c for c in self.choices(staff) if c.target.key == key), None)
        if choice is None:
            raise web.HTTPForbidden(text=NOT_ALLOWED)
        return choice

    async def page(self, request: web.Request, session: Session, error: str = "", message: str = "") -> web.Response:
        """Which layout each form uses for this account's places, the upload form, the fields, the history."""
        choices = self.choices(session.staff)
        targets = [c.target for c in choices]
        labels = {c.target: c.label for c in choices}
        saved = await self.handler.call(self.store.saved, targets)
        history = await self.handler.call(self.store.history, targets)
        response = self.dash.render(
            "form_templates.html",
            session=session,
            choices=choices,
            saved=saved,
            history=history,
            place_labels=labels,
            form_names=FORMS,
            fields=FIELDS,
            row_fields=ROW_FIELDS,
            error=error,
            message=message,
            limit_mb=MAX_BYTES // (1024 * 1024),
        )
        if error:
            response.set_status(400)
        return response

    async def upload(self, request: web.Request, session: Session) -> web.Response:
        """Check an uploaded layout; a bad one is refused with what to fix, and nothing changes."""
        posted = await forms.posted(request)
        form = forms.clean(posted.get("form"), 10)
        if form not in FORMS:
            return await self.page(request, session, error="Hãy chọn mẫu cần thay (Mẫu 01a hoặc 01b).")
        choice = self._target(session.staff, forms.clean(posted.get("target"), 40))
        upload = posted.get("file")
        if not isinstance(upload, web.FileField):
            return await self.page(request, session, error=NO_FILE)
        body = upload.file.read(MAX_BYTES + 1)
        try:
            checked = await asyncio.to_thread(check, body)
        except TemplateRefused as refused:
            return await self.page(request, session, error=str(refused))
        file_name = forms.clean(upload.filename, 200) or f"mau-{form}.docx"
        await self.handler.call(self.store.save, form, choice.target, checked.body, file_name, session.staff.name)
        said = f"Đã lưu {FORMS[form]} cho {choice.label}. Từ nay mẫu điền sẵn dùng bố cục này."
        return await self.page(request, session, message=said)

    async def reset(self, request: web.Request, session: Session) -> web.Response:
        """Back to the reference layout for one form and place."""
        posted = await forms.posted(request)
        form = forms.clean(posted.get("form"), 10)
        if form not in FORMS:
            return await self.page(request, session, error="Hãy chọn mẫu cần đặt lại.")
        choice = self._target(session.staff, forms.clean(posted.get("target"), 40))
        done = await self.handler.call(self.store.reset, form, choice.target, session.staff.name)
        said = f"{FORMS[form]} của {choice.label} " + ("đã về mẫu tham khảo." if done else "đang là mẫu tham khảo.")
        return await self.page(request, session, message=said)

    async def layout(self, request: web.Request, session: Session) -> web.Response:
        """The layout in force for a place (its own, else the reference one), to edit in Word and upload again."""
        form = request.match_info["form"]
        key = forms.query(request).get("target", "")
        saved: SavedTemplate | None = None
        if key:
            saved = await self.handler.call(self.store.get, form, self._target(session.staff, key).target)
        name = f"mau-{form}-{'rieng' if saved else 'tham-khao'}.docx"
        return web.Response(
            body=saved.body if saved else reference(form),
            content_type=DOCX_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )
