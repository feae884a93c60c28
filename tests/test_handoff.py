"""Handing a conversation to the commune's staff: modes, consent to a call back, silence, replies, handing back."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import App, build
from bot.config import Settings
from bot.messages import ConversationKey, Incoming, Reply
from bot.staff.handoffs import Handoffs, ReplyRefused
from bot.staff.store import Staff, StaffStore
from bot.storage.handoffs import nudged
from tests.conftest import KNOWLEDGE, ROOT, Store
from tests.test_channels import run, running
from tests.test_dashboard import PASSWORD, csrf_of, sign_in

PHONE, HOURS = "0233 3821 456", "Sáng 7:30–11:30, chiều 13:30–17:00, thứ Hai–thứ Sáu"
LAN = Staff(7, "lan", (19405,), False)
OTHER = Staff(8, "binh", (13531,), False)


def knowledge_with_phone(tmp: Path) -> Path:
    """The bundled knowledge with a phone and hours for xã Vĩnh Thủy (the bundled file has none published)."""
    root = tmp / "knowledge"
    shutil.copytree(KNOWLEDGE, root)
    path = root / "localities" / "quang-tri" / "vinh-thuy.yaml"
    text = path.read_text("utf-8").replace(
        '  name: "Trung tâm Dịch vụ tổng hợp xã Vĩnh Thủy"\n',
        f'  name: "Trung tâm Dịch vụ tổng hợp xã Vĩnh Thủy"\n  phone: "{PHONE}"\n  hours: "{HOURS}"\n',
        1,
    )
    path.write_text(text, "utf-8")
    return root


@pytest.fixture
def app(tmp_path: Path) -> App:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        khuyencong_db=":memory:",
        khuyencong_knowledge=knowledge_with_phone(tmp_path),
        khuyencong_dialogs=ROOT / "dialogs",
    )
    return build(settings)


def say(app: App, text: str | None = None, user: str = "u1", channel: str = "t", minute: int = 0, **kw: str) -> str:
    msg = Incoming(ConversationKey(channel, user), text=text, **kw)  # type: ignore[arg-type]
    # The store stamps handoffs with the real clock: the turns are timed from it too.
    return " ".join(r.text for r in app.engine.handle(msg, now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minute)))


def to_vinh_thuy(app: App, user: str = "u1", channel: str = "t") -> None:
    for n, text in enumerate(["kiem tra", "hkd", "lam nuoc mam", "xa vinh thuy quang tri"]):
        say(app, text, user, channel, minute=n)


@pytest.mark.parametrize(
    "wording",
    ["gặp cán bộ", "cho em noi chuyen voi can bo", "gap nguoi that", "goi cho toi", "cho gap can bo voi a", "/canbo"],
)
def test_every_wording_of_a_request_for_staff_opens_a_handoff_with_who_when_and_the_phone(
    app: App, wording: str
) -> None:
    to_vinh_thuy(app)
    said = say(app, wording, minute=5)
    assert "Trung tâm Dịch vụ tổng hợp xã Vĩnh Thủy" in said and PHONE in said and HOURS in said
    handoff = app.repo.handoffs.active(ConversationKey("t", "u1"))
    assert handoff is not None and (handoff.status, handoff.reason, handoff.commune_code) == ("waiting", "asked", 19405)
    assert handoff.commune == "xã Vĩnh Thủy"
    assert "gọi điện lại" in said  # not registered: asked whether staff may call back


def test_a_call_back_number_is_kept_only_with_a_recorded_consent(app: App) -> None:
    to_vinh_thuy(app)
    say(app, "gặp cán bộ", minute=5)
    assert "nhắn số điện thoại" in say(app, button="yes:", minute=6)
    assert "0912345678" in say(app, "số tôi là 0912 345 678", minute=7)
    key = ConversationKey("t", "u1")
    handoff = app.repo.handoffs.active(key)
    assert handoff is not None and handoff.callback_phone == "+84912345678"
    row = app.repo.db.execute(
        "SELECT c.purpose, c.text_version, c.channel, c.given, c.at, c.text FROM consents c "
        "JOIN handoffs h ON h.callback_consent_id = c.id WHERE h.id = ?",
        [handoff.id],
    ).fetchone()
    assert row[:4] == ("callback", "2026-12-v1", "t", 1) and row[4] and "gọi lại" in row[5]


def test_a_refused_call_back_keeps_no_number(app: App) -> None:
    to_vinh_thuy(app)
    say(app, "gặp cán bộ", minute=5)
    assert "trả lời bà con ngay tại đây" in say(app, "không", minute=6)
    say(app, "0912 345 678", minute=7)  # now a message for staff, not a number to keep as consented
    handoff = app.repo.handoffs.active(ConversationKey("t", "u1"))
    assert handoff is not None and handoff.callback_phone == ""
    given = app.repo.db.execute("SELECT given FROM consents WHERE purpose = 'callback'").fetchall()
    assert given == [(0,)]


def test_while_staff_hold_the_chat_the_assistant_is_silent_but_for_the_persons_own_data(app: App) -> None:
    to_vinh_thuy(app)
    say(app, "gặp cán bộ", minute=5)
    say(app, button="no:", minute=6)
    assert "đã chuyển tin nhắn" in say(app, "máy móc", minute=7)  # said once, before any staff reply
    again = say(app, "có ai không", minute=8)  # never silence while nobody has answered: told again, with the phone
    assert "cán bộ chưa trả lời" in again and "Điện thoại:" in again and "menu" in again
    handoffs = Handoffs(app.repo, app.engine.texts.handoff, app.settings)
    handoff = app.repo.handoffs.active(ConversationKey("t", "u1"))
    assert handoff is not None
    handoffs.reply(LAN, handoff.id, "Chào chị, em là Lan ở xã.", "Nguyễn Thị Lan")
    for n, text in enumerate(["menu", "kiem tra", "/start", "đăng ký", "xin chào"], 10):
        assert say(app, text, minute=n) == "", text
    assert "chưa lưu thông tin đăng ký" in say(app, "dữ liệu của tôi", minute=20)
    assert "chắc chắn muốn xóa" in say(app, "xóa dữ liệu của tôi", minute=21)
    assert "Đã xóa" in say(app, "có", minute=22)
    assert app.repo.handoffs.active(ConversationKey("t", "u1")) is None  # erased with the person
    assert app.repo.handoffs.transcript(ConversationKey("t", "u1")) == []


def test_a_staff_reply_is_signed_with_the_officers_name_and_commune_and_kept_in_the_transcript(app: App) -> None:
    to_vinh_thuy(app, "z1", "zalo")
    say(app, "gặp cán bộ", "z1", "zalo", minute=5)
    key = ConversationKey("zalo", "z1")
    handoff = app.repo.handoffs.active(key)
    assert handoff is not None
    handoffs = Handoffs(app.repo, app.engine.texts.handoff, app.settings)
    with pytest.raises(ReplyRefused):
        handoffs.reply(OTHER, handoff.id, "xin chào", "Bình")  # another commune's officer
    with pytest.raises(ReplyRefused, match="text"):
        handoffs.reply(LAN, handoff.id, "   ", "Lan")
    assert app.repo.outbox_of(key) == []  # nothing written by a refusal
    handoffs.reply(LAN, handoff.id, "Chị mang sổ hộ kinh doanh lên xã nhé.", "Nguyễn Thị Lan")
    text = "Cán bộ Nguyễn Thị Lan (xã Vĩnh Thủy): Chị mang sổ hộ kinh doanh lên xã nhé."
    assert [r for _, _, r in app.repo.outbox_of(key)] == [Reply(text)]
    (event,) = [e for e in app.repo.inbox_after(0, 10) if nudged(e.payload) == "z1"]
    assert event.person == "z1"  # in order with the person's own messages
    lines = app.repo.handoffs.transcript(key)
    assert lines[-1].role == "staff" and lines[-1].text == text
    assert [i.handoff.id for i in handoffs.listed(LAN)] == [handoff.id] and handoffs.listed(OTHER) == []


def test_zalo_window_free_for_48_hours_then_paid_then_refused_after_7_days(app: App) -> None:
    to_vinh_thuy(app, "z2", "zalo")
    say(app, "gặp cán bộ", "z2", "zalo", minute=5)
    handoff = app.repo.handoffs.active(ConversationKey("zalo", "z2"))
    assert handoff is not None
    handoffs = Handoffs(app.repo, app.engine.texts.handoff, app.settings)
    last = dt.datetime.fromisoformat(handoff.last_person_at)
    assert "miễn phí" in handoffs.window(handoff, last + dt.timedelta(hours=47)).said()  # type: ignore[union-attr]
    paid = handoffs.window(handoff, last + dt.timedelta(hours=49))
    assert paid is not None and not paid.free and not paid.closed and "tính phí" in paid.said()
    late = last + dt.timedelta(days=7, minutes=1)
    with pytest.raises(ReplyRefused, match="7 ngày"):
        handoffs.reply(LAN, handoff.id, "Chào chị", "Lan", now=late)
    assert app.repo.outbox_of(ConversationKey("zalo", "z2")) == []
    assert "gọi điện" in handoffs.window(handoff, late).said()  # type: ignore[union-attr]


def test_failing_the_same_person_twice_in_a_row_hands_the_chat_to_staff(app: App) -> None:
    say(app, "xin chao")
    assert "chuyển" not in say(app, "qwrt zxcv", minute=1)
    assert "Khuyến công hỗ trợ" in say(app, "có những hỗ trợ gì", minute=2)  # an answer: the count starts over
    assert "chuyển" not in say(app, "qwrt zxcv", minute=3)
    said = say(app, "cách làm hồ sơ vay vốn quỹ tín dụng", minute=4)
    assert "chưa trả lời được" in said and "nhờ cán bộ" in said and "xã (phường) nào" in said
    say(app, "xa vinh thuy quang tri", minute=5)  # no commune known: asked, so that its officers see it
    handoff = app.repo.handoffs.active(ConversationKey("t", "u1"))
    assert handoff is not None and handoff.reason == "failed"


def test_staff_hand_back_by_button_and_after_the_idle_time_and_the_person_is_told(app: App) -> None:
    handoffs = Handoffs(app.repo, app.engine.texts.handoff, app.settings)
    to_vinh_thuy(app, "z3", "zalo")
    say(app, "gặp cán bộ", "z3", "zalo", minute=5)
    key = ConversationKey("zalo", "z3")
    first = app.repo.handoffs.active(key)
    assert first is not None and handoffs.hand_back(LAN, first.id)
    assert not handoffs.hand_back(LAN, first.id)  # once
    assert [r.text for _, _, r in app.repo.outbox_of(key)] == [app.engine.texts.handoff.back]
    assert "Khuyến công hỗ trợ" in say(app, "có những hỗ trợ gì", "z3", "zalo", minute=30)  # the assistant again
    # Idle: the sweep gives it back and tells the person; a message after the idle time is the assistant's.
    say(app, "gặp cán bộ", "z3", "zalo", minute=31)
    now = dt.datetime.now(dt.UTC)
    assert handoffs.sweep(now) == 0
    assert handoffs.sweep(now + dt.timedelta(minutes=241)) == 1
    assert app.repo.handoffs.active(key) is None
    assert [r.text for _, _, r in app.repo.outbox_of(key)][-1] == app.engine.texts.handoff.idle
    say(app, "gặp cán bộ", "z4", "t", minute=0)
    say(app, "không biết", "z4", "t", minute=0)  # the commune asked first: handed over without one
    said = say(app, "có những hỗ trợ gì", "z4", "t", minute=241)
    assert app.engine.texts.handoff.idle in said and "Khuyến công hỗ trợ" in said


def test_the_transcript_is_bounded(app: App) -> None:
    for n in range(60):
        say(app, f"câu số {n}", "u", minute=n)
    repo = app.repo
    lines = repo.handoffs.transcript(ConversationKey("t", "u"))
    assert len(lines) == 50 and lines[-2].text == "câu số 59"  # the newest kept, the oldest gone
    assert lines[-1].role == "bot" and "cán bộ chưa trả lời" in lines[-1].text  # each message acknowledged


# --- khuyencong handoff list | reply -----------------------------------------------------------------


def cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "handoff", *args, "--db", str(db)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip


def test_the_handoff_commands_list_and_reply_and_refuse_bad_input_writing_nothing(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    app = build(Settings(_env_file=None, khuyencong_db=db), db=db)  # type: ignore[call-arg]
    to_vinh_thuy(app, "z5", "zalo")
    say(app, "cho em noi chuyen voi can bo", "z5", "zalo", minute=5)
    say(app, "em cần hỏi về máy sấy", "z5", "zalo", minute=6)
    handoff = app.repo.handoffs.active(ConversationKey("zalo", "z5"))
    assert handoff is not None
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=8)).isoformat(timespec="seconds")
    app.close()

    listed = cli("list", db=db)
    assert listed.returncode == 0, listed.stderr
    assert "Zalo" in listed.stdout and "xã Vĩnh Thủy" in listed.stdout and "máy sấy" in listed.stdout
    assert "19405" not in listed.stdout and "zalo" not in listed.stdout and "2026-" not in listed.stdout
    (row,) = json.loads(cli("list", "--json", "--commune", "19405", db=db).stdout)
    assert (row["id"], row["channel"], row["commune_code"], row["reason"]) == (handoff.id, "zalo", 19405, "asked")
    assert row["last_message"] == "em cần hỏi về máy sấy" and row["since"]
    assert json.loads(cli("list", "--json", "--commune", "13531", db=db).stdout) == []

    for args, field in ((("abc", "chào"), "id"), ((str(handoff.id), "  "), "text"), (("999", "chào"), "id")):
        bad = cli("reply", *args, db=db)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and field in bad.stderr, bad.stderr
    bad = cli("list", "--commune", "xyz", db=db)
    assert bad.returncode == 2 and "commune" in bad.stderr

    sent = cli("reply", str(handoff.id), "Chị mang sổ lên xã nhé.", "--as", "Nguyễn Thị Lan", db=db)
    assert sent.returncode == 0, sent.stderr
    repo = build(Settings(_env_file=None, khuyencong_db=db), db=db).repo  # type: ignore[call-arg]
    (queued,) = [r.text for _, _, r in repo.outbox_of(ConversationKey("zalo", "z5"))]
    assert queued == "Cán bộ Nguyễn Thị Lan (xã Vĩnh Thủy): Chị mang sổ lên xã nhé."
    repo.db.execute("UPDATE handoffs SET last_person_at = ?", [old])
    repo.db.execute("UPDATE chat_log SET at = ?", [old])
    closed = cli("reply", str(handoff.id), "Chào chị", db=db)
    assert closed.returncode == 2 and "7 ngày" in closed.stderr and "gọi" in closed.stderr
    assert len(repo.outbox_of(ConversationKey("zalo", "z5"))) == 1  # nothing more queued


@run
async def test_the_inbox_shows_zalos_window_and_refuses_a_reply_past_it_saying_to_call(
    tmp_path: Path, store: Store
) -> None:
    async with running(
        tmp_path, khuyencong_db=Path(store.target), khuyencong_knowledge=knowledge_with_phone(tmp_path)
    ) as env:
        app = env.app
        to_vinh_thuy(app, "z6", "zalo")
        say(app, "gặp cán bộ", "z6", "zalo", minute=5)
        handoff = app.repo.handoffs.active(ConversationKey("zalo", "z6"))
        assert handoff is not None
        StaffStore(app.repo).add("lan", PASSWORD, [19405], False)
        StaffStore(app.repo).add("binh", PASSWORD, [13531], False)
        await sign_in(env, "binh")
        async with env.http.get(f"{env.url}/staff/handoffs/{handoff.id}") as resp:
            assert resp.status == 404  # another commune's officer
        async with env.http.get(f"{env.url}/staff/handoffs") as resp:
            assert f"/staff/handoffs/{handoff.id}" not in await resp.text()
        env.http.cookie_jar.clear()
        await sign_in(env, "lan")
        page_url = f"{env.url}/staff/handoffs/{handoff.id}"
        async with env.http.get(page_url) as resp:
            page = await resp.text()
        assert "để trả lời miễn phí trên Zalo" in page and "Trả lại cho trợ lý" in page and "gặp cán bộ" in page
        old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=8)).isoformat(timespec="seconds")
        app.repo.db.execute("UPDATE handoffs SET last_person_at = ?", [old])
        app.repo.db.execute("UPDATE chat_log SET at = ?", [old])
        async with env.http.get(page_url) as resp:
            page = await resp.text()
        assert "hãy gọi điện cho bà con" in page and "reply-text" not in page
        form = {"csrf": csrf_of(page), "text": "Chào chị", "name": "Lan"}
        async with env.http.post(page_url + "/reply", data=form) as resp:
            assert resp.status == 409 and "7 ngày" in await resp.text()
        assert app.repo.outbox_of(ConversationKey("zalo", "z6")) == []


def test_the_handoff_list_names_a_test_chat_without_its_code(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    app = build(Settings(_env_file=None, khuyencong_db=db), db=db)  # type: ignore[call-arg]
    say(app, "gap can bo", "c1", "jsonl", minute=1)
    say(app, "khong biet", "c1", "jsonl", minute=1)  # the commune asked first: handed over without one
    app.close()
    listed = cli("list", db=db)
    assert listed.returncode == 0, listed.stderr
    assert "Thử trên máy" in listed.stdout and "jsonl" not in listed.stdout


def test_handed_over_after_two_misunderstood_messages_the_person_is_never_stuck(app: App) -> None:
    key = ConversationKey("t", "u9")
    # two misunderstood, then two unreadable answers to "which commune": handed over all the same
    for n, text in enumerate(["alo", "vbn ghj", "hjkl qwerty", "zxcv asdf", "qwer tyui"]):
        say(app, text, "u9", minute=n)
    handoff = app.repo.handoffs.active(key)
    assert handoff is not None and handoff.reason == "failed" and handoff.status == "waiting"
    assert "cán bộ chưa trả lời" in say(app, "uiop vbnm", "u9", minute=5) + say(app, "có ai không", "u9", minute=6)
    menu = say(app, "menu", "u9", minute=8)  # the assistant's own commands still answer while nobody replied
    assert "Bà con cần gì" in menu, menu
    assert "thuộc loại nào" in say(app, "kiem tra dieu kien", "u9", minute=9)
    still = app.repo.handoffs.active(key)
    assert still is not None and still.id == handoff.id and still.status == "waiting"  # staff still see it


def test_the_call_back_buttons_typed_are_the_buttons(app: App) -> None:
    to_vinh_thuy(app)
    say(app, "gặp cán bộ", minute=5)
    assert "trả lời bà con ngay tại đây" in say(app, "khong can goi", minute=6)
    given = app.repo.db.execute("SELECT given FROM consents WHERE purpose = 'callback'").fetchall()
    assert given == [(0,)]
