"""GET /api/chat/updates (design §4.7): at once when something is newer, else within the wait; polls that wait
hold no database connection and no worker thread; per-address and global caps; bad input refused politely.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

from bot.messages import ConversationKey
from bot.staff.handoffs import Handoffs
from bot.staff.store import EVERYONE, StaffStore
from tests.test_channels import WEB_USER, Env, run, running, web_say
from tests.test_dashboard import PASSWORD, sign_in

OTHERS = [f"other-chat-{n:02d}-xxxxxxxxxxxx" for n in range(40)]


async def poll(env: Env, user: str = WEB_USER, after: int | str = 0) -> tuple[int, dict[str, Any], float]:
    began = time.monotonic()
    async with env.http.get(f"{env.url}/api/chat/updates", params={"user": user, "after": str(after)}) as resp:
        return resp.status, dict(await resp.json()), time.monotonic() - began


async def handed_over(env: Env) -> int:
    for text in ["kiem tra", "hkd", "lam nuoc mam", "xa vinh thuy quang tri", "gặp cán bộ"]:
        await web_say(env, {"text": text})
    handoff = env.app.repo.handoffs.active(ConversationKey("web", WEB_USER))
    assert handoff is not None
    return handoff.id


@run
async def test_a_poll_answers_at_once_when_newer_exists_else_after_the_wait(tmp_path: Path) -> None:
    async with running(tmp_path, web_long_poll_seconds=1.0) as env:
        handoff = await handed_over(env)
        status, body, took = await poll(env)
        assert (status, body) == (200, {"replies": [], "next": 0}) and 0.9 <= took < 3
        handoffs = Handoffs(env.app.repo, env.app.engine.texts.handoff, env.app.settings)
        handoffs.reply(EVERYONE, handoff, "Chào chị", "Lan")
        status, body, took = await poll(env)
        assert status == 200 and took < 0.5 and body["next"] > 0
        assert body["replies"] == [{"text": "Cán bộ Lan (xã Vĩnh Thủy): Chào chị", "buttons": [], "from": "staff"}]
        assert (await poll(env, after=body["next"]))[1]["replies"] == []  # nothing newer than what was shown
        assert (await poll(env, user=OTHERS[0]))[1]["replies"] == []  # another chat sees none of it


@run
async def test_a_reply_written_in_the_dashboard_wakes_the_waiting_poll_at_once(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        handoff = await handed_over(env)
        StaffStore(env.app.repo).add("lan", PASSWORD, [19405], False)
        await sign_in(env)
        waiting = asyncio.ensure_future(poll(env))
        await asyncio.sleep(0.3)
        async with env.http.get(f"{env.url}/staff/handoffs/{handoff}") as resp:
            page = await resp.text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf is not None
        sent = time.monotonic()
        form = {"csrf": csrf.group(1), "text": "Chào chị", "name": "Nguyễn Thị Lan"}
        async with env.http.post(f"{env.url}/staff/handoffs/{handoff}/reply", data=form) as resp:
            assert resp.status == 200
        status, body, _ = await asyncio.wait_for(waiting, 5)
        assert status == 200 and time.monotonic() - sent < 1.5 and body["replies"][0]["from"] == "staff"


@run
async def test_waiting_polls_hold_no_thread_and_are_capped_per_address_and_in_all(tmp_path: Path) -> None:
    async with running(tmp_path, web_address_chats_per_minute=1000, web_long_polls_max=30) as env:
        waiting = [asyncio.ensure_future(poll(env, user=user)) for user in OTHERS[:30]]
        await asyncio.sleep(0.5)
        assert not any(w.done() for w in waiting)
        began = time.monotonic()  # the one engine thread is free: a chat turn is answered at once
        assert await web_say(env, {"text": "xin chào"})
        assert time.monotonic() - began < 2
        status, body, took = await poll(env, user=OTHERS[30])  # past the global cap: answered at once, empty
        assert (status, body["replies"]) == (200, []) and took < 1
        for w in waiting:
            w.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
    async with running(tmp_path / "b", web_address_chats_per_minute=3) as env:
        waiting = [asyncio.ensure_future(poll(env, user=user)) for user in OTHERS[:3]]
        await asyncio.sleep(0.5)
        status, _, _ = await poll(env, user=OTHERS[3])  # a fourth chat from one address in a minute: refused
        assert status == 429
        for w in waiting:
            w.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)


@run
async def test_bad_parameters_are_refused_in_vietnamese(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        for user, after in (("short", 0), (WEB_USER, "-1"), (WEB_USER, "1e9"), ("x" * 101, 0), (WEB_USER, "9" * 20)):
            status, body, took = await poll(env, user=user, after=after)
            assert status == 400 and "không hợp lệ" in body["error"] and took < 1


@run
async def test_reloading_the_page_after_a_reply_sends_nothing_again_and_the_reply_is_signed_by_her_name(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as env:
        handoff = await handed_over(env)
        StaffStore(env.app.repo).add("lan", PASSWORD, [19405], False)
        env.app.repo.db.execute("UPDATE staff SET display_name = 'Nguyễn Thị Lan' WHERE name = 'lan'")
        await sign_in(env)
        page_url = f"{env.url}/staff/handoffs/{handoff}"
        async with env.http.get(page_url) as resp:
            page = await resp.text()
        assert 'value="Nguyễn Thị Lan"' in page  # the signature people read, not the login name
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf is not None
        form = {"csrf": csrf.group(1), "text": "Chào chị, em gọi lại chiều nay", "name": "Nguyễn Thị Lan"}
        async with env.http.post(page_url + "/reply", data=form, allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"] == f"/staff/handoffs/{handoff}?done=sent"
        for _ in range(2):  # the officer reloads the page she landed on
            async with env.http.get(env.url + f"/staff/handoffs/{handoff}?done=sent") as resp:
                assert "Đã gửi câu trả lời cho bà con." in await resp.text()
        _, body, _ = await poll(env)
        assert [r["text"] for r in body["replies"]].count(
            "Cán bộ Nguyễn Thị Lan (xã Vĩnh Thủy): Chào chị, em gọi lại chiều nay"
        ) == 1
