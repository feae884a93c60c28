"""Staff answering from where they already are: a reply to a handoff's post in the Telegram staff chat, a message
typed in the Zalo OA's own chat; reminders of requests nobody answered; a Zalo reply refused for its window.

Each over real HTTP against a real `khuyencong serve` (or `khuyencong telegram`) and the fake platforms.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

from bot.staff.store import StaffStore
from bot.storage.sqlite import SqliteRepository
from tests import test_channels as ch
from tests.fakes import FakeTelegram, wait_for, zalo_event
from tests.test_dashboard import sign_in
from tests.test_handoff_e2e import TO_VINH_THUY, inbox_ids, officer, poll, session, staff_post
from tests.test_serve import ProcessEnv, _spawn, _stop, free_port, platforms, served, wait_for_empty_inbox

STAFF_CHAT, OFFICER, STRANGER = -1005001, 7001, 7002
OA = "3662729599332560487"  # the OA's own id: the sender of an echo


def linked(tmp: Path) -> dict[str, str]:
    """The officer of xã Vĩnh Thủy, linked to her Telegram account; the unit's staff chat."""
    extra = officer(tmp)
    repo = SqliteRepository(tmp / "k.db")
    StaffStore(repo).link_telegram("lan", OFFICER)
    repo.close()
    return extra | {"TELEGRAM_STAFF_CHAT_ID": str(STAFF_CHAT)}


def staff_says(post: dict[str, Any], text: str, user: int = OFFICER, n: int = 0) -> dict[str, Any]:
    """An update from the staff group: a member's reply to one of the bot's posts."""
    group = {"id": STAFF_CHAT, "type": "supergroup", "title": "Cán bộ khuyến công"}
    uid = 900_000 + n + int(time.time() * 1000) % 100_000
    bot = {"id": 999, "is_bot": True, "first_name": "Khuyến công"}
    original = {"message_id": 1, "date": int(time.time()), "chat": group, "from": bot, "text": post["text"]}
    message = {
        "message_id": uid,
        "date": int(time.time()),
        "chat": group,
        "from": {"id": user, "is_bot": False, "first_name": "Lan"},
        "text": text,
        "reply_to_message": original,
    }
    return {"update_id": uid, "message": message}


async def updates(env: ProcessEnv, after: int) -> dict[str, Any]:
    """The web widget's long poll, asked again until something comes (each wait is a second here)."""
    for _ in range(15):
        got = await poll(env, after)
        if got["replies"]:
            return got
    raise AssertionError("no staff reply reached the web chat")


def posts(telegram: FakeTelegram, start: str) -> list[dict[str, Any]]:
    return [m for m in telegram.sent(STAFF_CHAT) if m["text"].startswith(start)]


async def group_answer(telegram: FakeTelegram, before: int) -> str:
    """The bot's next answer in the staff group."""
    await wait_for(lambda: len(telegram.sent(STAFF_CHAT)) > before)
    return str(telegram.sent(STAFF_CHAT)[-1]["text"])


