"""The compose form of an announcement, read into a checked request: every refusal one polite Vietnamese line."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from multidict import MultiDictProxy

from bot.announce.audience import STATUSES, Audience
from bot.announce.queue import MAX_LINK, MAX_TEXT, AnnouncementRefused, Request, checked
from bot.knowledge import VN_TIME, Knowledge
from bot.staff import forms

MAX_REASON = 200
MAX_AHEAD = dt.timedelta(days=60)  # a send set further ahead is more likely a typo than a plan
FORMULA = re.compile(r"^\s*(?:[=+@]|-(?=\S))")  # what a spreadsheet would run if the text were ever exported
TAG = re.compile(r"<\s*/?\s*[a-zA-Z!?]")
DAY = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$")
MOMENT = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2})[:hg](\d{2})\s*$")
Posted = MultiDictProxy[str | bytes | bytearray | Any]


@dataclass
class Draft:
    """The form as typed (to show again) and, when nothing is wrong, the request and when it goes."""

    values: dict[str, Any]
    errors: list[str] = field(default_factory=list)
    request: Request | None = None
    when: dt.datetime | None = None  # None: now
    urgent_reason: str = ""


def blank(communes: list[int]) -> dict[str, Any]:
    """The form before anything is typed."""
    return {
        "communes": communes, "text": "", "link": "", "deadline": "", "sectors": [], "lines": [], "statuses": [],
        "registered": "", "when": "now", "send_at": "", "urgent": False, "urgent_reason": "", "zbs": False,
    }  # fmt: skip


def _raw(form: Posted, name: str, limit: int = 20_000) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _many(form: Posted, name: str) -> list[str]:
    return [forms.clean(v, 100) for v in form.getall(name, []) if isinstance(v, str)][:200]


def _unreadable(text: str) -> bool:
    """A lone surrogate (or what a browser made of one): a character no one can read."""
    return "\ufffd" in text or any("\ud800" <= ch <= "\udfff" for ch in text)


def parse_day(text: str) -> dt.date | None:
    """'20/12/2026' → that day; None when it is no day."""
    found = DAY.match(text)
    try:
        return dt.date(int(found[3]), int(found[2]), int(found[1])) if found else None
    except ValueError:
        return None


def parse_moment(text: str) -> dt.datetime | None:
    """'20/12/2026 08:30' (Vietnam time) → that moment in UTC; None when it is none."""
    found = MOMENT.match(text)
    try:
        local = (
            dt.datetime(int(found[3]), int(found[2]), int(found[1]), int(found[4]), int(found[5]), tzinfo=VN_TIME)
            if found
            else None
        )
    except ValueError:
        return None
    return local.astimezone(dt.UTC) if local else None


def read_form(form: Posted, choices: dict[int, str], kb: Knowledge, by: str, at: dt.datetime) -> Draft:
    """The posted form as a draft; `choices` are the communes this account may announce to."""
    values: dict[str, Any] = {
        "communes": [forms.number(c) for c in _many(form, "commune")],
        "text": forms.clean(_raw(form, "text"), MAX_TEXT + 500),
        "link": forms.clean(_raw(form, "link"), MAX_LINK + 100).strip(),
        "deadline": forms.clean(_raw(form, "deadline"), 40).strip(),
        "sectors": _many(form, "sector"),
        "lines": _many(form, "line"),
        "statuses": _many(form, "status"),
        "registered": forms.clean(_raw(form, "registered"), 10),
        "when": forms.clean(_raw(form, "when"), 10) or "now",
        "send_at": forms.clean(_raw(form, "send_at"), 40).strip(),
        "urgent": _raw(form, "urgent") == "yes",
        "urgent_reason": forms.clean(_raw(form, "urgent_reason"), MAX_REASON + 100).strip(),
        "zbs": _raw(form, "zbs") == "yes",  # Zalo's paid template; the plan ignores it unless configured
    }
    draft = Draft(values)
    communes = _communes(draft, choices)
    text = _text(draft, _raw(form, "text"))
    _link(draft)
    deadline = _deadline(draft, at)
    audience = _audience(draft, kb)
    draft.when = _when(draft, at)
    if values["urgent"]:
        if not values["urgent_reason"] or len(values["urgent_reason"]) > MAX_REASON:
            draft.errors.append(f"Gửi gấp cả ban đêm cần ghi lý do (tối đa {MAX_REASON} ký tự).")
        draft.urgent_reason = values["urgent_reason"]
    if draft.errors:
        return draft
    try:
        wanted = Request(communes, text, audience, values["link"], deadline, values["urgent"], None, by, values["zbs"])
        draft.request = checked(wanted)
    except AnnouncementRefused as refused:  # what the library refuses that the form did not catch
        draft.errors.append(str(refused).partition(": ")[2] or str(refused))
    return draft


def _communes(draft: Draft, choices: dict[int, str]) -> dict[int, str]:
    picked = draft.values["communes"]
    if not picked:
        draft.errors.append("Hãy chọn xã nhận thông báo.")
    elif any(code not in choices for code in picked):
        draft.errors.append("Có xã không thuộc tài khoản của bạn; chỉ gửi được cho xã mình phụ trách.")
    return {code: choices[code] for code in picked if code in choices}


def _text(draft: Draft, raw: str) -> str:
    text = str(draft.values["text"]).strip()
    if _unreadable(raw):
        draft.errors.append("Nội dung có ký tự không đọc được; hãy gõ lại đoạn đó.")
    elif not text:
        draft.errors.append("Hãy viết nội dung thông báo.")
    elif len(raw.strip()) > MAX_TEXT:
        draft.errors.append(f"Nội dung tối đa {MAX_TEXT} ký tự (đang có {len(raw.strip())}); hãy viết ngắn lại.")
    elif TAG.search(text):
        draft.errors.append("Nội dung là tin nhắn chữ thường, không dùng thẻ HTML (như <b>).")
    elif FORMULA.match(text):
        draft.errors.append("Nội dung không nên bắt đầu bằng dấu =, +, - hoặc @; hãy bắt đầu bằng chữ.")
    return text


def _link(draft: Draft) -> None:
    link = draft.values["link"]
    if link and (
        len(link) > MAX_LINK
        or not link.startswith(("https://", "http://"))
        or any(c.isspace() or c in "<>\"'" for c in link)
    ):
        draft.errors.append("Đường dẫn cần là địa chỉ web bắt đầu bằng https://, không có dấu cách.")


def _deadline(draft: Draft, at: dt.datetime) -> dt.date | None:
    typed = draft.values["deadline"]
    if not typed:
        return None
    day = parse_day(typed)
    if day is None:
        draft.errors.append("Hạn chót cần ghi dạng ngày/tháng/năm, ví dụ 20/12/2026.")
    elif day < at.astimezone(VN_TIME).date():
        draft.errors.append("Hạn chót này đã qua; hãy chọn một ngày từ hôm nay.")
    elif day.year > at.year + 2:
        draft.errors.append("Hạn chót quá xa; hãy kiểm tra lại năm.")
    return day


def _audience(draft: Draft, kb: Knowledge) -> Audience:
    v = draft.values
    sectors, lines, statuses = set(v["sectors"]), set(v["lines"]), set(v["statuses"])
    if (
        sectors - set(kb.sector_names)
        or lines - set(kb.line_names)
        or statuses - set(STATUSES)
        or v["registered"] not in ("", "yes", "no")
    ):
        draft.errors.append("Lựa chọn người nhận không hợp lệ; hãy tải lại trang và chọn lại.")
        return Audience()
    return Audience(
        frozenset(sectors) or None,
        frozenset(lines) or None,
        None if not v["registered"] else v["registered"] == "yes",
        frozenset(statuses) or None,
    )


def _when(draft: Draft, at: dt.datetime) -> dt.datetime | None:
    if draft.values["when"] != "later":
        return None
    moment = parse_moment(draft.values["send_at"])
    if moment is None:
        draft.errors.append("Giờ gửi cần ghi dạng ngày/tháng/năm giờ:phút, ví dụ 20/12/2026 08:30.")
    elif moment < at - dt.timedelta(minutes=1):
        draft.errors.append("Giờ gửi đã qua; hãy chọn một lúc sau bây giờ, hoặc chọn gửi ngay.")
    elif moment > at + MAX_AHEAD:
        draft.errors.append("Giờ gửi quá xa (tối đa 60 ngày tới); hãy kiểm tra lại.")
    return moment
