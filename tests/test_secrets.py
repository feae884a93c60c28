"""Secrets and slow clients: forged headers, tokens in logs, slow sockets, file modes, temporary copies."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests import test_channels as ch


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
