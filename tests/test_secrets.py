"""Secrets and slow clients: forged headers, tokens in logs, slow sockets, file modes, temporary copies."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from bot.app import OrderedHandler, build
from bot.channels.zalo import Tokens, zalo_settings
from bot.channels.zalo_auth import auth_state
from bot.logs import RedactSecrets
from bot.staff.store import StaffStore
from tests import test_channels as ch
from tests.conftest import Store
from tests.fakes import FakeTelegram, FakeZalo, start, wait_for
from tests.test_dashboard import seed, sign_in
from tests.test_notify import command
from tests.test_serve import ProcessEnv, _spawn, _stop, _until_healthy, free_port, platforms, served


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
    async with platforms() as fakes:
        async with served(tmp_path, fakes) as server, aiohttp.ClientSession() as http:
            box = ProcessEnv(server.url, http, fakes.telegram, fakes.zalo, app=None)  # type: ignore[arg-type]
            user = ch.TelegramUser()
            for text in ("xin chao", "kiem tra", "hkd"):
                await ch.tg_say(box, user.message(text))
            fakes.zalo.access_token = "expired"  # the next send is refused: a refresh, and new tokens
            await ch.zalo_say(box, "xin chao")
        env = fakes.environment(tmp_path, 0)
    output = server.output
    assert "worker: stopped" in output, output
    secrets = [env[k] for k in env if k.endswith(("_TOKEN", "_SECRET", "_SECRET_KEY"))]
    secrets += [fakes.zalo.access_token, fakes.zalo.refresh_token, FakeTelegram.token.split(":")[1]]
    assert fakes.zalo.refreshes == 1 and len(secrets) == 9
    assert not [s for s in secrets if s in output], output


def test_the_log_filter_masks_secrets_in_messages_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("khuyencong.test-redact")
    logger.addHandler(handler)
    redact = RedactSecrets()
    handler.addFilter(redact)  # what setup_logging does for the root handlers
    try:
        redact.add(FakeTelegram.token, ch.OA_SECRET, None, "")  # the settings
        redact.add("rotated-refresh-token-42")  # a token learnt later (what hide() adds)
        logger.error("GET /bot%s/getMe", FakeTelegram.token)
        try:
            raise RuntimeError(f"refresh rotated-refresh-token-42 refused by {ch.OA_SECRET}")
        except RuntimeError:
            logger.exception("zalo failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "zalo failed" in text and "RuntimeError" in text and "***" in text
    assert not [s for s in (FakeTelegram.token, "rotated-refresh-token-42", ch.OA_SECRET) if s in text], text


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
        assert StaffStore(env.app.repo).link_telegram("lan", staff_id)  # Telegram exports need a linked account
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
                await hang_up_mid_body(url, body)  # was (second review): an ERROR and a traceback in the log
                await asyncio.sleep(0.3)
                box = ProcessEnv(url, http, fakes.telegram, fakes.zalo, app=None)  # type: ignore[arg-type]
                replies = await ch.web_say(box, {"text": "xin chao"})  # a normal client meanwhile
                assert "trợ lý tự động" in replies[0]["text"]
                header_wait, body_wait = await asyncio.gather(*stalls)
        finally:
            output = await _stop(proc)
    assert header_wait < 4 and body_wait < 5, (header_wait, body_wait, output)
    assert "Traceback" not in output and " ERROR " not in output, output


async def hang_up_mid_body(url: str, data: bytes) -> None:
    """Send part of a request and go away, as a phone losing its signal does."""
    parts = urlsplit(url)
    _, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(data)
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.close()


# --- 5: a Zalo refresh that survives a kill or a database error ---------------------------------------


class WriteLock:
    """A second connection that takes the database's write lock when told to, as a busy writer would."""

    def __init__(self, db: Path) -> None:
        self.conn: sqlite3.Connection | None = None
        self.db = db

    def take(self) -> None:
        self.conn = sqlite3.connect(self.db, timeout=5, isolation_level=None)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        if self.conn is not None:
            self.conn.execute("ROLLBACK")
            self.conn.close()


@ch.run
async def test_a_zalo_refresh_interrupted_by_a_kill_before_the_commit_keeps_the_new_token(tmp_path: Path) -> None:
    port, url = free_port(), ""
    async with platforms() as fakes:
        zalo, lock = fakes.zalo, WriteLock(tmp_path / "k.db")
        env = fakes.environment(tmp_path, port, KHUYENCONG_WORKER="inline")
        server = await _spawn("serve", env)
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                await _until_healthy(http, url)
                box = ProcessEnv(url, http, fakes.telegram, zalo, app=None)  # type: ignore[arg-type]
                zalo.access_token, zalo.on_refresh = "expired", lock.take  # Zalo answers; the commit must wait
                assert await ch.zalo_post(box, ch.zalo_event("xin chao")) == 200
                await wait_for(lambda: zalo.refreshes == 1)
                await asyncio.sleep(0.5)
                server.kill()  # between Zalo's answer and the database commit
                await server.wait()
                lock.release()
                server = await _spawn("serve", env | {"KHUYENCONG_WORKER": "process"})
                await _until_healthy(http, url)
                replies = await ch.zalo_say(box, "kiem tra")  # sent with the new token
                async with http.get(url + "/healthz") as resp:
                    health = await resp.json()
        finally:
            output = await _stop(server)
    assert "thuộc loại nào" in replies[-1]["text"] and zalo.refreshes == 1, output
    assert health["zalo_auth"] == "ok", health
    assert "recovered" in output and "refresh-2" not in output, output


