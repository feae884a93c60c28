"""The commands themselves: `khuyencong serve` and `khuyencong telegram` as processes, set up by environment."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bot.messages import ConversationKey
from tests import test_channels as ch
from tests.conftest import ROOT, Store
from tests.fakes import FakeTelegram, FakeZalo, start, wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(tmp: Path, port: int, tg_url: str, zalo_url: str) -> dict[str, str]:
    """Only the settings .env.example documents, as a deployment would set them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZALO_", "TELEGRAM_", "WEB_", "KHUYENCONG_"))}
    env.update(
        {
            "KHUYENCONG_DB": str(tmp / "k.db"),
            "WEB_HOST": "127.0.0.1",
            "WEB_PORT": str(port),
            "ZALO_APP_ID": ch.APP_ID,
            "ZALO_OA_SECRET_KEY": ch.OA_SECRET,
            "ZALO_ACCESS_TOKEN": "access-1",
            "ZALO_REFRESH_TOKEN": "refresh-1",
            "ZALO_APP_SECRET_KEY": "app-secret",
            "ZALO_API_BASE": zalo_url,
            "ZALO_OAUTH_BASE": zalo_url,
            "TELEGRAM_BOT_TOKEN": FakeTelegram.token,
            "TELEGRAM_WEBHOOK_SECRET": ch.TG_SECRET,
            "TELEGRAM_API_BASE": f"{tg_url}/bot",
            "TELEGRAM_PER_SECOND": "10000",  # the fake Bot API has no limit; the limiter is tested on its own
        }
    )
    return env


@dataclass
class Platforms:
    """The fake Telegram and Zalo, running; `environment` points a deployment at them."""

    telegram: FakeTelegram
    zalo: FakeZalo
    tg_url: str
    zalo_url: str

    def environment(self, tmp: Path, port: int, **extra: str) -> dict[str, str]:
        """The .env.example settings for a server on `port`, plus `extra`."""
        return environment(tmp, port, self.tg_url, self.zalo_url) | extra


@asynccontextmanager
async def platforms() -> AsyncIterator[Platforms]:
    """Both fakes on loopback for the length of a test."""
    telegram, zalo = FakeTelegram(), FakeZalo()
    tg_runner, tg_url = await start(telegram.app())
    zl_runner, zl_url = await start(zalo.app())
    try:
        yield Platforms(telegram, zalo, tg_url, zl_url)
    finally:
        await tg_runner.cleanup()
        await zl_runner.cleanup()


