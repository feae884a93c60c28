"""The commune profile form: what an officer posts, checked into a Locality, or polite Vietnamese refusals."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from bot.eligibility import vnd
from bot.knowledge import BudgetLine, Form, Knowledge, Locality, Office
from bot.places import Place
from bot.profiles import SAVED_SOURCE, vn_day
from bot.text import fold, parse_money, parse_phone

LINE_ROWS, FORM_ROWS = 12, 8  # rows the form offers: a commune's plan has a handful of lines
MAX_AMOUNT = 10_000_000_000  # per facility: far above any khuyến công cap, below any typing slip of zeros
MAX_SLOTS = 10_000
MAX_TOTAL = 1_000_000_000_000
FUNDING_LABELS = {"commune": "Ngân sách xã", "provincial": "Ngân sách tỉnh"}
TEXTS = {  # field → (label, most characters)
    "office_name": ("Tên cơ quan đầu mối", 200),
    "office_phone": ("Số điện thoại", 120),
    "office_address": ("Địa chỉ", 300),
    "office_hours": ("Giờ làm việc", 200),
    "office_zalo": ("Zalo OA (tên hoặc đường dẫn)", 200),
    "staff_chat_id": ("Mã nhóm Telegram của cán bộ", 30),
    "valid_from": ("Hiệu lực từ ngày", 10),
    "valid_to": ("Hiệu lực đến ngày", 10),
}
LINE_FIELDS = {"code": 40, "amount": 40, "slots": 20, "total": 40, "funding": 20, "note": 300}
FORM_FIELDS = {"code": 40, "name": 100, "description": 300}
_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_MONEY = re.compile(r"^\d{1,3}(?:[.,\s]\d{3})+$|^\d+$")
_MONEY_WORDS = re.compile(r"(?:\d+(?:[.,\s]\d+)?\s*(?:ty|trieu|tr|nghin|ngan)\s*)+\d*")  # folded: '1,5 tỷ' → '1 5 ty'
_CHAT = re.compile(r"^-?\d{5,16}$")
_FORMULA = tuple("=+-@\t\r")


_SINGLE: list[tuple[str, str, Callable[[Locality], str]]] = [  # form field, label in the audit, value shown
    ("office_name", "Tên cơ quan đầu mối", lambda x: x.office.name),
    ("office_phone", "Số điện thoại", lambda x: x.office.phone or ""),
    ("office_address", "Địa chỉ", lambda x: x.office.address or ""),
    ("office_hours", "Giờ làm việc", lambda x: x.office.hours or ""),
    ("office_zalo", "Zalo OA", lambda x: x.office.zalo or ""),
    ("staff_chat_id", "Nhóm Telegram của cán bộ", lambda x: x.staff_chat_id or ""),
    ("valid_from", "Hiệu lực từ ngày", lambda x: vn_day(x.valid_from)),
    ("valid_to", "Hiệu lực đến ngày", lambda x: vn_day(x.valid_to)),
]


@dataclass
class Posted:
    """The form as posted, kept to show it again with the refusals; `errors` empty when it can be saved."""

    values: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def allowed_fields() -> set[str]:
    """Every field name the form has; any other is refused."""
    names = {"csrf", *TEXTS}
    names |= {f"line-{i}-{f}" for i in range(LINE_ROWS) for f in LINE_FIELDS}
    names |= {f"form-{i}-{f}" for i in range(FORM_ROWS) for f in FORM_FIELDS}
    return names


def values_of(loc: Locality | None) -> dict[str, str]:
    """The form's fields filled from a profile (empty for a commune without one)."""
    if loc is None:
        return {}
    out = {key: get(loc) for key, _, get in _SINGLE}
    for i, b in enumerate(loc.budget_lines[:LINE_ROWS]):
        out |= {
            f"line-{i}-code": b.code,
            f"line-{i}-amount": _money(b.amount_per_facility_vnd),
            f"line-{i}-slots": str(b.slots or ""),
            f"line-{i}-total": _money(b.total_vnd),
            f"line-{i}-funding": b.funding,
            f"line-{i}-note": b.note or "",
        }
    for i, f in enumerate(loc.forms[:FORM_ROWS]):
        out |= {f"form-{i}-code": f.code, f"form-{i}-name": f.name, f"form-{i}-description": f.description}
    return out


def _money(amount: int | None) -> str:
    return f"{amount:,}".replace(",", ".") if amount else ""


