"""The engine as a whole: resume after restart, ordering across users, duplicates, fuzzing, crash safety."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import OrderedHandler
from bot.dialog import DialogEngine
from bot.eligibility import Assessor
from bot.faq import FaqIndex
from bot.flows import Dialogs, load_dialogs
from bot.knowledge import Knowledge
from bot.messages import ConversationKey, Incoming
from bot.staff.store import EVERYONE, StaffStore
from bot.storage import Consent, Conversation
from bot.storage.memory import MemoryRepository
from bot.storage.sqlite import LeadRefused, SqliteRepository
from tests.conftest import KNOWLEDGE, ROOT, Store
from tests.test_exports import add_lead

T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
REGISTRATION = [
    "dang ky",
    "hkd",
    "lam nuoc mam",
    "xa vinh thuy quang tri",
    "may moc",
    "dong y",
    "Nguyen Thi Lan",
    "0912 345 678",
    "Co so nuoc mam Lan",
    "bo qua",
    "xac nhan",
]


@pytest.fixture(scope="module")
def dialogs() -> Dialogs:
    """The bundled dialogs."""
    return load_dialogs(ROOT / "dialogs")


def engine_on(
    repo: SqliteRepository, kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex
) -> DialogEngine:
    return DialogEngine(kb, dialogs, repo, assessor, faq)


def say(engine: DialogEngine, user: str, text: str, minute: int = 0, message_id: str | None = None) -> str:
    replies = engine.handle(
        Incoming(ConversationKey("t", user), text=text, message_id=message_id), now=T0 + dt.timedelta(minutes=minute)
    )
    return " ".join(r.text for r in replies)


def test_conversation_resumes_after_a_restart(store: Store, kb, dialogs, assessor, faq) -> None:
    repo = store.open()
    first = engine_on(repo, kb, dialogs, assessor, faq)
    for n, text in enumerate(["kiem tra", "htx", "lam banh trang"], 1):
        say(first, "u1", text, n)
    repo.close()
    second = engine_on(store.open(), kb, dialogs, assessor, faq)
    reply = say(second, "u1", "xa vinh thuy quang tri", 60 * 24 * 3)  # three days later, another process
    assert "cần hỗ trợ gì" in reply
    result = say(second, "u1", "bao bi", 60 * 24 * 3 + 1)
    assert "Hợp tác xã" in result and "đủ điều kiện" in result


def test_an_empty_message_midway_asks_the_pending_question_again(store: Store, kb, dialogs, assessor, faq) -> None:
    engine = engine_on(store.open(), kb, dialogs, assessor, faq)
    for n, text in enumerate(["kiem tra", "htx", "lam banh trang"], 1):
        say(engine, "u1", text, n)
    reply = say(engine, "u1", "", 5)  # a sticker, or the console opened again
    assert "xã (phường) nào" in reply and "Bà con cần gì" not in reply
    assert "cần hỗ trợ gì" in say(engine, "u1", "xa vinh thuy quang tri", 6)
    say(engine, "u2", "menu", 1)
    assert "Bà con cần gì" in say(engine, "u2", "", 2)  # nothing under way: the menu


def test_long_silence_starts_over_politely(store: Store, kb, dialogs, assessor, faq) -> None:
    engine = engine_on(store.open(), kb, dialogs, assessor, faq)
    say(engine, "u1", "kiem tra", 1)
    say(engine, "u1", "htx", 2)
    reply = say(engine, "u1", "lam banh trang", 60 * 24 * 30)  # a month later
    assert "bắt đầu lại" in reply
    assert engine.repo.load(ConversationKey("t", "u1")).flow is None  # type: ignore[union-attr]


def test_a_changed_flow_restarts_conversations_midway(store: Store, kb, dialogs, assessor, faq) -> None:
    repo = store.open()
    engine = engine_on(repo, kb, dialogs, assessor, faq)
    say(engine, "u1", "kiem tra", 1)
    conv = repo.load(ConversationKey("t", "u1"))
    assert conv is not None
    conv.flow_version = 0  # as if the YAML was edited and its version bumped since
    repo.save_turn(conv, None)
    assert "cập nhật" in say(engine, "u1", "htx", 2)


def test_a_redelivered_message_is_processed_once(store: Store, kb, dialogs, assessor, faq) -> None:
    engine = engine_on(store.open(), kb, dialogs, assessor, faq)
    key = ConversationKey("t", "u1")
    engine.handle(Incoming(key, text="kiem tra", message_id="m1", reply_to="u1"), now=T0)
    assert engine.handle(Incoming(key, text="htx", message_id="m2", reply_to="u1"), now=T0)
    queued = len(engine.repo.outbox_of(key))
    # The platform delivered it again: its replies already wait in the outbox, nothing is said twice.
    assert engine.handle(Incoming(key, text="htx", message_id="m2", reply_to="u1"), now=T0) == []
    conv = engine.repo.load(key)
    assert conv is not None and conv.step == "activity" and conv.history == ["legal_form"]
    assert len(engine.repo.outbox_of(key)) == queued  # nothing queued twice


def test_a_message_answered_at_once_and_sent_again_gets_the_same_answer(
    store: Store, kb, dialogs, assessor, faq
) -> None:
    engine = engine_on(store.open(), kb, dialogs, assessor, faq)
    say(engine, "u1", "kiem tra", 1, message_id="m1")
    first = say(engine, "u1", "htx", 2, message_id="m2")
    assert first and say(engine, "u1", "htx", 3, message_id="m2") == first  # the page lost the answer
    conv = engine.repo.load(ConversationKey("t", "u1"))
    assert conv is not None and conv.step == "activity" and conv.history == ["legal_form"]


def test_two_hundred_interleaved_users_without_cross_talk(store: Store, kb, dialogs, assessor, faq) -> None:
    repo = store.open()
    handler = OrderedHandler(engine_on(repo, kb, dialogs, assessor, faq))
    places = ["xa vinh thuy quang tri", "binh giang ninh binh", "xa tra giang quang ngai"]
    products = ["lam nuoc mam", "det tho cam", "han cua sat"]

    async def person(i: int) -> list[str]:
        key = ConversationKey("t", f"user{i}")
        script = ["kiem tra", "hkd", products[i % 3], places[i % 3], "may moc"]
        tasks = [asyncio.create_task(handler.handle(Incoming(key, text=t, message_id=f"{i}-{n}")))
                 for n, t in enumerate(script)]  # fmt: skip  # all queued at once: order is the handler's job
        return [" ".join(r.text for r in await task) for task in tasks]

    async def everyone() -> list[list[str]]:
        return await asyncio.gather(*(person(i) for i in range(200)))

    transcripts = asyncio.run(everyone())
    handler.close()
    for i, replies in enumerate(transcripts):
        assert "thuộc loại nào" in replies[0] and "sản phẩm gì" in replies[1], i
        result = replies[-1]
        assert "đủ điều kiện" in result, (i, result[:200])
        assert ["Quảng Trị", "Ninh Bình", "Quảng Ngãi"][i % 3] in result, i
        others = {["Quảng Trị", "Ninh Bình", "Quảng Ngãi"][j] for j in range(3) if j != i % 3}
        assert not any(f"Xã Vĩnh Thủy, {o}" in result for o in others)
    assert repo.count_conversations() == 200


TEXTS = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "kiem tra",
            "hkd",
            "htx",
            "cty",
            "lam nuoc mam",
            "binh giang",
            "ninh binh",
            "0912345678",
            "dong y",
            "khong",
            "co",
            "quay lai",
            "sua",
            "lam lai",
            "menu",
            "/start",
            "/back",
            "xoa du lieu",
            "du lieu cua toi",
            "gap can bo",
            "12 nguoi",
            "2 ty",
            "xac nhan",
            "bo qua",
            "?",
            "=1+1",
            "<script>x</script>",
            "x" * 5000,
            "hkd co dc ho tro ko",
            "1",
            "7",
        ]
    ),
)
PAYLOADS = st.one_of(
    st.sampled_from(
        [
            "menu:eligibility",
            "menu:register",
            "menu:my_data",
            "menu:ask",
            "cmd:back",
            "cmd:edit",
            "cmd:delete",
            "ans:enterprise",
            "ans:none",
            "ans:yes",
            "yes:",
            "no:",
            "place:13531",
            "place:abc",
            "edit:eligibility.place",
            "edit:nope.x",
            "sector:handicrafts",
            "faq:kc_la_gi",
            "faq:nope",
            "ans:skip",
            "menu:nope",
            ":",
        ]
    ),
    st.text(max_size=40),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(TEXTS.map(lambda t: ("text", t)), PAYLOADS.map(lambda p: ("button", p))), max_size=25))
def test_random_input_never_raises_and_always_gets_a_reply(kb, dialogs, assessor, faq, actions) -> None:
    engine = engine_on(MemoryRepository(), kb, dialogs, assessor, faq)
    key = ConversationKey("fuzz", "u")
    for n, (kind, value) in enumerate(actions):
        msg = Incoming(key, text=value if kind == "text" else None, button=value if kind == "button" else None)
        replies = engine.handle(msg, now=T0 + dt.timedelta(minutes=n))
        # Silence only while staff hold the chat (design §7: the assistant stores and forwards, says nothing).
        assert replies or engine.repo.handoffs.active(key) is not None
        assert all(r.text.strip() and len(r.text) <= 600 for r in replies)


def test_a_registration_reaches_the_database_before_the_reply(store: Store, kb, dialogs, assessor, faq) -> None:
    repo = store.open()
    engine = engine_on(repo, kb, dialogs, assessor, faq)
    replies = [say(engine, "u1", text, n) for n, text in enumerate(REGISTRATION, 1)]
    assert len(REGISTRATION) <= 15 and "KC-" in replies[-1]
    ref = replies[-1].split("Mã đăng ký: ")[1][:9]
    repo.close()
    lead = store.open().leads_of(ConversationKey("t", "u1"))[0]
    assert (lead.ref, lead.phone, lead.commune_code, lead.status) == (ref, "+84912345678", 19405, "new")
    assert lead.assessment["eligible"] is True and all(r["citation"] for r in lead.assessment["reasons"])
    assert lead.lines_wanted == ["advanced_machinery"]


def test_the_same_chat_registering_the_same_phone_again_updates_its_own_lead(
    store: Store, kb, dialogs, assessor, faq
) -> None:
    repo = store.open()
    engine = engine_on(repo, kb, dialogs, assessor, faq)
    for n, text in enumerate(REGISTRATION, 1):
        say(engine, "u1", text, n)
    say(engine, "u1", "dang ky", 100)
    say(engine, "u1", "dong y", 101)  # the answers are kept: the summary comes at once
    engine.handle(Incoming(ConversationKey("t", "u1"), button="edit:registration.name"), now=T0)
    replies = [say(engine, "u1", text, 102 + n) for n, text in enumerate(["Nguyen Thi Lan Anh", "xac nhan"])]
    assert "đã đăng ký" in replies[-1]  # the person's own earlier registration: they may be told
    rows = repo.db.execute("SELECT ref, name, duplicate_of FROM leads").fetchall()
    assert len(rows) == 1 and rows[0][1:] == ("Nguyen Thi Lan Anh", None)
    history = repo.audit(rows[0][0])
    assert [h["action"] for h in history] == ["created", "updated by a new registration"]
    assert history[1]["changes"]["name"] == ["Nguyen Thi Lan", "Nguyen Thi Lan Anh"]


def test_another_chat_with_the_same_phone_gets_its_own_lead_flagged_for_staff(
    store: Store, kb, dialogs, assessor, faq
) -> None:
    """Was: merged into the first chat's lead (a stranger knowing phone and commune took the lead over)."""
    repo = store.open()
    engine = engine_on(repo, kb, dialogs, assessor, faq)
    first = [say(engine, "u1", text, n) for n, text in enumerate(REGISTRATION, 1)][-1]
    ref = first.split("Mã đăng ký: ")[1][:9]
    again = [*REGISTRATION[:6], "Nguyen Thi Lan Anh", *REGISTRATION[7:]]
    replies = [say(engine, "u2", text, 100 + n) for n, text in enumerate(again)]
    assert ref not in " ".join(replies) and "đã đăng ký ở xã" not in replies[-1] and "KC-" in replies[-1]
    own, theirs = repo.leads_of(ConversationKey("t", "u1")), repo.leads_of(ConversationKey("t", "u2"))
    assert [(x.ref, x.name, x.duplicate_of) for x in own] == [(ref, "Nguyen Thi Lan", None)]
    assert [(x.name, x.duplicate_of) for x in theirs] == [("Nguyen Thi Lan Anh", ref)]
    assert [h["action"] for h in repo.audit(ref)] == ["created"]
    say(engine, "u1", "xoa du lieu cua toi", 200)
    say(engine, "u1", "co", 201)  # the owner erases: the flag no longer names a lead that is gone
    assert [x.duplicate_of for x in repo.leads_of(ConversationKey("t", "u2"))] == [None]