@ch.run
async def test_staff_answer_and_hand_back_by_replying_to_the_post_in_the_telegram_staff_chat(tmp_path: Path) -> None:
    extra = linked(tmp_path) | {"KHUYENCONG_HANDOFF_REMIND_MINUTES": "0.02", "WEB_LONG_POLL_SECONDS": "1"}
    async with platforms() as fakes, served(tmp_path, fakes, **extra) as server, session() as http:
        env = ProcessEnv(server.url, http, fakes.telegram, fakes.zalo, app=None)  # type: ignore[arg-type]
        tg = fakes.telegram
        for text in [*TO_VINH_THUY, "cho em gặp cán bộ"]:
            await ch.web_say(env, {"text": text})
        await wait_for(lambda: bool(posts(tg, "Yêu cầu số")), 10)
        (post,) = posts(tg, "Yêu cầu số")
        assert "Xã Vĩnh Thủy, Quảng Trị" in post["text"] and "cho em gặp cán bộ" in post["text"], post["text"]
        assert ch.WEB_USER not in post["text"] and "/tralai" in post["text"]
        # Nobody answered within the delay: reminded once, and highlighted in the inbox.
        await wait_for(lambda: bool(posts(tg, "Nhắc: Yêu cầu số")), 10)
        await asyncio.sleep(2.5)
        (reminder,) = posts(tg, "Nhắc: Yêu cầu số")
        assert await sign_in(env)
        async with http.get(server.url + "/staff/handoffs") as resp:
            assert 'class="late"' in await resp.text() and "Chờ lâu" in await resp.text()

        # Someone in the group not linked to a staff account: refused politely, nothing reaches the person.
        before = len(tg.sent(STAFF_CHAT))
        assert await ch.tg_post(env, staff_says(post, "Để tôi trả lời cho", STRANGER, 1)) == 200
        assert "chưa được gắn với tài khoản cán bộ" in await group_answer(tg, before)
        assert (await poll(env, 0))["replies"] == []

        # The officer replies to the reminder (or the post): the person reads it in the web chat, signed.
        waiting = asyncio.ensure_future(updates(env, 0))
        before = len(tg.sent(STAFF_CHAT))
        assert await ch.tg_post(env, staff_says(reminder, "Chào bà con, chiều nay em gọi lại nhé.", n=2)) == 200
        answered = await asyncio.wait_for(waiting, 20)
        (reply,) = answered["replies"]
        assert reply["from"] == "staff" and reply["text"].startswith("Cán bộ lan (xã Vĩnh Thủy): Chào bà con")
        assert "Đã gửi cho bà con" in await group_answer(tg, before)
        async with http.get(server.url + "/staff/handoffs") as resp:
            assert 'class="late"' not in await resp.text()

        # /tralai in reply hands the chat back: the person is told, and the assistant answers again.
        waiting = asyncio.ensure_future(updates(env, answered["next"]))
        before = len(tg.sent(STAFF_CHAT))
        assert await ch.tg_post(env, staff_says(post, "/tralai", n=3)) == 200
        told = (await asyncio.wait_for(waiting, 20))["replies"]
        assert [r["from"] for r in told] == ["notice"] and "Trợ lý tự động tiếp tục" in told[0]["text"]
        assert "Đã trả lại yêu cầu số" in await group_answer(tg, before)
        assert await ch.web_say(env, {"text": "menu"})
    assert server.proc.returncode == 0, server.output


@ch.run
async def test_long_polling_posts_relays_reminds_and_gives_back_idle_chats(tmp_path: Path) -> None:
    async with platforms() as fakes:
        tg, user = fakes.telegram, ch.TelegramUser()
        extra = linked(tmp_path) | {"KHUYENCONG_HANDOFF_REMIND_MINUTES": "0.02"}
        env = fakes.environment(tmp_path, free_port(), **extra)
        tg.updates.extend(user.message(text) for text in [*TO_VINH_THUY, "gặp cán bộ"])
        proc = await _spawn("telegram", env)
        try:
            await wait_for(lambda: bool(posts(tg, "Yêu cầu số")), 30)
            await wait_for(lambda: bool(posts(tg, "Nhắc: Yêu cầu số")), 10)
            (post,) = posts(tg, "Yêu cầu số")
            tg.updates.append(staff_says(post, "Em là Lan ở xã, anh cần gì ạ?"))
            await wait_for(lambda: any(m["text"].startswith("Cán bộ lan (") for m in tg.sent(ch.CHAT)), 15)
            await wait_for(lambda: any("Đã gửi cho bà con" in m["text"] for m in tg.sent(STAFF_CHAT)), 10)
        finally:
            output = await _stop(proc, signal.SIGINT)
    assert len(posts(tg, "Nhắc: Yêu cầu số")) == 1, output
    relayed = next(m for m in tg.sent(ch.CHAT) if "Cán bộ lan" in m["text"])
    assert "Em là Lan ở xã, anh cần gì ạ?" in relayed["text"]


@ch.run
async def test_long_polling_gives_a_chat_idle_too_long_back_to_the_assistant(tmp_path: Path) -> None:
    async with platforms() as fakes:
        tg, user = fakes.telegram, ch.TelegramUser()
        quick = {"KHUYENCONG_HANDOFF_IDLE_MINUTES": "0.02", "KHUYENCONG_HANDOFF_REMIND_MINUTES": "0.02"}  # sweep each s
        env = fakes.environment(tmp_path, free_port(), **linked(tmp_path), **quick)
        tg.updates.append(user.message("gặp cán bộ"))
        tg.updates.append(user.message("xa vinh thuy quang tri"))  # no commune known: it is asked first
        proc = await _spawn("telegram", env)
        try:  # the person says nothing more: the sweep tells them, without waiting for their next message
            await wait_for(lambda: any("Đã lâu không có tin nhắn mới" in m["text"] for m in tg.sent(ch.CHAT)), 30)
        finally:
            await _stop(proc, signal.SIGINT)


def echo(text: str | None, msg_id: str, user: str = ch.ZALO_USER) -> dict[str, Any]:
    """What Zalo posts when the OA sent a message: the OA is the sender, the person the recipient."""
    event = zalo_event(text, user=OA, msg_id=msg_id, event_name="oa_send_text" if text else "oa_send_image")
    event["recipient"] = {"id": user}
    return event


