"""The commune's roll-up in the spirit of Mẫu 02a (needs and cost) and 02b (general information): one row per
registered facility, with totals, as two more sheets of the summary workbook.

The leads are read once (an export streams them); each facility's row is spooled to a temporary file on the way
and read back for the two sheets, so a province's hundred thousand leads do not sit in memory.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import IO, Any

from bot.knowledge import Knowledge
from bot.staff import labels
from bot.staff.exports import ELIGIBLE_LABELS, STATUS_LABELS, expected_amount
from bot.staff.xlsx import Sheet
from bot.storage import Lead
from bot.text import national_phone

LEFT_OUT = ("withdrawn", "declined")  # no longer asking: not sent upward
SHEET_02A = "Mẫu 02a - Nhu cầu kinh phí"
SHEET_02B = "Mẫu 02b - Thông tin cơ sở"
HEADERS_02A = [
    ("STT", 8, "text"),
    ("Mã đăng ký", 12, "text"),
    ("Tên cơ sở", 28, "text"),
    ("Người liên hệ", 22, "text"),
    ("Số điện thoại", 14, "phone"),
    ("Xã/phường", 20, "text"),
    ("Tỉnh/thành phố", 16, "text"),
    ("Nội dung đề nghị hỗ trợ", 40, "text"),
    ("Kinh phí hỗ trợ theo kế hoạch (đồng)", 18, "money"),
    ("Được ưu tiên", 10, "text"),
    ("Kết quả kiểm tra", 18, "text"),
    ("Trạng thái", 16, "text"),
]
HEADERS_02B = [
    ("STT", 8, "text"),
    ("Mã đăng ký", 12, "text"),
    ("Tên cơ sở", 28, "text"),
    ("Loại hình", 16, "text"),
    ("Người đại diện", 22, "text"),
    ("Số điện thoại", 14, "phone"),
    ("Xã/phường", 20, "text"),
    ("Tỉnh/thành phố", 16, "text"),
    ("Sản phẩm chính", 24, "text"),
    ("Ngành nghề", 28, "text"),
    ("Trong làng nghề", 10, "text"),
    ("Số lao động", 10, "number"),
    ("Doanh thu năm trước (đồng)", 18, "money"),
    ("Tổng nguồn vốn (đồng)", 18, "money"),
    ("Quy mô", 10, "text"),
    ("Hợp đồng xuất khẩu", 10, "text"),
    ("Chủ cơ sở", 24, "text"),
]


def _yes(value: Any) -> str:
    return "" if value is None else ("Có" if value else "Không")


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class FacilityRollup:
    """Spools one row per registered facility while the summary counts the leads, then gives the two sheets."""

    def __init__(self, kb: Knowledge) -> None:
        self.lines, self.sectors = kb.line_names, kb.sector_names
        self.forms: dict[str, str] = {str(k): v for k, v in kb.rules.labels.legal_forms.items()}
        self.sizes: dict[str, str] = {str(k): v for k, v in kb.rules.labels.sizes.items()}
        # Closed in __exit__: the object is the context manager of its own spool.
        self.spool: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8", prefix="khuyencong-rollup-")  # noqa: SIM115
        self.count = 0
        self.totals = {"amount": 0, "workers": 0, "revenue": 0, "capital": 0}
        self.known: set[str] = set()  # the totals with at least one figure: the others stay blank, not 0

    def __enter__(self) -> FacilityRollup:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.spool.close()  # the temporary file goes with it: no copy of the leads stays

    def keep(self, leads: Iterable[Lead]) -> Iterator[Lead]:
        """Pass the leads on, spooling the row of each facility still asking for support."""
        for lead in leads:
            if lead.status not in LEFT_OUT:
                self._add(lead)
            yield lead

    def _add(self, lead: Lead) -> None:
        p, a = lead.profile, lead.assessment
        self.count += 1
        amount = expected_amount(lead)
        workers, revenue, capital = _int(p.get("workers")), _int(p.get("revenue_vnd")), _int(p.get("capital_vnd"))
        figures = {"amount": amount or None, "workers": workers, "revenue": revenue, "capital": capital}
        for key, value in figures.items():
            self.totals[key] += value or 0
            if value is not None:
                self.known.add(key)
        place = [lead.commune or "", lead.province or ""]
        who = [lead.ref, lead.facility_name, lead.name, national_phone(lead.phone)]
        row_a = [
            str(self.count),
            *who,
            *place,
            "; ".join(self.lines.get(c, "Nội dung khác") for c in lead.lines_wanted),
            amount or None,
            "Có" if a.get("priority") else "Không" if "priority" in a else "",
            ELIGIBLE_LABELS.get(a.get("eligible"), ""),
            STATUS_LABELS.get(lead.status, "Khác"),
        ]
        owners = "; ".join(labels.FLAGS.get(f, "") for f in p.get("owner_flags") or [] if f in labels.FLAGS)
        row_b = [
            str(self.count),
            lead.ref,
            lead.facility_name,
            self.forms.get(str(p.get("legal_form", "")), ""),
            lead.name,
            national_phone(lead.phone),
            *place,
            str(p.get("activity") or ""),
            self.sectors.get(str(a.get("sector") or ""), ""),
            _yes(p.get("craft_village")),
            workers,
            revenue,
            capital,
            self.sizes.get(str(a.get("size") or ""), ""),
            _yes(p.get("export")),
            owners,
        ]
        self.spool.write(json.dumps([row_a, row_b], ensure_ascii=False) + "\n")

    def _rows(self, which: int, total: list[Any]) -> Iterator[list[Any]]:
        self.spool.seek(0)
        for line in self.spool:
            yield json.loads(line)[which]
        yield total

    def sheets(self) -> list[Sheet]:
        """Mẫu 02a and Mẫu 02b as sheets, each closed by its totals row."""
        t = {k: v if k in self.known else None for k, v in self.totals.items()}
        n = f"{self.count} cơ sở"
        total_a = ["Tổng cộng", "", n, "", "", "", "", "", t["amount"] or None, "", "", ""]
        total_b = [
            "Tổng cộng",
            "",
            n,
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            t["workers"],
            t["revenue"],
            t["capital"],
            "",
            "",
            "",
        ]
        return [
            _sheet(SHEET_02A, HEADERS_02A, self._rows(0, total_a)),
            _sheet(SHEET_02B, HEADERS_02B, self._rows(1, total_b)),
        ]


def _sheet(name: str, columns: list[tuple[str, int, str]], rows: Iterator[list[Any]]) -> Sheet:
    return Sheet(name, [c[0] for c in columns], [c[1] for c in columns], rows, [c[2] for c in columns])
