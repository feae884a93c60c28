"""`khuyencong announce` over the library: input checked field by field, the plan or the queue, the report."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click

from bot.announce.audience import AudienceError, parse_audience
from bot.announce.limits import Rules
from bot.announce.queue import AnnouncementRefused, Announcer, Plan, Request
from bot.config import Settings
from bot.knowledge import Knowledge, vn_today
from bot.staff import labels
from bot.storage.factory import open_repository

Fail = Callable[[str], NoReturn]
GROUPS = {
    "free": "nhắn miễn phí (nhắn cho trợ lý trong 48 giờ qua)",
    "charged": "tính phí (48 giờ đến 7 ngày)",
    "closed": "không nhắn được (quá 7 ngày: cần gọi điện)",
    "send": "có thể nhắn",
    "none": "không có kênh nhắn",
}
ZBS_GROUP = "tin mẫu trả phí (ZBS) (ngoài 48 giờ, có số điện thoại đã đăng ký)"
REASONS = {
    "zalo_charged": "Zalo tính phí, không gửi (thêm --charged để gửi)",
    "zalo_closed": "Zalo quá 7 ngày, cần gọi điện",
    "weekly_limit": "đã nhận đủ số tin trong tuần",
    "no_channel": "không có kênh nhắn",
    "zalo_window": "Zalo báo quá hạn nhắn (-230)",
    "blocked": "đã chặn trợ lý (đã hủy nhận tin)",
    "interrupted": "gián đoạn khi đang gửi (không gửi lại)",
    "unsubscribed": "đã hủy nhận tin trước khi gửi",
    "erased": "đã xóa dữ liệu",
    "refused": "nền tảng từ chối",
    "platform": "lỗi nền tảng",
    "rate_limited": "nền tảng báo gửi quá nhanh",
    "error": "lỗi",
    "zbs_no_phone": "Zalo ngoài 48 giờ, không có số điện thoại đăng ký để gửi tin mẫu trả phí",
    "zbs_phone": "số điện thoại không nhận được tin mẫu Zalo, cần gọi điện",
    "zbs_refused": "Zalo từ chối tin mẫu trả phí (kiểm tra mẫu tin, tài khoản OA; mã lỗi trong nhật ký)",
    "zbs_off": "tin mẫu trả phí đã tắt trước khi gửi",
}


@dataclass(frozen=True)
class Options:
    """The command line as given (bot/cli.py)."""

    communes: tuple[str, ...]
    text: str | None
    audience: str | None
    link: str
    deadline: str | None
    urgent: bool
    charged: bool | None
    name: str
    dry_run: bool
    report: str | None
    as_json: bool
    zbs: bool = False  # Zalo's paid template to those outside the window with a phone


def announce_command(fail: Fail, inputs: tuple[Path, Knowledge], given: Options) -> None:
    """Plan (--dry-run), queue, or report (--report ID) one announcement; bad input exits 2 naming the field."""
    path, kb = inputs
    repo = open_repository(path)
    try:
        rules = Rules.of(Settings())
        announcer = Announcer(repo, rules)
        if given.zbs and not rules.zalo_zbs:
            fail("zbs: tin mẫu trả phí của Zalo chưa được cấu hình (ZALO_ZBS_TEMPLATE_ID trống)")
        if given.report is not None:
            _report(fail, announcer, given.report, given.as_json)
            return
        request = _request(fail, kb, given)
        try:
            if given.dry_run:
                _show(announcer.plan(request), None, given.as_json)
            else:
                ident, plan = announcer.queue(request)
                _show(plan, ident, given.as_json)
        except AnnouncementRefused as refused:
            fail(str(refused))
    finally:
        repo.close()


def _request(fail: Fail, kb: Knowledge, given: Options) -> Request:
    from bot.answers import place_slot
    from bot.dialog.news import News
    from bot.places import Gazetteer
    from bot.staff.accounts import Refused, resolve_communes

    if not given.communes:
        fail("commune: cần mã xã (--commune), ví dụ --commune 19405")
    if given.text is None:
        fail("text: cần nội dung thông báo (--text)")
    gazetteer = Gazetteer({a.old: a.new for a in kb.province_aliases.aliases})
    places: dict[int, str] = {}
    for typed in given.communes:  # a code or a name, with or without marks ("vinh thuy", "Bình Giang, Ninh Bình")
        try:
            codes = resolve_communes(gazetteer, typed)
        except Refused as refused:
            fail(f"commune: {refused.message}")
        place = gazetteer.place_by_code(codes[0]) if codes else None
        if place is None:
            fail(f"commune: không có xã/phường “{typed[:20]}”")
        places[place.code] = News.label(place_slot(place))
    try:
        wanted = parse_audience(
            given.audience, {s.code for s in kb.sectors.sectors}, {x.code for x in kb.support_lines.lines}
        )
    except AudienceError as wrong:
        fail(str(wrong))
    day = _day(fail, given.deadline)
    return Request(places, given.text, wanted, given.link, day, given.urgent, given.charged, given.name, given.zbs)


def _day(fail: Fail, given: str | None) -> dt.date | None:
    """The deadline: a day from today on, written dd/mm/yyyy (as officers write it) or YYYY-MM-DD."""
    if given is None:
        return None
    day = None
    for form in ("%d/%m/%Y", "%Y-%m-%d"):
        with contextlib.suppress(ValueError):
            day = dt.datetime.strptime(given.strip(), form).date()
    if day is None:
        fail(f"deadline: cần ngày dạng ngày/tháng/năm (ví dụ 20/12/2026), không phải “{given[:20]}”")
    if day < vn_today():
        fail("deadline: ngày này đã qua")
    return day


def _show(plan: Plan, ident: int | None, as_json: bool) -> None:
    data = plan.as_json()
    if as_json:
        click.echo(json.dumps({"id": ident, "dry_run": ident is None, **data}, ensure_ascii=False, indent=2))
        return
    click.echo(f"Đã xếp hàng thông báo số {ident}." if ident is not None else "Thử (không gửi gì):")
    for channel, groups in data["channels"].items():
        parts = ", ".join(f"{n} {GROUPS.get(g, g)}" for g, n in groups.items())
        click.echo(f"• {labels.channel(channel)}: {parts}")
    if "zbs" in data:
        _show_zbs(data["zbs"])
    for reason, count in data["skipped"].items():
        click.echo(f"• Trong số đó không gửi {count}: {REASONS.get(reason, reason)}")
    click.echo(f"Sẽ gửi: {data['to_send']} người.")
    if plan.night:
        click.echo("Đang là ban đêm: thông báo chờ đến 7 giờ sáng (thêm --urgent nếu thật sự gấp).")


def _show_zbs(zbs: dict[str, Any]) -> None:
    """The fourth Zalo group: who the paid template reaches, what it would cost, who it cannot reach."""
    cost = f", ước tính {labels.money(zbs['cost_vnd'])}" if zbs["price_vnd"] else ""
    click.echo(f"• Zalo, {ZBS_GROUP}: {zbs['people']}{cost}")
    if not zbs["send"]:
        click.echo("  (chưa gửi tin mẫu: thêm --zbs để gửi)")
    if zbs["without_phone"]:
        click.echo(f"  Không có số điện thoại nên không gửi được tin mẫu: {zbs['without_phone']}")


def _report(fail: Fail, announcer: Announcer, given: str, as_json: bool) -> None:
    found = announcer.report(int(given)) if given.isascii() and given.isdigit() and len(given) <= 9 else None
    if found is None:
        fail(f"report: không có thông báo số “{given[:20]}”")
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    click.echo(f"Thông báo số {found['id']}: {found['sent']} đã gửi, {found['waiting']} đang chờ.")
    if found.get("zbs_sent"):
        click.echo(f"• Trong số đã gửi, bằng tin mẫu trả phí của Zalo: {found['zbs_sent']}")
    for kind, word in (("failed", "Không tới"), ("skipped", "Không gửi")):
        for reason, count in found[kind].items():
            click.echo(f"• {word} {count}: {REASONS.get(reason, reason)}")
    click.echo(f"Hủy nhận tin sau thông báo này: {found['unsubscribed_after']}.")
