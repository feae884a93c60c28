"""End to end over real HTTP on 127.0.0.1: our server, the real python-telegram-bot client, fake platforms."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.app import App, build
from bot.config import Settings
from bot.messages import ConversationKey
from bot.server import make_app
from tests.conftest import KNOWLEDGE, ROOT, Store
from tests.fakes import FakeTelegram, FakeZalo, raw_json, start, wait_for, zalo_event

APP_ID, OA_SECRET, TG_SECRET = "1234567890", "test-oa-secret", "s3cr3t-token_42"
INTERVIEW = ["kiem tra", "hkd", "lam nuoc mam", "xa vinh thuy quang tri", "may moc"]
REGISTER = ["dong y", "Nguyen Thi Lan", "0912 345 678", "Co so nuoc mam Lan", "bo qua", "xac nhan"]


@dataclass
class Env:
    """A running server with its fakes."""

    url: str
    http: aiohttp.ClientSession
    telegram: FakeTelegram
    zalo: FakeZalo
    app: App
    server: web.Application | None = None


def run(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test in a fresh event loop (no pytest plugin needed)."""

    @functools.wraps(test)  # pytest reads the fixtures (tmp_path) from the wrapped signature
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))  # type: ignore[arg-type]

    return wrapper


def settings_for(tmp: Path, tg_url: str, zalo_url: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "khuyencong_db": tmp / "k.db",
        "khuyencong_knowledge": KNOWLEDGE,
        "khuyencong_dialogs": ROOT / "dialogs",
        "zalo_app_id": APP_ID,
        "zalo_oa_secret_key": OA_SECRET,
        "zalo_access_token": "access-1",
        "zalo_refresh_token": "refresh-1",
        "zalo_app_secret_key": "app-secret",
        "zalo_api_base": zalo_url,
        "zalo_oauth_base": zalo_url,
        "zalo_zbs_api_base": zalo_url,  # the paid template stays off until a test sets its id
        "telegram_bot_token": FakeTelegram.token,
        "telegram_webhook_secret": TG_SECRET,
        "telegram_api_base": f"{tg_url}/bot",
        "web_rate_per_minute": 1000,
        # Every test client is 127.0.0.1: the per-address limits are tested on their own (tests/test_web_flood.py).
        "web_address_rate_per_minute": 1_000_000,
        "web_address_chats_per_minute": 1_000_000,
        "khuyencong_worker": "inline",  # turns run in this process, where the test can look at them
        "telegram_per_second": 10_000.0,  # the fake Bot API has no limit; the limiter is tested on its own
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def running(tmp: Path, **extra: Any) -> AsyncIterator[Env]:
    telegram, zalo = FakeTelegram(), FakeZalo()
    tg_runner, tg_url = await start(telegram.app())
    zl_runner, zl_url = await start(zalo.app())
    app = build(settings_for(tmp, tg_url, zl_url, **extra))
    server = make_app(app)
    runner, url = await start(server)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            yield Env(url, http, telegram, zalo, app, server)
    finally:
        await runner.cleanup()
        await tg_runner.cleanup()
        await zl_runner.cleanup()


# --- web -------------------------------------------------------------------------------------------

WEB_USER = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


async def web_say(env: Env, body: dict[str, Any]) -> list[dict[str, Any]]:
    async with env.http.post(f"{env.url}/api/chat", json={"user": WEB_USER, **body}) as resp:
        assert resp.status == 200, await resp.text()
        return list((await resp.json())["replies"])


@run
async def test_web_chat_carries_an_interview_and_a_registration(tmp_path: Path, store: Store) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        first = await web_say(env, {"text": ""})
        assert "trợ lý tự động" in first[0]["text"]
        await web_say(env, {"button": "menu:eligibility"})
        for text in INTERVIEW[1:]:
            replies = await web_say(env, {"text": text})
        assert "đủ điều kiện" in replies[0]["text"] and any(
            b["payload"] == "menu:register" for b in replies[-1]["buttons"]
        )
        await web_say(env, {"button": "menu:register"})
        for text in REGISTER:
            replies = await web_say(env, {"text": text})
        assert "KC-" in replies[-1]["text"]
        leads = env.app.repo.leads_of(ConversationKey("web", WEB_USER))
        assert len(leads) == 1 and leads[0].phone == "+84912345678"


@run
async def test_web_page_is_self_contained_and_accessible(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        async with env.http.get(env.url + "/") as resp:
            html = await resp.text()
            csp = resp.headers["Content-Security-Policy"]
        assert resp.status == 200 and "default-src 'self'" in csp
        assert '<label for="text"' in html and 'aria-live="polite"' in html and 'lang="vi"' in html
        assert "http://" not in html and "https://" not in html  # nothing loaded from elsewhere
        async with env.http.get(env.url + "/static/chat.js") as resp:
            script = await resp.text()
        assert (
            resp.status == 200 and "localStorage" in script and "innerHTML" not in script.replace("never innerHTML", "")
        )
        async with env.http.get(env.url + "/static/../../pyproject.toml") as resp:
            assert resp.status == 404


@run
async def test_web_refuses_bad_requests_politely_and_changes_nothing(tmp_path: Path) -> None:
    async with running(tmp_path, web_max_body_kb=4) as env:
        cases = [
            (b"{not json", "application/json", 400),
            (json.dumps({"user": WEB_USER, "text": "hi", "admin": True}).encode(), "application/json", 400),
            (json.dumps({"user": "short", "text": "hi"}).encode(), "application/json", 400),
            (json.dumps({"user": WEB_USER, "text": 5}).encode(), "application/json", 400),
            (json.dumps({"user": WEB_USER, "text": "hi"}).encode(), "text/plain", 415),
            (json.dumps({"user": WEB_USER, "text": "x" * 10_000}).encode(), "application/json", 413),
        ]
        for body, ctype, status in cases:
            async with env.http.post(env.url + "/api/chat", data=body, headers={"Content-Type": ctype}) as resp:
                assert resp.status == status, (body[:40], await resp.text())
                if status == 400:
                    assert "error" in await resp.json()
        assert env.app.repo.count_conversations() == 0


@run
async def test_per_person_rate_limit_answers_politely(tmp_path: Path) -> None:
    async with running(tmp_path, web_rate_per_minute=3) as env:
        texts = [(await web_say(env, {"text": "xin chao"}))[0]["text"] for _ in range(5)]
        assert "nhanh quá" in texts[3] and "nhanh quá" in texts[4] and "nhanh quá" not in texts[0]


@run
async def test_a_flood_on_a_platform_is_told_to_slow_down_once(tmp_path: Path) -> None:
    """Was (second review): 80 Zalo messages got 50 "slow down" replies, each spending the OA's quota."""
    async with running(tmp_path, web_rate_per_minute=3) as env:
        for n in range(8):
            assert await zalo_post(env, zalo_event(f"xin chao {n}")) == 200
        await wait_for(lambda: any("nhanh quá" in str(m.get("text")) for m in env.zalo.to(ZALO_USER)))
        await asyncio.sleep(0.5)
        said = [str(m.get("text", "")) for m in env.zalo.to(ZALO_USER)]
        assert sum("nhanh quá" in t for t in said) == 1, said


@run
async def test_health_and_unmounted_channels(tmp_path: Path) -> None:
    async with running(tmp_path, zalo_app_id=None, telegram_webhook_secret=None) as env:
        async with env.http.get(env.url + "/healthz") as resp:
            assert resp.status == 200 and (await resp.json())["database"] is True
        for path in ("/webhooks/zalo", "/webhooks/telegram"):
            async with env.http.post(env.url + path, json={}) as resp:
                assert resp.status == 404, path


# --- Zalo ------------------------------------------------------------------------------------------

ZALO_USER = "6142494823000000001"


def test_zalo_signature_matches_the_documented_test_vector() -> None:
    from bot.channels.zalo import verify

    raw = (
        '{"app_id":"1234567890","user_id_by_app":"979122185046046317","event_name":"user_send_text",'
        '"timestamp":"1699003881354","sender":{"id":"6142494823000000000"},"recipient":{"id":"3662729599332560487"},'
        '"message":{"text":"Chào","msg_id":"cb31dff1c39642cc1b83"}}'
    ).encode()
    header = "mac=f6c1cca3e9e73a9bf73b438c1da095851705526cf07729891a8702d1fdf7cccd"
    assert verify(raw, header, "1234567890", "test-oa-secret", "1699003881354")
    assert not verify(raw, header.replace("f6c1", "f6c2"), "1234567890", "test-oa-secret", "1699003881354")
    assert not verify(raw + b" ", header, "1234567890", "test-oa-secret", "1699003881354")


def sign(body: bytes, stamp: str) -> str:
    """The signature, computed here independently of the server's code."""
    return "mac=" + hashlib.sha256(APP_ID.encode() + body + stamp.encode() + OA_SECRET.encode()).hexdigest()


async def zalo_post(
    env: Env, event: dict[str, Any], signature: str | None = "auto", ctype: str = "application/json"
) -> int:
    body = raw_json(event)
    headers = {"Content-Type": ctype}
    if signature == "auto":
        headers["X-ZEvent-Signature"] = sign(body, str(event["timestamp"]))
    elif signature is not None:
        headers["X-ZEvent-Signature"] = signature
    async with env.http.post(env.url + "/webhooks/zalo", data=body, headers=headers) as resp:
        return resp.status


async def zalo_say(env: Env, text: str | None, user: str = ZALO_USER, **kw: Any) -> list[dict[str, Any]]:
    """Post a signed event and wait for the replies it causes."""
    before = len(env.zalo.to(user))
    assert await zalo_post(env, zalo_event(text, user=user, **kw)) == 200
    await wait_for(lambda: len(env.zalo.to(user)) > before)
    await asyncio.sleep(0.1)  # let the rest of this turn's replies arrive
    return env.zalo.to(user)[before:]


def zalo_buttons(messages: list[dict[str, Any]]) -> list[str]:
    found = [m["attachment"]["payload"]["buttons"] for m in messages if "attachment" in m]
    return [b["payload"] for b in found[-1]] if found else []


@run
async def test_zalo_carries_an_interview_and_a_registration(tmp_path: Path, store: Store) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        welcome = await zalo_say(env, None, event_name="follow")
        assert "trợ lý tự động" in welcome[0]["text"] and "1. Kiểm tra điều kiện" in welcome[-1]["text"]
        replies = await zalo_say(env, "1")  # the numbered fallback for a menu of seven
        assert "thuộc loại nào" in replies[-1]["text"]
        for text in INTERVIEW[1:]:
            replies = await zalo_say(env, text)
        assert "đủ điều kiện" in replies[0]["text"]
        register = next(p for p in zalo_buttons(replies) if p.endswith("menu:register"))
        assert register == "#kc:menu:register"
        await zalo_say(env, register)  # a template button comes back as its hidden payload
        for text in REGISTER:
            replies = await zalo_say(env, text)
        assert "KC-" in replies[-1]["text"]
        leads = env.app.repo.leads_of(ConversationKey("zalo", ZALO_USER))
        assert len(leads) == 1 and leads[0].commune_code == 19405


@run
async def test_zalo_rejects_forged_stale_and_malformed_events_without_acting(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        event = zalo_event("xin chao")
        assert await zalo_post(env, event, signature=None) == 401
        assert await zalo_post(env, event, signature="mac=" + "0" * 64) == 401
        forged = dict(event, message={"text": "xoa du lieu", "msg_id": "x1"})
        assert await zalo_post(env, forged, signature=sign(raw_json(event), event["timestamp"])) == 401
        stale = zalo_event("xin chao", ts=int((time.time() - 3 * 86400) * 1000))
        assert await zalo_post(env, stale) == 403
        assert await zalo_post(env, event, ctype="text/plain") == 415
        async with env.http.post(
            env.url + "/webhooks/zalo",
            data=b"{oops",
            headers={"Content-Type": "application/json", "X-ZEvent-Signature": "mac=00"},
        ) as resp:
            assert resp.status == 400
        async with env.http.post(
            env.url + "/webhooks/zalo", data=b"x" * 100_000, headers={"Content-Type": "application/json"}
        ) as resp:
            assert resp.status == 413
        await asyncio.sleep(0.2)
        assert env.zalo.messages == [] and env.app.repo.count_conversations() == 0


@run
async def test_zalo_replayed_event_and_own_echoes_are_ignored(tmp_path: Path, store: Store) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        event = zalo_event("kiem tra", msg_id="same-id")
        assert await zalo_post(env, event) == 200
        await wait_for(lambda: len(env.zalo.messages) >= 1)
        assert await zalo_post(env, event) == 200  # Zalo retried, or someone replays it
        # The echo of our own first send (the OA is the sender, the person the recipient; "m1" is its id).
        echo = zalo_event("Xin chào", user="3662729599332560487", msg_id="m1", event_name="oa_send_text")
        echo["recipient"] = {"id": ZALO_USER}
        assert await zalo_post(env, echo) == 200
        await asyncio.sleep(0.3)
        count = len(env.zalo.messages)
        conv = env.app.repo.load(ConversationKey("zalo", ZALO_USER))
        assert conv is not None and conv.step == "legal_form" and count == 2  # welcome + the question, once
        assert env.app.repo.handoffs.active(ConversationKey("zalo", ZALO_USER)) is None  # not a human taking over


@run
async def test_zalo_images_get_a_polite_text_only_reply(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        replies = await zalo_say(env, None, event_name="user_send_image")
        assert "chỉ đọc được tin nhắn chữ" in replies[0]["text"]


@run
async def test_zalo_token_refresh_rotation_and_error_classes(tmp_path: Path, store: Store) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        env.zalo.access_token = "access-expired-elsewhere"  # the token we hold is now invalid: -216
        replies = await zalo_say(env, "xin chao")
        assert replies and env.zalo.refreshes == 1
        stored = env.app.repo.load_tokens("zalo")
        assert stored is not None and stored["refresh_token"] == env.zalo.refresh_token == "refresh-2"
        env.zalo.errors = [-32, -32]  # rate limited twice, then fine
        assert await zalo_say(env, "menu")
        env.zalo.blocked.add("6142494823000000009")  # outside the 7-day window: -230
        assert await zalo_post(env, zalo_event("xin chao", user="6142494823000000009")) == 200
        key = ConversationKey("zalo", "6142494823000000009")
        await wait_for(lambda: env.app.repo.is_unreachable(key))
        assert env.zalo.to("6142494823000000009") == []


@run
async def test_zalo_errors_not_known_to_be_final_are_tried_again_and_known_ones_are_not(tmp_path: Path) -> None:
    """Was (second review): any code but -32/-100 dropped the reply for good (an injected -500 lost it)."""
    async with running(tmp_path) as env:
        await zalo_say(env, "xin chao")
        env.zalo.errors = [-500]  # unknown to us: may pass
        replies = await zalo_say(env, "menu")  # the event stays in the inbox and is retried after a second
        assert replies and env.zalo.errors == []
        env.zalo.errors = [-201] * 10  # "parameter invalid": sending it again gets the same answer
        before = len(env.zalo.to(ZALO_USER))
        assert await zalo_post(env, zalo_event("menu")) == 200
        await wait_for(lambda: env.zalo.errors == [-201] * 9)
        await asyncio.sleep(1.5)  # longer than the first retry's back-off
        assert env.zalo.errors == [-201] * 9 and len(env.zalo.to(ZALO_USER)) == before  # tried once, dropped


# --- Telegram --------------------------------------------------------------------------------------

CHAT = 4242


class TelegramUser:
    """Builds updates as Telegram sends them, for one private chat."""

    def __init__(self) -> None:
        self.update_id = 1000

    def _next(self) -> int:
        self.update_id += 1
        return self.update_id

    def message(self, text: str | None) -> dict[str, Any]:
        uid = self._next()
        msg: dict[str, Any] = {
            "message_id": uid,
            "date": int(time.time()),
            "chat": {"id": CHAT, "type": "private"},
            "from": {"id": CHAT, "is_bot": False, "first_name": "Lan"},
        }
        if text is None:
            msg["sticker"] = {
                "file_id": "s1",
                "file_unique_id": "u1",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            }
        else:
            msg["text"] = text
        return {"update_id": uid, "message": msg}

    def tap(self, data: str) -> dict[str, Any]:
        uid = self._next()
        return {
            "update_id": uid,
            "callback_query": {
                "id": f"cq{uid}",
                "chat_instance": "ci",
                "data": data,
                "from": {"id": CHAT, "is_bot": False, "first_name": "Lan"},
                "message": {
                    "message_id": 1,
                    "date": int(time.time()),
                    "chat": {"id": CHAT, "type": "private"},
                    "text": "…",
                },
            },
        }


async def tg_post(
    env: Env, update: dict[str, Any], secret: str | None = TG_SECRET, ctype: str = "application/json"
) -> int:
    headers = {"Content-Type": ctype}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    async with env.http.post(env.url + "/webhooks/telegram", data=json.dumps(update), headers=headers) as resp:
        return resp.status


async def tg_say(env: Env, update: dict[str, Any]) -> list[dict[str, Any]]:
    before = len(env.telegram.sent(CHAT))
    assert await tg_post(env, update) == 200
    await wait_for(lambda: len(env.telegram.sent(CHAT)) > before)
    await asyncio.sleep(0.1)
    return env.telegram.sent(CHAT)[before:]


def tg_buttons(messages: list[dict[str, Any]]) -> list[str]:
    boards = [json.loads(m["reply_markup"])["inline_keyboard"] for m in messages if m.get("reply_markup")]
    return [row[0]["callback_data"] for row in boards[-1]] if boards else []


@run
async def test_telegram_carries_an_interview_and_a_registration(tmp_path: Path, store: Store) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        assert any(method == "getMe" for method, _ in env.telegram.calls)  # the real PTB client started
        user = TelegramUser()
        welcome = await tg_say(env, user.message("/start"))
        assert "trợ lý tự động" in welcome[0]["text"] and "menu:eligibility" in tg_buttons(welcome)
        assert all(len(p.encode()) <= 64 and p.isascii() for p in tg_buttons(welcome))
        replies = await tg_say(env, user.tap("menu:eligibility"))
        answered = [i for i, (m, _) in enumerate(env.telegram.calls) if m == "answerCallbackQuery"]
        first_reply = next(i for i, (m, _) in enumerate(env.telegram.calls) if m == "sendMessage" and i > answered[0])
        assert answered and answered[0] < first_reply  # the button press is acknowledged first
        assert "thuộc loại nào" in replies[-1]["text"]
        for text in INTERVIEW[1:]:
            replies = await tg_say(env, user.message(text))
        assert "đủ điều kiện" in replies[0]["text"]
        await tg_say(env, user.tap("menu:register"))
        for text in REGISTER:
            replies = await tg_say(env, user.message(text))
        assert "KC-" in replies[-1]["text"]
        assert len(env.app.repo.leads_of(ConversationKey("telegram", str(CHAT)))) == 1


@run
async def test_telegram_refuses_wrong_secret_and_processes_a_replay_once(tmp_path: Path, store: Store) -> None:
    async with running(tmp_path, khuyencong_db=Path(store.target)) as env:
        user = TelegramUser()
        update = user.message("kiem tra")
        assert await tg_post(env, update, secret=None) == 403
        assert await tg_post(env, update, secret="wrong") == 403
        assert await tg_post(env, update, ctype="text/plain") == 415
        assert await tg_post(env, {"not": "an update"}) == 400
        await asyncio.sleep(0.2)
        assert env.telegram.sent() == []
        await tg_say(env, update)
        assert await tg_post(env, update) == 200  # Telegram redelivers after a timeout
        await asyncio.sleep(0.3)
        conv = env.app.repo.load(ConversationKey("telegram", str(CHAT)))
        assert conv is not None and conv.step == "legal_form" and conv.history == []


@run
async def test_telegram_waits_out_429_and_answers_stickers_politely(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        user = TelegramUser()
        env.telegram.too_many = 1
        assert await tg_post(env, user.message("xin chao")) == 200
        # The welcome is refused once with 429 (retry_after 1 s), resent, then the menu follows.
        await wait_for(lambda: len(env.telegram.sent(CHAT)) >= 3, timeout=10)
        texts = [m["text"] for m in env.telegram.sent(CHAT)]
        assert texts[0] == texts[1] and "trợ lý tự động" in texts[1]
        replies = await tg_say(env, user.message(None))
        assert "chỉ đọc được tin nhắn chữ" in replies[0]["text"]


@run
async def test_telegram_in_a_group_talks_only_in_private(tmp_path: Path) -> None:
    """Was (second review): "dữ liệu của tôi" typed in a group posted the asker's name and phone to the group."""
    async with running(tmp_path) as env:
        user = TelegramUser()
        await tg_say(env, user.message("/start"))
        for text in [*INTERVIEW, "dang ky", *REGISTER]:
            await tg_say(env, user.message(text))
        group = -100555
        update = user.message("du lieu cua toi")
        update["message"]["chat"] = {"id": group, "type": "supergroup", "title": "Làng nghề"}
        assert await tg_post(env, update) == 200
        await wait_for(lambda: env.telegram.sent(group))
        await asyncio.sleep(0.2)
        said = " ".join(m["text"] for m in env.telegram.sent(group))
        assert "tin nhắn riêng" in said and "0912" not in said and "Lan" not in said


def test_a_follow_event_is_remembered_without_the_persons_zalo_id() -> None:
    """Was (second review): follow events were deduplicated under an id holding the user id, kept 7 days."""
    from bot.channels.zalo import _event_id

    follow = {"event_name": "follow", "follower": {"id": ZALO_USER}, "timestamp": "1764748800000"}
    again = dict(follow)
    assert _event_id(follow) == _event_id(again) and ZALO_USER not in _event_id(follow)
    assert _event_id(follow) != _event_id(follow | {"timestamp": "1764748800001"})


@run
async def test_the_server_starts_and_chats_while_telegram_is_unreachable(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on: getMe is refused at start
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/bot"
    async with running(tmp_path, telegram_api_base=dead, telegram_staff_chat_id="-100500") as env:
        assert await web_say(env, {"text": "xin chào"})  # the web chat and the dashboard stay up
        async with env.http.get(env.url + "/staff/login") as resp:
            assert resp.status == 200


@run
async def test_every_telegram_call_goes_through_the_bots_one_rate_limiter() -> None:
    from bot.channels.telegram import _application

    telegram = FakeTelegram()
    runner, url = await start(telegram.app())
    client = _application(FakeTelegram.token, f"{url}/bot", polling=False, per_second=5)
    try:
        await client.initialize()
        began = time.monotonic()
        await asyncio.gather(*(client.bot.send_message(chat_id=1000 + n, text=f"tin {n}") for n in range(12)))
        took = time.monotonic() - began
    finally:
        await client.shutdown()
        await runner.cleanup()
    assert len([c for c in telegram.calls if c[0] == "sendMessage"]) == 12
    assert took >= 1.0, took  # 12 messages at 5 a second: the limiter spread them (a lower bound only)
