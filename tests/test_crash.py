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
from tests import test_channels as ch
from tests.conftest import Store
from tests.fakes import FakeTelegram, FakeZalo, raw_json, wait_for, zalo_event
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
async def test_sigkill_mid_load_loses_no_confirmed_registration_and_corrupts_no_conversation(
    tmp_path: Path, store: Store
) -> None:
    port = free_port()
    async with platforms() as fakes:
        env = fakes.environment(tmp_path, port, WEB_RATE_PER_MINUTE="1000", KHUYENCONG_DB=store.target)
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
                await _read_the_last_replies(crowd, http, url)
                await _sane_after(crowd, http, url)
        finally:
            if restarted is not None:
                await _stop(restarted)
    print(f"confirmed before the kill: {before_kill}, in all: {len(crowd.seen)} of {3 * PER_CHANNEL}")
    assert 0 < before_kill < len(crowd.seen), (before_kill, len(crowd.seen))  # killed mid-load, work went on
    _every_confirmation_stored(store, crowd)


def _every_confirmation_stored(store: Store, crowd: Crowd) -> None:
    if store.kind == "sqlite":
        assert sqlite3.connect(store.target).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    repo = store.open()
    conn = repo.db.conn
    stored = {ref: (channel, user, phone) for ref, channel, user, phone in conn.execute(
        "SELECT ref, channel, user, phone FROM leads")}  # fmt: skip
    for (channel, user), ref in crowd.seen.items():
        assert ref in stored, f"{channel} {user} saw {ref}, which is not in the database"
        digits = crowd.phones[(channel, user)].replace(" ", "")[1:]
        assert stored[ref][2] == "+84" + digits, (ref, stored[ref])
    assert conn.execute("SELECT count(*) FROM inbox").fetchone()[0] == 0
    for channel, user in conn.execute("SELECT channel, user FROM conversations").fetchall():
        assert repo.load(ConversationKey(channel, user)) is not None  # every stored conversation reads back


async def _read_the_last_replies(crowd: Crowd, http: aiohttp.ClientSession, url: str) -> None:
    """Once the worker caught up, people read what came after their last message (a late confirmation too)."""
    for _ in range(600):
        async with http.get(url + "/healthz") as resp:
            if (await resp.json())["waiting_events"] == 0:
                break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # the replies of the last turns
    for channel, user in crowd.phones:
        if channel == "zalo":
            crowd.saw((channel, user), _texts(crowd.zalo.to(user)))
        elif channel == "telegram":
            crowd.saw((channel, user), _texts(crowd.telegram.sent(int(user))))


async def _sane_after(crowd: Crowd, http: aiohttp.ClientSession, url: str) -> None:
    """After the restart each web person can go on: 'menu' shows the menu."""
    for i in range(PER_CHANNEL):
        user = f"crashweb{i:04d}user{i:08d}"
        async with http.post(url + "/api/chat", json={"user": user, "text": "menu"}) as resp:
            replies = (await resp.json())["replies"]
        assert any(b["payload"] == "menu:eligibility" for r in replies for b in r["buttons"]), replies


BURSTS = 12  # Zalo people, each sending a whole interview and registration at once, one message after another


@ch.run
async def test_two_workers_on_postgres_one_killed_mid_load_lose_nothing_double_nothing_keep_each_order(
    tmp_path: Path, pg_store: Store
) -> None:
    """Two `khuyencong worker` processes read one inbox; one is SIGKILLed while turns are under way.

    Each person's messages must each be run once, in the order sent (a message run early would land at the
    wrong step and no registration would come out), every reply must reach the person, and each gets one lead.
    """
    port, url = free_port(), ""
    async with platforms() as fakes:
        zalo = fakes.zalo
        env = fakes.environment(tmp_path, port, KHUYENCONG_WORKER="external", KHUYENCONG_DB=pg_store.target)
        server = await _spawn("serve", env)
        workers = [await _spawn("worker", env) for _ in range(2)]
        scripts = {f"77100000000{i:04d}": _script(f"0912 400 {i:03d}") for i in range(BURSTS)}
        try:
            async with aiohttp.ClientSession() as http:
                url = f"http://127.0.0.1:{port}"
                await _until_healthy(http, url)
                await asyncio.gather(*(_burst(http, url, user, texts) for user, texts in scripts.items()))
                total = sum(len(t) for t in scripts.values())
                await wait_for(lambda: len(zalo.messages) >= total // 3, timeout=60)
                os.kill(workers[0].pid, signal.SIGKILL)  # mid-load: its turns in flight, its people locked
                at_kill = len(zalo.messages)
                await wait_for(lambda: all(_registered(zalo.to(u)) for u in scripts), timeout=90)
        finally:
            await _stop(workers[0], signal.SIGKILL)  # already killed, unless the test failed before
            outputs = [await _stop(p) for p in (workers[1], server)]
    assert at_kill < len(zalo.messages), "the kill came after the load"
    _each_turn_once_in_order(pg_store, scripts, zalo, outputs)


async def _burst(http: aiohttp.ClientSession, url: str, user: str, texts: list[str]) -> None:
    """A person typing fast: every message posted as soon as the last was accepted, no reply awaited."""
    for n, text in enumerate(texts):
        body = raw_json(zalo_event(text, user=user, msg_id=f"burst-{user}-{n}"))
        headers = {
            "Content-Type": "application/json",
            "X-ZEvent-Signature": ch.sign(body, json.loads(body)["timestamp"]),
        }
        async with http.post(url + "/webhooks/zalo", data=body, headers=headers) as resp:
            assert resp.status == 200, await resp.text()


def _registered(messages: list[dict[str, Any]]) -> bool:
    return any(REF.search(str(m.get("text", ""))) for m in messages)


def _each_turn_once_in_order(store: Store, scripts: dict[str, list[str]], zalo: FakeZalo, outputs: list[str]) -> None:
    repo = store.open()
    assert repo.inbox_size() == 0 and repo.outbox_size() == 0, outputs
    for user, texts in scripts.items():
        key = ConversationKey("zalo", user)
        rows = repo.db.execute(
            "SELECT role, text FROM chat_log WHERE channel = 'zalo' AND user = ? ORDER BY id", [user]
        ).fetchall()
        assert [t for role, t in rows if role == "person"] == texts, user  # once each, in the order sent
        delivered = _texts(zalo.to(user))
        missing = [t for role, t in rows if role == "bot" and not any(d.startswith(t) for d in delivered)]
        assert not missing, (user, missing[:2], delivered[:3])  # every reply reached the person
        (lead,) = repo.leads_of(key)
        assert lead.phone == "+84" + scripts[user][-4].replace(" ", "")[1:], lead.phone
