"""Zalo's paid template message (ZBS) for an announcement: off unless configured, to a consented phone only.

A consultation message reaches a Zalo subscriber only within 7 days of their last message (free within 48 h).
Outside that, Zalo's approved, paid "ZBS Template Message" can still reach them by phone number. It is sent only
when a template is configured (ZALO_ZBS_TEMPLATE_ID) and staff tick it for one announcement, and only to the
phone the person gave with their registration's consent: a Zalo user id alone gets none. Such a row is queued on
the Zalo channel with the address `zbs:84…`, so it goes through the same claim, pace, night and weekly limit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.storage.announcements import Announcement
from bot.text import parse_phone

PREFIX = "zbs:"  # a queue row's address: a template to this phone, not a consultation message to the user id
FIELDS = ("place", "text", "deadline", "link")
EMPTY = "–"  # a template parameter is required by Zalo: an announcement without a deadline or link says so


def template_address(phone: str) -> str | None:
    """The queue address of a template to this registration phone; None unless it is a mobile number."""
    parsed = parse_phone(phone)
    if parsed is None or parsed.startswith("+842"):  # a landline has no Zalo account
        return None
    return PREFIX + parsed.removeprefix("+")  # Zalo's own form: 84912345678


def phone_of(address: str) -> str | None:
    """The phone of a template row's address (84…); None for a consultation message's row."""
    return address[len(PREFIX) :] if address.startswith(PREFIX) else None


@dataclass(frozen=True)
class Template:
    """The configured template: its id, its parameters and what fills each."""

    template_id: str
    params: tuple[tuple[str, str], ...]  # (the template's parameter, one of FIELDS)
    max_chars: int = 400

    @classmethod
    def of(cls, settings: Settings) -> Template | None:
        """The template as configured; None when it is off."""
        ident = settings.zalo_zbs_template_id.strip()
        if not ident:
            return None
        pairs = (term.partition("=") for term in settings.zalo_zbs_params.split(","))
        params = tuple((name.strip(), field.strip()) for name, _, field in pairs)
        return cls(ident, params, settings.zalo_zbs_param_chars)

    def data(self, announcement: Announcement, place: str) -> dict[str, str]:
        """The template's parameters for one announcement to one commune's subscriber."""
        day = dt.date.fromisoformat(announcement.deadline).strftime("%d/%m/%Y") if announcement.deadline else ""
        values = {"place": place, "text": announcement.text, "deadline": day, "link": announcement.link}
        return {name: self._cut(values[field]) for name, field in self.params}

    def _cut(self, value: str) -> str:
        value = " ".join(value.split()) or EMPTY  # one line: a template parameter is no paragraph
        return value if len(value) <= self.max_chars else value[: self.max_chars - 1].rstrip() + "…"


@dataclass
class ZbsCount:
    """The fourth Zalo group: outside the free window (and not sent as a charged consultation), by phone."""

    send: bool  # staff ticked it for this announcement
    price_vnd: int = 0
    people: int = 0  # with a consented phone
    to_send: int = 0  # of them, within the weekly limit
    without_phone: int = 0  # outside the window with no phone: unreachable

    def fate(self, phone: str | None, limited: bool, window: tuple[str, str]) -> tuple[str, str, str | None]:
        """(status, reason, template address) of one such person; `window` is their fate without a template."""
        if phone is None:
            self.without_phone += 1
            return (*(("skipped", "zbs_no_phone") if self.send else window), None)
        self.people += 1
        if limited:
            return (*(("skipped", "weekly_limit") if self.send else window), None)
        self.to_send += 1
        return ("waiting", "", phone) if self.send else (*window, None)

    def as_json(self) -> dict[str, Any]:
        """The counts for --dry-run --json and the dashboard, with the estimated cost when a price is set."""
        return {
            "send": self.send,
            "people": self.people,
            "to_send": self.to_send,
            "without_phone": self.without_phone,
            "price_vnd": self.price_vnd,
            "cost_vnd": self.to_send * self.price_vnd,
        }
