"""The person changes course: back one step, edit an answer, restart the flow."""

from __future__ import annotations

from bot.dialog.context import Context
from bot.dialog.interview import Interview
from bot.dialog.listening import DEPENDENT
from bot.dialog.registration import Registration
from bot.dialog.turn import Turn
from bot.messages import Button
from bot.storage import Conversation


class Corrections:
    """Back, edit and restart, within the flow under way."""

    def __init__(self, ctx: Context, interview: Interview, registration: Registration) -> None:
        self.ctx, self.texts = ctx, ctx.texts
        self.interview, self.registration = interview, registration

    def back(self, conv: Conversation, turn: Turn) -> None:
        """Forget the last answer and ask its step again."""
        conv.pending = {}
        flow = self.ctx.dialogs.flows.get(conv.flow or "")
        if flow is None:
            self.ctx.menu(turn)
            return
        current = self.ctx.current(conv)
        if current is not None and current.id in conv.history:
            conv.history.remove(current.id)
        if not conv.history:
            turn.say(self.texts.back_nothing)
            if current is not None:
                self.interview.reask(conv, current, turn)
            else:
                self.ctx.menu(turn)
            return
        previous = flow.step(conv.history.pop())
        if previous is None:
            self.ctx.menu(turn)
            return
        conv.slots.pop(previous.slot, None)
        self.interview.ask_step(conv, previous, turn)

    def edit(self, conv: Conversation, turn: Turn) -> None:
        """One button per answer given in the flow, to change it."""
        conv.pending = {}
        flow_id = conv.flow or ("registration" if conv.slots.get("consent_id") else "eligibility")
        flow = self.ctx.dialogs.flows[flow_id]
        answered = [s for s in flow.steps if s.slot in conv.slots]
        if not answered:
            turn.say(self.texts.edit_nothing, self.ctx.menu_buttons())
            return
        turn.say(self.texts.edit_prompt, [Button(s.label, f"edit:{flow_id}.{s.id}") for s in answered])

    def edit_step(self, conv: Conversation, target: str, turn: Turn) -> None:
        """Ask one step again ('edit:flow.step'); then back to the result or the summary."""
        flow_id, _, step_id = target.partition(".")
        flow = self.ctx.dialogs.flows.get(flow_id)
        step = flow.step(step_id) if flow else None
        if flow is None or step is None:
            self.ctx.menu(turn, self.texts.not_understood)
            return
        if flow_id == "registration" and not conv.slots.get("consent_id"):
            self.registration.register(conv, turn)  # contact details are asked only once consent is given
            return
        if conv.flow != flow_id:
            conv.step = None
        conv.flow, conv.flow_version, conv.pending = flow_id, flow.version, {}
        conv.slots.pop(step.slot, None)
        for slot in DEPENDENT.get(step.slot, ()):  # e.g. the size questions depend on the legal form
            conv.slots.pop(slot, None)
        conv.slots["return_to"] = "summary" if flow_id == "registration" else "result"
        self.interview.ask_step(conv, step, turn)

    def restart(self, conv: Conversation, turn: Turn) -> None:
        """Start the flow under way again, forgetting its answers; else the menu."""
        flow_id = conv.flow
        turn.say(self.texts.restarted)
        if flow_id in self.ctx.dialogs.flows:
            self.interview.begin(conv, flow_id or "", turn, keep=False)
        else:
            self.interview.reset(conv)
            self.ctx.menu(turn)
