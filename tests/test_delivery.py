"""Delivery of webhook messages against a real `khuyencong serve` and its worker, over real HTTP.

A message answered 200 is answered once, whatever happens after: a write lock held by another connection
past the busy timeout, a full disk, a worker killed between committing a turn and sending its replies.
/healthz shows the wait, answers while the engine thread is busy, and gives details only locally.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests import test_channels as ch
from tests.fakes import wait_for
from tests.test_serve import (
    Platforms,
    ProcessEnv,
    _children,
    _script,
    _spawn,
    _stop,
    free_port,
    platforms,
    served,
)

FAST = {"KHUYENCONG_BUSY_TIMEOUT_SECONDS": "0.2", "KHUYENCONG_HEALTH_MAX_WAIT_SECONDS": "1"}
PROXIED = {"X-Forwarded-For": "203.0.113.9"}  # the reverse proxy connects from 127.0.0.1 and adds this
QUESTION = "thuộc loại nào"  # the answer to "kiem tra": which legal form


@contextlib.asynccontextmanager
async def serving(tmp: Path, db: Path | None = None, **extra: str) -> AsyncIterator[tuple[ProcessEnv, Platforms]]:
    """`khuyencong serve` with its worker child and the fake platforms; stopped gracefully afterwards."""
    if db is not None:
        extra["KHUYENCONG_DB"] = str(db)
    async with platforms() as fakes, served(tmp, fakes, **extra) as server, aiohttp.ClientSession() as http:
        box = ProcessEnv(server.url, http, fakes.telegram, fakes.zalo, app=None)  # type: ignore[arg-type]
        box.server = server.proc  # type: ignore[assignment]
        yield box, fakes
    assert server.proc.returncode == 0, server.output


def worker_of(box: ProcessEnv) -> int:
    (child,) = _children(box.server.pid)  # type: ignore[union-attr]
    return child


@contextlib.contextmanager
def paused(pid: int) -> Iterator[None]:
    """The worker stopped for a moment, so that an accepted event waits in the inbox."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def health(box: ProcessEnv, **headers: str) -> tuple[int, dict[str, Any]]:
    async with box.http.get(box.url + "/healthz", headers=headers, timeout=aiohttp.ClientTimeout(total=2)) as resp:
        return resp.status, await resp.json()


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 15) -> None:
    async def loop() -> None:
        while not await check():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(loop(), timeout)


def texts(box: ProcessEnv, user: str = ch.ZALO_USER) -> list[str]:
    return [str(m["text"]) for m in box.zalo.to(user)]


async def failing_then_answered(box: ProcessEnv, release: Callable[[], None]) -> None:
    """One person's two messages fail on the database, health fails meanwhile; freed: each answered once, in order."""
    await until(lambda: _unhealthy(box))
    status, body = await health(box)
    assert status == 503 and body["waiting_events"] == 2 and body["oldest_wait_seconds"] > 1
    assert body["database"] is True  # it reads; it is writing that fails
    assert await health(box, **PROXIED) == (503, {"ok": False})  # through the proxy: the verdict only
    assert not any(QUESTION in t for t in texts(box))  # nothing answered while the database refuses writes
    release()
    await until(lambda: _healthy_and_empty(box))
    await asyncio.sleep(0.5)  # a second delivery would show by now
    answers = texts(box)
    assert sum(QUESTION in t for t in answers) == 1, answers
    asked = next(i for i, t in enumerate(answers) if QUESTION in t)
    assert sum("làm ra sản phẩm gì" in t for t in answers[asked + 1 :]) == 1, answers  # "hkd", after it


async def _unhealthy(box: ProcessEnv) -> bool:
    status, body = await health(box)
    return status == 503 and body["ok"] is False


async def _healthy_and_empty(box: ProcessEnv) -> bool:
    status, body = await health(box)
    return status == 200 and body["waiting_events"] == 0


async def post_two(box: ProcessEnv) -> None:
    """'kiem tra' then 'hkd' from one person, accepted (200) while the worker is paused."""
    assert await ch.zalo_post(box, ch.zalo_event("kiem tra")) == 200
    assert await ch.zalo_post(box, ch.zalo_event("hkd")) == 200


@ch.run
async def test_a_turn_failing_on_a_held_write_lock_stays_in_the_inbox_and_is_answered_once(tmp_path: Path) -> None:
    async with serving(tmp_path, **FAST) as (box, _):
        await ch.zalo_say(box, "xin chao")
        lock = sqlite3.connect(tmp_path / "k.db", isolation_level=None)
        with paused(worker_of(box)):
            await post_two(box)
            lock.execute("BEGIN IMMEDIATE")  # another process holds the write lock past the 0.2 s busy timeout
        await failing_then_answered(box, lambda: lock.execute("ROLLBACK") and None)
        lock.close()