class ProfileForm:
    """Reads a posted profile form against the commune's current profile (or none)."""

    def __init__(self, kb: Knowledge, place: Place, base: Locality | None, today: dt.date) -> None:
        self.kb, self.place, self.base, self.today = kb, place, base, today
        self.citation = f"Hồ sơ do cán bộ xã cập nhật ngày {vn_day(today)}"

    def read(self, form: Mapping[str, Any]) -> tuple[Posted, Locality | None]:
        """The posted values, and the new profile when every value is sound (else None and the errors)."""
        posted = Posted()
        unknown = [k for k in form if k not in allowed_fields()]
        if unknown:
            posted.errors.append("Biểu mẫu có ô không có trên trang. Xin tải lại trang rồi nhập lại.")
        for key in allowed_fields() - {"csrf"}:
            raw = form.get(key)
            if raw is not None and not isinstance(raw, str):
                posted.errors.append("Biểu mẫu chỉ nhận chữ, không nhận tệp đính kèm.")
                continue
            posted.values[key] = (raw or "").strip()
        if posted.errors:
            return posted, None
        for key, (label, most) in TEXTS.items():
            self._text(posted, label, posted.values[key], most)
        office = self._office(posted)
        chat = self._chat(posted)
        start, end = self._day(posted, "valid_from"), self._day(posted, "valid_to")
        if start and end and start > end:
            posted.errors.append("Ngày hiệu lực đến phải sau ngày hiệu lực từ.")
        lines = [b for b in (self._line(posted, i) for i in range(LINE_ROWS)) if b is not None]
        forms = [f for f in (self._form(posted, i) for i in range(FORM_ROWS)) if f is not None]
        if posted.errors or office is None:
            return posted, None
        return posted, self._profile(posted, office, chat, start, end, lines, forms)

    # --- single values ------------------------------------------------------------------------

    def _text(self, posted: Posted, label: str, value: str, most: int) -> None:
        if len(value) > most:
            posted.errors.append(f"{label}: tối đa {most} ký tự.")
        elif "<" in value or ">" in value:
            posted.errors.append(f"{label}: không dùng dấu < hoặc >.")
        elif value.startswith(_FORMULA) and label not in ("Số điện thoại", "Mã nhóm Telegram của cán bộ"):
            posted.errors.append(f"{label}: không bắt đầu bằng dấu =, +, - hoặc @.")
        elif any(ord(c) < 32 for c in value):
            posted.errors.append(f"{label}: có ký tự điều khiển, xin gõ lại.")

    def _office(self, posted: Posted) -> Office | None:
        v = posted.values
        if not v["office_name"]:
            posted.errors.append("Tên cơ quan đầu mối: xin nhập.")
        phones = [p.strip() for p in re.split(r"[,;/]", v["office_phone"]) if p.strip()]
        parsed = [parse_phone(p) for p in phones]
        if any(p is None for p in parsed):
            posted.errors.append("Số điện thoại: chưa đúng. Ví dụ: 0233 3826 123, 0912 345 678.")
            return None
        zalo = v["office_zalo"]
        if zalo.lower().startswith(("http:", "javascript:", "data:")) or (
            ":" in zalo and not zalo.startswith("https://")
        ):
            posted.errors.append("Zalo OA: đường dẫn phải bắt đầu bằng https://.")
        if posted.errors:
            return None
        return Office(
            name=v["office_name"],
            phone=", ".join(_grouped(p or "") for p in parsed) or None,
            address=v["office_address"] or None,
            hours=v["office_hours"] or None,
            zalo=zalo or None,
            note=self.base.office.note if self.base else None,
        )

    def _chat(self, posted: Posted) -> str | None:
        chat = posted.values["staff_chat_id"]
        if chat and not _CHAT.match(chat):
            posted.errors.append("Mã nhóm Telegram: chỉ gồm chữ số (nhóm có dấu - ở đầu), ví dụ -1001234567890.")
        return chat or None

    def _day(self, posted: Posted, key: str) -> dt.date | None:
        raw = posted.values[key]
        if not raw:
            return None
        found = _DATE.match(raw)
        try:
            day = dt.date(int(found[3]), int(found[2]), int(found[1])) if found else None
        except ValueError:
            day = None
        if day is None or not 2000 <= day.year <= 2100:
            posted.errors.append(f"{TEXTS[key][0]}: gõ theo dạng ngày/tháng/năm, ví dụ 31/12/2026.")
        return day

    def _amount(self, posted: Posted, where: str, raw: str, most: int) -> int | None:
        if not raw:
            return None
        text = re.sub(r"\s*(đồng|đ|vnđ|vnd)$", "", raw, flags=re.IGNORECASE).strip()
        value = int(re.sub(r"[.,\s]", "", text)) if _MONEY.match(text) else None
        if value is None and _MONEY_WORDS.fullmatch(fold(text)):  # '25 triệu', '1,5 tỷ', '1 tỷ 200 triệu'
            value = parse_money(text)
        if value is None or not 0 < value <= most:
            posted.errors.append(f"{where}: số tiền chưa đúng (ví dụ 20.000.000 hoặc 20 triệu), tối đa {vnd(most)}.")
            return None
        return value

    # --- rows ----------------------------------------------------------------------------------

    def _line(self, posted: Posted, i: int) -> BudgetLine | None:
        v = {f: posted.values[f"line-{i}-{f}"] for f in LINE_FIELDS}
        if not any(v[f] for f in ("code", "amount", "slots", "total", "note")):
            return None
        where = f"Dòng {i + 1}"
        names = self.kb.line_names
        if v["code"] not in names:
            posted.errors.append(f"{where}: xin chọn nội dung hỗ trợ trong danh sách.")
            return None
        if v["funding"] not in FUNDING_LABELS:
            posted.errors.append(f"{where}: xin chọn nguồn kinh phí.")
            return None
        self._text(posted, f"{where}, ghi chú", v["note"], LINE_FIELDS["note"])
        amount = self._amount(posted, f"{where}, mức hỗ trợ mỗi cơ sở", v["amount"], MAX_AMOUNT)
        slots = int(v["slots"]) if v["slots"].isascii() and v["slots"].isdigit() and len(v["slots"]) < 6 else None
        if v["slots"] and (slots is None or not 0 < slots <= MAX_SLOTS):
            posted.errors.append(f"{where}: số cơ sở phải là số nguyên từ 1 đến {MAX_SLOTS:,}.".replace(",", "."))
            return None
        total = self._amount(posted, f"{where}, tổng kinh phí", v["total"], MAX_TOTAL)
        if amount and slots:
            if total is not None and total != amount * slots:
                posted.errors.append(
                    f"{where}: tổng {vnd(total)} khác mức hỗ trợ × số cơ sở ({vnd(amount * slots)}). "
                    "Xin sửa lại, hoặc để trống ô tổng để tự tính."
                )
                return None
            total = amount * slots
        return self._budget_line(str(v["code"]), str(v["funding"]), amount, slots, total, v["note"] or None)

    def _budget_line(
        self, code: str, funding: str, amount: int | None, slots: int | None, total: int | None, note: str | None
    ) -> BudgetLine:
        """The line as posted; one unchanged from the current profile keeps its own name and citation."""
        same = {"code": code, "funding": funding, "amount_per_facility_vnd": amount, "slots": slots, "total_vnd": total}
        for old in self.base.budget_lines if self.base else []:
            if all(getattr(old, k) == x for k, x in same.items()) and (old.note or None) == note:
                return old
        name = next((b.name for b in self.base.budget_lines if b.code == code), None) if self.base else None
        return BudgetLine.model_validate(
            same | {"name": name or self.kb.line_names[code], "note": note, "citation": self.citation, "status": "S"}
        )

    def _form(self, posted: Posted, i: int) -> Form | None:
        v = {f: posted.values[f"form-{i}-{f}"] for f in FORM_FIELDS}
        if not any(v.values()):
            return None
        where = f"Biểu mẫu {i + 1}"
        codes = {d.code: d.name for d in self.kb.documents.documents}
        if v["code"] not in codes:
            posted.errors.append(f"{where}: xin chọn loại giấy tờ trong danh sách.")
            return None
        self._text(posted, f"{where}, tên", v["name"], FORM_FIELDS["name"])
        self._text(posted, f"{where}, mô tả", v["description"], FORM_FIELDS["description"])
        name = v["name"] or codes[v["code"]]
        return Form.model_validate({"code": v["code"], "name": name, "description": v["description"] or name})

    # --- the whole profile ---------------------------------------------------------------------

    def _profile(
        self,
        posted: Posted,
        office: Office,
        chat: str | None,
        start: dt.date | None,
        end: dt.date | None,
        lines: list[BudgetLine],
        forms: list[Form],
    ) -> Locality | None:
        base = self.base.model_dump() if self.base else self._skeleton()
        plan_same = self.base is not None and (
            (self.base.valid_from, self.base.valid_to, self.base.budget_lines, self.base.forms)
            == (start, end, lines, forms)
        )
        data = base | {
            "office": office.model_dump(),
            "staff_chat_id": chat,
            "valid_from": start,
            "valid_to": end,
            "budget_lines": [b.model_dump() for b in lines],
            "forms": [f.model_dump() for f in forms],
        }
        if not plan_same:
            data |= {"citation": self.citation, "status": "S"}
            if data.get("budget_total_vnd") is not None:  # the plan's total follows its lines
                others = sum(o.get("total_vnd") or 0 for o in data.get("other_items", []))
                data["budget_total_vnd"] = sum(b.total_vnd or 0 for b in lines) + others
        try:
            return Locality.model_validate(data)
        except ValidationError as exc:  # a rule of the schema the checks above did not foresee: nothing saved
            posted.errors.append(f"Hồ sơ chưa hợp lệ ({exc.error_count()} chỗ); xin kiểm tra lại các ô.")
            return None

    def _skeleton(self) -> dict[str, Any]:
        """A new commune's profile: its names and codes from the gazetteer, the plan from the form."""
        p = self.place
        return {
            "id": f"{slug(p.province.name)}/{slug(p.name)}",
            "level": "commune",
            "province": p.province.name,
            "province_code": p.province.code,
            "commune": p.name,
            "ward_code": p.code,
            "title": f"Kế hoạch khuyến công {p.name}",
            "document": f"Hồ sơ khuyến công của {p.name} do cán bộ xã cập nhật",
            "source": SAVED_SOURCE,
            "citation": self.citation,
            "status": "S",
        }