@ch.run
async def test_a_database_error_at_the_commit_still_sends_and_keeps_the_new_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(*args: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    async with ch.running(tmp_path) as env:
        env.zalo.access_token = "expired"
        monkeypatch.setattr(env.app.repo, "save_tokens", locked)
        replies = await ch.zalo_say(env, "xin chao")
        assert "trợ lý tự động" in replies[0]["text"] and env.zalo.refreshes == 1
    monkeypatch.undo()
    app = build(ch.settings_for(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:9"))  # the restart
    handler = OrderedHandler(app.engine)
    try:
        tokens = Tokens(zalo_settings(app.settings), handler, app.repo)
        assert await tokens.current() == "access-2"
        stored = app.repo.load_tokens("zalo")
        assert stored is not None and stored["refresh_token"] == "refresh-2"
    finally:
        handler.close()
        app.close()


@ch.run
async def test_a_refused_refresh_token_shows_in_health_the_staff_chat_and_the_dashboard(tmp_path: Path) -> None:
    staff_chat = "-100500"
    async with ch.running(tmp_path, telegram_staff_chat_id=staff_chat) as env:
        env.zalo.access_token = "expired"
        env.zalo.used_refresh_tokens.add("refresh-1")  # e.g. used by a copy of the bot elsewhere
        async with env.http.get(env.url + "/healthz") as resp:
            assert resp.status == 200 and (await resp.json())["zalo_auth"] == "ok"
        assert await ch.zalo_post(env, ch.zalo_event("xin chao")) == 200
        await wait_for(lambda: any(p.get("chat_id") == staff_chat for p in env.telegram.sent()))
        notice = next(p["text"] for p in env.telegram.sent() if p.get("chat_id") == staff_chat)
        async with env.http.get(env.url + "/healthz") as resp:
            assert resp.status == 503 and (await resp.json())["zalo_auth"] == "needs_new_token"
        seed(env)
        page = await sign_in(env)
    assert "Zalo OA đã ngừng gửi tin nhắn" in notice and "trang quản lý Zalo" in notice
    assert notice in page  # the officers' main page says it too


@ch.run
async def test_new_tokens_from_the_zalo_console_replace_refused_stored_ones(tmp_path: Path) -> None:
    async with ch.running(tmp_path, khuyencong_secret_key=KEY) as env:
        env.zalo.access_token = "expired"
        await ch.zalo_say(env, "xin chao")  # refreshed: the stored tokens now win over the settings
        env.zalo.access_token = "expired"
        env.zalo.used_refresh_tokens.add(env.zalo.refresh_token)  # and then refused
        assert await ch.zalo_post(env, ch.zalo_event("kiem tra")) == 200
        await wait_for(lambda: env.app.repo.token_state("zalo") == "needs_new_token")
    console = {"zalo_access_token": "access-1", "zalo_refresh_token": "refresh-1-from-console"}
    async with ch.running(tmp_path, khuyencong_secret_key=KEY, **console) as env:  # put in .env, restarted
        replies = await ch.zalo_say(env, "xin chao")
        async with env.http.get(env.url + "/healthz") as resp:
            health = resp.status, await resp.json()
    assert replies and health[0] == 200 and health[1]["zalo_auth"] == "ok", health


@ch.run
async def test_an_unreachable_zalo_oauth_shows_as_refresh_failing_and_health_stays_up(tmp_path: Path) -> None:
    async with ch.running(tmp_path, zalo_oauth_base=f"http://127.0.0.1:{free_port()}") as env:
        env.zalo.access_token = "expired"
        assert await ch.zalo_post(env, ch.zalo_event("xin chao")) == 200
        await wait_for(lambda: env.app.repo.token_state("zalo") == "refresh_failing")
        async with env.http.get(env.url + "/healthz") as resp:
            assert resp.status == 200 and (await resp.json())["zalo_auth"] == "refresh_failing"


@ch.run
async def test_a_process_takes_the_tokens_another_process_refreshed_instead_of_spending_the_old_one(
    tmp_path: Path, store: Store
) -> None:
    """Was: each process on the database (a worker, a second serve) refreshed with its own copy of the single-use
    refresh token; Zalo refused the second, and the channel stopped ('needs_new_token', health 503)."""
    zalo = FakeZalo()
    runner, url = await start(zalo.app())
    apps = [build(ch.settings_for(tmp_path, "http://127.0.0.1:9", url, khuyencong_db=Path(store.target))) for _ in "ab"]
    handlers = [OrderedHandler(app.engine) for app in apps]
    first, second = (Tokens(zalo_settings(a.settings), h, a.repo) for a, h in zip(apps, handlers, strict=True))
    try:
        zalo.access_token = "expired"  # both hold access-1, and Zalo refuses it
        async with aiohttp.ClientSession() as http:
            assert await first.current() == await second.current() == "access-1"
            assert await first.refresh(http, "access-1")
            assert await second.refresh(http, "access-1")  # later: it finds the new pair in the database
        assert zalo.refreshes == 1 and first.access == second.access == zalo.access_token == "access-2"
        assert auth_state(apps[1].repo) == "ok"
    finally:
        for handler, app in zip(handlers, apps, strict=True):
            handler.close()
            app.close()
        await runner.cleanup()


@ch.run
async def test_two_serves_on_postgresql_refreshing_at_once_spend_the_refresh_token_once(
    tmp_path: Path, pg_store: Store
) -> None:
    """Two `khuyencong serve` on one PostgreSQL database, each answering a Zalo message when the access token has
    just expired: one refreshes (a lock in the database), the other waits and takes the new pair.
    Was: both spent the refresh token; Zalo refused the second, and the channel stopped."""
    users = ("6142494823000000101", "6142494823000000202")
    async with platforms() as fakes, aiohttp.ClientSession() as http:
        extra = {"KHUYENCONG_DB": pg_store.target, "KHUYENCONG_WORKER": "inline"}
        fakes.zalo.access_token, fakes.zalo.refresh_delay = "expired", 0.5  # the first refresh still in flight
        async with served(tmp_path / "a", fakes, **extra) as a, served(tmp_path / "b", fakes, **extra) as b:
            boxes = [ProcessEnv(s.url, http, fakes.telegram, fakes.zalo, app=None) for s in (a, b)]  # type: ignore[arg-type]
            posted = await asyncio.gather(
                *(ch.zalo_post(box, ch.zalo_event("xin chao", user=u)) for box, u in zip(boxes, users, strict=True))
            )
            assert posted == [200, 200]
            await wait_for(lambda: all(fakes.zalo.to(u) for u in users), timeout=15)
            health = []
            for s in (a, b):
                async with http.get(s.url + "/healthz") as resp:
                    health.append((resp.status, (await resp.json())["zalo_auth"]))
    assert fakes.zalo.refreshes == 1 and health == [(200, "ok"), (200, "ok")], (fakes.zalo.refreshes, health)


# --- 13: owner-only files, tokens sealed at rest ------------------------------------------------------


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@ch.run
async def test_database_backups_exports_and_caches_are_owner_only_and_tokens_sealed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    previous = os.umask(0o022)  # a typical login shell's umask
    try:
        async with platforms() as fakes:
            sealed = {"KHUYENCONG_DB": str(data / "k.db"), "KHUYENCONG_SECRET_KEY": KEY}
            env = fakes.environment(tmp_path, 0, **sealed)
            async with served(tmp_path, fakes, **sealed) as server, aiohttp.ClientSession() as http:
                box = ProcessEnv(server.url, http, fakes.telegram, fakes.zalo, app=None)  # type: ignore[arg-type]
                fakes.zalo.access_token = "expired"
                await ch.zalo_say(box, "xin chao")  # a refresh: new tokens stored
                live = {p.name: mode(p) for p in data.rglob("*")}  # -wal and -shm exist while serving
        for command in (["db", "backup", str(tmp_path / "backups" / "b.db")], ["export", "--format", "csv"]):
            extra = ["--out", str(tmp_path / "x.csv")] if command[0] == "export" else []
            done = subprocess.run(
                [sys.executable, "-m", "bot.cli", *command, *extra, "--db", str(data / "k.db")],
                env=env, cwd=ch.ROOT, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
    finally:
        os.umask(previous)
    assert {"k.db", "k.db-wal", "k.db-shm", "cache"} <= set(live), live
    assert mode(data) == 0o700 and all(m in (0o600, 0o700) for m in live.values()), live
    assert mode(tmp_path / "backups" / "b.db") == 0o600 and mode(tmp_path / "x.csv") == 0o600
    assert fakes.zalo.refresh_token == "refresh-2"
    for path in [*data.rglob("*"), tmp_path / "backups" / "b.db"]:
        raw = path.read_bytes() if path.is_file() else b""
        assert b"access-2" not in raw and b"refresh-2" not in raw, path  # sealed, not in plain text


KEY = "k3y-for-tests-only-0123456789abcdef"


@ch.run
async def test_sealed_tokens_need_the_right_key_to_start(tmp_path: Path) -> None:
    async with ch.running(tmp_path, khuyencong_secret_key=KEY) as env:
        env.zalo.access_token = "expired"
        await ch.zalo_say(env, "xin chao")
        stored = env.app.repo.load_tokens("zalo")
    assert stored is not None and stored["refresh_token"].startswith("fernet:")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ZALO_", "TELEGRAM_", "KHUYENCONG_"))}
    for key, words in (("", "chưa có KHUYENCONG_SECRET_KEY"), ("another-key-0123456789", "không đúng")):
        env = base | {"KHUYENCONG_DB": str(tmp_path / "k.db"), "KHUYENCONG_SECRET_KEY": key}
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "worker"],
            env=env,
            cwd=ch.ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and words in done.stderr, done.stderr
