"""The fields a registration form (Mẫu 01a, 01b) can show, filled from a lead as an officer reads them.

Why Vietnamese placeholder names without diacritics ('hoten', 'coso'): an officer types them into the
province's own Word form; she reads 'hoten' as họ tên, and they are single words, never codes.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from bot.knowledge import Knowledge, Office, vn_today
from bot.staff import labels
from bot.staff.exports import ELIGIBLE_LABELS, local_time
from bot.storage import Lead
from bot.text import national_phone

DOTS = "……………………………"  # a blank to fill by hand: what the chat did not ask
FORMS = {"01a": "Mẫu 01a – Đăng ký kế hoạch nhu cầu kinh phí", "01b": "Mẫu 01b – Thông tin chung của đơn vị"}

# name → what it holds, for the template page and docs/deploy.md
FIELDS: dict[str, str] = {
    "madangky": "Mã đăng ký",
    "ngaydangky": "Ngày đăng ký (ngày/tháng/năm)",
    "ngayin": "Ngày in mẫu",
    "nam": "Năm kế hoạch (năm nay)",
    "hoten": "Họ tên người liên hệ",
    "dienthoai": "Số điện thoại",
    "coso": "Tên cơ sở",
    "loaihinh": "Loại hình (hộ kinh doanh, hợp tác xã…)",
    "masothue": "Mã số thuế / số đăng ký kinh doanh (trợ lý chưa hỏi: để chấm)",
    "diachi": "Địa chỉ sản xuất: thôn, xóm (trợ lý chưa hỏi: để chấm)",
    "xa": "Xã/phường",
    "tinh": "Tỉnh/thành phố",
    "coquan": "Cơ quan nhận hồ sơ (theo hồ sơ xã)",
    "langnghe": "Trong làng nghề được công nhận",
    "sanpham": "Sản phẩm chính",
    "nganh": "Ngành nghề",
    "laodong": "Số lao động",
    "doanhthu": "Doanh thu năm trước",
    "nguonvon": "Tổng nguồn vốn",
    "quymo": "Quy mô doanh nghiệp (siêu nhỏ, nhỏ, vừa)",
    "nguyenlieu": "Tỷ lệ nguyên liệu trong tỉnh",
    "xuatkhau": "Có hợp đồng xuất khẩu",
    "chucoso": "Chủ cơ sở là phụ nữ / người dân tộc thiểu số",
    "tieubieu": "Có sản phẩm công nghiệp nông thôn tiêu biểu",
    "dahotro": "Đã nhận hỗ trợ của Nhà nước cho cùng nội dung (trợ lý chưa hỏi: để chấm)",
    "hotro": "Các nội dung hỗ trợ mong muốn, nối bằng dấu chấm phẩy",
    "ketqua": "Kết quả kiểm tra điều kiện của trợ lý",
    "ghichu": "Ghi chú của người đăng ký",
    "tongmuchotro": "Tổng mức hỗ trợ theo kế hoạch của xã/tỉnh",
    "nhucau": "Danh sách nội dung hỗ trợ (dùng trong bảng: {%tr for n in nhucau %} … {%tr endfor %})",
}
# each row of `nhucau`, read as n.stt, n.noidung, …
ROW_FIELDS: dict[str, str] = {
    "stt": "Số thứ tự",
    "noidung": "Nội dung hỗ trợ",
    "nguon": "Nguồn kinh phí (xã, tỉnh, quốc gia)",
    "muchotro": "Mức hỗ trợ theo kế hoạch của xã/tỉnh",
    "kinhphi": "Tổng kinh phí thực hiện (để chấm: cơ sở tự ghi)",
    "doiung": "Vốn đối ứng của cơ sở (để chấm: cơ sở tự ghi)",
}
LISTS = {"nhucau"}
_CODE = re.compile(r"[a-z0-9_]+")
FUNDING = {"commune": "Kinh phí xã", "provincial": "Kinh phí tỉnh", "national": "Kinh phí quốc gia"}


def _yes_no(value: Any) -> str:
    return DOTS if value is None else ("Có" if value else "Không")


def _or_dots(text: str) -> str:
    return text.strip() or DOTS


def needs_rows(lead: Lead, kb: Knowledge) -> list[tuple[dict[str, str], int]]:
    """One row per support wanted, and the plan's amount per facility where a commune or province set one."""
    local: dict[str, dict[str, Any]] = {}
    for line in lead.assessment.get("lines", []):
        if line.get("funding") != "national" or line.get("code") not in local:
            local[str(line.get("code"))] = line
    wanted = list(lead.lines_wanted) + [
        n for n in lead.profile.get("needs") or [] if isinstance(n, str) and n and n not in kb.line_names
    ]
    rows = []
    for n, code in enumerate(dict.fromkeys(wanted), 1):
        line = local.get(code, {})
        cap = line.get("cap_vnd") if line.get("funding") != "national" else None
        amount = int(cap) if isinstance(cap, int | float) and not isinstance(cap, bool) and cap > 0 else 0
        row = {
            "stt": str(n),
            "noidung": _line_name(kb, code),
            "nguon": FUNDING.get(str(line.get("funding")), DOTS),
            "muchotro": labels.money(amount) if amount else DOTS,
            "kinhphi": DOTS,
            "doiung": DOTS,
        }
        rows.append((row, amount))
    return rows


