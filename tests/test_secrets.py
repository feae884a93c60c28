"""Secrets and slow clients: forged headers, tokens in logs, slow sockets, file modes, temporary copies."""

from __future__ import annotations

import asyncio
import logging
import signal
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from tests import test_channels as ch
from tests.fakes import FakeTelegram, wait_for
from tests.test_dashboard import seed, sign_in
from tests.test_notify import command
from tests.test_serve import ProcessEnv, _spawn, _stop, _until_healthy, free_port, platforms


async def raw_request(url: str, head: bytes, body: bytes = b"") -> int:
    """Send bytes as they are (headers no client library would send) and return the status code."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(head + b"\r\n" + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        return int(status_line.split()[1])
    finally:
        writer.close()


def forged(path: str, header: bytes, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n".encode()
        + header
        + b"\r\n"
    )


@ch.run
async def test_a_forged_non_ascii_signature_or_secret_is_refused_without_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with ch.running(tmp_path) as env:
        event = ch.zalo_event("xin chao")
        body = ch.raw_json(event)
        update = ch.json.dumps(ch.TelegramUser().message("xin chao")).encode()
        for value in ("mac=chữ-ký-giả".encode(), "ñ".encode("latin-1"), b"\xed\xa0\x80", "🔑".encode()):
            zalo = forged("/webhooks/zalo", b"X-ZEvent-Signature: " + value, body)
            assert await raw_request(env.url, zalo, body) == 401
            telegram = forged("/webhooks/telegram", b"X-Telegram-Bot-Api-Secret-Token: " + value, update)
            assert await raw_request(env.url, telegram, update) == 403
        await asyncio.sleep(0.2)
        assert not env.zalo.messages and not env.telegram.sent(ch.CHAT)  # nothing was processed
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], caplog.text


# --- 6: no token in the log ---------------------------------------------------------------------------


@ch.run
async def test_long_polling_never_logs_the_bot_token(tmp_path: Path) -> None:
    async with platforms() as fakes:
        user = ch.TelegramUser()
        fakes.telegram.updates += [user.message("/start"), user.message("kiem tra"), user.message("hkd")]
        proc = await _spawn("telegram", fakes.environment(tmp_path, free_port()))
        try:
            await wait_for(lambda: len(fakes.telegram.sent(ch.CHAT)) >= 4, timeout=30)
        finally:
            output = await _stop(proc, signal.SIGINT)
    assert "getUpdates" in str(fakes.telegram.calls) and "Application started" in output, output
    assert FakeTelegram.token not in output and FakeTelegram.token.split(":")[1] not in output, output


@ch.run
async def test_serve_and_its_worker_never_log_a_token_or_secret(tmp_path: Path) -> None:
    port = free_port()
    async with platforms() as fakes:
        env = fakes.environment(tmp_path, port)
        proc = await _spawn("serve", env)
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                await _until_healthy(http, url)
                box = ProcessEnv(url, http, fakes.telegram, fakes.zalo, app=None)  # type: ignore[arg-type]
                user = ch.TelegramUser()
                for text in ("xin chao", "kiem tra", "hkd"):
                    await ch.tg_say(box, user.message(text))
                fakes.zalo.access_token = "expired"  # the next send is refused: a refresh, and new tokens
                await ch.zalo_say(box, "xin chao")
        finally:
            output = await _stop(proc)
    assert "worker: stopped" in output, output
    secrets = [env[k] for k in env if k.endswith(("_TOKEN", "_SECRET", "_SECRET_KEY"))]
    secrets += [fakes.zalo.access_token, fakes.zalo.refresh_token, FakeTelegram.token.split(":")[1]]
    assert fakes.zalo.refreshes == 1 and len(secrets) == 9
    assert not [s for s in secrets if s in output], output


# --- 14: no copy of the leads left behind ----------------------------------------------------------


@ch.run
async def test_exports_leave_no_copy_of_the_leads_in_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # what TMPDIR sets, for this process
    staff_id = 777
    async with ch.running(tmp_path, telegram_staff_ids=str(staff_id)) as env:
        seed(env)
        await sign_in(env)
        for fmt in ("csv", "xlsx", "summary"):
            async with env.http.get(f"{env.url}/staff/export/{fmt}") as resp:
                assert resp.status == 200 and len(await resp.read()) > 100
        assert await ch.tg_post(env, command("/export", staff_id, 1)) == 200
        await wait_for(lambda: any(m == "sendDocument" for m, _ in env.telegram.calls))
    assert list(scratch.iterdir()) == []


# --- 20: slow clients --------------------------------------------------------------------------------


async def seconds_until_closed(url: str, data: bytes) -> float:
    """Send `data` and stall; how long until the server hangs up (whatever it answers first)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    began = time.monotonic()
    try:
        writer.write(data)
        await writer.drain()
        while await asyncio.wait_for(reader.read(4096), 15):
            pass
        return time.monotonic() - began
    finally:
        writer.close()


@ch.run
async def test_a_client_that_stalls_in_its_headers_or_body_is_disconnected(tmp_path: Path) -> None:
    port = free_port()
    async with platforms() as fakes:
        env = fakes.environment(tmp_path, port, WEB_HEADER_TIMEOUT="1", WEB_BODY_TIMEOUT="1")
        proc = await _spawn("serve", env)
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                await _until_healthy(http, url)
                head = b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Le"
                body = b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                body += b'Content-Length: 100\r\n\r\n{"user": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "te'
                stalls = [asyncio.create_task(seconds_until_closed(url, data)) for data in (head, body)]
                await asyncio.sleep(0.3)
                box = ProcessEnv(url, http, fakes.telegram, fakes.zalo, app=None)  # type: ignore[arg-type]
                replies = await ch.web_say(box, {"text": "xin chao"})  # a normal client meanwhile
                assert "trợ lý tự động" in replies[0]["text"]
                header_wait, body_wait = await asyncio.gather(*stalls)
        finally:
            output = await _stop(proc)
    assert header_wait < 4 and body_wait < 5, (header_wait, body_wait, output)
    assert "Traceback" not in output, output
