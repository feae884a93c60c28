"""Zalo's paid template message (ZBS) for announcements (issue 14): off unless configured and chosen; then one
template, over HTTP, to each Zalo subscriber outside the free 48 h who registered a phone with consent."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.announce.limits import Rules
from bot.announce.queue import Announcer
from bot.storage.announcements import ZBS_VERSION
from bot.storage.sqlite import SqliteRepository
from tests.conftest import Store
from tests.test_announce import VINH_THUY, _announce, add_subscriber, request
from tests.test_announce_pages import ALWAYS_DAY, PAGE, TEXT, delivered, form_page, post, send
from tests.test_channels import Env, run, running
from tests.test_dashboard import csrf_of, seed
from tests.test_no_codes import Checker, visible

ZBS = {"zalo_zbs_template_id": "355330", "zalo_zbs_price_vnd": 300}
# Zalo subscribers by the age of their last message, and the phone of their registration (None: not registered).
PEOPLE: dict[str, tuple[dt.timedelta, str | None]] = {
    "zfree": (dt.timedelta(hours=1), "+84912000009"),  # within 48 h: the free consultation message
    "zpaid": (dt.timedelta(hours=60), "+84912000001"),
    "zpaid_nophone": (dt.timedelta(hours=60), None),
    "zgone": (dt.timedelta(days=10), "+84912000002"),
    "zgone2": (dt.timedelta(days=9), "+84912000003"),
    "zgone_nophone": (dt.timedelta(days=10), None),
    "zgone_landline": (dt.timedelta(days=10), "+842333123456"),  # no Zalo account on a landline
    "zgone_untold": (dt.timedelta(days=10), "+84912000004"),  # subscribed before the consent named the template
}
TEMPLATED = {"zpaid": "84912000001", "zgone": "84912000002", "zgone2": "84912000003"}
NO_PHONE = ("zpaid_nophone", "zgone_nophone", "zgone_landline", "zgone_other", "zgone_untold")


def people(repo: SqliteRepository, now: dt.datetime) -> None:
    """The Zalo subscribers above, a Telegram one, and one whose registration's consent is another chat's."""
    from tests.test_exports import add_lead

    for n, (user, (age, phone)) in enumerate(PEOPLE.items()):
        told = "test" if user == "zgone_untold" else "test" + ZBS_VERSION  # the consent said the phone may be used
        add_subscriber(repo, "zalo", user, now - age, version=told)
        if phone is not None:
            lead = add_lead(repo, 100 + n, name=f"Người {user.replace('_', ' ')}", phone=phone)
            repo.db.execute("UPDATE leads SET channel = 'zalo', user = ? WHERE ref = ?", [user, lead.ref])
            repo.db.execute("UPDATE consents SET channel = 'zalo', user = ? WHERE id = ?", [user, lead.consent_id])
    add_subscriber(repo, "zalo", "zgone_other", now - dt.timedelta(days=10), version="test" + ZBS_VERSION)
    other = add_lead(repo, 99, name="Người khác đồng ý", phone="+84912000099")  # consent given by chat "test"
    repo.db.execute("UPDATE leads SET channel = 'zalo', user = 'zgone_other' WHERE ref = ?", [other.ref])
    add_subscriber(repo, "telegram", "4242", now - dt.timedelta(days=30))


def rows(repo: SqliteRepository) -> dict[str, str]:
    found = repo.db.execute("SELECT user, trim(status || ' ' || reason) FROM announcement_recipients").fetchall()
    return {str(u): str(s) for u, s in found}


@contextlib.asynccontextmanager
async def composing(tmp: Path, **settings: Any) -> AsyncIterator[tuple[Env, str]]:
    """A server with the seeds' officers and the people above, signed in as the commune's officer."""
    async with running(tmp, **ALWAYS_DAY, **settings) as env:
        seed(env)
        people(env.app.repo, dt.datetime.now(dt.UTC))
        yield env, csrf_of(await form_page(env))


def cli(db: Path, monkeypatch: pytest.MonkeyPatch, template: str, *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("ZALO_ZBS_TEMPLATE_ID", template)
    monkeypatch.setenv("ZALO_ZBS_PRICE_VND", "300")
    monkeypatch.setenv("ANNOUNCE_NIGHT_START", "0")
    monkeypatch.setenv("ANNOUNCE_NIGHT_END", "0")
    return _announce(db, "--commune", str(VINH_THUY), "--text", TEXT, *args)


@run
async def test_off_by_default_nobody_gets_a_template_and_the_counts_do_not_mention_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with composing(tmp_path) as (env, csrf):
        repo = env.app.repo
        fields = {"commune": [VINH_THUY], "text": TEXT, "zbs": "yes"}  # a forged tick: there is no such box
        _, shown, _ = await post(env, csrf, action="preview", **fields)
        assert "Sẽ gửi: 2 người" in shown and "tin mẫu" not in shown and 'name="zbs"' not in shown
        status, _, _ = await send(env, csrf, **fields)
        assert status == 302
        await delivered(repo)
        assert env.zalo.template_calls == []
        assert [m["recipient"]["user_id"] for m in env.zalo.messages] == ["zfree"]
        found = rows(repo)
        assert found["zpaid"] == "skipped zalo_charged" and found["zgone"] == "skipped zalo_closed"
        code, out, err = cli(tmp_path / "k.db", monkeypatch, "", "--dry-run", "--json")
        assert code == 0 and "zbs" not in json.loads(out), err
        assert json.loads(out)["skipped"] == {"zalo_charged": 2, "zalo_closed": 6}
        code, out, err = cli(tmp_path / "k.db", monkeypatch, "", "--zbs", "--dry-run")
        assert code == 2 and out == "" and err.startswith("Lỗi: zbs:") and err.count("\n") == 1


@run
async def test_chosen_it_sends_one_template_to_each_consented_phone_outside_48_hours(tmp_path: Path) -> None:
    async with composing(tmp_path, **ZBS) as (env, csrf):
        repo = env.app.repo
        async with env.http.get(env.url + PAGE) as resp:
            page = await resp.text()
        assert 'name="zbs"' in page and "Gửi tin mẫu trả phí của Zalo (ZBS)" in page
        fields = {"commune": [VINH_THUY], "text": TEXT}
        _, shown, _ = await post(env, csrf, action="preview", **fields)
        assert re.search(r"Zalo – tin mẫu trả phí \(ZBS\)[^<]*</td><td>3</td>", shown)
        assert "chưa chọn, nên không gửi" in shown and "Sẽ gửi: 2 người" in shown  # not ticked: not sent
        _, shown, _ = await post(env, csrf, action="preview", zbs="yes", **fields)
        assert "sẽ gửi 3 người, chi phí ước tính 900 đồng" in shown and "Sẽ gửi: 5 người" in shown
        assert "5 người không có số điện thoại đăng ký" in shown
        assert not Checker(env.app.engine.kb)(visible(shown))
        status, _, location = await send(env, csrf, zbs="yes", **fields)
        assert status == 302
        await delivered(repo)
        sent = {c["phone"]: c for c in env.zalo.template_calls}
        assert len(env.zalo.template_calls) == 3 and set(sent) == set(TEMPLATED.values())  # each once
        found = rows(repo)
        ids = dict(repo.db.execute("SELECT user, id FROM announcement_recipients").fetchall())
        for user, phone in TEMPLATED.items():
            assert sent[phone]["template_id"] == "355330" and sent[phone]["tracking_id"] == str(ids[user])
            assert found[user] == "sent zbs"
        assert sent["84912000002"]["template_data"] == {
            "place": "xã Vĩnh Thủy, Quảng Trị", "text": TEXT, "deadline": "–", "link": "–",
        }  # fmt: skip
        assert [m["recipient"]["user_id"] for m in env.zalo.messages] == ["zfree"]  # the free group: as before
        assert all(found[user] == "skipped zbs_no_phone" for user in NO_PHONE)
        assert found["zfree"] == "sent" and found["4242"] == "sent"
        ident = int(location.split("sent=")[1].split("#")[0])
        report = Announcer(repo, Rules()).report(ident)
        assert report is not None and report["sent"] == 5 and report["zbs_sent"] == 3
        async with env.http.get(env.url + location) as resp:
            page = await resp.text()
        mine = page[page.index(f'id="a{ident}"') :]
        assert "trong đó 3 bằng tin mẫu trả phí" in mine
        assert "5: Zalo ngoài 48 giờ và không có số điện thoại đăng ký" in mine
        assert not Checker(env.app.engine.kb)(visible(page))


@run
async def test_a_refused_or_lost_template_is_failed_with_a_reason_and_never_sent_again(tmp_path: Path) -> None:
    async with composing(tmp_path, announce_senders=1, **ZBS) as (env, csrf):
        repo = env.app.repo
        # A stale token (refreshed, then the same row again); no Zalo on that phone; the answer lost; refused.
        env.zalo.template_errors = [-124, -118, 500, -131]
        status, _, location = await send(env, csrf, commune=[VINH_THUY], text=TEXT, zbs="yes")
        assert status == 302
        await delivered(repo)
        phones = [c["phone"] for c in env.zalo.template_calls]
        assert phones == ["84912000001", "84912000001", "84912000002", "84912000003"]  # only a definite no, again
        assert env.zalo.refreshes == 1 and env.zalo.templates == []
        found = rows(repo)
        assert [found[u] for u in ("zpaid", "zgone", "zgone2")] == [
            "failed zbs_phone",
            "failed platform",
            "failed zbs_refused",
        ]
        async with env.http.get(env.url + location) as resp:
            page = await resp.text()
        assert "số điện thoại không nhận được tin mẫu của Zalo; nên gọi điện" in page
        assert "Zalo từ chối tin mẫu trả phí; báo cán bộ kỹ thuật" in page
        assert "Người zpaid" in page and "0912000001" in page  # hers to call instead
        assert not Checker(env.app.engine.kb)(visible(page))


def test_the_dry_run_counts_the_fourth_group_and_the_weekly_limit_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "k.db"
    repo = SqliteRepository(db)
    now = dt.datetime.now(dt.UTC)
    people(repo, now)
    announcer = Announcer(repo, Rules(night_start=0, night_end=0, zalo_zbs=True))
    for _ in range(2):  # zgone2 already had this week's two
        announcer.queue(request(), now)
    repo.db.execute("DELETE FROM announcement_recipients WHERE user != 'zgone2'")
    repo.db.execute("UPDATE announcement_recipients SET status = 'sent', reason = ''")
    code, out, err = cli(db, monkeypatch, "355330", "--dry-run", "--json")
    assert code == 0, err
    planned = json.loads(out)
    assert planned["channels"]["zalo"] == {"charged": 2, "closed": 6, "free": 1}  # the window groups as before
    assert planned["zbs"] == {
        "send": False, "people": 3, "to_send": 2, "without_phone": 5, "price_vnd": 300, "cost_vnd": 600,
    }  # fmt: skip
    code, out, err = cli(db, monkeypatch, "355330", "--zbs", "--dry-run", "--json")
    planned = json.loads(out)
    assert planned["zbs"]["send"] is True and planned["to_send"] == 4  # zfree, Telegram, two templates
    assert planned["skipped"] == {"weekly_limit": 1, "zbs_no_phone": 5}
    code, out, _ = cli(db, monkeypatch, "355330", "--zbs", "--dry-run")
    assert "Zalo, tin mẫu trả phí (ZBS)" in out and "ước tính 600 đồng" in out
    assert "không có số điện thoại đăng ký để gửi tin mẫu trả phí" in out
    assert repo.db.execute("SELECT count(*) FROM announcements").fetchone() == (2,)  # a dry run writes nothing


@run
async def test_a_template_in_flight_when_the_worker_is_killed_is_never_sent_again(tmp_path: Path) -> None:
    import signal
    from collections import Counter

    from tests.fakes import wait_for
    from tests.test_announce_e2e import _cli, _statuses
    from tests.test_serve import _spawn, _stop, free_port, platforms

    db = tmp_path / "k.db"
    repo = SqliteRepository(db)
    people(repo, dt.datetime.now(dt.UTC))
    repo.close()
    async with platforms() as fakes:
        env = fakes.environment(tmp_path, free_port()) | {
            "ANNOUNCE_NIGHT_START": "0",
            "ANNOUNCE_NIGHT_END": "0",
            "ANNOUNCE_SENDERS": "1",
            "ZALO_ZBS_TEMPLATE_ID": "355330",
            "ZALO_ZBS_API_BASE": fakes.zalo_url,
        }
        planned = await _cli(env, "--commune", str(VINH_THUY), "--text", TEXT, "--zbs")
        assert planned["zbs"]["send"] is True and planned["zbs"]["to_send"] == 3  # type: ignore[index]
        fakes.zalo.hold.after = 1  # zfree's free message goes; the first template reaches Zalo and hangs
        worker = await _spawn("worker", env)
        try:
            await wait_for(lambda: fakes.zalo.hold.held == 1, 30)
        finally:
            worker.send_signal(signal.SIGKILL)
            await _stop(worker)
        assert [c["phone"] for c in fakes.zalo.templates] == ["84912000001"]
        fakes.zalo.hold.after = None
        fakes.zalo.hold.release.set()
        worker = await _spawn("worker", env)
        try:
            await wait_for(lambda: not {s for (_, s) in _statuses(db) if s in ("waiting", "sending")}, 30)
        finally:
            await _stop(worker)
        report = await _cli(env, "--report", "1")
    assert Counter(c["phone"] for c in fakes.zalo.template_calls) == dict.fromkeys(TEMPLATED.values(), 1)
    assert report["zbs_sent"] == 2 and report["failed"] == {"interrupted": 1}  # zpaid's: it may have arrived


@run
async def test_the_tick_and_the_fourth_group_fit_a_phone(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    from tests.test_announce_browser import WIDE
    from tests.test_dashboard_browser import CHROMIUM, signed_in

    if CHROMIUM is None:
        pytest.skip("make test installs chromium; run it through make")
    async with running(tmp_path, **ALWAYS_DAY, **ZBS) as env, async_playwright() as pw:
        seed(env)
        people(env.app.repo, dt.datetime.now(dt.UTC))
        browser, page = await signed_in(pw, env.url, "lan", viewport={"width": 375, "height": 800})
        await page.goto(env.url + PAGE)
        await page.get_by_label("Nội dung").fill(TEXT)
        await page.get_by_label("Gửi tin mẫu trả phí của Zalo (ZBS)").check()
        await page.get_by_role("button", name="Xem trước").click()
        await page.locator("#preview").wait_for()
        shown = await page.locator("#preview").inner_text()
        assert "Zalo – tin mẫu trả phí (ZBS)" in shown and "sẽ gửi 3 người" in shown
        assert await page.evaluate(WIDE) == []
        await browser.close()


def test_only_a_mobile_phone_given_with_the_registrations_consent_gets_a_template(store: Store) -> None:
    repo = store.open()
    now = dt.datetime.now(dt.UTC)
    people(repo, now)
    plan = Announcer(repo, Rules(night_start=0, night_end=0, zalo_zbs=True)).plan(request(zbs=True), now)
    addresses = {r.key.user: r.address for r in plan.split.rows if r.status == "waiting"}
    assert addresses == {
        "zfree": "zfree", "4242": "4242", **{user: f"zbs:{phone}" for user, phone in TEMPLATED.items()},
    }  # fmt: skip
    off = Announcer(repo, Rules(night_start=0, night_end=0)).plan(request(zbs=True), now)  # chosen, not configured
    assert "zbs" not in off.as_json() and not any(r.address.startswith("zbs:") for r in off.split.rows)


@run
async def test_someone_who_wrote_again_before_the_send_gets_the_free_message_instead(tmp_path: Path) -> None:
    async with running(tmp_path, **ALWAYS_DAY, **ZBS) as env:
        repo = env.app.repo
        now = dt.datetime.now(dt.UTC)
        people(repo, now)
        at = now + dt.timedelta(seconds=1)  # queued to go in a second
        Announcer(repo, Rules.of(env.app.settings)).queue(request(zbs=True), at)
        repo.db.execute(
            "INSERT INTO chat_log (channel, user, role, author, text, at) VALUES ('zalo', 'zpaid', 'person', NULL, "
            "'cảm ơn', ?)",
            [now.isoformat(timespec="seconds")],
        )
        await delivered(repo)
        assert sorted(c["phone"] for c in env.zalo.template_calls) == ["84912000002", "84912000003"]
        assert sorted(m["recipient"]["user_id"] for m in env.zalo.messages) == ["zfree", "zpaid"]
        assert rows(repo)["zpaid"] == "sent"  # free, not a paid template


@pytest.mark.parametrize("configured", [False, True])
def test_the_zalo_news_consent_says_the_phone_may_get_a_template_only_when_one_is_configured(
    tmp_path: Path, configured: bool
) -> None:
    """A registered phone gets a paid template only where the person's news consent said it might."""
    from bot.app import build
    from bot.config import Settings
    from tests.test_handoff import say

    db = tmp_path / "k.db"
    settings = Settings(_env_file=None, khuyencong_db=db, zalo_zbs_template_id="355330" if configured else "")  # type: ignore[call-arg]
    app = build(settings, db=db)
    try:
        for channel in ("zalo", "telegram"):
            say(app, "kiem tra", "p1", channel)
            say(app, "xa vinh thuy quang tri", "p1", channel)
            asked = say(app, "nhận tin", "p1", channel)
            assert "đồng ý không" in asked, asked
            named = "tin mẫu của Zalo tới số điện thoại" in asked
            assert named == (configured and channel == "zalo"), (channel, asked)
            say(app, "đồng ý", "p1", channel)
        versions = dict(
            app.repo.db.execute("SELECT channel, text_version FROM consents WHERE purpose = 'news'").fetchall()
        )
        assert versions["zalo"].endswith(ZBS_VERSION) == configured and not versions["telegram"].endswith(ZBS_VERSION)
    finally:
        app.close()
