"""Vietnamese words for every stored code staff read: channels, flags, audit actions and their changes, profiles.

Why here: the dashboard, the exports and the notices show the same values; one table keeps them saying the same
thing, and a code no table knows is shown as a neutral Vietnamese word, never as itself.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from bot.knowledge import Knowledge

CHANNELS = {
    "zalo": "Zalo",
    "telegram": "Telegram",
    "web": "Trang web",
    "console": "Thử trên máy",
    "jsonl": "Thử trên máy",
    "staff": "Cán bộ nhập",
    "office": "Tại văn phòng / qua điện thoại",
}
FLAGS = {
    "difficult": "Địa bàn khó khăn",
    "extremely_difficult": "Địa bàn đặc biệt khó khăn",
    "new_rural": "Xã xây dựng nông thôn mới",
    "highland": "Vùng cao",
    "island": "Hải đảo",
    "border": "Biên giới",
    "ethnic_minority_area": "Vùng đồng bào dân tộc thiểu số",
    "women_owned": "Phụ nữ làm chủ",
    "ethnic_minority_owned": "Người dân tộc thiểu số làm chủ",
}
ACTIONS = {
    "created": "Đăng ký mới",
    "updated by a new registration": "Người đăng ký gửi lại thông tin",
    "follow-up updated": "Cập nhật theo dõi",
    "erased at the person's request": "Xóa theo yêu cầu của người đăng ký",
    "erased: the retention period is over": "Xóa do hết thời hạn lưu",
    "contact corrected by staff": "Sửa thông tin liên hệ",
    "registered at the office": "Đăng ký tại văn phòng / qua điện thoại",
}
ACTORS = {"bot": "Trợ lý tự động", "person": "Người đăng ký", "system": "Hệ thống"}
FIELDS = {
    "status": "Trạng thái",
    "assignee": "Người phụ trách",
    "follow_up": "Ngày hẹn liên hệ",
    "note": "Ghi chú",
    "name": "Họ tên",
    "phone": "Số điện thoại",
    "facility_name": "Tên cơ sở",
    "commune_code": "Mã xã",
    "commune": "Xã/phường",
    "province": "Tỉnh",
    "lines_wanted": "Hỗ trợ mong muốn",
    "consent_id": "Lần đồng ý",
    "legal_form": "Loại hình",
    "activity": "Sản phẩm",
    "sector": "Ngành (chọn)",
    "workers": "Lao động",
    "revenue_vnd": "Doanh thu",
    "capital_vnd": "Nguồn vốn",
    "craft_village": "Trong làng nghề",
    "area_flags": "Địa bàn",
    "owner_flags": "Chủ cơ sở",
    "cleaner_production": "Sản xuất sạch hơn",
    "export": "Xuất khẩu",
    "local_raw_material_share": "Nguyên liệu trong tỉnh",
    "typical_product_certificate": "Sản phẩm tiêu biểu",
    "needs": "Nhu cầu",
}
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def money(amount: int | float) -> str:
    """'50.000.000.000 đồng'."""
    return f"{round(amount):,}".replace(",", ".") + " đồng"


def grouped(amount: int | float) -> str:
    """'20.000.000' (a money column whose header already says đồng)."""
    return f"{round(amount):,}".replace(",", ".")


def day(value: str) -> str:
    """An ISO day as dd/mm/yyyy; anything else unchanged."""
    if not _ISO_DAY.fullmatch(value or ""):
        return value
    try:
        return dt.date.fromisoformat(value).strftime("%d/%m/%Y")
    except ValueError:
        return value


def channel(code: str) -> str:
    """The channel a lead came through, in Vietnamese."""
    return CHANNELS.get(code, "Kênh khác")


def actor(who: str) -> str:
    """Who made an audited change: the officer's account name, or what did it."""
    kind, _, name = who.partition(":")
    return f"cán bộ {name}" if kind == "staff" and name else ACTORS.get(who, "Hệ thống")


def action(what: str) -> str:
    """An audited action in Vietnamese."""
    return ACTIONS.get(what, "Cập nhật")


class Labeller:
    """Codes of one knowledge base as the words staff read."""

    def __init__(self, kb: Knowledge) -> None:
        from bot.staff.exports import STATUS_LABELS  # the statuses' one table

        self.statuses = STATUS_LABELS
        self.lines, self.sectors = kb.line_names, kb.sector_names
        self.forms: dict[str, str] = {str(k): v for k, v in kb.rules.labels.legal_forms.items()}

    def value(self, field: str, value: Any) -> str:
        """One stored value of a lead, its profile or its follow-up, as staff read it."""
        if value is None or value == "" or value == []:
            return "(trống)"
        if isinstance(value, bool):
            return "Có" if value else "Không"
        if isinstance(value, list):
            return "; ".join(self.value(field, v) for v in value)
        if isinstance(value, dict):
            return "; ".join(f"{FIELDS.get(k, 'Thông tin khác')}: {self.value(k, v)}" for k, v in value.items())
        return self._scalar(field, value)

    def _scalar(self, field: str, value: Any) -> str:
        text = str(value)
        if field in ("revenue_vnd", "capital_vnd") and isinstance(value, int | float):
            return money(value)
        if field == "local_raw_material_share" and isinstance(value, int | float):
            return f"{round(value * 100)} %"
        tables: dict[str, dict[str, str]] = {
            "status": self.statuses,
            "legal_form": self.forms,
            "sector": self.sectors,
            "lines_wanted": self.lines,
            "needs": self.lines,
            "area_flags": FLAGS,
            "owner_flags": FLAGS,
            "channel": CHANNELS,
        }
        if field in tables:
            return tables[field].get(text, text if field == "needs" else "Khác")
        return day(text)

    def profile(self, profile: dict[str, Any]) -> list[tuple[str, str]]:
        """The facts a lead's chat collected, labelled (place fields shown elsewhere are left out)."""
        return [
            (FIELDS.get(key, "Thông tin khác"), self.value(key, value))
            for key, value in profile.items()
            if value not in (None, "", []) and key not in ("province", "commune")
        ]

    def changes(self, changes: dict[str, Any]) -> list[tuple[str, str, str]]:
        """An audit row's changes as (field, before, after); a changed profile is shown fact by fact."""
        rows = []
        for field, pair in changes.items():
            before, after = [*pair, None, None][:2] if isinstance(pair, list) else (None, pair)
            if field == "profile" and isinstance(before, dict) and isinstance(after, dict):
                keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
                rows += [
                    (FIELDS.get(k, "Thông tin khác"), self.value(k, before.get(k)), self.value(k, after.get(k)))
                    for k in keys
                ]
                continue
            rows.append((FIELDS.get(field, "Thông tin khác"), self.value(field, before), self.value(field, after)))
        return rows
