"""A subscriber's own reminders (issue 14 item 4): before the deadline of the plan they registered for, and when staff
move their registration on; each at most once, only to subscribers, within the announcement rules (night, week)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.announce.delivery import compose
from bot.announce.limits import Rules
from bot.announce.reminders import Reminders
from bot.flows import Dialogs
from bot.knowledge import Knowledge
from bot.messages import ConversationKey
from bot.staff.store import EVERYONE, StaffStore
from bot.storage import Consent
from bot.storage.sqlite import SqliteRepository
from tests.test_announce import add_subscriber
from tests.test_channels import run, running
from tests.test_dashboard import csrf_of, seed, sign_in
from tests.test_engine import dialogs  # noqa: F401  (the module's dialogs fixture)
from tests.test_exports import add_lead

WEEK_BEFORE = dt.datetime(2026, 12, 26, 3, 0, tzinfo=dt.UTC)  # 10:00 in Vietnam; Vĩnh Thủy's plan ends 31/12/2026
EARLY = dt.datetime(2026, 12, 10, 3, 0, tzinfo=dt.UTC)
NIGHT = dt.datetime(2026, 12, 26, 15, 0, tzinfo=dt.UTC)  # 22:00 in Vietnam


Make = Callable[..., Reminders]


@pytest.fixture
def repo(tmp_path: Path) -> SqliteRepository:
    return SqliteRepository(tmp_path / "k.db")


@pytest.fixture
def make(kb: Knowledge, dialogs: Dialogs) -> Make:  # noqa: F811
    """Reminders over a database, 7 days ahead, telling of a dossier handed in and of support granted."""

    def made(repo: SqliteRepository, **rules: int) -> Reminders:
        statuses = frozenset({"dossier_submitted", "supported"})
        label = "xã Vĩnh Thủy, Quảng Trị"
        return Reminders(repo, kb, dialogs.texts.reminders, Rules(**rules), lambda _: label, 7, statuses)

    return made


def registered(repo: SqliteRepository, user: str, subscribed: bool = True, status: str = "new") -> str:
    """A Telegram chat that registered in Vĩnh Thủy (and subscribed to its news); the lead's ref."""
    lead = add_lead(repo, int(user), status=status)
    repo.db.execute("UPDATE leads SET channel = 'telegram', user = ? WHERE ref = ?", [user, lead.ref])
    if subscribed:
        add_subscriber(repo, "telegram", user, WEEK_BEFORE - dt.timedelta(days=20))
    return lead.ref


def queued(repo: SqliteRepository) -> list[tuple[str, str, str, str]]:
    return [
        (str(u), str(s), str(t), str(d))
        for u, s, t, d in repo.db.execute(
            "SELECT r.user, r.status, a.text, coalesce(a.deadline, '') FROM announcement_recipients r "
            "JOIN announcements a ON a.id = r.announcement_id ORDER BY r.id"
        ).fetchall()
    ]


def test_a_registered_subscriber_is_reminded_once_a_week_before_the_plan_ends(
    repo: SqliteRepository,
    make: Make,
    dialogs: Dialogs,  # noqa: F811
) -> None:
    registered(repo, "101")
    r = make(repo)
    assert r.run(EARLY) == 0  # three weeks before: not yet
    assert r.run(WEEK_BEFORE) == 1
    assert r.run(WEEK_BEFORE + dt.timedelta(days=1)) == 0  # once
    ((user, status, _, deadline),) = queued(repo)
    assert (user, status, deadline) == ("101", "waiting", "2026-12-31")
    announcement = repo.announcements.get(1)
    assert announcement is not None
    message = compose(dialogs.texts.news, announcement, "xã Vĩnh Thủy, Quảng Trị", button=True).text
    assert "kế hoạch khuyến công năm 2026 xã Vĩnh Thủy sắp hết hạn" in message and "Hạn: 31/12/2026." in message
    assert repo.db.execute("SELECT key, announcement_id FROM reminders_sent").fetchall() == [
        (f"deadline:{repo.db.execute('SELECT ref FROM leads').fetchone()[0]}:2026-12-31", 1)
    ]