@ch.run
async def test_health_fails_while_a_locked_database_refuses_every_webhook(tmp_path: Path) -> None:
    """Was (second review): a lock held past the busy timeout refused every webhook (500), none waited in the
    inbox, and /healthz said 200 throughout; the monitor learnt nothing."""
    async with serving(tmp_path, **FAST) as (box, _):
        await ch.zalo_say(box, "xin chao")
        lock = sqlite3.connect(tmp_path / "k.db", isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        try:
            assert await ch.zalo_post(box, ch.zalo_event("kiem tra")) == 500  # refused: the platform retries
            await asyncio.sleep(1.2)  # longer than KHUYENCONG_HEALTH_MAX_WAIT_SECONDS
            status, body = await health(box)
            assert status == 503 and body["waiting_events"] == 0 and body["webhooks_refused_seconds"] > 1, body
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert await ch.zalo_post(box, ch.zalo_event("kiem tra")) == 200  # the platform's retry is taken
        await until(lambda: _healthy_and_empty(box))
        status, body = await health(box)
        assert status == 200 and body["webhooks_refused_seconds"] == 0


@contextlib.contextmanager
def tiny_disk(where: Path) -> Iterator[Path]:
    """A 16 MB filesystem of our own (tmpfs); the test is skipped where mounting is not permitted."""
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small filesystem here: " + mounted.stderr.decode(errors="replace").strip())
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Fill the disk to the last byte; the file to delete to free it."""
    filler = disk / "filler"
    free = os.statvfs(disk)
    with filler.open("wb") as out:
        os.posix_fallocate(out.fileno(), 0, free.f_bavail * free.f_frsize)
    assert os.statvfs(disk).f_bavail == 0
    return filler


@ch.run
async def test_a_turn_failing_on_a_full_disk_stays_in_the_inbox_and_is_answered_once(tmp_path: Path) -> None:
    with tiny_disk(tmp_path / "disk") as disk:
        async with serving(tmp_path, db=disk / "k.db", **FAST) as (box, _):
            await ch.zalo_say(box, "xin chao")
            with paused(worker_of(box)):
                await post_two(box)
                filler = fill(disk)
            await failing_then_answered(box, filler.unlink)


def lead_of(db: Path, user: str) -> str | None:
    """The reference code stored for a person, read as an operator would (a second connection)."""
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT ref FROM leads WHERE channel = 'zalo' AND user = ?", [user]).fetchone()
    finally:
        conn.close()
    return str(row[0]) if row else None


@ch.run
async def test_a_worker_killed_after_the_registration_is_stored_still_sends_the_code_once(tmp_path: Path) -> None:
    async with serving(tmp_path) as (box, fakes):
        *before, last = _script("0912 000 010")
        for text in before:
            await ch.zalo_say(box, text)
        fakes.zalo.errors = [-32] * 1000  # Zalo fails every send for now (rate limited, retryable)
        assert await ch.zalo_post(box, ch.zalo_event(last)) == 200
        await wait_for(lambda: lead_of(tmp_path / "k.db", ch.ZALO_USER) is not None and len(fakes.zalo.errors) < 1000)
        ref = lead_of(tmp_path / "k.db", ch.ZALO_USER)  # the turn is committed, the reply tried and not taken
        assert ref is not None and not any(ref in t for t in texts(box))
        worker = worker_of(box)
        os.kill(worker, signal.SIGKILL)
        fakes.zalo.errors.clear()  # Zalo is fine again; `serve` starts a new worker
        await wait_for(lambda: any(ref in t for t in texts(box)), timeout=20)
        await until(lambda: _healthy_and_empty(box))
        await asyncio.sleep(0.5)  # a second delivery would show by now
    assert sum(ref in t for t in texts(box)) == 1, texts(box)


@ch.run
async def test_health_answers_while_a_turn_holds_the_engine_and_gives_details_only_to_this_machine(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path, KHUYENCONG_BUSY_TIMEOUT_SECONDS="5") as (box, _):
        lock = sqlite3.connect(tmp_path / "k.db", isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        chat = asyncio.ensure_future(ch.web_say(box, {"text": "kiem tra"}))  # its turn must write: it waits
        await asyncio.sleep(0.5)
        assert not chat.done()
        status, body = await health(box)  # two seconds at most, while the engine thread waits
        assert status == 200 and body["database"] is True and body["waiting_events"] == 0 and body["worker"] is True
        assert await health(box, **PROXIED) == (200, {"ok": True})
        lock.execute("ROLLBACK")
        lock.close()
        assert any(QUESTION in r["text"] for r in await chat)


class ScriptedChannel:
    """A channel whose events fail as scripted: the database for now, or a bug for good."""

    def __init__(self, failures: dict[str, list[Exception]]) -> None:
        self.failures, self.runs = failures, []  # type: ignore[var-annotated]

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def process(self, payload: str) -> None:
        self.runs.append(payload)
        if self.failures.get(payload):
            raise self.failures[payload].pop(0)


@ch.run
async def test_a_failed_event_is_retried_with_back_off_and_its_person_waits_behind_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot import app as app_module
    from bot.channels import inbox
    from bot.channels.common import Delivery
    from bot.storage.sqlite import SqliteRepository

    monkeypatch.setattr(inbox, "RETRY_FIRST", 0.2)
    repo = SqliteRepository(tmp_path / "k.db")
    locked = sqlite3.OperationalError("database is locked")
    channel = ScriptedChannel({"a1": [locked, locked], "bad": [ValueError("a bug")]})
    events = [("a1", "A"), ("b1", "B"), ("a2", "A"), ("bad", "C"), ("c2", "C")]
    repo.claim_events([("zalo", name, name, person) for name, person in events])
    handler = app_module.OrderedHandler(type("Engine", (), {"repo": repo})())  # type: ignore[arg-type]
    worker = inbox.InboxWorker(repo, handler, Delivery(handler, 30), {"zalo": channel})  # type: ignore[dict-item]
    await worker.start()
    await wait_for(lambda: channel.runs.count("a1") == 2)
    assert "a2" not in channel.runs and {"b1", "bad", "c2"} <= set(channel.runs)  # others go on; the bug is dropped
    stored = repo.db.execute("SELECT attempts, next_try FROM inbox WHERE payload = 'a1'").fetchone()
    assert stored[0] >= 1 and stored[1] > 0  # the back-off survives a restart
    await wait_for(lambda: "a2" in channel.runs)
    assert channel.runs.count("a1") == 3 and channel.runs.index("a2") > len(channel.runs) - 2
    assert channel.runs.count("bad") == 1
    await worker.stop()
    handler.close()
    assert repo.inbox_size() == 0
    repo.close()


@ch.run
async def test_telegram_replies_refused_for_now_are_kept_and_sent_later_once_in_order(tmp_path: Path) -> None:
    async with ch.running(tmp_path) as env:
        env.telegram.too_many = 2  # 429, waited out, 429 again: Telegram does not take the welcome for now
        assert await ch.tg_post(env, ch.TelegramUser().message("xin chao")) == 200
        await wait_for(lambda: len(env.telegram.sent(ch.CHAT)) >= 4, timeout=15)
        await asyncio.sleep(0.5)  # a second delivery would show by now
        taken = [m["text"] for m in env.telegram.sent(ch.CHAT)[2:]]  # the first two were refused with 429
    assert len(taken) == 2 and "trợ lý tự động" in taken[0] and "trợ lý tự động" not in taken[1], taken


@ch.run
async def test_telegram_long_polling_delivers_at_start_what_a_killed_run_left_in_the_outbox(tmp_path: Path) -> None:
    from bot.messages import ConversationKey, Reply
    from bot.storage.sqlite import SqliteRepository

    repo = SqliteRepository(tmp_path / "k.db")  # as a run killed after committing its turn leaves it
    repo.outbox_add(ConversationKey("telegram", str(ch.CHAT)), str(ch.CHAT), [Reply("Mã hồ sơ của bà con: KC-TEST42")])
    async with platforms() as fakes:
        proc = await _spawn("telegram", fakes.environment(tmp_path, free_port()))
        try:
            await wait_for(lambda: bool(fakes.telegram.sent(ch.CHAT)), timeout=20)
            await wait_for(lambda: repo.outbox_size() == 0)
        finally:
            output = await _stop(proc, signal.SIGINT)
    assert [m["text"] for m in fakes.telegram.sent(ch.CHAT)] == ["Mã hồ sơ của bà con: KC-TEST42"], output
    repo.close()


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
def test_a_request_any_proxy_marked_gets_no_health_details(header: str) -> None:
    """Was (second review): a proxy setting only X-Real-IP passed the outside caller the details."""
    from aiohttp.test_utils import make_mocked_request

    from bot.health import _from_this_machine

    assert _from_this_machine(make_mocked_request("GET", "/healthz", transport=_Loopback()))
    proxied = make_mocked_request("GET", "/healthz", headers={header: "203.0.113.9"}, transport=_Loopback())
    assert not _from_this_machine(proxied)


class _Loopback:
    """A transport whose peer is this machine."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 50000) if name == "peername" else default