def test_storage_refuses_a_lead_without_a_consent_to_registration_by_the_same_chat(store: Store) -> None:
    repo = store.open()
    lead = add_lead(repo, 1)  # a proper consent: stored
    yes = repo.add_consent(Consent("test", "u2", "registration", "v1", "…", True))
    no = repo.add_consent(Consent("test", "u1", "registration", "v1", "…", False))
    other = repo.add_consent(Consent("test", "u1", "newsletter", "v1", "…", True))
    for consent_id in (0, yes, no, other, 999):  # none, another chat's, refused, another purpose, unknown
        lead.ref, lead.consent_id, lead.phone = "", consent_id, "+84900000000"
        with pytest.raises(LeadRefused):
            repo.save_turn(Conversation(ConversationKey("test", "u1")), f"m{consent_id}", lead)
    assert repo.db.execute("SELECT count(*) FROM leads").fetchone()[0] == 1
    assert not repo.seen(ConversationKey("test", "u1"), "m0")  # the turn is stored whole or not at all


def test_a_consent_erased_since_it_was_given_is_asked_again_not_a_failed_turn(
    store: Store, kb, dialogs, assessor, faq
) -> None:
    repo = store.open()
    engine = engine_on(repo, kb, dialogs, assessor, faq)
    for n, text in enumerate(REGISTRATION[:-1], 1):
        say(engine, "u1", text, n)
    repo.db.execute("DELETE FROM consents")  # e.g. purged while the conversation stayed open
    assert "có đồng ý không" in say(engine, "u1", "xac nhan", 20)
    assert repo.leads_of(ConversationKey("t", "u1")) == []


