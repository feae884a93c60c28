"""Handing the person over to the staff of the office that serves their commune."""

from __future__ import annotations

from typing import Any

from bot.answers import place_slot
from bot.dialog.context import Context
from bot.dialog.office import Reach, contact_text, reach_of
from bot.dialog.turn import Turn
from bot.knowledge import Office
from bot.messages import Button
from bot.storage import Conversation, HandoffReason


def office_of(ctx: Context, conv: Conversation) -> Office:
    """The office of the person's commune (or province) profile, else the deployment's, else a generic one."""
    return reach_of(ctx, conv).office


def hand_over(ctx: Context, conv: Conversation, turn: Turn, reason: HandoffReason = "asked") -> None:
    """Open a handoff (the chat then waits for staff) and tell the person who answers, when, and the phone."""
    place = place_for_staff(ctx, conv)
    handoff_id = ctx.repo.handoffs.open(conv.key, reason, conv.step or "", place.get("code"), commune_label(place))
    turn.handed_over = dict(place) | {"handoff_id": handoff_id}  # for the notice to the commune's staff chat
    found = reach_of(ctx, conv)
    said = ctx.texts.handoff
    if found.generic and not place.get("code"):  # no office known: the admins read it, no placeholder is named
        turn.say(said.opened_anyone)
    else:
        _tell_office(ctx, found, reason, turn)
    if not ctx.repo.leads_of(conv.key):  # staff have no number to call: ask for one, with consent
        conv.pending = {"kind": "callback"}
        turn.say(callback_text(ctx, conv), callback_buttons(ctx))


def _tell_office(ctx: Context, found: Reach, reason: HandoffReason, turn: Turn) -> None:
    """Who answers, when, and the office's phone (or that we know none, and whom to call)."""
    said = ctx.texts.handoff
    name = found.place if found.generic and found.place else found.office.name  # never the placeholder
    first = (said.failed if reason == "failed" else said.opened).format(office=name)
    first += "" if found.office.hours else " " + said.no_hours  # else the hours are among the office's details
    if not found.own and found.place:  # no profile for their commune: said plainly, and whom to call
        turn.say(first + "\n" + contact_text(ctx, found))
    else:
        turn.say(contact_text(ctx, found, first))


def place_for_staff(ctx: Context, conv: Conversation | None) -> dict[str, Any]:
    """The commune whose staff see a person's handoff: theirs, else the deploying unit's (staff of some commune
    must see it)."""
    return (conv.slots.get("place") if conv is not None else None) or _deploying_commune(ctx)


def callback_text(ctx: Context, conv: Conversation) -> str:
    """The consent text for a call back: who keeps the number, why, how long, and the person's rights."""
    retention = ctx.texts.retention.format(months=ctx.config.retention_months)
    found = reach_of(ctx, conv)
    office = ctx.texts.handoff.anyone if found.generic else found.office.name
    return ctx.texts.handoff.callback.format(office=office, retention=retention)


def callback_buttons(ctx: Context) -> list[Button]:
    """'Đồng ý, gọi cho tôi' and 'Không cần gọi'."""
    return [Button(ctx.texts.handoff.callback_yes, "yes:"), Button(ctx.texts.handoff.callback_no, "no:")]


def commune_label(place: dict[str, Any]) -> str:
    """The commune as staff sign with it: 'xã Vĩnh Thủy'; empty when unknown."""
    name = str(place.get("commune") or "")
    kind = {"xa": "xã", "phuong": "phường", "dac_khu": "đặc khu"}.get(str(place.get("type") or ""), "")
    if not name or name.lower().startswith(("xã", "phường", "đặc khu")):
        return name[:1].lower() + name[1:] if name else ""
    return f"{kind} {name}".strip()


def _deploying_commune(ctx: Context) -> dict[str, Any]:
    """The deploying unit's commune, as a place slot, for a person who has not said theirs ({} if none)."""
    default = next((loc for loc in ctx.kb.localities if loc.id == ctx.config.default_locality), None)
    found = ctx.assessor.gazetteer.place_by_code(default.ward_code) if default and default.ward_code else None
    return place_slot(found) if found is not None else {}
