"""Handing the person over to the staff of the office that serves their commune."""

from __future__ import annotations

from bot.dialog.context import Context
from bot.dialog.office import reach_of, reach_text
from bot.dialog.turn import Turn
from bot.knowledge import Office
from bot.storage import Conversation


def office_of(ctx: Context, conv: Conversation) -> Office:
    """The office of the person's commune (or province) profile, else the deployment's, else a generic one."""
    return reach_of(ctx, conv).office


def hand_over(ctx: Context, conv: Conversation, turn: Turn) -> None:
    """Record a request for staff (with the step and commune) and tell the person who will call."""
    place = conv.slots.get("place") or {}
    ctx.repo.add_handoff(conv.key, conv.step or "", place.get("code"))
    turn.handed_over = dict(place)
    found = reach_of(ctx, conv)
    text = reach_text(ctx, found)
    turn.say(text, ctx.menu_buttons()[:2])