def test_consent_is_recorded_with_its_exact_text(store: Store, kb, dialogs, assessor, faq) -> None:
    repo = store.open()
    engine = engine_on(repo, kb, dialogs, assessor, faq)
    for n, text in enumerate(REGISTRATION[:6], 1):
        say(engine, "u1", text, n)
    row = repo.db.execute("SELECT given, text_version, text FROM consents").fetchone()
    assert row[0] == 1 and row[1] == dialogs.texts.consent_version
    assert "Trung tâm Dịch vụ tổng hợp xã Vĩnh Thủy" in row[2] and "24 tháng" in row[2] and "xóa" in row[2]


def test_erasure_removes_every_personal_record(store: Store, kb, dialogs, assessor, faq) -> None:
    repo = store.open()
    engine = engine_on(repo, kb, dialogs, assessor, faq)
    for n, text in enumerate([*REGISTRATION, "xoa du lieu cua toi", "co"], 1):
        say(engine, "u1", text, n)
    for table in ("leads", "consents", "handoffs"):
        assert repo.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    text = json.dumps(repo.db.execute("SELECT * FROM lead_audit").fetchall(), ensure_ascii=False)
    assert "0912" not in text and "+8491" not in text and "Lan" not in text


def _dump(repo: SqliteRepository) -> str:
    """Every row of every table, as text."""
    tables = repo.table_names()
    return json.dumps({t: repo.db.execute(f"SELECT * FROM {t}").fetchall() for t in tables}, ensure_ascii=False)


