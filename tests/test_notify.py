"""Staff notices and staff commands on Telegram, over real HTTP against the fake Bot API."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.fakes import wait_for
from tests.test_channels import INTERVIEW, REGISTER, run, running, tg_post, web_say

STAFF_CHAT, STAFF_ID, STRANGER = "-100500", 777, 4242


def command(text: str, user: int, update_id: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "text": text,
            "chat": {"id": user, "type": "private"},
            "from": {"id": user, "is_bot": False, "first_name": "A"},
        },
    }


@run
async def test_a_registration_is_announced_in_the_staff_chat(tmp_path: Path) -> None:
    async with running(tmp_path, telegram_staff_chat_id=STAFF_CHAT, telegram_staff_ids=str(STAFF_ID)) as env:
        await web_say(env, {"text": ""})
        for text in [*INTERVIEW, "dang ky", *REGISTER]:
            replies = await web_say(env, {"text": text})
        ref = replies[-1]["text"].split("Mã đăng ký: ")[1][:9]
        await wait_for(lambda: any(p.get("chat_id") == STAFF_CHAT for p in env.telegram.sent()))
        notice = next(p["text"] for p in env.telegram.sent() if p.get("chat_id") == STAFF_CHAT)
        assert f"Đăng ký mới {ref}" in notice and "0912345678" in notice and "Xã Vĩnh Thủy" in notice
        for text in ["", *INTERVIEW, "dang ky", *REGISTER]:  # another chat, the same phone and commune
            replies = await web_say(env, {"user": "e" * 32, "text": text})
        second = replies[-1]["text"].split("Mã đăng ký: ")[1][:9]
        await wait_for(lambda: sum(p.get("chat_id") == STAFF_CHAT for p in env.telegram.sent()) >= 2)
        notice = [p["text"] for p in env.telegram.sent() if p.get("chat_id") == STAFF_CHAT][-1]
        assert f"Đăng ký mới {second} – Có thể trùng với {ref}" in notice


@run
async def test_staff_commands_only_for_staff_ids(tmp_path: Path) -> None:
    async with running(tmp_path, telegram_staff_chat_id=STAFF_CHAT, telegram_staff_ids=f"{STAFF_ID}, 888") as env:
        await web_say(env, {"text": ""})
        for text in [*INTERVIEW, "dang ky", *REGISTER]:
            await web_say(env, {"text": text})
        assert await tg_post(env, command("/leads", STRANGER, 1)) == 200
        await wait_for(lambda: env.telegram.sent(STRANGER))
        assert "chỉ dành cho cán bộ" in env.telegram.sent(STRANGER)[0]["text"]
        for n, text in enumerate(["/leads", "/stats", "/export"], 2):
            assert await tg_post(env, command(text, STAFF_ID, n)) == 200
        await wait_for(lambda: any(m == "sendDocument" for m, _ in env.telegram.calls))
        await wait_for(lambda: len(env.telegram.sent(STAFF_ID)) >= 2)
        texts = [p["text"] for p in env.telegram.sent(STAFF_ID)]
        assert any("KC-" in t and "0912345678" in t for t in texts)  # /leads
        assert any("Đã đăng ký: 1" in t for t in texts)  # /stats
        document = next(p for m, p in env.telegram.calls if m == "sendDocument")
        assert document["document"] == "dang-ky.xlsx" and int(document["chat_id"]) == STAFF_ID
        assert not any(m == "sendDocument" and int(p["chat_id"]) == STRANGER for m, p in env.telegram.calls)
