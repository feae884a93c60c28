"""The rules against spam and the platforms' pace: the night, the weekly limit's window, sends per second."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass

from bot.config import Settings
from bot.knowledge import VN_TIME

WEEK = dt.timedelta(days=7)


@dataclass(frozen=True)
class Rules:
    """The platform and house rules an announcement follows (settings: platforms change them)."""

    per_week: int = 2
    night_start: int = 21  # hour, Vietnam time
    night_end: int = 7
    zalo_free_hours: float = 48.0
    zalo_days: float = 7.0
    zalo_charged: bool = False  # send to the charged group by default
    zalo_zbs: bool = False  # Zalo's paid template (ZBS) is configured: staff may choose it per announcement
    zbs_price_vnd: int = 0  # one template's price, for the estimate (0: none)

    @classmethod
    def of(cls, settings: Settings) -> Rules:
        """The rules as configured."""
        return cls(
            settings.announce_per_week,
            settings.announce_night_start,
            settings.announce_night_end,
            settings.zalo_free_reply_hours,
            settings.zalo_reply_days,
            settings.announce_zalo_charged,
            bool(settings.zalo_zbs_template_id.strip()),
            settings.zalo_zbs_price_vnd,
        )

    def night(self, at: dt.datetime) -> bool:
        """Whether `at` falls in the quiet hours, Vietnam time (start == end: never)."""
        hour = at.astimezone(VN_TIME).hour
        if self.night_start > self.night_end:
            return hour >= self.night_start or hour < self.night_end
        return self.night_start <= hour < self.night_end

    def morning(self, at: dt.datetime) -> dt.datetime:
        """The end of the night that `at` falls in (when a night announcement may go)."""
        local = at.astimezone(VN_TIME)
        end = local.replace(hour=self.night_end, minute=0, second=0, microsecond=0)
        if end <= local:
            end += dt.timedelta(days=1)
        return end.astimezone(dt.UTC)

    def zalo_group(self, last_message: dt.datetime, at: dt.datetime) -> str:
        """Zalo's window from the person's last message: 'free', 'charged' or 'closed'."""
        age = at - last_message
        if age <= dt.timedelta(hours=self.zalo_free_hours):
            return "free"
        if age <= dt.timedelta(days=self.zalo_days):
            return "charged"
        return "closed"


class Pace:
    """At most `rate` sends a second, spread evenly, all tasks together; a pause holds everyone (a 429)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Wait for this send's turn."""
        async with self._lock:
            now = time.monotonic()
            start = max(self._next, now)
            self._next = start + self.interval
            if start > now:
                await asyncio.sleep(start - now)

    def pause(self, seconds: float) -> None:
        """Nothing starts for `seconds` (the platform said 'retry after')."""
        self._next = max(self._next, time.monotonic() + seconds)
