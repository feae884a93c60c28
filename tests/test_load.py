"""Many people at once on the three channels, over real HTTP: nobody gets another's replies, no turn is lost.

The load itself runs on SQLite and on PostgreSQL; the checks of the checker (a mixed-up or lost turn is caught)
on SQLite only: they test the driver, not the database.

The CI size of `python -m bench.load` (500 people × 20 turns against `khuyencong serve` as a process):
the same driver, against the in-process server of tests/test_channels.py.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import datetime
from pathlib import Path

from bench.load import LoadResult, Person, lead_problems, people, read_leads, refs_problems, script, simulate
from bot.messages import ConversationKey, Incoming, Reply
from tests.conftest import Store
from tests.test_channels import run, running

USERS, TURNS = 60, 20  # 20 on each channel, the whole 20-turn script; about 5 s


def shown(result: LoadResult) -> str:
    """The first problems, for the assertion message."""
    return "\n".join(result.problems[:20])


@run
async def test_sixty_people_on_three_channels_at_once_each_get_their_own_replies_and_one_lead(
    tmp_path: Path, store: Store
) -> None:
    async with running(tmp_path, khuyencong_db=store.target, web_rate_per_minute=100_000) as env:
        result = await simulate(env, USERS, TURNS, turn_timeout=30)
        rows = env.app.repo.db.execute("SELECT channel, user, name, phone, facility_name FROM leads").fetchall()
    assert result.problems == [], shown(result)
    assert lead_problems([tuple(map(str, row)) for row in rows], people(USERS, TURNS)) == []
    assert result.turns_answered == USERS * TURNS  # every message got all its replies
    assert {c: len(v) for c, v in result.latencies.items()} == dict.fromkeys(result.latencies, USERS // 3 * TURNS)
    assert result.replies > USERS * TURNS
    assert result.registering == USERS and len(rows) == USERS
    assert 0 < result.p50 <= result.p99 < 30
    assert result.elapsed > 0 and 0 < result.peak_memory["this process"] < 2**31


@run
async def test_the_load_check_fails_when_the_server_mixes_two_people_up(tmp_path: Path) -> None:
    async with running(tmp_path, web_rate_per_minute=100_000) as env:
        crowd = people(6, 12)
        victim, other = crowd[0], crowd[3]  # both on the web chat
        handle = env.app.engine.handle

        def mixed_up(msg: Incoming, now: datetime | None = None) -> list[Reply]:
            """A broken server: the victim's messages go to the other person's conversation."""
            if msg.key.user == victim.user:
                msg = dataclasses.replace(msg, key=ConversationKey(other.channel, other.user))
            return handle(msg, now)

        env.app.engine.handle = mixed_up  # type: ignore[method-assign]
        result = await simulate(env, 6, 12, db=env.app.db_path, turn_timeout=2)
    assert result.problems
    assert any("person 0" in p or "person 3" in p for p in result.problems)
    assert any(p.startswith("lead") for p in result.problems), shown(result)


@run
async def test_the_load_check_fails_when_a_turn_is_lost(tmp_path: Path) -> None:
    async with running(tmp_path, web_rate_per_minute=100_000) as env:
        zalo_person = people(3, 5)[1]
        env.zalo.blocked.add(zalo_person.user)  # the fake OA refuses every reply to this person
        result = await simulate(env, 3, 5, turn_timeout=1)
    assert [p for p in result.problems if "lost" in p] == [
        "zalo person 1, turn 1: lost: AssertionError('0 of 2 replies after 1 s')"
    ], shown(result)
    assert result.turns_answered == 2 * 5


def test_a_reply_naming_someone_else_is_cross_talk() -> None:
    alice, bob = people(2, 20)
    owners = {marker: p.index for p in (alice, bob) for marker in (p.name, p.phone, p.facility)}
    summary = f"Bà con kiểm tra lại thông tin đăng ký:\n• Người liên hệ: {bob.name}\n• Số điện thoại: {bob.phone}"
    alice.check(10, [summary + f"\n• Tên cơ sở: {bob.facility}"], owners)  # turn 11 is 'bo qua': the summary
    assert len(alice.problems) == 2
    assert "lacks ['Nguyen Van 0000', '0900000000', 'Co so 0000']" in alice.problems[0]
    assert "names other people ['0900000001', 'Co so 0001', 'Nguyen Van 0001']" in alice.problems[1]
    bob.check(11, [f"Đã ghi nhận đăng ký! Mã đăng ký: KC-AAAAAA. Cán bộ sẽ liên hệ số {bob.phone}."], owners)
    alice.check(11, [f"Đã ghi nhận đăng ký! Mã đăng ký: KC-BBBBBB. Cán bộ sẽ liên hệ số {alice.phone}."], owners)
    stored = f"Thông tin tôi đang lưu của bà con:\n• Mã KC-AAAAAA: {alice.name}, {alice.phone}, {alice.facility}"
    alice.check(12, [stored], owners)
    assert "own reference code KC-BBBBBB not shown" in alice.problems[-1]
    assert refs_problems([alice, bob]) == ["web person 0 (own code KC-BBBBBB) was shown codes ['KC-AAAAAA']"]


def test_leads_must_be_one_each_with_what_each_person_typed(tmp_path: Path) -> None:
    crowd = people(3, 12)
    rows = [p.lead() for p in crowd]
    assert lead_problems(rows, crowd) == []
    swapped = [(*rows[0][:3], rows[1][3], *rows[0][4:]), rows[1], rows[2], rows[2]]
    assert lead_problems(swapped, crowd) == [
        f"lead stored twice: {rows[2]}",
        f"lead missing or altered: {rows[0]}",
        f"lead nobody registered this way: {swapped[0]}",
    ]
    db = tmp_path / "leads.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE leads (channel, user, name, phone, facility_name)")
        conn.executemany("INSERT INTO leads VALUES (?,?,?,?,?)", rows)
    conn.close()
    assert sorted(read_leads(db)) == sorted(rows)


def test_scripts_have_exactly_the_turns_asked_and_register_from_twelve() -> None:
    for turns in (1, 5, 11, 12, 20, 30):
        steps = script(7, turns)
        assert len(steps) == turns
        assert any(s.confirms for s in steps) == (turns >= 12)
    full = [s.text for s in script(7, 20)]
    assert full[:12] == [
        "kiem tra",
        "hkd",
        "lam nuoc mam",
        "xa vinh thuy quang tri",
        "may moc",
        "dang ky",
        "dong y",
        "Nguyen Van 0007",
        "0900000007",
        "Co so 0007",
        "bo qua",
        "xac nhan",
    ]
    assert full.count("du lieu cua toi") >= 2
    assert Person(7, "web", "u", script(7, 20)).lead() == ("web", "u", "Nguyen Van 0007", "+84900000007", "Co so 0007")