def handoffs_of(tmp: Path, user: str) -> list[tuple[Any, ...]]:
    repo = SqliteRepository(tmp / "k.db")
    try:
        return repo.db.execute(
            "SELECT id, status, reason, first_reply_at FROM handoffs WHERE channel = 'zalo' AND user = ?", [user]
        ).fetchall()
    finally:
        repo.close()


@ch.run
async def test_staff_typing_in_the_zalo_oa_chat_takes_the_conversation_and_our_own_echoes_do_not(
    tmp_path: Path,
) -> None:
    async with platforms() as fakes, served(tmp_path, fakes, **officer(tmp_path)) as server, session() as http:
        env = ProcessEnv(server.url, http, fakes.telegram, fakes.zalo, app=None)  # type: ignore[arg-type]
        for text in TO_VINH_THUY:
            await ch.zalo_say(env, text)
        # Zalo echoes every message the OA sent, ours too: those are not a human taking over.
        ours = [f"m{i}" for i in range(1, len(fakes.zalo.messages) + 1)]  # the ids the fake gave our sends
        for msg_id in ours:
            assert await ch.zalo_post(env, echo("tin của trợ lý", msg_id)) == 200
        unsigned = echo("giả làm cán bộ", "forged-1")
        assert await ch.zalo_post(env, unsigned, signature="mac=" + "0" * 64) == 401
        await wait_for_empty_inbox(http, server.url)
        assert handoffs_of(tmp_path, ch.ZALO_USER) == []

        # An officer types in the OA's own chat: the chat is hers now, the message kept for the inbox.
        assert await ch.zalo_post(env, echo("Chào anh, em là cán bộ xã, anh cần hỗ trợ gì ạ?", "staff-1")) == 200
        await wait_for_empty_inbox(http, server.url)
        ((handoff_id, status, reason, first_reply),) = handoffs_of(tmp_path, ch.ZALO_USER)
        assert (status, reason) == ("open", "oa_chat") and first_reply
        count = len(fakes.zalo.to(ch.ZALO_USER))
        assert await ch.zalo_post(env, ch.zalo_event("em muốn hỏi về máy sấy")) == 200
        await wait_for_empty_inbox(http, server.url)
        await asyncio.sleep(0.3)
        assert len(fakes.zalo.to(ch.ZALO_USER)) == count  # the assistant keeps quiet (on the wire)

        assert await sign_in(env)
        async with http.get(f"{server.url}/staff/handoffs/{handoff_id}") as resp:
            page = await resp.text()
        assert "Cán bộ trả lời trên Zalo OA" in page and "em là cán bộ xã" in page and "máy sấy" in page
        assert fakes.zalo.messages and all("cán bộ xã" not in json.dumps(m) for m in fakes.zalo.messages)


@ch.run
async def test_a_staff_reply_zalo_refuses_for_its_window_is_shown_in_the_inbox(tmp_path: Path) -> None:
    async with platforms() as fakes, served(tmp_path, fakes, **officer(tmp_path)) as server, session() as http:
        env = ProcessEnv(server.url, http, fakes.telegram, fakes.zalo, app=None)  # type: ignore[arg-type]
        for text in [*TO_VINH_THUY, "gap nguoi that"]:
            await ch.zalo_say(env, text)
        assert await sign_in(env)
        (handoff,) = await inbox_ids(env)
        fakes.zalo.blocked.add(ch.ZALO_USER)  # Zalo: not interacted in 7 days (-230), whatever we counted
        assert "Đã gửi câu trả lời" in await staff_post(env, handoff, "reply", text="Chào anh.", name="Lan")
        said = "Không gửi được: quá 7 ngày, hãy gọi điện"

        async def shown() -> bool:
            async with http.get(f"{server.url}/staff/handoffs") as resp:
                return said in await resp.text()

        for _ in range(100):
            if await shown():
                break
            await asyncio.sleep(0.1)
        async with http.get(f"{server.url}/staff/handoffs/{handoff}") as resp:
            assert said in await resp.text()


def test_the_post_in_a_group_names_the_request_and_commune_never_the_persons_phone_or_chat() -> None:
    from bot.staff.relay import post
    from bot.storage.handoffs import Handoff

    handoff = Handoff(
        12, "zalo", ch.ZALO_USER, "waiting", "failed", 19405, "xã Vĩnh Thủy", "", "", "", "", "", "", False
    )
    said = post(handoff, "cho em gặp cán bộ, số em 0912 345 678, chị Lan")
    assert said.startswith("Yêu cầu số 12 · Trợ lý hai lần không trả lời được\nxã Vĩnh Thủy\n")
    assert "345 678" not in said and "0912" not in said and ch.ZALO_USER not in said
