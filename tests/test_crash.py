"""Crash safety: registrations on all three channels at once, the server killed with SIGKILL mid-load.

Every registration a person saw confirmed must be in the database after the restart, and every
conversation must still load and carry on. The server and its worker child are both killed, as a
power cut or the OOM killer would; people then do what people do: write again.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from bot.messages import ConversationKey
from bot.storage.sqlite import SqliteRepository
from tests import test_channels as ch
from tests.fakes import FakeTelegram, FakeZalo, raw_json, zalo_event
from tests.test_serve import _children, _script, _spawn, _stop, _until_healthy, free_port, platforms

PER_CHANNEL = 8
REF = re.compile(r"KC-[A-Z0-9]{6}")
_ids = itertools.count(1)


class Crowd:
    """People writing at once; what each saw confirmed, and a way to wait for the server to come back."""

    def __init__(self, url: str, http: aiohttp.ClientSession, telegram: FakeTelegram, zalo: FakeZalo) -> None:
        self.url, self.http, self.telegram, self.zalo = url, http, telegram, zalo
        self.seen: dict[tuple[str, str], str] = {}  # (channel, user) -> reference code the person saw
        self.phones: dict[tuple[str, str], str] = {}
        self.up = asyncio.Event()
        self.up.set()

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any] | None:
        """POST until the server answers (a refused connection while it is down is tried again)."""
        while True:
            await self.up.wait()
            try:
                async with self.http.post(self.url + path, data=body, headers=headers) as resp:
                    assert resp.status < 500, await resp.text()
                    data: dict[str, Any] = await resp.json()
                    return data
            except (aiohttp.ClientError, ConnectionError):
                await asyncio.sleep(0.2)  # the server is down or restarting

    def saw(self, key: tuple[str, str], texts: list[str]) -> None:
        """Note the reference code a person was shown (only a stored registration has one)."""
        for text in texts:
            found = REF.search(text)
            if found:
                self.seen[key] = found.group(0)


async def web_person(crowd: Crowd, i: int) -> None:
    user = f"crashweb{i:04d}user{i:08d}"
    key, phone = ("web", user), f"0912 100 {i:03d}"
    crowd.phones[key] = phone
    for text in _script(phone):
        body = json.dumps({"user": user, "text": text}).encode()
        data = await crowd.post("/api/chat", body, {"Content-Type": "application/json"})
        assert data is not None
        crowd.saw(key, [r["text"] for r in data["replies"]])


async def platform_person(
    crowd: Crowd,
    key: tuple[str, str],
    phone: str,
    send: Callable[[str], Awaitable[None]],
    inbox: Callable[[], list[str]],
) -> None:
    """A Zalo or Telegram user: send, wait for an answer; with no answer for a while, write the same again."""
    crowd.phones[key] = phone
    for text in _script(phone):
        before = len(inbox())
        await send(text)
        deadline = time.monotonic() + 8
        while len(inbox()) <= before:
            if time.monotonic() > deadline:  # a reply lost in the crash: the person writes again
                await send(text)
                deadline = time.monotonic() + 8
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.05)  # the rest of this turn's replies
        crowd.saw(key, inbox())


async def zalo_person(crowd: Crowd, i: int) -> None:
    user = f"77000000000{i:04d}"

    async def send(text: str) -> None:
        event = zalo_event(text, user=user, msg_id=f"crash-{next(_ids)}-{time.time_ns()}")
        body = raw_json(event)
        headers = {"Content-Type": "application/json", "X-ZEvent-Signature": ch.sign(body, event["timestamp"])}
        await crowd.post("/webhooks/zalo", body, headers)  # the platform retries the same event until a 200

    await platform_person(crowd, ("zalo", user), f"0912 200 {i:03d}", send, lambda: _texts(crowd.zalo.to(user)))


async def telegram_person(crowd: Crowd, i: int) -> None:
    chat = 880000 + i

    async def send(text: str) -> None:
        uid = next(_ids) + 50_000
        who = {"id": chat, "is_bot": False, "first_name": "Lan"}
        message = {"message_id": uid, "date": int(time.time()), "chat": {"id": chat, "type": "private"}, "from": who}
        body = json.dumps({"update_id": uid, "message": {**message, "text": text}}).encode()
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": ch.TG_SECRET}
        await crowd.post("/webhooks/telegram", body, headers)

    await platform_person(
        crowd, ("telegram", str(chat)), f"0912 300 {i:03d}", send, lambda: _texts(crowd.telegram.sent(chat))
    )


def _texts(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m.get("text", "")) for m in messages]


async def _kill_when(crowd: Crowd, server: asyncio.subprocess.Process, confirmed: int) -> int:
    """SIGKILL the server and its worker once `confirmed` people saw their code; how many had by then."""
    while len(crowd.seen) < confirmed:
        await asyncio.sleep(0.02)
    crowd.up.clear()
    for pid in [*_children(server.pid), server.pid]:
        os.kill(pid, signal.SIGKILL)
    await server.wait()
    return len(crowd.seen)


@ch.run
async def test_sigkill_mid_load_loses_no_confirmed_registration_and_corrupts_no_conversation(tmp_path: Path) -> None:
    port = free_port()
    async with platforms() as fakes:
        env = fakes.environment(tmp_path, port, WEB_RATE_PER_MINUTE="1000")
        url = f"http://127.0.0.1:{port}"
        server = await _spawn("serve", env)
        restarted = None
        try:
            async with aiohttp.ClientSession() as http:
                await _until_healthy(http, url)
                crowd = Crowd(url, http, fakes.telegram, fakes.zalo)
                people = [
                    *(web_person(crowd, i) for i in range(PER_CHANNEL)),
                    *(zalo_person(crowd, i) for i in range(PER_CHANNEL)),
                    *(telegram_person(crowd, i) for i in range(PER_CHANNEL)),
                ]
                everyone = asyncio.gather(*people)
                before_kill = await _kill_when(crowd, server, confirmed=PER_CHANNEL)
                restarted = await _spawn("serve", env)
                await _until_healthy(http, url)
                crowd.up.set()
                await asyncio.wait_for(everyone, 120)
                await _sane_after(crowd, http, url)
        finally:
            if restarted is not None:
                await _stop(restarted)
    print(f"confirmed before the kill: {before_kill}, in all: {len(crowd.seen)} of {3 * PER_CHANNEL}")
    assert 0 < before_kill < len(crowd.seen), (before_kill, len(crowd.seen))  # killed mid-load, work went on
    _every_confirmation_stored(tmp_path / "k.db", crowd)


def _every_confirmation_stored(db: Path, crowd: Crowd) -> None:
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {ref: (channel, user, phone) for ref, channel, user, phone in conn.execute(
        "SELECT ref, channel, user, phone FROM leads")}  # fmt: skip
    for (channel, user), ref in crowd.seen.items():
        assert ref in stored, f"{channel} {user} saw {ref}, which is not in the database"
        digits = crowd.phones[(channel, user)].replace(" ", "")[1:]
        assert stored[ref][2] == "+84" + digits, (ref, stored[ref])
    assert conn.execute("SELECT count(*) FROM inbox").fetchone()[0] == 0
    repo = SqliteRepository(db)
    for channel, user in conn.execute("SELECT channel, user FROM conversations").fetchall():
        assert repo.load(ConversationKey(channel, user)) is not None  # every stored conversation reads back
    repo.close()


async def _sane_after(crowd: Crowd, http: aiohttp.ClientSession, url: str) -> None:
    """After the restart each web person can go on: 'menu' shows the menu."""
    for i in range(PER_CHANNEL):
        user = f"crashweb{i:04d}user{i:08d}"
        async with http.post(url + "/api/chat", json={"user": user, "text": "menu"}) as resp:
            replies = (await resp.json())["replies"]
        assert any(b["payload"] == "menu:eligibility" for r in replies for b in r["buttons"]), replies
