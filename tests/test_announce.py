"""Announcements: subscribing with consent, stopping in any wording, the audience split and the limits (issue 14)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bot.announce.audience import AudienceError, parse_audience
from bot.announce.limits import Rules
from bot.announce.queue import AnnouncementRefused, Announcer, Request
from bot.dialog import DialogEngine
from bot.messages import ConversationKey, Incoming
from bot.storage import Consent
from bot.storage.sqlite import SqliteRepository
from tests.test_engine import dialogs, engine_on  # noqa: F401  (the module's dialogs fixture)

T0 = dt.datetime(2026, 12, 3, 3, 0, tzinfo=dt.UTC)  # 10:00 in Vietnam: day time
VINH_THUY = 19405  # xã Vĩnh Thủy, Quảng Trị (the seeds' commune)


def chat(engine: DialogEngine, user: str, text: str = "", button: str | None = None, channel: str = "zalo") -> str:
    replies = engine.handle(Incoming(ConversationKey(channel, user), text=text, button=button), now=T0)
    return "\n".join(r.text for r in replies) + "\n" + " ".join(b.payload for r in replies for b in r.buttons)


@pytest.fixture
def engine(tmp_path: Path, kb, dialogs, assessor, faq) -> DialogEngine:  # noqa: F811
    return engine_on(SqliteRepository(tmp_path / "k.db"), kb, dialogs, assessor, faq)


def subscribed(engine: DialogEngine, user: str, channel: str = "zalo") -> list[int]:
    return [s.commune_code for s in engine.repo.announcements.subscriptions_of(ConversationKey(channel, user))]


@pytest.mark.parametrize("wording", ["nhận tin", "nhan tin", "cho toi nhan thong bao", "Cho tôi nhận thông báo ạ"])
def test_any_wording_asks_consent_then_subscribes_with_the_text_kept(engine: DialogEngine, wording: str) -> None:
    asked = chat(engine, "u1", wording)
    assert "xã (phường) nào" in asked  # the commune is not known yet
    consent = chat(engine, "u1", "xa vinh thuy quang tri")
    assert "Vĩnh Thủy" in consent and "hủy nhận tin" in consent and "yes:" in consent
    assert subscribed(engine, "u1") == []  # nothing before the yes
    done = chat(engine, "u1", button="yes:")
    assert "Đã đăng ký nhận tin" in done
    assert subscribed(engine, "u1") == [VINH_THUY]
    row = engine.repo.db.execute("SELECT purpose, text_version, text, given FROM consents").fetchone()
    assert row[0] == "news" and row[1] == engine.texts.news.consent_version and "Vĩnh Thủy" in row[2] and row[3] == 1


def test_a_no_keeps_nothing_but_the_refusal(engine: DialogEngine) -> None:
    chat(engine, "u1", "nhan tin")
    chat(engine, "u1", "xa vinh thuy quang tri")
    assert "không nhắn tin gì" in chat(engine, "u1", "thôi")
    assert subscribed(engine, "u1") == []


def test_typing_a_message_is_not_asking_for_news(engine: DialogEngine) -> None:
    assert engine.words.command_of("nhắn tin") is None
    assert engine.words.command_of("nhan tin") == "subscribe"


@pytest.mark.parametrize(
    "wording",
    ["hủy nhận tin", "huy nhan tin", "thôi đừng gửi nữa", "Thôi, đừng gửi nữa!", "không nhận tin nữa", "tắt thông báo",
     "dung nhan nua", "ko can gui nua", "/huynhantin"],
)  # fmt: skip
def test_stopping_works_in_any_wording(engine: DialogEngine, wording: str) -> None:
    _subscribe(engine, "u1")
    assert "Đã dừng" in chat(engine, "u1", wording)
    assert subscribed(engine, "u1") == []
    withdrawn = engine.repo.db.execute("SELECT given FROM consents ORDER BY id DESC LIMIT 1").fetchone()
    assert withdrawn == (0,)


@pytest.mark.parametrize("text", ["ko biết gửi hồ sơ nữa", "tôi không nhận được tin", "có còn hỗ trợ nữa không"])
def test_questions_are_not_taken_for_stopping(engine: DialogEngine, text: str) -> None:
    assert engine.words.command_of(text) != "unsubscribe"


def test_stopping_works_while_staff_hold_the_chat(engine: DialogEngine) -> None:
    _subscribe(engine, "u1")
    chat(engine, "u1", "gặp cán bộ")
    assert engine.repo.handoffs.active(ConversationKey("zalo", "u1")) is not None
    assert "Đã dừng" in chat(engine, "u1", "huy nhan tin")
    assert subscribed(engine, "u1") == []


def test_registration_alone_subscribes_nobody_and_offers_the_button(engine: DialogEngine) -> None:
    from tests.test_engine import REGISTRATION

    replies = [chat(engine, "u1", text) for text in REGISTRATION]
    assert "cmd:subscribe" in replies[-1]  # 'Nhận tin của xã' after registering
    assert subscribed(engine, "u1") == []


def test_my_data_shows_the_subscription_and_erasing_ends_it(engine: DialogEngine) -> None:
    _subscribe(engine, "u1")
    shown = chat(engine, "u1", "dữ liệu của tôi")
    assert "Nhận tin khuyến công của xã Vĩnh Thủy" in shown and "đồng ý ngày" in shown
    chat(engine, "u1", "xóa dữ liệu của tôi")
    chat(engine, "u1", button="yes:")
    assert subscribed(engine, "u1") == []
    assert engine.repo.db.execute("SELECT count(*) FROM consents").fetchone() == (0,)


def _subscribe(engine: DialogEngine, user: str, channel: str = "zalo") -> None:
    chat(engine, user, "nhận tin", channel=channel)
    chat(engine, user, "xa vinh thuy quang tri", channel=channel)
    chat(engine, user, button="yes:", channel=channel)
    assert subscribed(engine, user, channel) == [VINH_THUY]


# --- the library ---------------------------------------------------------------------------------


def add_subscriber(
    repo: SqliteRepository,
    channel: str,
    user: str,
    last: dt.datetime,
    commune: int = VINH_THUY,
    version: str = "test",
) -> None:
    """A subscriber whose last message was at `last` (as the transcript keeps it)."""
    stamp = last.isoformat(timespec="seconds")
    consent = Consent(channel, user, "news", version, "đồng ý", True, stamp)
    repo.announcements.subscribe(ConversationKey(channel, user), commune, "xã Vĩnh Thủy, Quảng Trị", consent)
    repo.db.execute(
        "INSERT INTO chat_log (channel, user, role, author, text, at) VALUES (?, ?, 'person', NULL, 'nhận tin', ?)",
        [channel, user, stamp],
    )


def request(**extra: object) -> Request:
    return Request({VINH_THUY: "xã Vĩnh Thủy, Quảng Trị"}, "Xã mở đăng ký hỗ trợ máy móc đến 20/12.", **extra)  # type: ignore[arg-type]


def test_the_audience_is_split_per_channel_and_zalo_window(tmp_path: Path) -> None:
    repo = SqliteRepository(tmp_path / "k.db")
    for i, hours in enumerate((1, 47, 49, 24 * 6, 24 * 8)):
        add_subscriber(repo, "zalo", f"z{i}", T0 - dt.timedelta(hours=hours))
    add_subscriber(repo, "telegram", "100", T0 - dt.timedelta(days=30))  # no window on Telegram
    add_subscriber(repo, "web", "w" * 20, T0 - dt.timedelta(days=30))
    add_subscriber(repo, "zalo", "other", T0, commune=1)  # another commune's subscriber
    plan = Announcer(repo, Rules()).plan(request(), T0)
    assert plan.as_json()["channels"] == {
        "telegram": {"send": 1},
        "web": {"send": 1},
        "zalo": {"charged": 2, "closed": 1, "free": 2},
    }
    assert plan.as_json()["to_send"] == 4  # the charged group is not sent by default
    assert plan.as_json()["skipped"] == {"zalo_charged": 2, "zalo_closed": 1}
    charged = Announcer(repo, Rules()).plan(request(charged=True), T0)
    assert charged.split.to_send == 6


def test_the_weekly_limit_counts_what_each_person_received(tmp_path: Path) -> None:
    repo = SqliteRepository(tmp_path / "k.db")
    add_subscriber(repo, "telegram", "100", T0)
    add_subscriber(repo, "telegram", "200", T0)
    announcer = Announcer(repo, Rules(per_week=2, night_start=0, night_end=0))
    for _ in range(2):
        announcer.queue(request(), T0)
    repo.db.execute("UPDATE announcement_recipients SET at = ? WHERE user = '200'", ["2026-11-20T00:00:00+00:00"])
    third = announcer.plan(request(), T0).as_json()
    assert third["to_send"] == 1 and third["skipped"] == {"weekly_limit": 1}  # 200's two were weeks ago


def test_nothing_goes_at_night_unless_urgent(tmp_path: Path) -> None:
    rules = Rules()
    evening = dt.datetime(2026, 12, 3, 14, 30, tzinfo=dt.UTC)  # 21:30 in Vietnam
    early = dt.datetime(2026, 12, 3, 23, 59, tzinfo=dt.UTC)  # 06:59 in Vietnam
    assert rules.night(evening) and rules.night(early) and not rules.night(T0)
    assert rules.morning(evening) == dt.datetime(2026, 12, 4, 0, 0, tzinfo=dt.UTC)  # 07:00 the next day
    repo = SqliteRepository(tmp_path / "k.db")
    add_subscriber(repo, "telegram", "100", evening)
    plan = Announcer(repo, rules).plan(request(), evening)
    assert plan.night and plan.not_before == dt.datetime(2026, 12, 4, 0, 0, tzinfo=dt.UTC)
    urgent = Announcer(repo, rules).plan(request(urgent=True), evening)
    assert not urgent.night and urgent.not_before == evening
    Announcer(repo, rules).queue(request(), evening)
    store = repo.announcements
    assert store.claim("telegram", evening.isoformat(), night=True) is None  # the worker holds it until morning
    assert store.claim("telegram", "2026-12-04T00:00:01+00:00", night=False) is not None


def test_the_audience_filter_reads_its_terms_and_names_a_wrong_one() -> None:
    sectors, lines = {"food", "crafts"}, {"equipment", "training"}
    audience = parse_audience("registered=yes, status=new|contacted, line=equipment", sectors, lines)
    assert audience.registered is True and audience.statuses == {"new", "contacted"}
    assert audience.as_json() == {"line": ["equipment"], "registered": True, "status": ["contacted", "new"]}
    assert parse_audience("all", sectors, lines).as_json() == {"all": True}
    for wrong, field in (("colour=red", "colour"), ("status=late", "late"), ("sector=", "sector")):
        with pytest.raises(AudienceError, match=field):
            parse_audience(wrong, sectors, lines)


def test_an_announcement_needs_a_text_and_a_clean_link(tmp_path: Path) -> None:
    announcer = Announcer(SqliteRepository(tmp_path / "k.db"), Rules())
    for bad, field in ((Request({VINH_THUY: "x"}, "   "), "text"), (request(link="javascript:alert(1)"), "link")):
        with pytest.raises(AnnouncementRefused, match=field):
            announcer.plan(bad)


def test_erasing_a_person_keeps_the_counts_without_their_id(tmp_path: Path, kb, dialogs, assessor, faq) -> None:  # noqa: F811
    repo = SqliteRepository(tmp_path / "k.db")
    engine = engine_on(repo, kb, dialogs, assessor, faq)
    _subscribe(engine, "u1")
    ident, _ = Announcer(repo, Rules(night_start=0, night_end=0)).queue(request(), dt.datetime.now(dt.UTC))
    repo.delete_person(ConversationKey("zalo", "u1"))
    rows = repo.db.execute("SELECT user, address, status, reason FROM announcement_recipients").fetchall()
    assert rows == [(f"erased-{1}", "", "skipped", "erased")]
    assert "u1" not in json.dumps(Announcer(repo, Rules()).report(ident))


def _announce(db: Path, *args: str) -> tuple[int, str, str]:
    from click.testing import CliRunner

    from bot.cli import main
    from tests.conftest import KNOWLEDGE

    result = CliRunner().invoke(main, ["announce", *args, "--db", str(db), "--knowledge", str(KNOWLEDGE)])
    return result.exit_code, result.stdout, result.stderr


def test_the_command_refuses_bad_input_in_one_line_naming_the_field_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    repo = SqliteRepository(db)
    add_subscriber(repo, "telegram", "100", dt.datetime.now(dt.UTC))
    text = ("--text", "Xã mở đăng ký")
    for args, field in (
        (("--commune", "19405", "--audience", "colour=red", *text), "audience"),
        (("--commune", "19405", "--audience", "status=late", *text), "audience"),
        (("--commune", "99999999", *text), "commune"),
        (("--commune", "xa khong co that", *text), "commune"),
        (("--commune", "binh giang", *text), "commune"),  # a name several provinces share: which one?
        (("--commune", "19405",), "text"),
        (("--commune", "19405", "--text", "x" * 1501), "text"),
        (("--commune", "19405", "--link", "ftp://x y", *text), "link"),
        (("--report", "abc",), "report"),
        (("--commune", "19405", "--deadline", "20/13/2026", *text), "deadline"),
        (("--commune", "19405", "--deadline", "2020-01-01", *text), "deadline"),
        (("--commune", "19405", "--as", "", *text), "as"),
    ):  # fmt: skip
        code, out, err = _announce(db, *args)
        assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith(f"Lỗi: {field}:"), (args, err)
    code, out, _ = _announce(db, "--commune", "19405", *text, "--dry-run", "--json")
    assert code == 0 and json.loads(out)["channels"] == {"telegram": {"send": 1}}
    assert repo.db.execute("SELECT count(*) FROM announcements").fetchone() == (0,)  # nothing written by any of it
    code, out, _ = _announce(db, "--commune", "19405", *text, "--urgent", "--deadline", "20/12/2099")
    assert code == 0 and "Đã xếp hàng thông báo số 1" in out and "Sẽ gửi: 1 người" in out
    assert repo.announcements.get(1).deadline == "2099-12-20"  # type: ignore[union-attr]  # written as officers do


def test_those_zalo_cannot_reach_are_listed_for_a_call(tmp_path: Path) -> None:
    repo = SqliteRepository(tmp_path / "k.db")
    add_subscriber(repo, "zalo", "near", T0)
    add_subscriber(repo, "zalo", "quiet", T0 - dt.timedelta(days=3))
    add_subscriber(repo, "zalo", "gone", T0 - dt.timedelta(days=10))
    announcer = Announcer(repo, Rules(night_start=0, night_end=0))
    ident, _ = announcer.queue(request(), T0)
    assert [(p["user"], p["reason"]) for p in announcer.to_call(ident)] == [
        ("quiet", "zalo_charged"),
        ("gone", "zalo_closed"),
    ]


def test_the_pace_spreads_sends_and_a_pause_holds_them_all() -> None:
    import asyncio
    import time

    from bot.announce.limits import Pace

    async def timed(pace: Pace, count: int) -> float:
        began = time.monotonic()
        await asyncio.gather(*(pace.wait() for _ in range(count)))
        return time.monotonic() - began

    async def scenario() -> tuple[float, float]:
        pace = Pace(100.0)
        spread = await timed(pace, 31)  # 30 intervals of 10 ms
        pace.pause(0.3)  # a 429's retry_after
        return spread, await timed(pace, 1)

    spread, paused = asyncio.run(scenario())
    assert 0.28 <= spread < 1.0 and paused >= 0.28


def test_the_retention_purge_keeps_the_consent_of_a_live_subscription(tmp_path: Path) -> None:
    repo = SqliteRepository(tmp_path / "k.db")
    add_subscriber(repo, "telegram", "100", T0 - dt.timedelta(days=900))
    repo.add_consent(Consent("telegram", "200", "news", "test", "đồng ý", True, "2024-01-01T00:00:00+00:00"))
    repo.purge("2025-06-01T00:00:00+00:00", "2025-06-01T00:00:00+00:00")
    kept = repo.db.execute("SELECT user FROM consents").fetchall()
    assert kept == [("100",)]  # the other, with no subscription left, goes


def test_a_zalo_announcement_is_not_sent_again_after_a_timeout_or_a_5xx() -> None:
    """Zalo may have delivered a message whose answer was lost: a turn's reply is retried, an announcement not."""
    import asyncio

    from aiohttp import web

    from bot.channels.zalo import ZaloClient, ZaloSettings
    from bot.messages import Reply
    from tests.fakes import start

    calls: list[int] = []

    async def broken(request: web.Request) -> web.Response:
        calls.append(1)
        return web.Response(status=502)

    class Token:
        async def current(self) -> str:
            return "access-1"

    async def scenario() -> tuple[str, int, str, int]:
        app = web.Application()
        app.router.add_post("/v3.0/oa/message/cs", broken)
        runner, url = await start(app)
        client = ZaloClient(ZaloSettings("1", "s", "access-1", None, None, url, url), Token(), backoff=0.01)  # type: ignore[arg-type]
        await client.start()
        try:
            once = await client.send("u1", Reply("Tin của xã"), once=True)
            tried_once = len(calls)
            again = await client.send("u1", Reply("Trả lời"))
        finally:
            await client.close()
            await runner.cleanup()
        return once, tried_once, again, len(calls) - tried_once

    once, tried_once, again, tried_again = asyncio.run(scenario())
    assert (once, tried_once) == ("failed", 1)
    assert again == "failed" and tried_again == 4  # a turn's reply: retried, as before


