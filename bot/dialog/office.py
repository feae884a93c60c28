"""Who a person can reach: the office of their commune's profile, else the deploying unit's, with its phone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.dialog.context import Context
from bot.knowledge import Locality, Office
from bot.storage import Conversation
from bot.text import fold

# A question about how to reach the office: its phone, address, hours or Zalo (folded, padded with spaces).
_REACH_WORDS = (
    " so dien thoai ", " dien thoai ", " sdt ", " so dt ", " dt ", " hotline ", " dia chi ", " lam viec ",
    " may gio ", " gio lam ", " gio mo cua ", " mo cua ", " zalo ",
)  # fmt: skip
_OFFICE_WORDS = (" xa ", " phuong ", " ubnd ", " uy ban ", " can bo ", " trung tam ", " phong kinh te ", " dac khu ")


@dataclass(frozen=True)
class Reach:
    """The office a person can reach, and whether it is their own place's (else the deploying unit's)."""

    office: Office
    own: bool
    place: str | None  # the person's commune (or province) as people read it, when known
    fallback: Office | None = None  # the deploying unit's office, when the own one has no phone
    generic: bool = False  # no office known at all: its name is a placeholder, never told as an office


def reach(ctx: Context, place: Mapping[str, Any]) -> Reach:
    """The office of the place's commune (or province) plan; else the deployment's; else a generic one."""
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
    name = _mid_sentence(place.get("commune") or place.get("province"))
    if plans:
        own = plans[0].office
        spare = default.office if default and not own.phone and default.office.phone else None
        return Reach(own, True, name, spare)
    if default is None:
        return Reach(Office(name=ctx.texts.default_office), False, name, generic=True)
    return Reach(default.office, False, name)


def reach_of(ctx: Context, conv: Conversation) -> Reach:
    """The office for the person's commune as the conversation knows it."""
    return reach(ctx, conv.slots.get("place") or {})


def office_label(ctx: Context, office: Office) -> str:
    """'Trung tâm … (điện thoại 0233 …)': the office's name with its phone where known."""
    if office.phone:
        return ctx.texts.office_with_phone.format(office=office.name, phone=office.phone)
    return office.name


def details(ctx: Context, office: Office) -> list[str]:
    """The office's phone, address, hours and Zalo, one line each, as far as known."""
    t = ctx.texts
    out = [t.staff_phone.format(phone=office.phone)] if office.phone else []
    out += [t.contact_address.format(address=office.address)] if office.address else []
    out += [t.contact_hours.format(hours=office.hours)] if office.hours else []
    out += [t.contact_zalo.format(zalo=office.zalo)] if office.zalo else []
    return out


def contact_text(ctx: Context, found: Reach, first: str | None = None) -> str:
    """How to reach a person: the office and its details; where we know no number, said plainly, and whom to call.

    `first` replaces the line naming the office (e.g. 'request recorded, contact: …' after "gặp cán bộ").
    """
    t = ctx.texts
    if not found.own and found.place:
        return "\n".join([t.contact_unknown.format(place=found.place), *_fallback(ctx, found)])
    lines = [first or found.office.name, *details(ctx, found.office)]
    if not found.office.phone:
        lines.append(t.contact_no_phone.format(office=found.office.name))
        if found.fallback is not None:
            lines += [t.contact_fallback.format(office=found.fallback.name), *details(ctx, found.fallback)]
    return "\n".join(lines)


def phone_gap(ctx: Context, found: Reach) -> list[str]:
    """Said where the office is already named: that we know no number for it, and whom to call instead."""
    t = ctx.texts
    if not found.own and found.place:
        return [t.contact_unknown.format(place=found.place), *_fallback(ctx, found)]
    if found.office.phone:
        return []
    lines = [t.contact_no_phone.format(office=found.office.name)]
    if found.fallback is not None:
        lines += [t.contact_fallback.format(office=found.fallback.name), *details(ctx, found.fallback)]
    return lines


def _fallback(ctx: Context, found: Reach) -> list[str]:
    """Whom to call instead (the deploying unit's office and its details); nothing where no office is known."""
    if found.generic:
        return []
    return [ctx.texts.contact_fallback.format(office=found.office.name), *details(ctx, found.office)]


def reach_text(ctx: Context, found: Reach) -> str:
    """The answer to "gặp cán bộ": the request is recorded, and who to call meanwhile."""
    if not found.own and found.place:
        return ctx.texts.staff_recorded + "\n" + contact_text(ctx, found)
    return contact_text(ctx, found, ctx.texts.staff.format(office=found.office.name))


def asks_how_to_reach(text: str) -> bool:
    """'số điện thoại xã Vĩnh Thủy', 'ubnd xã mình làm việc mấy giờ', 'địa chỉ xã': the office's contacts."""
    said = f" {fold(text)} "
    return any(w in said for w in _REACH_WORDS) and any(w in said for w in _OFFICE_WORDS)


def _mid_sentence(name: str | None) -> str | None:
    """'Xã Bát Tràng' as said inside a sentence: 'xã Bát Tràng' (the unit word in lower case, the name as is)."""
    if name and name.split(" ", 1)[0] in ("Xã", "Phường", "Thị", "Đặc"):
        return name[:1].lower() + name[1:]
    return name