def test_erasure_leaves_nothing_the_chat_produced_and_only_that_goes(store: Store, kb, dialogs, assessor, faq) -> None:
    """Was: the staff follow-up note, the questions typed and the processed ids stayed behind."""
    repo = store.open()
    engine = engine_on(repo, kb, dialogs, assessor, faq)
    question = "xe tải chở hàng đi lạng sơn mất mấy tiếng, gọi Lan 0912 345 678"
    for n, text in enumerate([*REGISTRATION, question, "gap can bo"], 1):
        say(engine, "u1", text, n, message_id=f"m{n}")
    say(engine, "u2", "xe tải chở hàng đi lạng sơn mất mấy tiếng", 1, message_id="other-1")
    (lead,) = repo.leads_of(ConversationKey("t", "u1"))
    StaffStore(repo).update(EVERYONE, lead.ref, "contacted", "Cán bộ Hà", "", "Chị Lan hẹn gọi lại số 0912345678")
    repo.mark_unreachable(ConversationKey("t", "u1"), 404)
    before = _dump(repo)
    assert "Chị Lan hẹn" in before and "gọi Lan 09xx" in before  # the question is kept with its phone masked
    assert "Đã xóa" in say(engine, "u1", "xoa du lieu cua toi", 50, "m50") + say(engine, "u1", "co", 51, "m51")
    after = _dump(repo)
    for trace in ("Nguyen Thi Lan", "0912", "+8491", "Co so nuoc mam", "gọi Lan", "Chị Lan", "Cán bộ Hà"):
        assert trace not in after, trace
    processed = repo.db.execute("SELECT message_id FROM processed WHERE user = 'u1'").fetchall()
    assert processed == [("m51",)]  # only the erasing message itself, so a redelivery of it is not run twice
    conv = repo.load(ConversationKey("t", "u1"))
    assert conv is None or (conv.slots == {} and conv.history == [])
    assert not repo.is_unreachable(ConversationKey("t", "u1"))
    assert repo.seen(ConversationKey("t", "u2"), "other-1")  # another person's records stay
    assert [m["question"] for m in repo.misses()] == ["xe tải chở hàng đi lạng sơn mất mấy tiếng"]


