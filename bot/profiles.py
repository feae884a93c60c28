"""Commune profiles kept by staff in the database, laid over the bundled knowledge/localities/ files.

A saved profile is a whole Locality (the same schema as the YAML files). It replaces the bundled plan of
the same unit, or stands alone for a commune that has none. The running engine re-reads the saved
profiles only when their version stamp moves, so another process's save is seen on the next turn.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.knowledge import Knowledge, Locality

log = logging.getLogger("khuyencong.profiles")
SAVED_SOURCE = "trang cán bộ"  # the `source` of a profile first created on the dashboard


def unit_of(loc: Locality) -> tuple[str, int]:
    """The unit a plan is about: ('commune', ward code) or ('province', province code)."""
    if loc.level == "commune" and loc.ward_code is not None:
        return ("commune", loc.ward_code)
    return ("province", loc.province_code)


def merged(bundled: Iterable[Locality], saved: Iterable[Locality]) -> list[Locality]:
    """The bundled plans, each replaced by the saved profile of the same unit; saved ones of new units added."""
    saved = list(saved)
    units = {unit_of(s) for s in saved}
    kept = [b for b in bundled if b.historical or unit_of(b) not in units]
    return kept + saved


class LiveProfiles:
    """Keeps `kb.localities` equal to the bundled files merged with the saved profiles.

    `version` is one cheap read (the newest audit row's id); the profiles themselves are read and validated
    only when it changed since the last look.
    """

    def __init__(self, kb: Knowledge, version: Callable[[], int], load: Callable[[], list[Locality]]) -> None:
        self.kb, self.version, self.load = kb, version, load
        self.bundled = list(kb.localities)
        self.seen = -1

    def refresh(self) -> None:
        """Re-merge when a profile was saved since the last call (by any process)."""
        stamp = self.version()
        if stamp == self.seen:
            return
        self.kb.localities = merged(self.bundled, self.load())
        self.seen = stamp

    def bundled_of(self, ward_code: int) -> Locality | None:
        """The commune's plan as the bundled files give it, if any."""
        return next((b for b in self.bundled if not b.historical and unit_of(b) == ("commune", ward_code)), None)


@dataclass(frozen=True)
class Warning:
    """A commune whose profile lacks something people need: said in Vietnamese, with where it comes from."""

    where: str  # the file, or the dashboard for a saved profile
    text: str
    ward_code: int | None = None  # the commune's, for showing an officer only her own

    def __str__(self) -> str:
        return f"{self.where}: {self.text}"


def vn_day(day: dt.date | None) -> str:
    """'31/12/2026'."""
    return f"{day.day:02d}/{day.month:02d}/{day.year}" if day else ""


def place_name(loc: Locality) -> str:
    """'Xã Vĩnh Thủy (Quảng Trị)' or 'tỉnh Quảng Ngãi'."""
    return f"{loc.commune} ({loc.province})" if loc.commune else f"tỉnh {loc.province}"


def profile_warnings(kb: Knowledge, today: dt.date, saved: Iterable[int] = ()) -> list[Warning]:
    """Communes whose profile has no phone, or whose plan has expired (warnings: people still get an answer)."""
    from_db = set(saved)
    found: list[Warning] = []
    for loc in kb.localities:
        if loc.historical:
            continue
        db = loc.ward_code in from_db and loc.level == "commune"
        where = "hồ sơ trên trang cán bộ" if db else kb.locality_files.get(loc.id, loc.id)
        if not (loc.office.phone or "").strip():
            found.append(Warning(where, f"{place_name(loc)} chưa có số điện thoại liên hệ.", loc.ward_code))
        if loc.valid_to is not None and loc.valid_to < today:
            expired = f"kế hoạch của {place_name(loc)} đã hết hạn ngày {vn_day(loc.valid_to)}."
            found.append(Warning(where, expired, loc.ward_code))
    return found


def staff_chat_for(localities: Iterable[Locality], commune_code: int | None, fallback: str | None) -> str | None:
    """The Telegram chat for a commune's notices: its profile's own staff chat, else the unit's global one."""
    if commune_code is not None:
        for loc in localities:
            if not loc.historical and loc.level == "commune" and loc.ward_code == commune_code and loc.staff_chat_id:
                return loc.staff_chat_id
    return (fallback or "").strip() or None
