"""Exports of leads for staff: CSV (UTF-8 with BOM), a styled XLSX, and the summary workbook sent upward."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.knowledge import VN_TIME, Knowledge
from bot.slots import APPROVED, Demand, commune_plan, plan_slots
from bot.staff import labels
from bot.staff.store import FollowUps, no_followups
from bot.staff.xlsx import Sheet, safe, write_workbook
from bot.storage import Lead
from bot.text import fold, national_phone

TICK = 1000  # rows between progress updates
STATUS_LABELS = {
    "new": "Mới",
    "contacted": "Đã liên hệ",
    "dossier_submitted": "Đã nộp hồ sơ",
    "supported": "Được hỗ trợ",
    "declined": "Không đủ điều kiện / từ chối",
    "withdrawn": "Rút đăng ký",
}
ELIGIBLE_LABELS = {True: "Đủ điều kiện", False: "Chưa đủ điều kiện", None: "Cần thêm thông tin"}


_SEVEN_HOURS = VN_TIME.utcoffset(None)


def local_time(stamp: str) -> dt.datetime | None:
    """A stored UTC ISO time as Vietnam's local time, naive (spreadsheets have no time zones)."""
    try:
        moment = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if moment.utcoffset() == dt.timedelta(0):  # how times are stored: a shift is enough
        return moment.replace(tzinfo=None) + _SEVEN_HOURS
    return moment.astimezone(VN_TIME).replace(tzinfo=None)


@dataclass(frozen=True)
class Column:
    """One column of the lead list: header, width and kind (text, phone, date, number, money)."""

    header: str
    width: int
    kind: str


COLUMNS = [
    Column("Mã đăng ký", 12, "text"),
    Column("Ngày đăng ký", 17, "date"),
    Column("Trạng thái", 16, "text"),
    Column("Họ tên", 22, "text"),
    Column("Số điện thoại", 14, "phone"),
    Column("Tên cơ sở", 28, "text"),
    Column("Loại hình", 16, "text"),
    Column("Sản phẩm", 24, "text"),
    Column("Ngành", 28, "text"),
    Column("Xã/phường", 20, "text"),
    Column("Mã xã", 8, "code"),
    Column("Tỉnh/thành phố", 18, "text"),
    Column("Kết quả kiểm tra", 18, "text"),
    Column("Hỗ trợ mong muốn", 30, "text"),
    Column("Kinh phí dự kiến (đồng)", 16, "money"),
    Column("Ghi chú", 30, "text"),
    Column("Kênh", 10, "text"),
    Column("Cập nhật", 17, "date"),
    Column("Người phụ trách", 18, "text"),
    Column("Ngày hẹn gọi lại", 12, "day"),
    Column("Ghi chú của cán bộ", 30, "text"),
    Column("Trùng lặp", 26, "text"),
]


def duplicate_text(lead: Lead) -> str:
    """The flag staff read on a lead that another chat registered with the same phone and commune first."""
    return f"Có thể trùng với {lead.duplicate_of}" if lead.duplicate_of else ""


def lead_columns(kb: Knowledge) -> list[Column]:
    """The columns of the lead list, in order."""
    return COLUMNS


def commune_code(code: int | None) -> str:
    """A unit code as the official lists write it: five digits, leading zeros kept ('04567')."""
    return f"{code:05d}" if code is not None else ""


def iso_day(value: str) -> dt.date | None:
    """A stored ISO day ('2026-12-24') as a date; anything else None."""
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def row_reader(kb: Knowledge, followups: FollowUps = no_followups) -> Callable[[Lead], list[Any]]:
    """A function giving a lead's values in column order (one call a row: exports are large)."""
    lines, sectors = kb.line_names, kb.sector_names
    forms: dict[str, str] = {str(k): v for k, v in kb.rules.labels.legal_forms.items()}

    def read(x: Lead) -> list[Any]:
        profile, assessment = x.profile, x.assessment
        follow = followups(x.ref)
        return [
            x.ref,
            local_time(x.created_at),
            STATUS_LABELS.get(x.status, "Khác"),
            x.name,
            national_phone(x.phone),
            x.facility_name,
            forms.get(str(profile.get("legal_form", "")), ""),
            str(profile.get("activity", "")),
            sectors.get(assessment.get("sector") or "", ""),
            x.commune or "",
            commune_code(x.commune_code),
            x.province or "",
            ELIGIBLE_LABELS.get(assessment.get("eligible"), ""),
            "; ".join([lines.get(c, "Nội dung khác") for c in x.lines_wanted]),
            expected_amount(x) or None,
            x.note,
            labels.channel(x.channel),
            local_time(x.updated_at),
            follow.assignee,
            iso_day(follow.follow_up),
            follow.note,
            duplicate_text(x),
        ]

    return read


