"""Dashboard pages to correct a lead's contact and to add a registration taken at the office or on the phone."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.answers import place_slot
from bot.dialog.result import profile_of, summary_of
from bot.messages import ConversationKey
from bot.places import Place
from bot.slots import CommuneSlots, communes_slots
from bot.staff import forms
from bot.staff.lead_checks import Reading, read_contact, read_walk_in
from bot.staff.lead_edits import OFFICE, Contact, add_at_office, correct
from bot.staff.store import Session, Staff
from bot.storage import Consent, Conversation, Lead

if TYPE_CHECKING:
    from bot.staff.dashboard import Dashboard

NOT_YOURS = "Không có đăng ký này, hoặc không thuộc xã của bạn."
OUTSIDE = "Xã/phường: xã này không thuộc các xã bạn phụ trách."
NO_CONSENT = "Cần đánh dấu “Người đăng ký đã đồng ý sau khi nghe đọc” sau khi đọc nội dung cho người đăng ký."
READ_AGAIN = "Xã của cơ sở khác với xã trong nội dung đã đọc: xin đọc lại nội dung bên dưới rồi đánh dấu lại."
FIELD_LIMIT = 600  # characters read of a field: every answer the chat keeps is shorter
ADD_FIELDS = (
    "legal_form",
    "activity",
    "sector",
    "workers",
    "revenue",
    "place",
    "difficult_area",
    "craft_village",
    "contact_name",
    "phone",
    "facility_name",
    "note",
)


class LeadPages:
    """/staff/leads/{ref}/edit and /staff/add."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dash = dashboard
        self.app, self.handler = dashboard.app, dashboard.handler

    def routes(self) -> list[web.RouteDef]:
        """The routes, each behind the dashboard's sign-in (and CSRF on POST)."""
        guard = self.dash.signed_in
        return [
            web.get("/staff/leads/{ref}/edit", guard(self.edit_page)),
            web.post("/staff/leads/{ref}/edit", guard(self.edit)),
            web.get("/staff/add", guard(self.add_page)),
            web.post("/staff/add", guard(self.add)),
        ]

    async def _refresh(self) -> None:
        """The commune profiles as saved now (another process may have saved since): plans and offices."""
        if self.app.profiles is not None:
            await self.handler.call(self.app.profiles.refresh)

    async def slots(self, staff: Staff) -> list[CommuneSlots]:
        """The plan lines of the officer's communes with their registrations, approvals and what remains."""
        await self._refresh()
        demand = await self.handler.call(self.app.repo.line_demand, staff.scope)
        return communes_slots(self.app.engine.kb.localities, staff.scope, demand)

    # --- correct a contact --------------------------------------------------------------------------

    async def _lead(self, request: web.Request, session: Session) -> Lead:
        ref = forms.clean(request.match_info["ref"], 20)
        lead = await self.handler.call(self.dash.store.lead, session.staff, ref)
        if lead is None:
            raise web.HTTPNotFound(text=NOT_YOURS)
        return lead

    async def edit_page(self, request: web.Request, session: Session) -> web.Response:
        """The contact and product of a lead, to correct."""
        lead = await self._lead(request, session)
        values = {
            "contact_name": lead.name,
            "phone": lead.phone,
            "facility_name": lead.facility_name,
            "activity": lead.profile.get("activity") or "",
        }
        return self.dash.render("lead_edit.html", session=session, lead=lead, values=values, errors=[])

    async def edit(self, request: web.Request, session: Session) -> web.Response:
        """Store a correction read as the chat reads answers; anything it would refuse changes nothing."""
        lead = await self._lead(request, session)
        form = await forms.posted(request)
        values = {
            k: forms.clean(form.get(k), FIELD_LIMIT) for k in ("contact_name", "phone", "facility_name", "activity")
        }
        reading = read_contact(self.app.engine.ctx, values)
        if reading.errors:
            page = self.dash.render("lead_edit.html", session=session, lead=lead, values=values, errors=reading.errors)
            page.set_status(400)
            return page
        s = reading.slots
        new = Contact(s["contact_name"], s["phone"], s.get("facility_name", ""), s["activity"])
        actor = f"staff:{session.staff.name}"
        await self.handler.call(correct, self.app.repo, lead, new, actor, self.app.engine.assessor)
        return await self.dash.lead(request, session, saved=True)

    # --- a registration at the office -----------------------------------------------------------------

    @staticmethod
    def _key() -> ConversationKey:
        """A key of its own for the person at the office: the chat's library fills and reads its conversation."""
        return ConversationKey(OFFICE, "office-" + secrets.token_hex(8))

    def _home(self, staff: Staff) -> Place | None:
        """The officer's first commune: the form starts there, and the consent names its office."""
        return self.app.engine.assessor.gazetteer.place_by_code(staff.communes[0]) if staff.communes else None

    async def _consent(self, staff: Staff, conv: Conversation) -> tuple[str, str]:
        """The consent text as the chat shows it for the commune given (else the officer's), and that commune's code."""
        shown = Conversation(conv.key, slots=dict(conv.slots))
        home = self._home(staff)
        if "place" not in shown.slots and home is not None:
            shown.slots["place"] = place_slot(home)
        text = await self.handler.call(self.app.engine.registration.consent_text, shown)
        return text, str((shown.slots.get("place") or {}).get("code") or "")

    def _add_form(
        self, session: Session, values: dict[str, Any], errors: list[str], consent: tuple[str, str]
    ) -> web.Response:
        engine = self.app.engine
        flows = engine.dialogs.flows
        return self.dash.render(
            "lead_add.html",
            session=session,
            values=values,
            errors=errors,
            consent_text=consent[0],
            consent_for=consent[1],
            consent_version=engine.texts.consent_version,
            eligibility={step.id: step for step in flows["eligibility"].steps},
            sectors=engine.kb.sector_names,
        )

    async def add_page(self, request: web.Request, session: Session) -> web.Response:
        """The chat's questions on one page, and the consent text to read out."""
        await self._refresh()
        home = self._home(session.staff)
        values: dict[str, Any] = dict.fromkeys(ADD_FIELDS, "") | {"needs": [], "place": home.label if home else ""}
        return self._add_form(session, values, [], await self._consent(session.staff, Conversation(self._key())))

    async def add(self, request: web.Request, session: Session) -> web.Response:
        """Read the answers as the chat would, assess them, and store the lead with the verbal consent."""
        await self._refresh()
        form = await forms.posted(request)
        values: dict[str, Any] = {k: forms.clean(form.get(k), FIELD_LIMIT) for k in ADD_FIELDS}
        values["needs"] = [forms.clean(v, 50) for v in form.getall("needs", [])][:20]
        engine = self.app.engine
        conv = Conversation(self._key())
        reading = await self.handler.call(
            read_walk_in, engine.ctx, engine.interview, conv, values, lambda _: values["needs"]
        )
        self._check_scope(session.staff, reading)
        if forms.clean(form.get("consent"), 10) != "yes":
            reading.errors.append(NO_CONSENT)
        consent = await self._consent(session.staff, conv)
        if not reading.errors and forms.clean(form.get("consent_for"), 20) != consent[1]:
            reading.errors.append(READ_AGAIN)  # the text read out named another commune's office
        if reading.errors:
            page = self._add_form(session, values, reading.errors, consent)
            page.set_status(400)
            return page
        stored = await self.handler.call(self._register, session.staff, conv)
        raise web.HTTPSeeOther(f"/staff/leads/{stored.ref}")

    @staticmethod
    def _check_scope(staff: Staff, reading: Reading) -> None:
        code = (reading.slots.get("place") or {}).get("code")
        if "place" in reading.slots and (code is None or not staff.sees(int(code))):
            reading.errors.append(OUTSIDE)

    def _register(self, staff: Staff, conv: Conversation) -> Lead:
        """Assess as the chat does, then the lead as the chat makes it, with the consent read out (repo thread)."""
        engine = self.app.engine
        conv.slots["assessment"] = summary_of(engine.assessor.assess(profile_of(conv)))
        text = engine.registration.consent_text(conv)
        consent = Consent(conv.key.channel, conv.key.user, "registration", engine.texts.consent_version, text, True)
        conv.slots["consent_id"] = -1  # set by the store with the consent's row, in the same transaction
        lead = engine.registration.lead_of(conv)
        return add_at_office(self.app.repo, consent, lead, staff.name)
