"""Unanswered questions masked and kept per commune; a commune's own answers reach its own people only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.dialog import DialogEngine, EngineConfig
from bot.eligibility import Assessor
from bot.faq import FaqIndex
from bot.flows import Dialogs, load_dialogs
from bot.knowledge import Knowledge
from bot.masking import mask_personal
from bot.staff.local_faq import Draft, LocalFaqStore, Refused, entry_of
from bot.staff.store import Staff
from bot.storage.sqlite import MIGRATIONS, SqliteRepository
from tests.conftest import ROOT, Store
from tests.test_engine import say

VINH_THUY, BINH_GIANG = 19405, 13531
OFFICER = Staff(1, "lan", (VINH_THUY,), False)
# Asked the way people type it: no diacritics, a phone in passing.
ASKED = "lop tap huan dong goi bao bi cua xa hoc o dau vay, goi em 0912 345 678 nhe"
LOCAL_QUESTION = "Lớp tập huấn đóng gói bao bì của xã học ở đâu?"
LOCAL_ANSWER = "Lớp học tại Nhà văn hóa thôn Đông, sáng thứ Bảy hằng tuần; bà con mang theo mẫu bao bì đang dùng."
UNANSWERABLE = "em muon tham gia hoi thao ve kinh te tuan hoan thi dang ky o dau, so em 0905.333.444, stk 0071001234567"


@pytest.fixture(scope="module")
def dialogs() -> Dialogs:
    return load_dialogs(ROOT / "dialogs")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("goi chi Lan 0912 345 678 nhe", "goi chi Lan 09xx xxx xxx nhe"),
        ("sdt cua em la 0912345678", "sdt cua em la 09xxxxxxxx"),
        ("so em 0912.345.678 a", "so em 09xx.xxx.xxx a"),
        ("lien he +84 912 345 678", "lien he +84 xxx xxx xxx"),
        ("zalo 84912345678", "zalo 84xxxxxxxxx"),
        ("ban tho co so 0236 3822 123", "ban tho co so 02xx xxxx xxx"),
        ("cccd cua toi 044187001234", "cccd cua toi xxxxxxxxxxxx"),
        ("cmnd 197345678 het han roi", "cmnd xxxxxxxxx het han roi"),
        ("stk 1903 6688 1234 56 techcombank", "stk xxxx xxxx xxxx xx techcombank"),
        ("gui ho so qua mail lan.nguyen85@gmail.com duoc ko", "gui ho so qua mail xxx@xxx duoc ko"),
    ],
)
def test_personal_numbers_and_addresses_are_masked(typed: str, stored: str) -> None:
    assert mask_personal(typed) == stored
    assert mask_personal(stored) == stored  # masking twice changes nothing


@pytest.mark.parametrize(
    "typed",
    [
        "ho tro toi da 300.000.000 dong a",
        "doanh thu 1,500,000,000 mot nam",
        "von 500000000 dong co duoc khong",
        "tam 12 nguoi, nam 2025, mau 01a",
    ],
)
def test_amounts_sizes_and_years_stay_as_typed(typed: str) -> None:
    assert mask_personal(typed) == typed


def engine_on(
    path: Path | SqliteRepository, kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex, **config: str
) -> DialogEngine:
    repo = path if isinstance(path, SqliteRepository) else SqliteRepository(path)
    return DialogEngine(kb, dialogs, repo, assessor, faq, EngineConfig(**config))  # type: ignore[arg-type]


def living_in(engine: DialogEngine, user: str, place: str) -> None:
    """A person who said where the facility is (an eligibility check to its result)."""
    for n, text in enumerate(["kiem tra", "hkd", "lam nuoc mam", place, "may moc"], 1):
        say(engine, user, text, n)


def test_a_local_answer_reaches_the_people_of_its_commune_only_from_the_next_message(
    tmp_path: Path, store: Store, kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex
) -> None:
    engine = engine_on(store.open(), kb, dialogs, assessor, faq)
    living_in(engine, "a", "xa vinh thuy quang tri")
    living_in(engine, "b", "binh giang ninh binh")
    assert LOCAL_ANSWER not in say(engine, "a", ASKED, 10)
    # The officer writes in the dashboard: another connection (another process), the engine is not restarted.
    dashboard = store.open()
    entry = entry_of(
        Draft(LOCAL_QUESTION, "hoc dong goi bao bi o dau\nlop bao bi hoc cho nao", LOCAL_ANSWER), VINH_THUY, "lan"
    )
    LocalFaqStore(dashboard).add(OFFICER, entry)
    mine = say(engine, "a", ASKED, 11)
    assert LOCAL_ANSWER in mine
    assert re.search(r"Trả lời của Trung tâm Dịch vụ tổng hợp xã Vĩnh Thủy, \d\d/\d\d/\d{4}", mine), mine
    assert LOCAL_ANSWER not in say(engine, "b", ASKED, 12)  # another commune's person: never
    assert LOCAL_ANSWER not in say(engine, "c", ASKED, 13)  # nor someone whose commune is unknown
    assert LOCAL_ANSWER in say(engine, "a", "lop bao bi hoc cho nao", 14)  # a phrasing the officer added
    # Removed in the dashboard: gone from the next message too.
    LocalFaqStore(dashboard).remove(OFFICER, 1)
    assert LOCAL_ANSWER not in say(engine, "a", ASKED, 15)


def test_the_deploying_units_commune_answers_for_people_who_named_none(
    tmp_path: Path, store: Store, kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex
) -> None:
    engine = engine_on(store.open(), kb, dialogs, assessor, faq, default_locality="quang-tri/vinh-thuy")
    LocalFaqStore(engine.repo).add(OFFICER, entry_of(Draft(LOCAL_QUESTION, "", LOCAL_ANSWER), VINH_THUY, "lan"))  # type: ignore[arg-type]
    say(engine, "c", UNANSWERABLE, 1)
    assert LOCAL_ANSWER in say(engine, "c", ASKED, 2)
    rows = engine.repo.misses()  # type: ignore[attr-defined]
    assert [(r["commune_code"], r["question"]) for r in rows] == [
        (
            VINH_THUY,
            "em muon tham gia hoi thao ve kinh te tuan hoan thi dang ky o dau, so em 09xx.xxx.xxx, stk xxxxxxxxxxxxx",
        )
    ]


def test_a_stored_question_keeps_no_phone_or_id_number(
    tmp_path: Path, kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex
) -> None:
    engine = engine_on(tmp_path / "k.db", kb, dialogs, assessor, faq)
    living_in(engine, "a", "xa vinh thuy quang tri")
    say(engine, "a", UNANSWERABLE, 10)
    stored = engine.repo.db.execute("SELECT commune_code, key, example FROM questions").fetchall()  # type: ignore[attr-defined]
    assert len(stored) == 1 and stored[0][0] == VINH_THUY
    assert not any(n in str(stored) for n in ("333", "444", "0905", "0071", "1234567")), stored


def test_the_migration_masks_questions_stored_before_it(tmp_path: Path) -> None:
    db = Database(tmp_path / "k.db")
    MIGRATIONS.apply(db, stop_before="m014_local_faq")
    typed = ["cho em hoi, goi chi Lan 0912 345 678 nhe", "gui mail lan@gmail.com, stk 0071001234567"]
    for n, text in enumerate(typed):
        db.execute(
            "INSERT INTO questions (channel, user, commune_code, key, example, at) VALUES (?,?,?,?,?,?)",
            ["t", f"u{n}", VINH_THUY, text.lower(), text, "2026-11-01T00:00:00+00:00"],
        )
    db.conn.commit()
    db.conn.close()
    repo = SqliteRepository(tmp_path / "k.db")
    rows = repo.db.execute("SELECT key, example FROM questions ORDER BY id").fetchall()
    assert [r[1] for r in rows] == ["cho em hoi, goi chi Lan 09xx xxx xxx nhe", "gui mail xxx@xxx, stk xxxxxxxxxxxxx"]
    assert not any(secret in str(rows) for secret in ("345 678", "gmail", "1234567"))


@pytest.mark.parametrize(
    ("draft", "reason"),
    [
        (Draft(LOCAL_QUESTION, "", "<script>alert(1)</script>"), "HTML"),
        (Draft(LOCAL_QUESTION, "", "Xem <a href='x'>đây</a>"), "HTML"),
        (Draft(LOCAL_QUESTION, "", '=HYPERLINK("http://x","bấm")'), "công thức"),
        (Draft(LOCAL_QUESTION, "@SUM(1)", LOCAL_ANSWER), "công thức"),
        (Draft("", "", LOCAL_ANSWER), "trống"),
        (Draft(LOCAL_QUESTION, "", "x" * 2001), "quá dài"),
    ],
)
def test_a_local_entry_refuses_markup_and_formulas_politely(draft: Draft, reason: str) -> None:
    with pytest.raises(Refused, match=reason):
        entry_of(draft, VINH_THUY, "lan")


def test_a_bulleted_answer_and_the_offices_phone_are_kept() -> None:
    answer = "- Mang theo Mẫu 01a\n- Gọi Trung tâm: 0233 3822 123"
    entry = entry_of(Draft("hoc o dau, goi em 0912345678", "", answer), VINH_THUY, "lan")
    assert entry.answer == answer and entry.question == "hoc o dau, goi em 09xxxxxxxx"