def expected_amount(lead: Lead) -> int:
    """The commune's or province's own amount per facility for the lines wanted, where its plan names one."""
    local = {
        ln["code"]: ln.get("cap_vnd") or 0 for ln in lead.assessment.get("lines", []) if ln.get("funding") != "national"
    }
    return sum(local.get(code, 0) for code in lead.lines_wanted)


def write_csv(
    leads: Iterable[Lead],
    path: Path,
    kb: Knowledge,
    tick: Callable[[int], None] = lambda n: None,
    *,
    followups: FollowUps = no_followups,
) -> int:
    """A CSV that Excel opens with Vietnamese intact (UTF-8 with BOM); returns the rows written."""
    columns = lead_columns(kb)
    read = row_reader(kb, followups)
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(c.header for c in columns)
        for lead in leads:
            out.writerow([_csv_cell(c, v) for c, v in zip(columns, read(lead), strict=True)])
            count += 1
            if not count % TICK:
                tick(TICK)
    tick(count % TICK)
    return count


def _csv_cell(column: Column, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if column.kind == "money" and isinstance(value, int | float):
        return labels.grouped(value)  # 20.000.000, as the header says đồng
    return safe(str(value)) if column.kind in ("text", "phone", "code") else str(value)


def write_xlsx(
    leads: Iterable[Lead],
    path: Path,
    kb: Knowledge,
    tick: Callable[[int], None] = lambda n: None,
    *,
    followups: FollowUps = no_followups,
) -> int:
    """A styled workbook (bold frozen header, autofilter, widths, typed cells, print setup), streamed; the rows."""
    columns = lead_columns(kb)
    read = row_reader(kb, followups)

    def rows() -> Iterator[list[Any]]:
        n = 0
        for n, lead in enumerate(leads, 1):
            if not n % TICK:
                tick(TICK)
            yield read(lead)
        tick(n % TICK)

    sheet = Sheet(
        "Danh sách đăng ký", [c.header for c in columns], [c.width for c in columns], rows(), [c.kind for c in columns]
    )
    return write_workbook(path, [sheet])[0]


def summarise(leads: Iterable[Lead]) -> dict[str, Counter[Any]]:
    """Counts and amounts for the roll-up: per (province, commune, line), per sector, per status."""
    sums: dict[str, Counter[Any]] = {
        "line": Counter(),
        "amount": Counter(),
        "sector": Counter(),
        "status": Counter(),
        "approved": Counter(),
        "commune_code": Counter(),  # (province, commune) → its code, for the plan's slots
    }
    for lead in leads:
        local = {
            ln["code"]: ln.get("cap_vnd") or 0
            for ln in lead.assessment.get("lines", [])
            if ln.get("funding") != "national"
        }
        for code in lead.lines_wanted or ["none"]:
            key = (lead.province or "", lead.commune or "", code)
            sums["line"][key] += 1
            sums["amount"][key] += local.get(code, 0)
            sums["approved"][key] += lead.status == APPROVED
        sums["commune_code"][(lead.province or "", lead.commune or "")] = lead.commune_code or 0
        sums["sector"][lead.assessment.get("sector") or ""] += 1
        sums["status"][lead.status] += 1
    return sums


def write_summary(
    leads: Iterable[Lead],
    path: Path,
    kb: Knowledge,
    tick: Callable[[int], None] = lambda n: None,
    *,
    followups: FollowUps = no_followups,
) -> int:
    """The roll-up a commune sends upward: support line × commune, by sector, by status, and Mẫu 02a/02b."""
    from bot.staff.rollup import FacilityRollup  # it reads this module's labels

    with FacilityRollup(kb) as facilities:
        counted = summarise(facilities.keep(_ticking(leads, tick)))
        _write_summary(path, kb, counted, facilities.sheets())
    return sum(counted["status"].values())


def _write_summary(path: Path, kb: Knowledge, counted: dict[str, Counter[Any]], more: list[Sheet]) -> None:
    lines: dict[str, str] = kb.line_names | {"none": "Chưa chọn nội dung"}
    sectors: dict[str, str] = kb.sector_names | {"": "Chưa xác định"}
    by_line = [
        [
            p,
            c,
            lines.get(code, "Nội dung khác"),
            n,
            counted["amount"][(p, c, code)] or None,
            *_slots(kb, counted, (p, c, code)),
        ]
        for (p, c, code), n in sorted(counted["line"].items())
    ]
    by_line.append(["Tổng cộng", "", "", *(sum(r[i] or 0 for r in by_line) for i in range(3, 9))])
    by_sector: list[list[Any]] = [[sectors.get(k, "Ngành khác"), n] for k, n in counted["sector"].most_common()]
    by_sector.append(["Tổng cộng", sum(r[1] for r in by_sector)])
    by_status: list[list[Any]] = [[STATUS_LABELS.get(k, "Khác"), n] for k, n in counted["status"].most_common()]
    by_status.append(["Tổng cộng", sum(r[1] for r in by_status)])
    count_kinds = ["text", "number"]
    write_workbook(
        path,
        [
            Sheet(
                "Theo nội dung hỗ trợ",
                [*LINE_HEADERS, *SLOT_HEADERS],
                [18, 22, 40, 16, 20, 14, 20, 12, 14],
                by_line,
                ["text", "text", "text", "number", "money", "number", "money", "number", "number"],
            ),
            Sheet("Theo ngành", ["Ngành", "Số cơ sở"], [45, 12], by_sector, count_kinds),
            Sheet("Theo trạng thái", ["Trạng thái", "Số cơ sở"], [30, 12], by_status, count_kinds),
            *more,
        ],
    )


LINE_HEADERS = ["Tỉnh/thành phố", "Xã/phường", "Nội dung hỗ trợ", "Số cơ sở đăng ký", "Kinh phí dự kiến (đồng)"]
SLOT_HEADERS = ["Số suất kế hoạch", "Kinh phí kế hoạch (đồng)", "Đã duyệt", "Suất chưa duyệt"]


def _slots(kb: Knowledge, counted: dict[str, Counter[Any]], key: tuple[str, str, str]) -> list[int | None]:
    """Beside a commune line's registrations: its plan's slots and amount, the approved, and what remains."""
    province, commune, code = key
    approved = counted["approved"][key]
    plan = commune_plan(kb.localities, counted["commune_code"][(province, commune)] or None)
    lines = plan_slots(plan, {code: Demand(0, approved)}) if plan is not None else []
    line = next((ln for ln in lines if ln.code == code), None)
    if line is None:
        return [None, None, approved or None, None]
    return [line.planned, line.total_vnd, approved, line.remaining]


def _ticking(leads: Iterable[Lead], tick: Callable[[int], None]) -> Iterator[Lead]:
    n = 0
    for n, lead in enumerate(leads, 1):
        if not n % TICK:
            tick(TICK)
        yield lead
    tick(n % TICK)


WRITERS = {"csv": write_csv, "xlsx": write_xlsx, "summary": write_summary}
_STEMS = {"csv": "dang-ky-khuyen-cong", "xlsx": "dang-ky-khuyen-cong", "summary": "tong-hop-khuyen-cong"}


def download_name(fmt: str, commune: str | None, day: dt.date) -> str:
    """The file's name: what, whose commune, which day, in ASCII ('dang-ky-khuyen-cong_xa-binh-giang_03-12-2026.xlsx').

    ASCII because a name without marks survives every browser, mail client and USB stick unchanged.
    """
    where = "-".join(fold(commune or "").split())[:60] or "tat-ca-xa"
    return f"{_STEMS[fmt]}_{where}_{day:%d-%m-%Y}.{'csv' if fmt == 'csv' else 'xlsx'}"