def test_the_message_reads_whose_news_the_deadline_as_people_write_it_and_how_to_stop(dialogs) -> None:  # noqa: F811
    from bot.announce.delivery import compose
    from bot.storage.announcements import Announcement

    sent = Announcement(
        1, [VINH_THUY], "Xã mở đăng ký hỗ trợ máy móc.", "https://vinhthuy.example/kc", "2026-12-20", {}, False,
        False, "cli", "", "", {},
    )  # fmt: skip
    zalo = compose(dialogs.texts.news, sent, "xã Vĩnh Thủy, Quảng Trị", button=True)
    assert zalo.text.splitlines() == [
        "📢 Tin khuyến công của xã Vĩnh Thủy, Quảng Trị:",
        "Xã mở đăng ký hỗ trợ máy móc.",
        "Hạn: 20/12/2026.",
        "Xem thêm: https://vinhthuy.example/kc",
        "(Nhắn “hủy nhận tin” nếu không muốn nhận tin nữa.)",
    ]
    assert [b.payload for b in zalo.buttons] == ["cmd:unsubscribe"]
    assert compose(dialogs.texts.news, sent, "xã Vĩnh Thủy", button=False).buttons == ()  # the web widget


def test_the_command_takes_a_commune_by_name_as_officers_type_it(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    repo = SqliteRepository(db)
    add_subscriber(repo, "telegram", "100", dt.datetime.now(dt.UTC))
    for typed in ("vinh thuy", "Vĩnh Thủy, Quảng Trị", "19405"):
        code, out, err = _announce(db, "--commune", typed, "--text", "Xã mở đăng ký", "--dry-run", "--json")
        assert code == 0 and json.loads(out)["channels"] == {"telegram": {"send": 1}}, (typed, err)
