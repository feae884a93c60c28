"""Which commune, asked before a handoff or an office's contacts when the chat knows none: the right office sees it.

Asked at most twice; 'không biết', 'bỏ qua' or a second unreadable answer still hands the chat over (to the
admins, who see handoffs of no commune) or says plainly that the office is not known, never a loop.
"""

from __future__ import annotations

from typing import Any

from bot.answers import place_slot, skipped, yes_no
from bot.dialog.context import Context
from bot.dialog.handoff import hand_over, place_for_staff
from bot.dialog.office import contact_text, reach
from bot.dialog.turn import Turn
from bot.messages import Button
from bot.places import Place
from bot.storage import Conversation, HandoffReason
from bot.text import ascii_int, fold

KIND = "staff_place"  # the pending question; 'for' says what follows the answer: a handoff or the office's contacts
ASKED_AT_MOST = 2
_DONT_KNOW = ("khong biet", "ko biet", "k biet", "khong ro", "chua biet", "khong nho", "bo qua")


def ask_or_hand_over(ctx: Context, conv: Conversation, turn: Turn, reason: HandoffReason = "asked") -> None:
    """Hand over at once where the commune is known; else ask which commune first, so its officers see it."""
    if conv.pending.get("kind") == KIND:  # asked again while we ask which commune: handed over as it stands
        answered(ctx, conv, "", turn, decided=False)
        return
    if place_for_staff(ctx, conv).get("code") or ctx.repo.handoffs.active(conv.key) is not None:
        hand_over(ctx, conv, turn, reason)
        return
    said = ctx.texts.handoff
    conv.pending = {"kind": KIND, "for": reason}
    turn.say(said.failed_ask if reason == "failed" else said.ask_place, [Button(said.skip_place, "no:")])


def ask_for_office(ctx: Context, conv: Conversation) -> str:
    """'sđt xã' with no commune known: which commune (remembered only where nothing else is asked)."""
    if not conv.pending and ctx.current(conv) is None:
        conv.pending = {"kind": KIND, "for": "office"}
    return ctx.texts.handoff.ask_place


def answered(ctx: Context, conv: Conversation, text: str, turn: Turn, decided: bool | None = None) -> None:
    """The commune typed (or a same-name choice tapped, or 'không biết'): what was asked for follows."""
    asked = dict(conv.pending)
    conv.pending = {}
    if decided is False or (decided is None and _gives_up(text)):
        _done(ctx, conv, asked, None, turn)
        return
    found = ctx.assessor.gazetteer.resolve_text(text) if text else None
    place = found.place if found is not None else ctx.assessor.gazetteer.among(list(asked.get("codes") or []), text)
    if place is not None:
        _done(ctx, conv, asked, place, turn)
        return
    tries = int(asked.get("asked") or 0) + 1
    if tries >= ASKED_AT_MOST:
        _done(ctx, conv, asked, None, turn)
        return
    choices = list(found.candidates[:8]) if found is not None and found.status == "ambiguous" else []
    conv.pending = asked | {"asked": tries, "codes": [p.code for p in choices]}
    if choices:
        turn.say(ctx.texts.handoff.which_place, [Button(p.label, f"place:{p.code}") for p in choices])
    else:
        turn.say(ctx.texts.news.place_unknown, [Button(ctx.texts.handoff.skip_place, "no:")])


def chosen(ctx: Context, conv: Conversation, code: str, turn: Turn) -> None:
    """A same-name place button tapped at the question."""
    number = ascii_int(code, 9)
    place = ctx.assessor.gazetteer.place_by_code(number) if number is not None else None
    asked = dict(conv.pending)
    conv.pending = {}
    _done(ctx, conv, asked, place, turn)


def _gives_up(text: str) -> bool:
    said = fold(text)
    return skipped(text) or yes_no(text) is False or any(w in said for w in _DONT_KNOW)


def _done(ctx: Context, conv: Conversation, asked: dict[str, Any], place: Place | None, turn: Turn) -> None:
    """The handoff opened (for the commune when known), or the office's contacts given."""
    if place is not None:
        conv.slots["place"] = conv.slots.get("place") or place_slot(place)
    if asked.get("for") == "office":
        if place is None:
            ctx.menu(turn, ctx.texts.handoff.office_unknown)
        else:
            turn.say(contact_text(ctx, reach(ctx, place_slot(place))), ctx.menu_buttons())
        return
    hand_over(ctx, conv, turn, "failed" if asked.get("for") == "failed" else "asked")
