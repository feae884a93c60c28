"""Registration: consent first, then the contact steps, the summary, and the lead stored with the turn."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.dialog.context import Context
from bot.dialog.demand import demand_note
from bot.dialog.handoff import office_of
from bot.dialog.interview import SKIPPED, Interview
from bot.dialog.listening import CONTACT_NOT_KEPT, INFERRED, Listener, revenue_band
from bot.dialog.office import office_label
from bot.dialog.result import profile_of, show_result
from bot.dialog.turn import Turn
from bot.eligibility import vnd
from bot.flows import Flow, Step
from bot.storage import Consent, Conversation, Lead
from bot.text import national_phone


class Registration:
    """What follows a complete flow: the result, the consent question, the summary and the lead."""

    def __init__(self, ctx: Context, interview: Interview) -> None:
        self.ctx, self.texts, self.interview = ctx, ctx.texts, interview
        self.listener = Listener(ctx)

    def finish(self, conv: Conversation, flow: Flow, turn: Turn) -> None:
        """A flow is complete: the result after the interview, else consent or the summary."""
        conv.slots.pop("return_to", None)
        if flow.id == "eligibility" and conv.slots.pop(INFERRED, None):
            self.understood(conv, turn)  # once, before the result: what we read from the person's own words
        elif flow.id == "eligibility":
            self.result(conv, turn)
        elif not conv.slots.get("consent_id"):  # e.g. 'làm lại' while the consent question waits
            self.register(conv, turn)
        else:
            self.summary(conv, turn)

    def understood(self, conv: Conversation, turn: Turn) -> None:
        """'Tôi hiểu: hộ kinh doanh, làm nước mắm, xã Vĩnh Thủy (Quảng Trị). Đúng không ạ?' with Đúng / Sửa."""
        conv.flow, conv.step = "eligibility", None
        conv.pending = {"kind": "understood"}
        turn.say(self.texts.understood.format(facts=self.listener.line(conv)), self.ctx.pending_buttons(conv))

    def result(self, conv: Conversation, turn: Turn) -> None:
        """The cited result; then consent when the person asked to register."""
        conv.pending = {}
        if show_result(self.ctx, conv, turn):
            # The consent follows at once: its Đồng ý / Không đồng ý are the only choices shown, so a '1' typed
            # cannot mean the result's first button as well.
            turn.replies[-1] = replace(turn.replies[-1], buttons=())
            self.ask_consent(conv, turn)

    def register(self, conv: Conversation, turn: Turn) -> None:
        """Ask consent, or first the interview when there is no result yet."""
        if conv.slots.pop("postponed", None) and self._consented(conv):
            self.interview.begin(conv, "registration", turn)  # 'đăng ký' after 'để sau': the summary again
            return
        if "assessment" not in conv.slots:
            turn.say(self.texts.need_interview_first)
            conv.slots["after"] = "registration"
            self.interview.begin(conv, "eligibility", turn, keep=False)
            return
        self.ask_consent(conv, turn)

    def ask_consent(self, conv: Conversation, turn: Turn) -> None:
        """The consent question, with the office and how long we keep the data."""
        conv.flow, conv.step = "registration", None
        conv.flow_version = self.ctx.dialogs.flows["registration"].version
        conv.pending = {"kind": "consent"}
        turn.say(self.consent_text(conv), self.ctx.pending_buttons(conv))

    def consent_text(self, conv: Conversation) -> str:
        """The exact consent text shown (and stored with the person's answer)."""
        retention = self.texts.retention.format(months=self.ctx.config.retention_months)
        office = office_label(self.ctx, office_of(self.ctx, conv))
        return self.texts.consent.format(office=office, retention=retention)

    def consent_decided(self, conv: Conversation, yes: bool, turn: Turn) -> None:
        """Record the answer; on yes, ask the contact steps."""
        conv.pending = {}
        consent = Consent(
            conv.key.channel, conv.key.user, "registration", self.texts.consent_version, self.consent_text(conv), yes
        )
        consent_id = self.ctx.repo.add_consent(consent)
        if not yes:
            conv.slots.pop(CONTACT_NOT_KEPT, None)
            conv.slots.pop("consent_id", None)  # an earlier consent does not outlive a refusal
            conv.flow = conv.step = None
            turn.say(self.texts.consent_refused, self.ctx.edit_or_menu())
            return
        conv.slots["consent_id"] = consent_id
        if conv.slots.pop(CONTACT_NOT_KEPT, None) and "phone" not in conv.slots:
            turn.say(self.texts.contact_not_kept)
        if "needs" in conv.slots and "lines_wanted" not in conv.slots:  # asked in the interview ('Chưa rõ' too):
            conv.slots["lines_wanted"] = [n for n in conv.slots["needs"] or [] if n]  # never asked twice
        self.interview.begin(conv, "registration", turn)

    def nothing_to_add(self, conv: Conversation, turn: Turn) -> None:
        """'không', 'không có gì' at the summary: no note; the summary again, waiting for Xác nhận or Sửa."""
        note = self.ctx.dialogs.flows["registration"].step("note")
        if note is not None and self.note_spared(conv):
            conv.slots[note.slot] = ""
        self.summary(conv, turn, self.texts.summary_nothing_more)

    def summary(self, conv: Conversation, turn: Turn, ending: str = "") -> None:
        """Every answer of both flows, once each, to confirm or edit."""
        lines, said = [self.texts.summary], set()
        for flow_id in ("eligibility", "registration"):
            for step in self.ctx.dialogs.flows[flow_id].steps:
                if step.at_summary and not conv.slots.get(step.slot):
                    continue  # not given: its 'Thêm …' button offers it
                if step.slot in conv.slots and self.interview.applies(step, conv):
                    # The needs of the interview and the lines wanted at registration are one thing: shown
                    # once, as the lead keeps them, under the first label ("Cần hỗ trợ").
                    if step.parser != "needs":
                        shown = revenue_band(conv.slots) if step.slot == "revenue_vnd" else None
                        lines.append(f"• {step.label}: {shown or self._shown(step, conv.slots[step.slot])}")
                    elif "needs" not in said:
                        lines.append(f"• {step.label}: {self._wanted_shown(conv)}")
                    said.add(step.parser)
        if ending or self.note_spared(conv):
            lines.append(ending or self.texts.summary_note)
        conv.pending = {"kind": "summary"}
        turn.say("\n".join(lines), self.ctx.pending_buttons(conv))

    def postpone(self, conv: Conversation, turn: Turn) -> None:
        """'để sau' at the summary: nothing stored; the answers wait for 'đăng ký'."""
        conv.pending = {}
        conv.flow = conv.step = None
        conv.slots["postponed"] = True
        turn.say(self.texts.registration_later, self.ctx.menu_buttons())

    def _consented(self, conv: Conversation) -> bool:
        return self.ctx.repo.consent_given(conv.key, int(conv.slots.get("consent_id") or 0))

    def note_spared(self, conv: Conversation) -> bool:
        """Whether the note was not asked (contact given in one answer): it can be typed at the summary."""
        note = self.ctx.dialogs.flows["registration"].step("note")
        spared = note is not None and (note.at_summary or bool(conv.slots.get(SKIPPED)))
        return spared and note is not None and note.slot not in conv.slots

    def _wanted_shown(self, conv: Conversation) -> str:
        """The support wanted, named as the buttons of the step where it was chosen name it."""
        wanted = self.ctx.dialogs.flows["registration"].step("wanted")
        chosen_here = wanted is not None and any(w for w in conv.slots.get(wanted.slot) or [])
        step = wanted if wanted is not None and chosen_here else self.ctx.dialogs.flows["eligibility"].step("needs")
        return self._shown(step, wanted_of(conv.slots)) if step is not None else "-"

    def _shown(self, step: Step, value: Any) -> str:
        if step.parser == "place":
            return ", ".join(str(x) for x in (value.get("commune"), value.get("province")) if x) or "-"
        if step.parser == "activity" and value:  # 'lam chieu coi' as the lexicon spells it; stored as typed
            return self.listener.product(str(value))
        if step.parser == "phone":
            return national_phone(str(value))
        if step.parser == "yes_no":
            return {True: "Có", False: "Không"}.get(value, self.texts.dont_know)
        if step.parser == "money" and isinstance(value, int):
            return vnd(value)
        labels = {c.value: c.label for c in step.choices}
        if isinstance(value, list):  # support lines read from a message may lie outside the step's buttons
            shown = ", ".join(labels.get(str(v)) or self.listener.need_name(str(v)) for v in value)
            return shown or labels.get("none") or "-"  # 'Chưa rõ' as it was tapped
        return labels.get(str(value), str(value)) if value not in ("", None) else "-"

    def confirmed(self, conv: Conversation, turn: Turn) -> None:
        """The summary confirmed: the lead goes with the turn, if the consent still stands."""
        conv.pending = {}
        if not self._consented(conv):
            conv.slots.pop("consent_id", None)  # none, or one erased since (e.g. by the retention purge)
            self.register(conv, turn)
            return
        turn.lead = self.lead_of(conv)
        turn.registered_office = office_label(self.ctx, office_of(self.ctx, conv))
        conv.flow = conv.step = None

    def lead_of(self, conv: Conversation) -> Lead:
        """The lead the answers make (no reference yet): the chat's and the office's registrations alike."""
        slots = conv.slots
        place = slots.get("place") or {}
        wanted = wanted_of(slots)
        return Lead(
            ref="",
            channel=conv.key.channel,
            user=conv.key.user,
            name=slots.get("contact_name", ""),
            phone=slots.get("phone", ""),
            facility_name=slots.get("facility_name", ""),
            commune_code=place.get("code"),
            commune=place.get("commune"),
            province=place.get("province") or slots.get("province_hint"),
            profile=profile_of(conv).model_dump(),
            assessment=slots.get("assessment") or {},
            lines_wanted=wanted,
            note=slots.get("note", ""),
            consent_id=int(slots.get("consent_id") or 0),
        )

    def confirm(self, lead: Lead, turn: Turn) -> None:
        """The reference code, once the lead is stored."""
        phone = national_phone(lead.phone)
        text = self.texts.registered.format(ref=lead.ref, office=turn.registered_office, phone=phone)
        if lead.merged:
            text = self.texts.registered_update.format(ref=lead.ref) + "\n" + text
        text += demand_note(self.ctx, lead)  # honest when the commune's planned slots are all asked for
        turn.say(
            text,
            [*self.ctx.menu_buttons()[:2], self.ctx.command_button("my_data"), self.ctx.command_button("subscribe")],
        )


def wanted_of(slots: dict[str, Any]) -> list[str]:
    """The support the person wants, as the lead keeps it: chosen at registration, else said in the interview."""
    return [w for w in slots.get("lines_wanted") or [] if w] or [n for n in slots.get("needs") or [] if n]
