"""Over real HTTP: staff reply to the person behind an unanswered question (as a handoff reply, where the window
allows), and the statistics page counts requests and the wait to the first staff reply, per commune."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from bot.messages import ConversationKey
from bot.staff.store import StaffStore
from tests import test_channels as ch
from tests.conftest import Store
from tests.test_dashboard import PASSWORD, csrf_of, seed, sign_in
from tests.test_questions_answered import ASKED, TRA_GIANG, two_communes

ASKER = "a" * 32
SIGNED = "Cán bộ lan (xã Vĩnh Thủy): "


async def reply_link(env: ch.Env, name: str = "lan") -> str:
    await sign_in(env, name)
    async with env.http.get(env.url + "/staff/questions") as resp:
        found = re.findall(r'href="(/staff/questions/\d+/reply)"', await resp.text())
    assert found, "no 'Trả lời người hỏi' link"
    return found[0]


async def send(env: ch.Env, link: str, **form: str) -> tuple[int, str, str]:
    """The reply form posted (status, page, where it led) without following a redirect."""
    async with env.http.get(env.url + link) as resp:
        csrf = csrf_of(await resp.text())
    async with env.http.post(env.url + link, data={"csrf": csrf, **form}, allow_redirects=False) as resp:
        return resp.status, await resp.text(), resp.headers.get("Location", "")


def handoffs(env: ch.Env) -> int:
    return int(env.app.repo.db.execute("SELECT count(*) FROM handoffs").fetchone()[0])


@ch.run
async def test_an_officer_replies_to_the_asker_in_their_own_chat_and_the_assistant_then_keeps_quiet(
    tmp_path: Path,
) -> None:
    async with ch.running(tmp_path) as env:
        await two_communes(env)  # 'a'*32 asked in Vĩnh Thủy ('lan'), 'b'*32 in Trà Giang ('giang')
        link = await reply_link(env)
        async with env.http.get(env.url + link) as resp:
            page = await resp.text()
        assert resp.status == 200 and "09xx xxx xxx" in page and "Trả lời người hỏi" in page
        # Bad input, or another commune's officer: polite, and nothing changes.
        status, page, _ = await send(env, link, text="   ", name="lan")
        assert status == 400 and "câu trả lời cần từ 1 đến" in page and handoffs(env) == 0
        await sign_in(env, "giang")
        async with env.http.get(env.url + link) as resp:
            assert resp.status == 404
        await sign_in(env, "lan")

        status, _, where = await send(env, link, text="Lớp tập huấn học ở nhà văn hóa xã, bà con nhé.", name="lan")
        assert status == 303 and where.startswith("/staff/handoffs/")
        async with env.http.get(f"{env.url}/api/chat/updates?user={ASKER}&after=0") as resp:
            (reply,) = (await resp.json())["replies"]
        assert reply["from"] == "staff" and reply["text"] == SIGNED + "Lớp tập huấn học ở nhà văn hóa xã, bà con nhé."
        async with env.http.get(env.url + where) as resp:
            page = await resp.text()
        assert "Cán bộ trả lời câu hỏi" in page and "Cán bộ đang trả lời" in page
        assert await ch.web_say(env, {"user": ASKER, "text": "cảm ơn cán bộ"}) == []  # held by staff now
        (handoff,) = env.app.repo.handoffs.listed(None)
        assert [a[2] for a in env.app.repo.handoffs.audit_of(handoff.id)] == ["opened", "reply"]


@ch.run
async def test_a_zalo_asker_past_the_window_is_not_written_to_and_the_officer_is_told_to_call(tmp_path: Path) -> None:
    async with ch.running(tmp_path) as env:
        seed(env)
        for text in ["kiem tra", "hkd", "lam nuoc mam", "xa vinh thuy quang tri", "may moc", ASKED]:
            await ch.zalo_say(env, text)
        old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=8)).isoformat(timespec="seconds")
        env.app.repo.db.execute("UPDATE chat_log SET at = ?", [old])  # the person last wrote 8 days ago
        env.app.repo.db.execute("UPDATE questions SET at = ?", [old])
        env.app.repo.db.conn.commit()
        sent = len(env.zalo.messages)
        link = await reply_link(env)
        async with env.http.get(env.url + link) as resp:
            page = await resp.text()
        assert "gọi điện" in page and 'name="text"' not in page
        status, page, _ = await send(env, link, text="Chào anh.", name="lan")
        assert status == 409 and "gọi điện" in page
        assert len(env.zalo.messages) == sent and handoffs(env) == 0


def aged(env: ch.Env, user: str, commune: tuple[int, str], opened: dt.datetime, wait: dt.timedelta | None) -> None:
    """A request opened at `opened` and first answered `wait` later (None: still waiting)."""
    repo = env.app.repo
    handoff_id = repo.handoffs.open(ConversationKey("web", user), "asked", "", commune[0], commune[1])
    first = (opened + wait).isoformat(timespec="seconds") if wait is not None else None
    status = "open" if wait is not None else "waiting"
    repo.db.execute(
        "UPDATE handoffs SET at = ?, first_reply_at = ?, status = ? WHERE id = ?",
        [opened.isoformat(timespec="seconds"), first, status, handoff_id],
    )
    repo.db.conn.commit()


@ch.run
async def test_the_statistics_page_shows_requests_and_waits_per_commune_in_words(tmp_path: Path, store: Store) -> None:
    async with ch.running(tmp_path, khuyencong_db=Path(store.target)) as env:
        seed(env)
        StaffStore(env.app.repo).add("giang", PASSWORD, [TRA_GIANG], False)
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        vinh, tra = (19405, "xã Vĩnh Thủy"), (TRA_GIANG, "xã Trà Giang")
        for n, minutes in enumerate([25, 130, 180]):
            aged(env, f"v{n}", vinh, start, dt.timedelta(minutes=minutes))
        aged(env, "v9", vinh, start, None)
        aged(env, "t1", tra, start, dt.timedelta(days=1, hours=3))

        await sign_in(env, "lan")
        async with env.http.get(env.url + "/staff/stats") as resp:
            page = re.sub(r"\s+", " ", await resp.text())
        row = re.search(r"<tr><td>xã Vĩnh Thủy</td>(.*?)</tr>", page)
        assert row is not None and "Trà Giang" not in page
        assert re.findall(r"<td>([^<]*)</td>", row.group(1)) == ["4", "1", "3", "2 giờ 10 phút", "3 giờ"]

        await sign_in(env, "tinh")
        async with env.http.get(env.url + "/staff/stats") as resp:
            page = re.sub(r"\s+", " ", await resp.text())
        assert "<td>Tất cả các xã</td><td>5</td><td>1</td><td>4</td>" in page
        assert "<td>xã Trà Giang</td><td>1</td><td>0</td><td>1</td><td>1 ngày 3 giờ</td>" in page
        assert "2026-" not in page.split("Hỏi cán bộ</h2>")[-1]  # no ISO dates shown to an officer