def test_no_reminder_for_the_unsubscribed_the_unregistered_or_a_dossier_already_in(
    repo: SqliteRepository, make: Make
) -> None:
    registered(repo, "201", subscribed=False)
    registered(repo, "202")
    repo.announcements.unsubscribe(
        ConversationKey("telegram", "202"), Consent("telegram", "202", "news", "t", "dừng", False)
    )
    registered(repo, "203", status="dossier_submitted")
    add_subscriber(repo, "telegram", "204", WEEK_BEFORE)  # subscribed, never registered
    assert make(repo).run(WEEK_BEFORE) == 0
    assert queued(repo) == []


def test_a_reminder_respects_the_night_and_the_weekly_limit(tmp_path: Path, repo: SqliteRepository, make: Make) -> None:
    registered(repo, "301")
    r = make(repo)
    assert r.run(NIGHT) == 1
    (row,) = repo.db.execute("SELECT urgent, not_before FROM announcements").fetchall()
    assert row == (0, "2026-12-27T00:00:00+00:00")  # held until 07:00 the next morning
    assert repo.announcements.claim("telegram", NIGHT.isoformat(), night=True) is None
    repo2 = SqliteRepository(tmp_path / "k2.db")
    registered(repo2, "302")
    r2 = make(repo2, per_week=1)
    from tests.test_announce import request

    earlier = WEEK_BEFORE - dt.timedelta(days=3)
    r2.announcer.queue(request(), earlier)  # the week's one announcement
    repo2.db.execute("UPDATE announcement_recipients SET at = ?", [earlier.isoformat()])
    assert r2.run(WEEK_BEFORE) == 0  # the limit holds it back, and it is not spent: tried again later
    assert repo2.db.execute("SELECT count(*) FROM reminders_sent").fetchone() == (0,)
    assert r2.run(WEEK_BEFORE + dt.timedelta(days=5)) == 1  # a week after the other one, on the last day


def test_a_status_that_concerns_the_person_is_told_once_through_the_store_hook(
    repo: SqliteRepository, make: Make
) -> None:
    ref = registered(repo, "401")
    other = registered(repo, "402", subscribed=False)
    store = StaffStore(repo)
    r = make(repo, night_start=0, night_end=0)
    store.on_status = r.status_changed
    for status in ("contacted", "dossier_submitted", "contacted", "dossier_submitted"):
        assert store.update(EVERYONE, ref, status, "", "", "")  # type: ignore[arg-type]
    store.update(EVERYONE, other, "dossier_submitted", "", "", "")
    texts = [text for user, _, text, _ in queued(repo)]
    assert len(texts) == 1 and f"mã đăng ký {ref}" in texts[0] and "đã nhận hồ sơ" in texts[0]
    assert r.recent_changes(dt.datetime.now(dt.UTC)) == 0  # the periodic pass finds it told already
    store.update(EVERYONE, ref, "supported", "", "", "")
    assert len(queued(repo)) == 2 and "đã được duyệt" in queued(repo)[-1][2]


def test_the_periodic_pass_tells_of_a_status_the_hook_missed(repo: SqliteRepository, make: Make) -> None:
    ref = registered(repo, "501")
    StaffStore(repo).update(EVERYONE, ref, "supported", "", "", "")  # no hook: another process, say
    r = make(repo, night_start=0, night_end=0)
    assert r.run(dt.datetime.now(dt.UTC)) == 1 and r.run(dt.datetime.now(dt.UTC)) == 0


@run
async def test_an_officer_moving_a_lead_sends_its_person_one_message(tmp_path: Path) -> None:
    async with running(tmp_path, announce_night_start=0, announce_night_end=0) as env:
        seed(env)
        ref = registered(env.app.repo, "777")
        page = await sign_in(env)
        for _ in range(2):  # the same status saved twice: told once
            data = {"csrf": csrf_of(page), "status": "dossier_submitted", "assignee": "", "follow_up": "", "note": ""}
            async with env.http.post(f"{env.url}/staff/leads/{ref}", data=data) as resp:
                assert resp.status == 200
        for _ in range(100):
            if env.telegram.sent(777):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        (message,) = env.telegram.sent(777)
        assert "Xã đã nhận hồ sơ" in message["text"] and ref in message["text"]
