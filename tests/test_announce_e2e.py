"""Issue 14's done-when: 2,000 subscribers, a real `khuyencong worker` against the fake platforms, SIGKILLed
mid-send and started again; each intended person gets the announcement exactly once, the report matches."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import signal
import sys
from collections import Counter
from pathlib import Path

import aiohttp

from bot.messages import ConversationKey
from bot.storage.sqlite import SqliteRepository
from tests import test_channels as ch
from tests.conftest import ROOT
from tests.fakes import wait_for
from tests.test_serve import _spawn, _stop, _until_healthy, environment, free_port, platforms

VINH_THUY, OTHER = 19405, 19408
NOW = dt.datetime.now(dt.UTC)
SENDERS = 4  # ANNOUNCE_SENDERS: sends in flight per platform, each held by the fakes at the kill
# Zalo people by the age of their last message; -230 from Zalo for some of the free ones.
ZALO = {"free": 700, "charged": 300, "closed": 100}
ZALO_AGE = {"free": dt.timedelta(hours=20), "charged": dt.timedelta(days=4), "closed": dt.timedelta(days=9)}
TELEGRAM, WEB = 800, 100  # 2,000 in all
WINDOW_CLOSED, BLOCKED = 50, 30


def _people() -> list[tuple[str, str, int, dt.datetime]]:
    """(channel, user, commune, last message) of every subscriber, and a few of another commune."""
    people = []
    for group, count in ZALO.items():
        people += [("zalo", f"{group}{i:04d}", VINH_THUY, NOW - ZALO_AGE[group]) for i in range(count)]
    people += [("telegram", str(100000 + i), VINH_THUY, NOW - dt.timedelta(days=30)) for i in range(TELEGRAM)]
    people += [("web", f"webchat-{i:012d}", VINH_THUY, NOW) for i in range(WEB)]
    people += [("zalo", f"other{i}", OTHER, NOW) for i in range(20)] + [("telegram", "900001", OTHER, NOW)]
    return people


def _seed(db: Path) -> None:
    """Subscribers as the chat leaves them: a consent, a subscription, their last message in the transcript."""
    repo = SqliteRepository(db)
    with repo._tx() as cur:
        for channel, user, commune, last in _people():
            stamp = last.isoformat(timespec="seconds")
            cur.execute(
                "INSERT INTO consents (channel, user, purpose, text_version, text, given, at) "
                "VALUES (?, ?, 'news', 'test', 'đồng ý', 1, ?)",
                [channel, user, stamp],
            )
            cur.execute(
                "INSERT INTO subscriptions (channel, user, commune_code, commune, consent_id, at) VALUES (?,?,?,?,?,?)",
                [channel, user, commune, "xã Vĩnh Thủy, Quảng Trị", cur.lastrowid, stamp],
            )
            cur.execute(
                "INSERT INTO chat_log (channel, user, role, text, at) VALUES (?, ?, 'person', 'nhận tin', ?)",
                [channel, user, stamp],
            )
    repo.close()


async def _cli(env: dict[str, str], *args: str) -> dict[str, object]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "announce", *args, "--json", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return json.loads(out)  # type: ignore[no-any-return]


def _statuses(db: Path) -> Counter[tuple[str, str]]:
    repo = SqliteRepository(db)
    try:
        rows = repo.db.execute("SELECT channel, status, count(*) FROM announcement_recipients GROUP BY 1, 2")
        return Counter({(c, s): n for c, s, n in rows.fetchall()})
    finally:
        repo.close()


@ch.run
async def test_two_thousand_subscribers_each_get_it_once_through_a_killed_worker(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    _seed(db)
    async with platforms() as fakes:
        env = fakes.environment(tmp_path, free_port()) | {
            "ANNOUNCE_NIGHT_START": "0",  # no quiet hours in this test, whatever the time of the run
            "ANNOUNCE_NIGHT_END": "0",
            "ANNOUNCE_TELEGRAM_PER_SECOND": "2000",
            "TELEGRAM_PER_SECOND": "10000",
            "ANNOUNCE_ZALO_PER_SECOND": "2000",
            "ANNOUNCE_SENDERS": str(SENDERS),
        }
        planned = await _cli(env, "--commune", str(VINH_THUY), "--text", "Xã mở đăng ký hỗ trợ máy móc đến 20/12.")
        assert planned["to_send"] == ZALO["free"] + TELEGRAM + WEB
        assert planned["channels"] == {
            "telegram": {"send": TELEGRAM},
            "web": {"send": WEB},
            "zalo": {"charged": ZALO["charged"], "closed": ZALO["closed"], "free": ZALO["free"]},
        }
        assert planned["skipped"] == {"zalo_charged": ZALO["charged"], "zalo_closed": ZALO["closed"]}

        fakes.zalo.blocked = {f"free{i:04d}" for i in range(WINDOW_CLOSED)}  # -230 from Zalo
        fakes.telegram.forbidden = {100000 + i for i in range(BLOCKED)}  # 403: they blocked the bot
        fakes.telegram.too_many = 1  # one 429 with retry_after 1
        fakes.zalo.hold.after, fakes.telegram.hold.after = 300, 400  # then every send hangs at the platform

        worker = await _spawn("worker", env)
        try:
            # Mid-send: every send in flight has reached the platforms, and the web rows are done.
            await wait_for(lambda: fakes.zalo.hold.held == SENDERS and fakes.telegram.hold.held == SENDERS, 60)
            await wait_for(lambda: _statuses(db)[("web", "sent")] == WEB, 10)
        finally:
            worker.send_signal(signal.SIGKILL)
            await _stop(worker)
        assert _statuses(db)[("zalo", "sending")] == SENDERS  # the doubt a kill leaves, bounded
        fakes.zalo.hold.after = fakes.telegram.hold.after = None
        fakes.zalo.hold.release.set()
        fakes.telegram.hold.release.set()

        worker = await _spawn("worker", env)
        try:
            await wait_for(lambda: not {s for (_, s) in _statuses(db) if s in ("waiting", "sending")}, 60)
        finally:
            output = await _stop(worker)
        report = await _cli(env, "--report", "1")

    zalo_got = Counter(m["recipient"]["user_id"] for m in fakes.zalo.messages)
    tg_got = Counter(int(p["chat_id"]) for p in fakes.telegram.delivered)
    intended_zalo = {f"free{i:04d}" for i in range(WINDOW_CLOSED, ZALO["free"])}
    intended_tg = {100000 + i for i in range(BLOCKED, TELEGRAM)}
    assert set(zalo_got) == intended_zalo and set(zalo_got.values()) == {1}, "each once, and nobody else"
    assert set(tg_got) == intended_tg and set(tg_got.values()) == {1}
    assert fakes.telegram.too_many == 0  # the 429 was answered, its row sent after the wait
    repo = SqliteRepository(db)
    notices = repo.db.execute("SELECT user, count(*) FROM chat_log WHERE role = 'notice' GROUP BY user").fetchall()
    assert len(notices) == WEB and {n for _, n in notices} == {1}
    shown = repo.handoffs.web_updates("webchat-000000000000", 0)  # what the widget's long poll answers
    assert len(shown) == 1 and "Tin khuyến công của xã Vĩnh Thủy" in shown[0].text
    assert not repo.is_unreachable(ConversationKey("zalo", "free0000"))  # -230: this announcement only
    blocked_left = repo.db.execute("SELECT count(*) FROM subscriptions WHERE channel = 'telegram'").fetchone()[0]
    assert blocked_left == TELEGRAM - BLOCKED + 1  # the blocked are unsubscribed (the other commune's one stays)

    assert "interrupted by a restart" in output
    assert re.search(r"announce: telegram: \d+ sent", output)  # the operator's log of what went out
    interrupted = report["failed"]["interrupted"]  # type: ignore[index]
    assert interrupted == 2 * SENDERS  # sent, but the kill came before the row was marked: not sent again
    assert report["sent"] + interrupted == len(fakes.zalo.messages) + len(fakes.telegram.delivered) + WEB
    assert report["failed"] == {"blocked": BLOCKED, "interrupted": 2 * SENDERS, "zalo_window": WINDOW_CLOSED}
    assert report["skipped"] == {"zalo_charged": ZALO["charged"], "zalo_closed": ZALO["closed"]}
    assert report["unsubscribed_after"] == BLOCKED
    assert report["waiting"] == 0 and report["recipients"] == sum(ZALO.values()) + TELEGRAM + WEB
    assert report["created_by"] == "cli" and report["audience"] == {"all": True}  # who sent it, to whom


@ch.run
async def test_a_web_only_server_shows_an_announcement_through_the_widgets_long_poll(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in environment(tmp_path, port, "", "").items() if not k.startswith(("ZALO_", "TELEGRAM_"))}
    env |= {"ANNOUNCE_NIGHT_START": "0", "ANNOUNCE_NIGHT_END": "0"}
    server = await _spawn("serve", env)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            await _until_healthy(http, url)
            for said in ({"text": "nhan tin"}, {"text": "xa vinh thuy quang tri"}, {"button": "yes:"}):
                async with http.post(f"{url}/api/chat", json={"user": ch.WEB_USER, **said}) as resp:
                    replies = (await resp.json())["replies"]
            assert "Đã đăng ký nhận tin" in replies[0]["text"]
            await _cli(env, "--commune", str(VINH_THUY), "--text", "Hội chợ hàng thủ công ngày 15/12.")
            params = {"user": ch.WEB_USER, "after": "0"}
            async with http.get(f"{url}/api/chat/updates", params=params) as resp:
                body = await resp.json()
    finally:
        output = await _stop(server)
    assert [r["text"].splitlines()[:2] for r in body["replies"]] == [
        ["📢 Tin khuyến công của xã Vĩnh Thủy, Quảng Trị:", "Hội chợ hàng thủ công ngày 15/12."]
    ], output


@ch.run
async def test_telegram_by_long_polling_sends_announcements_too(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    repo = SqliteRepository(db)
    with repo._tx() as cur:
        cur.execute(
            "INSERT INTO subscriptions (channel, user, commune_code, commune, consent_id, at) VALUES (?,?,?,?,?,?)",
            ["telegram", str(ch.CHAT), VINH_THUY, "xã Vĩnh Thủy, Quảng Trị", 1, NOW.isoformat(timespec="seconds")],
        )
    repo.close()
    async with platforms() as fakes:
        env = fakes.environment(tmp_path, free_port()) | {"ANNOUNCE_NIGHT_START": "0", "ANNOUNCE_NIGHT_END": "0"}
        proc = await _spawn("telegram", env)
        try:
            await _cli(env, "--commune", str(VINH_THUY), "--text", "Hạn nộp hồ sơ là thứ Sáu.")
            await wait_for(lambda: len(fakes.telegram.delivered) == 1, 30)
        finally:
            output = await _stop(proc, signal.SIGINT)
    sent = fakes.telegram.delivered[0]
    assert int(sent["chat_id"]) == ch.CHAT and "Hạn nộp hồ sơ là thứ Sáu." in sent["text"], output
    assert "cmd:unsubscribe" in sent["reply_markup"]  # 'Hủy nhận tin' under it


@ch.run
async def test_a_zalo_follower_who_leaves_the_oa_is_unsubscribed(tmp_path: Path) -> None:
    from tests.fakes import zalo_event

    async with ch.running(tmp_path) as env:
        await ch.zalo_say(env, "nhận tin")
        asked = await ch.zalo_say(env, "xa vinh thuy quang tri")
        assert "tin khuyến công của xã Vĩnh Thủy" in asked[-1]["text"]
        assert "Đã đăng ký nhận tin" in (await ch.zalo_say(env, "#kc:yes:"))[-1]["text"]
        store = env.app.repo.announcements
        key = ConversationKey("zalo", ch.ZALO_USER)
        assert [s.commune_code for s in store.subscriptions_of(key)] == [VINH_THUY]
        assert await ch.zalo_post(env, zalo_event(None, user=ch.ZALO_USER, event_name="unfollow")) == 200
        await wait_for(lambda: not store.subscriptions_of(key))
        withdrawn = env.app.repo.db.execute("SELECT given, text FROM consents ORDER BY id DESC LIMIT 1").fetchone()
    assert withdrawn == (0, "Bà con bỏ quan tâm Zalo OA: dừng nhắn tin.")