def fields_of(lead: Lead, kb: Knowledge, office: Office | None, today: dt.date | None = None) -> dict[str, Any]:
    """Every field of FIELDS for one lead, as text an officer reads; what the chat did not collect is dotted."""
    p, a = lead.profile, lead.assessment
    forms: dict[str, str] = {str(k): v for k, v in kb.rules.labels.legal_forms.items()}
    sizes: dict[str, str] = {str(k): v for k, v in kb.rules.labels.sizes.items()}
    created = local_time(lead.created_at or "")
    day = today or vn_today()
    needs = needs_rows(lead, kb)
    rows, total = [row for row, _ in needs], sum(amount for _, amount in needs)
    owner = [labels.FLAGS.get(f, "") for f in p.get("owner_flags") or []]
    return {
        "madangky": lead.ref,
        "ngaydangky": created.strftime("%d/%m/%Y") if created else DOTS,
        "ngayin": day.strftime("%d/%m/%Y"),
        "nam": str(day.year),
        "hoten": _or_dots(lead.name),
        "dienthoai": _or_dots(national_phone(lead.phone)),
        "coso": _or_dots(lead.facility_name),
        "loaihinh": forms.get(str(p.get("legal_form", "")), DOTS),
        "masothue": DOTS,
        "diachi": DOTS,
        "xa": _or_dots(lead.commune or ""),
        "tinh": _or_dots(lead.province or ""),
        "coquan": office.name if office else (f"UBND {lead.commune}" if lead.commune else DOTS),
        "langnghe": _yes_no(p.get("craft_village")),
        "sanpham": _or_dots(str(p.get("activity") or "")),
        "nganh": kb.sector_names.get(str(a.get("sector") or p.get("sector") or ""), DOTS),
        "laodong": f"{p['workers']} người" if isinstance(p.get("workers"), int) else DOTS,
        "doanhthu": labels.money(p["revenue_vnd"]) if isinstance(p.get("revenue_vnd"), int | float) else DOTS,
        "nguonvon": labels.money(p["capital_vnd"]) if isinstance(p.get("capital_vnd"), int | float) else DOTS,
        "quymo": sizes.get(str(a.get("size") or ""), DOTS),
        "nguyenlieu": _share(p.get("local_raw_material_share")),
        "xuatkhau": _yes_no(p.get("export")),
        "chucoso": "; ".join(o for o in owner if o) or DOTS,
        "tieubieu": _yes_no(p.get("typical_product_certificate")),
        "dahotro": DOTS,
        "hotro": "; ".join(r["noidung"] for r in rows) or DOTS,
        "ketqua": ELIGIBLE_LABELS.get(a.get("eligible"), DOTS),
        "ghichu": _or_dots(lead.note),
        "tongmuchotro": labels.money(total) if total else DOTS,
        "nhucau": rows,
    }


def _line_name(kb: Knowledge, code: str) -> str:
    """A support line's name; a need typed in the person's own words stays as typed, an unknown code never shows."""
    if code in kb.line_names:
        return kb.line_names[code]
    return "Nội dung khác" if _CODE.fullmatch(code) else code


def _share(value: Any) -> str:
    return f"{round(value * 100)} %" if isinstance(value, int | float) and not isinstance(value, bool) else DOTS


def sample_fields() -> dict[str, Any]:
    """Every field filled with a plausible value: a trial render of an uploaded template uses it."""
    found: dict[str, Any] = {name: f"({text})" for name, text in FIELDS.items()}
    found["nhucau"] = [{k: f"({v})" for k, v in ROW_FIELDS.items()} for _ in range(2)]
    return found
