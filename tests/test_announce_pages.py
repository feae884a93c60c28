"""The dashboard's announcement page over real HTTP: compose, preview with counts and who to call, send now or at a
set time, the urgent override, bad input refused, and each announcement's statistics read from the database."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bot.knowledge import VN_TIME
from bot.messages import ConversationKey
from bot.storage import Consent
from bot.storage.sqlite import SqliteRepository
from tests.conftest import Store
from tests.test_announce import VINH_THUY, add_subscriber
from tests.test_channels import Env, run, running
from tests.test_dashboard import csrf_of, seed, sign_in
from tests.test_no_codes import Checker, visible

BINH_GIANG = 13531  # xã Bình Giang, Ninh Bình: not the officer's
ALWAYS_DAY = {"announce_night_start": 0, "announce_night_end": 0}  # the night rule off, whatever the clock says
PAGE = "/staff/announcements"


def audience(repo: SqliteRepository) -> dict[str, str]:
    """Subscribers of Vĩnh Thủy on every channel and Zalo window, one of Bình Giang; two of them registered."""
    now = dt.datetime.now(dt.UTC)
    add_subscriber(repo, "zalo", "zfree", now - dt.timedelta(hours=1))
    add_subscriber(repo, "zalo", "zpaid", now - dt.timedelta(hours=60))
    add_subscriber(repo, "zalo", "zgone", now - dt.timedelta(days=10))
    add_subscriber(repo, "telegram", "4242", now - dt.timedelta(days=30))
    add_subscriber(repo, "web", "w" * 32, now - dt.timedelta(days=30))
    consent = Consent("zalo", "zbg", "news", "test", "đồng ý", True, now.isoformat(timespec="seconds"))
    repo.announcements.subscribe(ConversationKey("zalo", "zbg"), BINH_GIANG, "xã Bình Giang, Ninh Bình", consent)
    repo.db.execute(
        "INSERT INTO chat_log (channel, user, role, author, text, at) VALUES ('zalo', 'zbg', 'person', NULL, 'x', ?)",
        [now.isoformat(timespec="seconds")],
    )
    from tests.test_exports import add_lead

    gone = add_lead(repo, 11, name="Lê Thị Gọi", phone="+84912345678")  # registered in Vĩnh Thủy
    paid = add_lead(repo, 12, name="Người Xã Khác", commune=(BINH_GIANG, "Xã Bình Giang", "Ninh Bình"))
    for lead, user in ((gone, "zgone"), (paid, "zpaid")):
        repo.db.execute("UPDATE leads SET channel = 'zalo', user = ? WHERE ref = ?", [user, lead.ref])
    return {"gone": gone.ref, "paid": paid.ref}


@contextlib.asynccontextmanager
async def composing(
    tmp: Path, who: str = "lan", store: Store | None = None, **settings: int
) -> AsyncIterator[tuple[Env, str]]:
    """A server with the seeds' officers and the audience, signed in as `who`; the page's CSRF token."""
    async with running(tmp, khuyencong_db=Path(store.target) if store else tmp / "k.db", **settings) as env:
        seed(env)
        audience(env.app.repo)
        yield env, csrf_of(await form_page(env, who))


async def form_page(env: Env, who: str = "lan") -> str:
    await sign_in(env, who)
    async with env.http.get(env.url + PAGE) as resp:
        assert resp.status == 200
        return await resp.text()


async def post(env: Env, csrf: str, **fields: Any) -> tuple[int, str, str]:
    data: list[tuple[str, str]] = [("csrf", csrf)]
    for key, value in fields.items():
        data += [(key, str(v)) for v in value] if isinstance(value, list) else [(key, str(value))]
    async with env.http.post(env.url + PAGE, data=data, allow_redirects=False) as resp:
        return resp.status, await resp.text(), resp.headers.get("Location", "")


async def send(env: Env, csrf: str, **fields: Any) -> tuple[int, str, str]:
    """Preview, then press "Gửi thông báo" on the preview (it carries the preview's one-time token)."""
    status, shown, _ = await post(env, csrf, action="preview", **fields)
    once = re.search(r'name="once" value="([^"]+)"', shown)
    assert status == 200 and once is not None, shown
    return await post(env, csrf, action="send", once=once.group(1), **fields)


def queued(repo: SqliteRepository) -> int:
    return int(repo.db.execute("SELECT count(*) FROM announcements").fetchone()[0])


def vn_day(days: int) -> str:
    return (dt.datetime.now(VN_TIME).date() + dt.timedelta(days=days)).strftime("%d/%m/%Y")


TEXT = "Xã mở đăng ký hỗ trợ máy móc năm 2027. Bà con quan tâm liên hệ văn phòng xã."


@run
async def test_an_officer_previews_the_counts_and_who_to_call_then_sends(tmp_path: Path, store: Store) -> None:
    async with composing(tmp_path, store=store, **ALWAYS_DAY) as (env, csrf):
        repo = env.app.repo
        async with env.http.get(env.url + PAGE) as resp:
            page = await resp.text()
        assert 'href="/staff/announcements"' in page and "xã Vĩnh Thủy, Quảng Trị" in page and "Bình Giang" not in page
        fields = {"commune": [VINH_THUY], "text": TEXT, "deadline": vn_day(20), "link": "https://vinhthuy.gov.vn/kc"}
        status, shown, _ = await post(env, csrf, action="preview", **fields)
        assert status == 200, shown
        assert queued(repo) == 0  # a preview queues nothing
        assert "Tin khuyến công của xã Vĩnh Thủy" in shown and TEXT in shown and f"Hạn: {vn_day(20)}" in shown
        assert "Hủy nhận tin" in shown  # the button people get
        assert "Sẽ gửi: 3 người" in shown  # Zalo within 48 h, Telegram, the web chat
        for group in ("Zalo – nhắn miễn phí", "Zalo – tính phí", "Zalo – không nhắn được", "Telegram"):
            assert re.search(re.escape(group) + r"[^<]*</td><td>1</td>", shown), group
        assert "Zalo tính phí nên không gửi" in shown and "Zalo quá 7 ngày không nhắn được" in shown
        assert "Lê Thị Gọi" in shown and "0912345678" in shown  # registered in her commune: call her
        assert "Người Xã Khác" not in shown  # registered elsewhere: not hers to see
        assert not Checker(env.app.engine.kb)(visible(shown))
        status, _, location = await send(env, csrf, **fields)
        assert status == 302 and location.startswith(PAGE + "?sent=")
        rows = dict(repo.db.execute("SELECT user, status || ' ' || reason FROM announcement_recipients").fetchall())
        assert rows["zgone"] == "skipped zalo_closed" and rows["zpaid"] == "skipped zalo_charged"
        assert "zbg" not in rows  # another commune's subscriber
        created_by = repo.db.execute("SELECT created_by, urgent FROM announcements").fetchone()
        assert created_by == ("lan", 0)


async def delivered(repo: SqliteRepository, seconds: float = 10.0) -> None:
    for _ in range(int(seconds * 10)):
        if not repo.db.execute(
            "SELECT 1 FROM announcement_recipients WHERE status IN ('waiting', 'sending')"
        ).fetchone():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the announcement was not delivered in time")


@run
async def test_the_page_and_the_statistics_show_each_announcements_numbers_from_the_database(
    tmp_path: Path, store: Store
) -> None:
    async with composing(tmp_path, store=store, **ALWAYS_DAY) as (env, csrf):
        repo = env.app.repo
        status, _, location = await send(env, csrf, commune=[VINH_THUY], text=TEXT)
        assert status == 302
        ident = int(location.split("sent=")[1].split("#")[0])
        await delivered(repo)
        repo.db.execute("UPDATE announcement_recipients SET status = 'failed', reason = 'blocked' WHERE user = '4242'")
        repo.announcements.unsubscribe(
            ConversationKey("web", "w" * 32), Consent("web", "w" * 32, "news", "t", "x", False)
        )
        counts = dict(
            repo.db.execute(
                "SELECT status, count(*) FROM announcement_recipients WHERE announcement_id = ? GROUP BY status",
                [ident],
            ).fetchall()
        )
        assert counts == {"sent": 2, "failed": 1, "skipped": 2}
        async with env.http.get(env.url + location) as resp:
            page = await resp.text()
        mine = page[page.index(f'id="a{ident}"') :]
        for label, number in (("Xếp hàng", 5), ("Đã gửi tới", 2), ("Đang chờ gửi", 0), ("Hủy nhận tin sau", 1)):
            assert re.search(re.escape(label) + r"[^<]*</dt><dd>" + str(number), mine), label
        assert "Không tới</dt><dd>1<br>1: đã chặn trợ lý" in mine
        assert "Không gửi</dt><dd>2" in mine and "Lê Thị Gọi" in mine
        assert not Checker(env.app.engine.kb)(visible(page))
        async with env.http.get(env.url + "/staff/stats") as resp:
            stats = await resp.text()
        assert "<title>Thống kê – Khuyến công</title>" in stats  # the section is in the page, not in its title
        row = stats[stats.index(f'href="/staff/announcements#a{ident}"') :]
        cells = re.findall(r"<td>(\d+)", row)[:6]
        assert cells == ["5", "2", "0", "1", "2", "1"]  # queued, delivered, waiting, failed, skipped, unsubscribed
        assert not Checker(env.app.engine.kb)(visible(stats))


@run
async def test_bad_input_gets_a_polite_reason_and_queues_nothing(tmp_path: Path) -> None:
    async with composing(tmp_path, **ALWAYS_DAY) as (env, csrf):
        repo = env.app.repo
        good = {"action": "send", "commune": [VINH_THUY], "text": TEXT}
        cases: list[tuple[dict[str, Any], str]] = [
            ({"text": "   "}, "Hãy viết nội dung"),
            ({"text": "x" * 10_240}, "tối đa 1500 ký tự"),
            ({"text": "<b>Hội chợ</b> <script>alert(1)</script>"}, "không dùng thẻ HTML"),
            ({"text": '=HYPERLINK("http://x")'}, "không nên bắt đầu bằng dấu ="),
            ({"text": "Hội chợ \ufffd tháng 12"}, "ký tự không đọc được"),
            ({"commune": [BINH_GIANG]}, "không thuộc tài khoản của bạn"),
            ({"commune": []}, "Hãy chọn xã"),
            ({"when": "later", "send_at": "01/01/2020 08:00"}, "Giờ gửi đã qua"),
            ({"when": "later", "send_at": "mai"}, "ngày/tháng/năm giờ:phút"),
            ({"deadline": "2026-12-20"}, "ngày/tháng/năm"),
            ({"deadline": "01/01/2020"}, "đã qua"),
            ({"link": "javascript:alert(1)"}, "https://"),
            ({"status": ["late"]}, "Lựa chọn người nhận không hợp lệ"),
            ({"urgent": "yes", "urgent_reason": ""}, "cần ghi lý do"),
        ]
        for change, said in cases:
            status, page, _ = await post(env, csrf, **{**good, **change})
            assert status == 400 and said in page and "Chưa gửi gì" in page, (change, status)
        status, page, _ = await post(env, csrf, **good)  # all fine, but not from a preview
        assert status == 400 and "Hãy bấm “Xem trước”" in page
        # A lone surrogate as a browser may send it: percent-encoded bytes that are no UTF-8.
        body = f"csrf={csrf}&action=send&commune={VINH_THUY}&text=H%E1%BB%99i%20%ED%A0%80"
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        async with env.http.post(env.url + PAGE, data=body, headers=headers, allow_redirects=False) as resp:
            assert resp.status == 400 and "ký tự không đọc được" in await resp.text()
        async with env.http.post(env.url + PAGE, data={**good, "csrf": "sai"}, allow_redirects=False) as resp:
            assert resp.status == 403  # a forged form
        assert queued(repo) == 0


@run
async def test_a_set_time_waits_and_the_night_needs_an_urgent_tick_with_a_reason(tmp_path: Path) -> None:
    async with composing(tmp_path) as (env, csrf):  # the night rule as configured by default: 21:00–07:00
        repo = env.app.repo
        tomorrow = dt.datetime.now(VN_TIME).date() + dt.timedelta(days=1)
        evening = dt.datetime.combine(tomorrow, dt.time(22, 0), VN_TIME)
        fields = {"commune": [VINH_THUY], "text": TEXT, "when": "later", "send_at": f"{tomorrow:%d/%m/%Y} 22:00"}
        _, shown, _ = await post(env, csrf, action="preview", **fields)
        assert f"chờ đến {tomorrow + dt.timedelta(days=1):%d/%m/%Y} 07:00" in shown  # the night rule holds
        status, _, _ = await send(env, csrf, **fields)
        assert status == 302
        status, _, _ = await send(env, csrf, urgent="yes", urgent_reason="Hạn nộp hồ sơ sáng mai", **fields)
        assert status == 302
        rows = repo.db.execute("SELECT urgent, not_before FROM announcements ORDER BY id").fetchall()
        morning = dt.datetime.combine(tomorrow + dt.timedelta(days=1), dt.time(7, 0), VN_TIME)
        assert [(u, dt.datetime.fromisoformat(t)) for u, t in rows] == [(0, morning), (1, evening)]
        assert (
            repo.db.execute("SELECT status FROM announcement_recipients WHERE status != 'skipped'").fetchall()
            == [("waiting",)] * 6
        )  # nothing goes before its time
        note = repo.db.execute(
            "SELECT announcement_id, urgent_reason, by FROM announcement_notes WHERE urgent_reason != ''"
        ).fetchall()
        assert note == [(2, "Hạn nộp hồ sơ sáng mai", "lan")]  # the override, audited
        async with env.http.get(env.url + PAGE) as resp:
            page = await resp.text()
        assert "lý do: Hạn nộp hồ sơ sáng mai" in page and f"Gửi từ {tomorrow:%d/%m/%Y} 22:00" in page


@run
async def test_an_admin_sends_to_several_communes_an_officer_only_to_hers(tmp_path: Path) -> None:
    async with composing(tmp_path, "tinh", **ALWAYS_DAY) as (env, csrf):
        repo = env.app.repo
        async with env.http.get(env.url + PAGE) as resp:
            page = await resp.text()
        assert "xã Vĩnh Thủy" in page and "xã Bình Giang" in page
        status, _, _ = await send(env, csrf, commune=[VINH_THUY, BINH_GIANG], text=TEXT)
        assert status == 302
        users = {u for (u,) in repo.db.execute("SELECT user FROM announcement_recipients").fetchall()}
        assert {"zbg", "zfree", "4242"} <= users
        env.http.cookie_jar.clear()
        page = await form_page(env, "lan")
        assert "Thông báo số 1" in page  # it reached her commune too


@run
async def test_a_double_click_on_send_queues_one_announcement(tmp_path: Path) -> None:
    async with composing(tmp_path, **ALWAYS_DAY) as (env, csrf):
        fields = {"commune": [VINH_THUY], "text": TEXT}
        _, shown, _ = await post(env, csrf, action="preview", **fields)
        once = re.search(r'name="once" value="([^"]+)"', shown)
        assert once is not None
        pressed = [post(env, csrf, action="send", once=once.group(1), **fields) for _ in range(3)]
        answers = await asyncio.gather(*pressed)
        assert {status for status, _, _ in answers} == {302}
        assert queued(env.app.repo) == 1  # three presses of one preview's button: one announcement
        status, _, location = await send(env, csrf, **fields)  # a new preview is a new announcement
        assert status == 302 and queued(env.app.repo) == 2 and "sent=2" in location
