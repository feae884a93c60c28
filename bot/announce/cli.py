"""`khuyencong announce` over the library: input checked field by field, the plan or the queue, the report."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import click

from bot.announce.audience import AudienceError, parse_audience
from bot.announce.limits import Rules
from bot.announce.queue import AnnouncementRefused, Announcer, Plan, Request
from bot.config import Settings
from bot.knowledge import Knowledge
from bot.storage.sqlite import SqliteRepository

Fail = Callable[[str], NoReturn]
CHANNELS = {"zalo": "Zalo", "telegram": "Telegram", "web": "Trang web"}
GROUPS = {
    "free": "nhắn miễn phí (nhắn cho trợ lý trong 48 giờ qua)",
    "charged": "tính phí (48 giờ đến 7 ngày)",
    "closed": "không nhắn được (quá 7 ngày: cần gọi điện)",
    "send": "nhắn được",
    "none": "không có kênh nhắn",
}
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
}


def announce_command(
    fail: Fail,
    inputs: tuple[Path, Knowledge],
    communes: tuple[str, ...],
    text: str | None,
    audience: str | None,
    link: str,
    deadline: dt.datetime | None,
    urgent: bool,
    charged: bool | None,
    name: str,
    dry_run: bool,
    report: str | None,
    as_json: bool,
) -> None:
    """Plan (--dry-run), queue, or report (--report ID) one announcement; bad input exits 2 naming the field."""
    path, kb = inputs
    repo = SqliteRepository(path)
    try:
        announcer = Announcer(repo, Rules.of(Settings()))
        if report is not None:
            _report(fail, announcer, report, as_json)
            return
        request = _request(fail, kb, communes, text, audience, link, deadline, urgent, charged, name)
        try:
            if dry_run:
                _show(announcer.plan(request), None, as_json)
            else:
                ident, plan = announcer.queue(request)
                _show(plan, ident, as_json)
        except AnnouncementRefused as refused:
            fail(str(refused))
    finally:
        repo.close()


def _request(
    fail: Fail,
    kb: Knowledge,
    communes: tuple[str, ...],
    text: str | None,
    audience: str | None,
    link: str,
    deadline: dt.datetime | None,
    urgent: bool,
    charged: bool | None,
    name: str,
) -> Request:
    from bot.answers import place_slot
    from bot.dialog.news import News
    from bot.places import Gazetteer

    if not communes:
        fail("commune: cần mã xã (--commune), ví dụ --commune 19405")
    if text is None:
        fail("text: cần nội dung thông báo (--text)")
    gazetteer = Gazetteer({a.old: a.new for a in kb.province_aliases.aliases})
    labels: dict[int, str] = {}
    for given in communes:
        place = gazetteer.place_by_code(int(given)) if given.isascii() and given.isdigit() else None
        if place is None:
            fail(f"commune: không có xã/phường mã “{given[:20]}”")
        labels[place.code] = News.label(place_slot(place))
    try:
        wanted = parse_audience(
            audience, {s.code for s in kb.sectors.sectors}, {x.code for x in kb.support_lines.lines}
        )
    except AudienceError as wrong:
        fail(str(wrong))
    day = deadline.date() if deadline else None
    return Request(labels, text, wanted, link, day, urgent, charged, name)


def _show(plan: Plan, ident: int | None, as_json: bool) -> None:
    data = plan.as_json()
    if as_json:
        click.echo(json.dumps({"id": ident, "dry_run": ident is None, **data}, ensure_ascii=False, indent=2))
        return
    click.echo(f"Đã xếp hàng thông báo số {ident}." if ident is not None else "Thử (không gửi gì):")
    for channel, groups in data["channels"].items():
        parts = ", ".join(f"{n} {GROUPS.get(g, g)}" for g, n in groups.items())
        click.echo(f"• {CHANNELS.get(channel, channel)}: {parts}")
    for reason, count in data["skipped"].items():
        click.echo(f"• Không gửi {count}: {REASONS.get(reason, reason)}")
    click.echo(f"Sẽ gửi: {data['to_send']} người.")
    if plan.night:
        click.echo("Đang là ban đêm: thông báo chờ đến 7 giờ sáng (thêm --urgent nếu thật sự gấp).")


def _report(fail: Fail, announcer: Announcer, given: str, as_json: bool) -> None:
    found = announcer.report(int(given)) if given.isascii() and given.isdigit() and len(given) <= 9 else None
    if found is None:
        fail(f"report: không có thông báo số “{given[:20]}”")
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    click.echo(f"Thông báo số {found['id']}: {found['sent']} đã gửi, {found['waiting']} đang chờ.")
    for kind, word in (("failed", "Không tới"), ("skipped", "Không gửi")):
        for reason, count in found[kind].items():
            click.echo(f"• {word} {count}: {REASONS.get(reason, reason)}")
    click.echo(f"Hủy nhận tin sau thông báo này: {found['unsubscribed_after']}.")