async def _spawn(command: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    """`khuyencong <command>` as its own process, output captured."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", command, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def _stop(proc: asyncio.subprocess.Process, sig: signal.Signals = signal.SIGTERM) -> str:
    """Stop a process as its service manager would; everything it printed."""
    if proc.returncode is None:
        proc.send_signal(sig)
    return (await asyncio.wait_for(proc.communicate(), 30))[0].decode()


class ProcessEnv(ch.Env):
    """The helpers of test_channels, pointed at a server in another process."""


@dataclass
class Served:
    """A running `khuyencong serve`: its base URL, its process, and (once stopped) everything it printed."""

    url: str
    proc: asyncio.subprocess.Process
    output: str = ""


@asynccontextmanager
async def served(tmp: Path, fakes: Platforms, **extra: str) -> AsyncIterator[Served]:
    """`khuyencong serve` on a free port, answering /healthz; stopped with SIGTERM afterwards."""
    port = free_port()
    server = Served(f"http://127.0.0.1:{port}", await _spawn("serve", fakes.environment(tmp, port, **extra)))
    try:
        async with aiohttp.ClientSession() as http:
            await _until_healthy(http, server.url)
        yield server
    finally:
        server.output = await _stop(server.proc)


@ch.run
async def test_serve_carries_a_conversation_on_every_channel_then_stops_gracefully(
    tmp_path: Path, store: Store
) -> None:
    db = {"KHUYENCONG_DB": store.target}
    async with platforms() as fakes, served(tmp_path, fakes, **db) as server, aiohttp.ClientSession() as http:
        env = ProcessEnv(server.url, http, fakes.telegram, fakes.zalo, app=None)  # type: ignore[arg-type]
        await _whole_conversations(env)
    proc, output = server.proc, server.output
    assert proc.returncode == 0, output
    assert "Zalo: on" in output and "Telegram: on" in output and "Worker: a child process" in output
    assert "worker: stopped" in output  # the child finished its turns and exited before the server did
    repo = store.open()
    for channel, user in (("web", ch.WEB_USER), ("zalo", ch.ZALO_USER), ("telegram", str(ch.CHAT))):
        assert len(repo.leads_of(ConversationKey(channel, user))) == 1, channel


async def _until_healthy(http: aiohttp.ClientSession, url: str) -> None:
    for _ in range(300):
        try:
            async with http.get(url + "/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("the server did not start")


def _script(phone: str) -> list[str]:
    """A whole interview and registration; each channel's person has their own phone (else they are one lead)."""
    return [*ch.INTERVIEW, "dang ky", *[phone if t == "0912 345 678" else t for t in ch.REGISTER]]


async def _whole_conversations(env: Any) -> None:
    await ch.web_say(env, {"text": ""})
    for text in _script("0912 000 001"):
        replies = await ch.web_say(env, {"text": text})
    assert "KC-" in replies[-1]["text"]
    for text in _script("0912 000 002"):
        zalo_replies = await ch.zalo_say(env, text)
    assert "KC-" in zalo_replies[-1]["text"]
    user = ch.TelegramUser()
    for text in _script("0912 000 003"):
        tg_replies = await ch.tg_say(env, user.message(text))
    assert "KC-" in tg_replies[-1]["text"]


@ch.run
async def test_telegram_long_polling_command(tmp_path: Path) -> None:
    async with platforms() as fakes:
        telegram = fakes.telegram
        telegram.updates.append(ch.TelegramUser().message("/start"))
        proc = await _spawn("telegram", fakes.environment(tmp_path, free_port()))
        try:
            await wait_for(lambda: len(telegram.sent(ch.CHAT)) >= 2, timeout=30)
            offsets = [int(p.get("offset", 0) or 0) for m, p in telegram.calls if m == "getUpdates"]
            await wait_for(
                lambda: any(int(p.get("offset", 0) or 0) > 1001 for m, p in telegram.calls if m == "getUpdates")
            )
        finally:
            output = await _stop(proc, signal.SIGINT)
    assert "trợ lý tự động" in telegram.sent(ch.CHAT)[0]["text"], output
    assert offsets is not None


@ch.run
async def test_messages_accepted_while_no_worker_runs_are_answered_once_one_starts(
    tmp_path: Path, store: Store
) -> None:
    port = free_port()
    async with platforms() as fakes:
        telegram, zalo = fakes.telegram, fakes.zalo
        env = fakes.environment(tmp_path, port, KHUYENCONG_WORKER="external", KHUYENCONG_DB=store.target)
        server = await _spawn("serve", env)
        url, worker = f"http://127.0.0.1:{port}", None
        try:
            async with aiohttp.ClientSession() as http:
                await _until_healthy(http, url)
                box = ProcessEnv(url, http, telegram, zalo, app=None)  # type: ignore[arg-type]
                assert await ch.zalo_post(box, ch.zalo_event("xin chao")) == 200
                assert await ch.tg_post(box, ch.TelegramUser().message("kiem tra")) == 200
                await asyncio.sleep(0.5)
                assert not zalo.to(ch.ZALO_USER) and not telegram.sent(ch.CHAT)  # stored, not yet answered
                async with http.get(url + "/healthz") as resp:
                    assert (await resp.json())["waiting_events"] == 2
                worker = await _spawn("worker", env)  # as if the worker came back after a crash
                await wait_for(lambda: bool(zalo.to(ch.ZALO_USER)) and len(telegram.sent(ch.CHAT)) >= 2, timeout=30)
                assert "trợ lý tự động" in zalo.to(ch.ZALO_USER)[0]["text"]
                assert "thuộc loại nào" in telegram.sent(ch.CHAT)[-1]["text"]
                await wait_for_empty_inbox(http, url)
        finally:
            outputs = [await _stop(p) for p in (worker, server) if p is not None]
    assert worker is not None and worker.returncode == 0 and server.returncode == 0, outputs


async def wait_for_empty_inbox(http: aiohttp.ClientSession, url: str) -> None:
    for _ in range(200):
        async with http.get(url + "/healthz") as resp:
            if (await resp.json())["waiting_events"] == 0:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("events stayed in the inbox after their turn")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        found += [int(x) for x in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return found


@ch.run
async def test_a_killed_worker_is_started_again_and_nothing_accepted_is_lost(tmp_path: Path, store: Store) -> None:
    port = free_port()
    async with platforms() as fakes:
        zalo = fakes.zalo
        server = await _spawn("serve", fakes.environment(tmp_path, port, KHUYENCONG_DB=store.target))
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                await _until_healthy(http, url)
                box = ProcessEnv(url, http, fakes.telegram, zalo, app=None)  # type: ignore[arg-type]
                await ch.zalo_say(box, "xin chao")
                (child,) = _children(server.pid)
                os.kill(child, signal.SIGKILL)
                assert await ch.zalo_post(box, ch.zalo_event("kiem tra")) == 200  # accepted while no worker runs
                await wait_for(lambda: any("thuộc loại nào" in m["text"] for m in zalo.to(ch.ZALO_USER)), timeout=30)
                assert _children(server.pid) not in ([], [child])
        finally:
            output = await _stop(server)
    assert server.returncode == 0 and "worker: exited with -9" in output, output