def test_database_is_wal_with_recorded_migrations(tmp_path: Path) -> None:
    repo = SqliteRepository(tmp_path / "k.db")
    assert repo.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = [r[0] for r in repo.db.execute("SELECT name FROM _sqlite_migrations").fetchall()]
    assert names == [
        "m001_initial",
        "m002_channels",
        "m003_staff",
        "m004_faq_misses",
        "m005_export_log",
        "m006_inbox",
        "m007_lead_ownership",
        "m008_staff_security",
        "m009_outbox",
        "m010_token_state",
        "m011_staff_telegram",
        "m012_commune_profiles",
        "m013_handoff_modes",
        "m014_local_faq",
        "m015_search_keys",
        "m016_leads_fix_add",
        "m017_handoff_relay",
        "m018_form_templates",
        "m019_staff_accounts",
        "m020_announcements",
        "m021_processed_replies",
        "m022_announce_reminders",
        "m024_inbox_person_index",
    ]
    SqliteRepository(tmp_path / "k.db")  # applying again is a no-op
    assert len(repo.db.execute("SELECT name FROM _sqlite_migrations").fetchall()) == len(names)


def _jsonl_process(db: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat", "--jsonl", "--db", str(db), "--knowledge", str(KNOWLEDGE)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_killing_the_process_loses_no_confirmed_registration(store: Store) -> None:
    db = store.target
    proc = _jsonl_process(db)
    assert proc.stdin is not None and proc.stdout is not None
    last = ""
    for text in REGISTRATION:
        proc.stdin.write(json.dumps({"user": "u1", "text": text}, ensure_ascii=False) + "\n")
        proc.stdin.flush()
        last = proc.stdout.readline()
    assert "KC-" in last
    os.kill(proc.pid, signal.SIGKILL)  # no clean shutdown at all
    proc.communicate(timeout=10)
    leads = store.open().leads_of(ConversationKey("jsonl", "u1"))
    assert len(leads) == 1 and leads[0].ref in last


def test_killed_midway_the_conversation_continues_where_it_was(store: Store) -> None:
    db = store.target
    proc = _jsonl_process(db)
    assert proc.stdin is not None and proc.stdout is not None
    for text in REGISTRATION[:4]:
        proc.stdin.write(json.dumps({"user": "u1", "text": text}) + "\n")
        proc.stdin.flush()
        proc.stdout.readline()
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    again = _jsonl_process(db)
    out, _ = again.communicate(json.dumps({"user": "u1", "text": "may moc"}) + "\n", timeout=60)
    assert "đủ điều kiện" in json.loads(out.splitlines()[0])["replies"][0]["text"]


def test_a_greeting_alone_stores_nothing_and_the_next_words_are_kept(store: Store, kb, dialogs, assessor, faq) -> None:
    repo = store.open()
    engine = engine_on(repo, kb, dialogs, assessor, faq)
    for user, opening in [("page", ""), ("polite", "xin chào"), ("tg", "/start"), ("lost", "menu")]:
        assert "trợ lý tự động" in say(engine, user, opening)
    assert repo.count_conversations() == 0  # four people opened the chat: nothing to keep yet
    answer = say(engine, "page", "hộ kinh doanh có được hỗ trợ không", minute=1)
    assert "trợ lý tự động" not in answer  # welcomed once, not again
    help_text = say(engine, "polite", "trợ giúp", minute=1)
    assert "trợ lý tự động" not in help_text and "quay lại" in help_text  # the help asked for, not the welcome
    say(engine, "tg", "gặp cán bộ", minute=1)
    assert repo.count_conversations() == 3  # each of them said something: their chats are kept
    assert "trợ lý tự động" in say(engine, "stranger", "kiem tra") and repo.count_conversations() == 4
