"""Staff notices and staff commands on Telegram, over real HTTP against the fake Bot API."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bot.cli import main
from bot.knowledge import vn_today
from bot.staff.store import StaffStore
from bot.storage.sqlite import SqliteRepository
from tests.fakes import wait_for
from tests.test_channels import INTERVIEW, REGISTER, Env, run, running, tg_post, web_say
from tests.test_dashboard import seed

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
        assert f"Đăng ký mới {ref}" in notice and "nuoc mam" in notice and "Xã Vĩnh Thủy" in notice
        # Was (second review): the name and phone went to the group and stayed there after "xóa dữ liệu".
        assert "0912" not in notice and "Nguyen Thi Lan" not in notice and "trang cán bộ" in notice
        for text in ["", *INTERVIEW, "dang ky", *REGISTER]:  # another chat, the same phone and commune
            replies = await web_say(env, {"user": "e" * 32, "text": text})
        second = replies[-1]["text"].split("Mã đăng ký: ")[1][:9]
        await wait_for(lambda: sum(p.get("chat_id") == STAFF_CHAT for p in env.telegram.sent()) >= 2)
        notice = [p["text"] for p in env.telegram.sent() if p.get("chat_id") == STAFF_CHAT][-1]
        assert f"Đăng ký mới {second} – Có thể trùng với {ref}" in notice


def in_chat(text: str, user: int, update_id: int, chat: int, kind: str = "supergroup") -> dict[str, Any]:
    """A command typed in a group (or any chat other than the private one)."""
    update = command(text, user, update_id)
    update["message"]["chat"] = {"id": chat, "type": kind, "title": "Nhóm"}
    return update


def link(env: Env, telegram_id: int = STAFF_ID) -> None:
    """Leads in two communes; an officer of Xã Vĩnh Thủy (19405) whose Telegram id is `telegram_id`."""
    seed(env)
    assert StaffStore(env.app.repo).link_telegram("lan", telegram_id)


async def texts_to(env: Env, chat: int, count: int) -> list[str]:
    await wait_for(lambda: len(env.telegram.sent(chat)) >= count)
    return [p["text"] for p in env.telegram.sent(chat)]


def documents_to(env: Env, chat: int) -> list[dict[str, Any]]:
    return [p for m, p in env.telegram.calls if m == "sendDocument" and int(p["chat_id"]) == chat]


@run
async def test_staff_commands_show_only_the_linked_officers_communes(tmp_path: Path) -> None:
    async with running(tmp_path, telegram_staff_chat_id=STAFF_CHAT, telegram_staff_ids=f"{STAFF_ID}, 888") as env:
        link(env)
        assert await tg_post(env, command("/leads", STRANGER, 1)) == 200
        assert "chỉ dành cho cán bộ" in (await texts_to(env, STRANGER, 1))[0]
        for n, text in enumerate(["/leads", "/stats", "/export"], 2):
            assert await tg_post(env, command(text, STAFF_ID, n)) == 200
        await wait_for(lambda: documents_to(env, STAFF_ID))
        texts = await texts_to(env, STAFF_ID, 2)
        leads = next(t for t in texts if "KC-" in t)
        assert leads.startswith("2 đăng ký") and "Xã Vĩnh Thủy" in leads and "Bình Giang" not in leads
        assert "Nguyễn Thị Lan" not in leads and "09" not in leads  # contact details stay on the dashboard
        assert any("Đã đăng ký: 2" in t for t in texts)  # /stats: the officer's commune only
        document = documents_to(env, STAFF_ID)[0]
        named = f"dang-ky-khuyen-cong_xa-vinh-thuy_{vn_today():%d-%m-%Y}.xlsx"  # as the dashboard names it
        assert document["document"] == named and document["caption"] == "2 đăng ký"
        assert not documents_to(env, STRANGER)


@run
async def test_staff_commands_in_a_group_give_no_data(tmp_path: Path) -> None:
    group = -100777
    async with running(tmp_path, telegram_staff_chat_id=STAFF_CHAT, telegram_staff_ids=str(STAFF_ID)) as env:
        link(env)
        for n, text in enumerate(["/leads", "/stats", "/export", "/leads@khuyencong_test_bot"], 1):
            assert await tg_post(env, in_chat(text, STAFF_ID, n, group)) == 200  # staff, but in the wrong room
        assert await tg_post(env, in_chat("/leads", STAFF_ID, 9, STAFF_ID, kind="group")) == 200  # a forged id
        texts = await texts_to(env, group, 4)
        assert all(t == "Lệnh cán bộ chỉ dùng trong tin nhắn riêng với trợ lý hoặc trong nhóm cán bộ." for t in texts)
        await wait_for(lambda: env.telegram.sent(STAFF_ID))
        assert "KC-" not in env.telegram.sent(STAFF_ID)[0]["text"]
        assert not documents_to(env, group) and not documents_to(env, STAFF_ID)
        assert await tg_post(env, in_chat("/leads", STAFF_ID, 10, int(STAFF_CHAT))) == 200  # the staff chat
        assert await tg_post(env, in_chat("/leads", STRANGER, 11, int(STAFF_CHAT))) == 200
        texts = await texts_to(env, int(STAFF_CHAT), 2)
        assert any(t.startswith("2 đăng ký") and "Bình Giang" not in t for t in texts)
        assert any("chỉ dành cho cán bộ" in t for t in texts)


@run
async def test_a_staff_id_with_no_account_sees_only_an_explanation(tmp_path: Path) -> None:
    async with running(tmp_path, telegram_staff_chat_id=STAFF_CHAT, telegram_staff_ids=f"{STAFF_ID}, 888") as env:
        link(env)
        for n, text in enumerate(["/leads", "/stats", "/export"], 1):
            assert await tg_post(env, command(text, 888, n)) == 200
        texts = await texts_to(env, 888, 3)
        assert all("chưa được gắn với tài khoản cán bộ" in t and "888" in t for t in texts)
        assert not documents_to(env, 888)


def test_staff_add_ties_a_telegram_id_to_the_account(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    args = ["staff", "add", "lan", "--commune", "19405", "--telegram", "777", "--db", str(db)]
    result = CliRunner().invoke(main, args, input="mat-khau-du-dai-123\nmat-khau-du-dai-123\n")
    assert result.exit_code == 0, result.output
    bad = CliRunner().invoke(main, [*args[:-4], "--telegram", "abc", "--db", str(db)], input="x\n")
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    repo = SqliteRepository(db)
    member = StaffStore(repo).by_telegram(777)
    repo.close()
    assert member is not None and member.name == "lan" and member.communes == (19405,)
