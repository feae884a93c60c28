"""The interview policy: which step to ask next, taking an answer, and what a miss brings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.answers import place_slot
from bot.dialog.context import Context
from bot.dialog.listening import BAND, INFERRED
from bot.dialog.result import profile_of, show_result
from bot.dialog.turn import Turn
from bot.flows import Flow, Step
from bot.messages import Button
from bot.places import Place
from bot.storage import Conversation
from bot.text import ascii_int

MAX_MISSES = 3
SKIPPED = "optional_spared"  # the optional questions were not asked, the person's own message said enough

Finish = Callable[[Conversation, Flow, Turn], None]


class Interview:
    """Walks a flow of dialogs/: asks the first step that applies and is unanswered, then hands the flow over."""

    def __init__(self, ctx: Context, finish: Finish) -> None:
        self.ctx, self.texts = ctx, ctx.texts
        self._finish = finish  # what follows a complete flow (the result, consent, the summary)
        # Outside any flow, a place chosen answers the question that waited for it (bound by MixedInitiative).
        self.place_settled: Callable[[Conversation, Place, Turn], bool] = lambda conv, place, turn: False

    def begin(self, conv: Conversation, flow_id: str, turn: Turn, keep: bool = True) -> None:
        """Start a flow at its first step that applies; keep=False forgets earlier answers of that flow."""
        flow = self.ctx.dialogs.flows[flow_id]
        if not keep:
            for step in flow.steps:
                conv.slots.pop(step.slot, None)
            for slot in (
                "assessment",
                "sector",
                "inferred",
                "activity_said",
                "place_choices",
                "place_district",
                SKIPPED,
            ):
                conv.slots.pop(slot, None)
        if conv.flow != flow_id:  # the same flow begun again: asking its current step again counts as a re-ask
            conv.step, conv.misses = None, 0
        conv.flow, conv.flow_version, conv.history, conv.pending = flow_id, flow.version, [], {}
        conv.slots.pop("paused", None)
        self.advance(conv, turn)

    def enter(self, conv: Conversation, flow_id: str) -> None:
        """Be in a flow without asking anything yet (the facts of a message are kept first)."""
        flow = self.ctx.dialogs.flows[flow_id]
        conv.flow, conv.flow_version, conv.step, conv.history, conv.misses = flow_id, flow.version, None, [], 0
        conv.slots.pop("paused", None)

    def advance(self, conv: Conversation, turn: Turn) -> None:
        """Ask the next unanswered step that applies (asking the same step again counts), or finish the flow."""
        flow = self.ctx.dialogs.flows[conv.flow or ""]
        for step in flow.steps:
            if step.at_summary:  # offered at the summary, never a message of its own
                continue
            if step.slot not in conv.slots and self.applies(step, conv) and self._worth_asking(step, conv):
                if flow.id == "eligibility" and self._outside(conv):  # no answer can change 'not covered'
                    self.decided(conv, turn)
                elif step.id == conv.step:
                    self.reask(conv, step, turn)
                elif step.parser == "place" and conv.slots.get("place_choices"):
                    conv.step, conv.misses = step.id, 0
                    self._choose_place(conv, conv.slots.pop("place_choices"), turn)
                else:
                    conv.step, conv.misses = step.id, 0
                    self.ctx.ask(step, turn)
                return
        conv.step = None
        self._finish(conv, flow, turn)

    def _outside(self, conv: Conversation) -> bool:
        """What is known already decides 'not covered', so no answer can change it.

        The activity alone (a homestay, a repair shop, a brick kiln); an enterprise over the medium size
        (Nghị định 80/2021: only cleaner production remains, which the interview does not ask); mining outside
        a difficult area.
        """
        activity = conv.slots.get("activity")
        kind = self.ctx.assessor.classifier.classify(str(activity)).kind if activity else None
        if not conv.slots.get("sector") and kind in ("non_industrial", "excluded"):
            return True
        if conv.slots.get("difficult_area") is False and self._restricted(conv):
            return True
        return self._large(conv)

    def _large(self, conv: Conversation) -> bool:
        """An enterprise whose figures said so far already pass the medium size."""
        slots = conv.slots
        if slots.get("legal_form") != "enterprise" or (slots.get("workers") is None and "revenue_vnd" not in slots):
            return False
        return self.ctx.assessor.assess(profile_of(conv)).size == "large"

    def _restricted(self, conv: Conversation) -> bool:
        """The activity is of a sector covered only in a difficult area (mining), and the place's plan says nothing."""
        sector = conv.slots.get("sector")
        if not sector and conv.slots.get("activity"):
            sector = self.ctx.assessor.classifier.classify(str(conv.slots["activity"])).code
        return any(r.sector == sector and r.requires_area_flags for r in self.ctx.kb.sectors.restrictions)

    def decided(self, conv: Conversation, turn: Turn) -> None:
        """End the interview with the cited result, its next steps and the menu, instead of asking more."""
        conv.pending, conv.misses, conv.history = {}, 0, []
        conv.slots.pop(INFERRED, None)
        conv.slots.pop("return_to", None)
        show_result(self.ctx, conv, turn)

    def _choose_place(self, conv: Conversation, codes: list[int], turn: Turn) -> None:
        """The communes a name said earlier could mean, as buttons ('which Bình Giang?')."""
        gazetteer = self.ctx.assessor.gazetteer
        places = [p for p in (gazetteer.place_by_code(int(c)) for c in codes) if p is not None]
        conv.pending = {"kind": "choose_place", "codes": [p.code for p in places]}
        district = conv.slots.pop("place_district", None)  # 'huyện Lạng Giang' typed: districts are gone
        asked = self.texts.district_gone.format(district=district) if district else self.texts.which_place
        turn.say(asked, [Button(p.label, f"place:{p.code}") for p in places])

    @staticmethod
    def _worth_asking(step: Step, conv: Conversation) -> bool:
        """An optional question is asked only while the interview asks anyway.

        A person whose own message (or first answer) gave everything a flow needs is not asked an extra question:
        the result follows, or the summary, where a note can still be typed.
        """
        spared = step.optional and len(conv.history) <= 1
        if spared:
            conv.slots[SKIPPED] = True
        return not spared

    def ask_step(self, conv: Conversation, step: Step, turn: Turn, prefix: str = "") -> None:
        """Ask a step chosen by the person (back, edit): a new step afresh, the one pending as a re-ask."""
        if conv.step == step.id:
            self.reask(conv, step, turn, prefix)
        else:
            conv.step, conv.misses = step.id, 0
            self.ctx.ask(step, turn, prefix)

    def reask(self, conv: Conversation, step: Step, turn: Turn, prefix: str = "") -> None:
        """Ask the pending step again; every re-ask counts, and past the miss limit the interview pauses."""
        conv.misses += 1
        if conv.misses > MAX_MISSES:
            self.give_up(conv, step, turn)
        elif conv.misses == MAX_MISSES:
            self._offer(step, turn)
        elif step.parser == "place" and conv.slots.get("place_choices"):  # the places a name could mean, again
            self._choose_place(conv, conv.slots.pop("place_choices"), turn)
        else:
            self.ctx.ask(step, turn, prefix)

    def give_up(self, conv: Conversation, step: Step, turn: Turn) -> None:
        """Past the miss limit: an optional step is skipped; otherwise the interview pauses with the menu and staff."""
        if step.optional:
            self.fill(conv, step, [] if step.parser == "needs" else "", turn)
            return
        self.pause(conv, turn)

    def pause(self, conv: Conversation, turn: Turn) -> None:
        """Stop asking (the answers stay): the menu and the staff, never the same question once more.

        The buttons offered with the step still answer it: a tap resumes the interview where it paused.
        """
        where = {"flow": conv.flow, "step": conv.step} if conv.flow and conv.step else None
        self.reset(conv)
        if where:
            conv.slots["paused"] = where
        # 'Gặp cán bộ' once, where the menu always has it: numbers typed from memory stay the same
        staff = self.ctx.command_button("staff")
        turn.say(self.texts.paused, [staff if b.payload == "menu:staff" else b for b in self.ctx.menu_buttons()])

    def _offer(self, step: Step, turn: Turn) -> None:
        buttons = [*self.ctx.step_buttons(step), self.ctx.command_button("staff")]
        if step.parser == "activity":
            buttons = self.ctx.sector_buttons() + buttons
        turn.say(self.texts.offer_staff + "\n" + step.prompt, buttons)

    def applies(self, step: Step, conv: Conversation) -> bool:
        """Whether the step's condition holds for the answers so far."""
        if step.when == "mining":  # read only where asked: it classifies the product
            return self._restricted(conv)
        place = conv.slots.get("place") or {}
        conditions = {
            None: True,
            "enterprise": conv.slots.get("legal_form") == "enterprise",
            "city_ward": place.get("type") == "phuong" and bool(place.get("centrally_run")),
            "consent_given": bool(conv.slots.get("consent_id")),
        }
        return conditions[step.when]

    def reset(self, conv: Conversation) -> None:
        """Leave any flow; the answers stay."""
        conv.slots.pop("paused", None)
        conv.flow = conv.step = None
        conv.history, conv.misses, conv.pending = [], 0, {}
        conv.slots.pop("return_to", None)

    def fill(self, conv: Conversation, step: Step, value: Any, turn: Turn) -> None:
        """Keep an answer, then ask the next step (or return to the result or summary after an edit)."""
        conv.slots[step.slot] = value
        conv.pending, conv.misses = {}, 0
        if step.parser == "activity":
            conv.slots.pop("activity_said", None)
            if conv.slots.pop("sector_of", None) != value:  # a sector chosen for another product is stale
                conv.slots.pop("sector", None)
        if step.id not in conv.history:
            conv.history.append(step.id)
        returning = conv.slots.pop("return_to", None)
        if returning:
            self._advance_or_return(conv, returning, turn)
        else:
            self.advance(conv, turn)

    def _advance_or_return(self, conv: Conversation, target: str, turn: Turn) -> None:
        """After an edit: ask what the change made necessary, then show the result or summary again."""
        flow = self.ctx.dialogs.flows[conv.flow or ""]
        missing = [s for s in flow.steps if s.slot not in conv.slots and self.applies(s, conv) and not s.at_summary]
        if conv.slots.get(SKIPPED):  # the optional questions were spared before the result: an edit spares them too
            missing = [s for s in missing if not s.optional]
        if missing:
            conv.slots["return_to"] = target
            conv.step = missing[0].id
            self.ctx.ask(missing[0], turn)
        else:
            conv.step = None
            self._finish(conv, flow, turn)

    def miss(self, conv: Conversation, step: Step, hint: str | None, turn: Turn, said: str = "") -> None:
        """An answer we could not read: a hint, the sectors for a product, then the staff after the miss limit."""
        if step.parser == "activity" and said:
            conv.slots["activity_said"] = said[:200]  # kept, so a sector chosen by button does not replace it
        if step.parser == "activity" and conv.misses == 1:
            conv.misses += 1
            turn.say(self.texts.activity_unknown_sector, self.ctx.sector_buttons())
            return
        self.reask(conv, step, turn, getattr(self.texts, hint) if hint else step.hint)

    # --- answers given by a button ---------------------------------------------------------

    def current(self, conv: Conversation) -> Step | None:
        """The step being asked, or the one paused at the miss limit, resumed by a tap on one of its buttons."""
        step = self.ctx.current(conv)
        paused = conv.slots.pop("paused", None) if step is None and not conv.flow else None
        flow = self.ctx.dialogs.flows.get(str((paused or {}).get("flow")))
        if paused and flow is not None and flow.step(paused.get("step")) is not None:
            conv.flow, conv.flow_version, conv.step, conv.misses = flow.id, flow.version, paused["step"], 0
            return flow.step(paused["step"])
        return step

    def button_answer(self, conv: Conversation, value: str, turn: Turn) -> None:
        """A step's button ('ans:…'): the value it carries, if it belongs to the step being asked."""
        step = self.current(conv)
        if step is None:
            self.ctx.menu(turn, self.texts.not_understood)
            return
        if step.parser == "yes_no":
            self.fill(conv, step, {"yes": True, "no": False}.get(value), turn)
        elif step.parser == "money" and ascii_int(value) is not None:
            chosen = next((c.label for c in step.choices if c.value == value), None)
            if chosen:  # a band, said back as the band ('dưới 3 tỷ đồng'), never as the figure that stands for it
                conv.slots[BAND] = {"value": ascii_int(value), "label": chosen}
            self.fill(conv, step, ascii_int(value), turn)
        elif step.parser == "needs":
            self.fill(conv, step, [] if value == "none" else [value], turn)
        elif value == "skip" and step.optional:
            self.fill(conv, step, "", turn)
        elif any(c.value == value for c in step.choices):
            self.fill(conv, step, value, turn)
        else:  # a button of an earlier message (Zalo and Telegram keep them tappable): the question asked now
            self.reask(conv, step, turn, self.texts.stale_button)

    def sector_chosen(self, conv: Conversation, code: str, turn: Turn) -> None:
        """A sector button offered for a product we could not place."""
        kb, step = self.ctx.kb, self.current(conv)
        if step is None or step.parser != "activity" or code not in {s.code for s in kb.sectors.sectors}:
            self.ctx.menu(turn, self.texts.not_understood)
            return
        conv.slots["sector"] = code  # beside the product as typed, never over it
        product = str(conv.slots.pop("activity_said", "") or "") or kb.sector(code).name
        conv.slots["sector_of"] = product
        self.fill(conv, step, product, turn)

    def place_chosen(self, conv: Conversation, code: str, turn: Turn) -> None:
        """A place button, among the communes a name could mean."""
        step = self.current(conv)
        number = ascii_int(code, 9)
        place = self.ctx.assessor.gazetteer.place_by_code(number) if number is not None else None
        if step is None and place is not None and self.place_settled(conv, place, turn):
            return
        if step is not None and step.parser != "place":
            self.reask(conv, step, turn, self.texts.stale_button)  # an earlier message's place button
            return
        if step is None or place is None:
            self.ctx.menu(turn, self.texts.not_understood)
            return
        self.fill(conv, step, place_slot(place), turn)
