"""Handing the person over to the staff of the office that serves their commune."""

from __future__ import annotations

from bot.dialog.context import Context
from bot.dialog.turn import Turn
from bot.knowledge import Locality, Office
from bot.storage import Conversation


def office_of(ctx: Context, conv: Conversation) -> Office:
    """The office of the person's commune (or province) plan, else the deployment's, else a generic one."""
    place = conv.slots.get("place") or {}
    plans: list[Locality] = [
        loc
        for loc in ctx.kb.localities
        if not loc.historical
        and (
            (place.get("code") and loc.ward_code == place.get("code"))
            or (loc.level == "province" and loc.province == place.get("province"))
        )
    ]
    plans.sort(key=lambda loc: loc.level != "commune")
    default = next((loc for loc in ctx.kb.localities if loc.id == ctx.config.default_locality), None)
    chosen = plans[0] if plans else default
    return chosen.office if chosen else Office(name=ctx.texts.default_office)


def hand_over(ctx: Context, conv: Conversation, turn: Turn) -> None:
    """Record a request for staff (with the step and commune) and tell the person who will call."""
    place = conv.slots.get("place") or {}
    ctx.repo.add_handoff(conv.key, conv.step or "", place.get("code"))
    office = office_of(ctx, conv)
    text = ctx.texts.staff.format(office=office.name)
    if office.phone:
        text += " " + ctx.texts.staff_phone.format(phone=office.phone)
    turn.say(text, ctx.menu_buttons()[:2])