def slug(name: str) -> str:
    """'Xã Vĩnh Thủy' → 'vinh-thuy', for the file name of an export."""
    words = fold(name).split()
    if words and words[0] in ("xa", "phuong", "tinh", "thanh", "dac"):
        words = words[2:] if words[:2] in (["thanh", "pho"], ["dac", "khu"]) else words[1:]
    return "-".join("".join(c for c in w if c.isalnum()) for w in words) or "xa"


def _grouped(phone: str) -> str:
    """'+842333826123' → '0233 3826 123'; '+84912345678' → '0912 345 678'."""
    digits = "0" + phone.removeprefix("+84") if phone.startswith("+84") else phone
    if len(digits) == 11:
        return f"{digits[:4]} {digits[4:8]} {digits[8:]}"
    return f"{digits[:4]} {digits[4:7]} {digits[7:]}" if len(digits) == 10 else digits


# --- what changed, as an officer reads it --------------------------------------------------------


def changes(kb: Knowledge, old: Locality | None, new: Locality) -> dict[str, list[str]]:
    """Each changed field: its Vietnamese label → [old, new], values as people read them."""
    before, after = shown(kb, old), shown(kb, new)
    return {
        k: [before.get(k, "(trống)"), after.get(k, "(trống)")] for k in after | before if before.get(k) != after.get(k)
    }


def shown(kb: Knowledge, loc: Locality | None) -> dict[str, str]:
    """A profile's fields as the page shows them: labels and values in Vietnamese, no codes."""
    if loc is None:
        return {}
    out = {label: get(loc) for _, label, get in _SINGLE}
    for i, b in enumerate(loc.budget_lines):
        out[f"Dòng {i + 1}"] = line_text(kb, b)
    for i, f in enumerate(loc.forms):
        out[f"Biểu mẫu {i + 1}"] = f"{f.name} – {kb.document(f.code).name}"
    return {k: v or "(trống)" for k, v in out.items()}


def line_text(kb: Knowledge, b: BudgetLine) -> str:
    """'Hỗ trợ tham gia hội chợ: 10.000.000 đồng × 2 cơ sở = 20.000.000 đồng, ngân sách xã'."""
    parts = [kb.line_names.get(b.code, b.name)]
    if b.amount_per_facility_vnd:
        parts.append(f"{_money(b.amount_per_facility_vnd)} đồng/cơ sở")
    if b.slots:
        parts.append(f"{b.slots} cơ sở")
    if b.total_vnd:
        parts.append(f"tổng {_money(b.total_vnd)} đồng")
    parts.append(FUNDING_LABELS[b.funding].lower())
    return ", ".join(parts) + (f" ({b.note})" if b.note else "")


def to_yaml(loc: Locality, today: dt.date) -> str:
    """The profile as a file for knowledge/localities/ (loadable back, checked by `kb check`)."""
    head = (
        f"# {loc.title}: hồ sơ xuất từ trang cán bộ ngày {vn_day(today)}.\n"
        f"# Đặt tệp này tại knowledge/localities/{loc.id}.yaml rồi chạy `khuyencong kb check`.\n"
    )
    body = yaml.safe_dump(loc.model_dump(exclude_none=True), allow_unicode=True, sort_keys=False, width=110)
    return head + body
