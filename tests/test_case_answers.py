"""Answers from the person's own case: a commune's plan, a product, a place, a size, a line; and their floors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.dialog import DialogEngine
from bot.dialog.case import CaseAnswers
from bot.eligibility import Assessor
from bot.evaluation.case import evaluate, load_questions
from bot.faq import FaqIndex
from bot.flows import Dialogs, load_dialogs
from bot.knowledge import Knowledge
from bot.messages import ConversationKey, Incoming, Reply
from bot.storage.memory import MemoryRepository
from bot.understanding import Understander
from tests.conftest import DATA, KNOWLEDGE, ROOT

TUNED = DATA / "case_questions.yaml"
DAY = dt.date(2026, 6, 1)


@pytest.fixture(scope="module")
def dialogs() -> Dialogs:
    """The bundled dialogs."""
    return load_dialogs(ROOT / "dialogs")


@pytest.fixture(scope="module")
def understander(kb: Knowledge, dialogs: Dialogs, assessor: Assessor) -> Understander:
    """The understanding the dialog asks first."""
    return Understander(kb, dialogs, assessor.gazetteer, assessor.classifier)


@pytest.fixture(scope="module")
def answers(kb: Knowledge, dialogs: Dialogs, assessor: Assessor) -> CaseAnswers:
    """The case answers over the bundled knowledge."""
    return CaseAnswers(kb, assessor, dialogs.texts.case)


def _chat(engine: DialogEngine, *texts: str) -> list[Reply]:
    replies: list[Reply] = []
    for n, text in enumerate(texts):
        now = dt.datetime(2026, 6, 1, 8, n, tzinfo=dt.UTC)
        replies = engine.handle(Incoming(ConversationKey("t", "u1"), text=text), now=now)
    return replies


# --- through the engine: what a person on a phone sees ---------------------------------------------


def test_the_communes_own_slots_answer_a_question_once_the_commune_is_known(kb, dialogs, assessor, faq) -> None:
    """Was: 'xã mình … hội chợ mấy suất?' got the national FAQ entry, without the commune's figures."""
    engine = DialogEngine(kb, dialogs, MemoryRepository(), assessor, faq)
    answer = _chat(engine, "kiem tra", "hkd", "lam nuoc mam", "xa vinh thuy quang tri", "hoi cho",
                   "xã mình năm nay hỗ trợ đi hội chợ mấy suất?")  # fmt: skip
    text = "\n".join(r.text for r in answer)
    assert "2 suất" in text and "10 triệu đồng" in text
    assert "Kế hoạch khuyến công năm 2026 xã Vĩnh Thủy, mục V, dòng 3" in text
    assert all(len(r.text) <= 600 for r in answer)


@pytest.mark.parametrize(
    "messages",
    [
        ("hkd lam dich vu cay bua co dc khuyen cong ko",),
        ("kiem tra", "hkd lam homestay co dc khuyen cong ko"),  # at the legal-form step, which it also answers
        ("kiem tra", "hkd lam dich vu cay bua co dc khuyen cong ko"),
    ],
)
def test_an_activity_outside_industry_is_answered_no_even_beside_a_legal_form(
    kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex, messages: tuple[str, ...]
) -> None:
    """Was: the household-business entry ('Có. Hộ kinh doanh …') answered; the activity was ignored."""
    engine = DialogEngine(kb, dialogs, MemoryRepository(), assessor, faq)
    text = "\n".join(r.text for r in _chat(engine, *messages))
    assert "Không." in text and "không phải sản xuất công nghiệp" in text
    assert "Nghị định 45/2012/NĐ-CP, Điều 1 khoản 2" in text
    assert "Có. Hộ kinh doanh" not in text


@pytest.mark.parametrize("question", ["khuyen cong co cho vay von ko", "vay von bao nhieu"])
def test_a_question_about_loans_says_khuyen_cong_lends_nothing(
    kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex, question: str
) -> None:
    """Was: only the relocation-interest line (50 %, 500 triệu) answered 'khuyến công có cho vay vốn không'."""
    engine = DialogEngine(kb, dialogs, MemoryRepository(), assessor, faq)
    text = "\n".join(r.text for r in _chat(engine, question))
    assert text.count("Khuyến công không cho vay tiền") == 1 and "di dời" in text
    assert "500 triệu" not in text


def test_relocation_interest_is_still_answered_with_its_figures(
    kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex
) -> None:
    engine = DialogEngine(kb, dialogs, MemoryRepository(), assessor, faq)
    text = "\n".join(r.text for r in _chat(engine, "di doi xuong vao cum cong nghiep co ho tro lai suat vay khong"))
    assert "50 %" in text and "500 triệu đồng" in text


@pytest.mark.parametrize(
    ("question", "must"),
    [
        ("làm gốm có được hỗ trợ không", ["thủ công mỹ nghệ", "Căn cứ: Nghị định 45/2012/NĐ-CP, Điều 5"]),
        ("phuong hoan kiem co duoc ho tro khong", ["làng nghề", "Nghị định 235/2025/NĐ-CP"]),
        ("doanh nghiệp 250 lao động có được không", ["vượt mức doanh nghiệp vừa", "sản xuất sạch hơn"]),
        ("máy móc hỗ trợ tối đa bao nhiêu", ["50 %", "300 triệu đồng", "(tham khảo)"]),
    ],
)
def test_a_question_naming_a_product_place_size_or_line_is_answered_from_the_data(
    kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex, question: str, must: list[str]
) -> None:
    engine = DialogEngine(kb, dialogs, MemoryRepository(), assessor, faq)
    replies = _chat(engine, "xin chào", question)
    text = "\n".join(r.text for r in replies)
    assert all(m in text for m in must), text
    assert any(b.payload == "menu:eligibility" for b in replies[-1].buttons)


@pytest.mark.parametrize(
    "activity",
    ["homestay", "kinh doanh nhà nghỉ", "bán tạp hóa", "chạy xe tải chở hàng thuê", "trồng lúa", "nuôi heo",
     "quán cà phê", "lò gạch thủ công cải tiến"],
)  # fmt: skip
def test_activities_outside_industry_are_never_answered_yes(
    answers: CaseAnswers, understander: Understander, activity: str
) -> None:
    for question in (f"{activity} có được hỗ trợ không?", f"{activity} có được hỗ trợ máy móc không"):
        got = answers.answer(understander.understand(question), {}, DAY)
        assert got is not None and "❌" in got.text, question
        assert "✅" not in got.text and "Có." not in got.text and "300 triệu" not in got.text


def test_a_line_named_twice_is_answered_once(answers: CaseAnswers, understander: Understander) -> None:
    """Was: 'thiết kế bao bì' read the packaging line twice and the answer said everything twice (3 messages)."""
    slots = {"place": {"code": 19405}}
    got = answers.answer(understander.understand("Xã mình hỗ trợ thiết kế bao bì bao nhiêu?"), slots, DAY)
    assert got is not None and got.text.count("mục V, dòng 2") == 1 and len(got.text) <= 1000


def test_an_expired_plan_says_so(answers: CaseAnswers, understander: Understander) -> None:
    got = answers.answer(understander.understand("Tỉnh Quảng Ngãi có kế hoạch khuyến công gì?"), {}, DAY)
    assert got is not None and "đã hết kỳ" in got.text and "Kế hoạch 98/KH-UBND" in got.text


def test_a_question_that_is_not_about_support_is_left_to_the_faq(
    answers: CaseAnswers, understander: Understander
) -> None:
    for question in ("xe tải chở hàng đi Lạng Sơn mất mấy tiếng", "Khuyến công là gì?"):
        assert answers.answer(understander.understand(question), {}, DAY) is None


def test_no_figure_is_written_in_the_code() -> None:
    """Amounts, shares and caps come from the knowledge: the case package holds no money or percentage."""
    for path in (ROOT / "bot" / "dialog" / "case").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "triệu" not in source and "tỷ" not in source and "%" not in source, path


# --- the evaluation sets and their command -------------------------------------------------------------


def test_the_set_is_large_and_half_without_diacritics() -> None:
    _, questions = load_questions(TUNED)
    assert len(questions) >= 60
    assert sum(q.text.isascii() for q in questions) >= 0.45 * len(questions)


@pytest.mark.parametrize(
    ("name", "floor"),
    [
        ("case_questions.yaml", 0.98),  # the tuned set: 69/69
        ("case_questions_blind.yaml", 0.89),  # written after tuning, run once: 27/30; with the 9 of 3/12: 37/39
    ],
)
def test_evaluation_floors(
    answers: CaseAnswers, understander: Understander, assessor: Assessor, name: str, floor: float
) -> None:
    # Floors just under what each set gives today: a regression fails here.
    today, questions = load_questions(DATA / name)
    result = evaluate(answers, understander, assessor.gazetteer, today, questions)
    assert result.rate >= floor, result.summary() + "\n" + "\n".join(result.errors)


def test_eval_command_prints_the_figure() -> None:
    result = CliRunner().invoke(main, ["kb", "eval-case", str(TUNED), "--knowledge", str(KNOWLEDGE), "--show-errors"])
    assert result.exit_code == 0, result.output
    assert "case answers:" in result.output


@pytest.mark.parametrize(
    "content",
    ["questions: 3\n", "[unclosed\n", "today: 2026-06-01\nquestions:\n  - {text: hi, colour: red}\n",
     "questions: []\n", "today: 2026-06-01\nquestions:\n  - {text: hi, must: [1]}\n"],
)  # fmt: skip
def test_a_malformed_set_exits_2_with_one_line(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(main, ["kb", "eval-case", str(path), "--knowledge", str(KNOWLEDGE)])
    assert result.exit_code == 2, result.output


# --- review of 3/12 (messages typed without diacritics) ------------------------------------------------------


@pytest.mark.parametrize("question", ["hoi chi vay", "cho em hỏi vay được không"])
def test_a_word_of_borrowing_is_told_khuyen_cong_lends_nothing(
    kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex, question: str
) -> None:
    """Was: 'hoi chi vay' got the trade-fair entry, with Bắc Giang's 2021–2025 '400 lượt' as if current."""
    engine = DialogEngine(kb, dialogs, MemoryRepository(), assessor, faq)
    text = "\n".join(r.text for r in _chat(engine, question))
    assert "Khuyến công không cho vay tiền" in text and "Ngân hàng Chính sách xã hội" in text
    assert "hội chợ" not in text


def test_no_generic_answer_quotes_a_past_plans_figures(kb: Knowledge) -> None:
    """Was: the fairs entry (and six others) quoted Bắc Giang's 2021–2025 targets to a question about today."""
    for entry in kb.faq.entries:
        if "bac_giang" in entry.id:
            continue  # a question about that plan itself: answered as the plan of 2021–2025
        assert "Bắc Giang" not in entry.answer and "Quảng Ngãi năm 2025" not in entry.answer, entry.id


def test_the_priority_answer_asks_about_women_and_ethnic_minority_owners(
    answers: CaseAnswers, understander: Understander, assessor: Assessor
) -> None:
    """Was: the criteria still open named area, workers, export… but not the owners Nghị định 235/2025 added."""
    slots = {"activity": "nước mắm", "place": {"code": 19405}}
    found = answers.answer(understander.understand("co so lam nuoc mam cua em co duoc uu tien gi khong"), slots, DAY)
    assert found is not None
    assert "chủ cơ sở là phụ nữ" in found.text and "chủ cơ sở là người dân tộc thiểu số" in found.text
    assert "Nghị định 235/2025/NĐ-CP" in found.text
    said = answers.answer(understander.understand("chu co so la phu nu, co duoc uu tien khong"), slots, DAY)
    assert said is not None and "Cơ sở do phụ nữ làm chủ được ưu tiên" in said.text
    assert "chủ cơ sở là phụ nữ" not in said.text


def test_what_a_question_asks_support_for_is_not_the_persons_product(
    kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex
) -> None:
    """Was: a fish-sauce maker asking for a truck to a fair got '❌ Không. “xe tải chở hàng” không phải sản xuất'."""
    engine = DialogEngine(kb, dialogs, MemoryRepository(), assessor, faq)
    _chat(engine, "hkd lam nuoc mam o xa vinh thuy quang tri", "đúng")
    text = "\n".join(r.text for r in _chat(engine, "xa co cho muon xe tai cho hang di hoi cho khong"))
    assert "❌" not in text and "không phải sản xuất công nghiệp" not in text
    assert "Hỗ trợ tham gia hội chợ, triển lãm: 10 triệu đồng/cơ sở, 2 suất" in text and "tiền thuê gian hàng" in text


def test_the_phone_asked_for_a_named_commune_is_that_communes(
    kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex
) -> None:
    """Was: a Vĩnh Thủy person asking 'so dien thoai xa binh giang' got Vĩnh Thủy's office (the conversation's)."""
    engine = DialogEngine(kb, dialogs, MemoryRepository(), assessor, faq)
    _chat(engine, "hkd lam nuoc mam o xa vinh thuy quang tri", "đúng")
    text = "\n".join(r.text for r in _chat(engine, "so dien thoai xa binh giang"))
    assert "Phòng Kinh tế xã Bình Giang" in text and "Vĩnh Thủy" not in text


def test_the_phone_of_a_name_shared_by_several_provinces_asks_which(
    kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex
) -> None:
    engine = DialogEngine(kb, dialogs, MemoryRepository(), assessor, faq)
    text = "\n".join(r.text for r in _chat(engine, "so dien thoai xa tan thanh"))
    assert "Xã Tân Thành (Quảng Trị)" in text and "kèm tên tỉnh" in text


def test_a_question_naming_an_old_district_says_districts_are_gone(
    answers: CaseAnswers, understander: Understander
) -> None:
    """Was: 'Có nhiều nơi trùng tên: Hưng Yên' for a commune typed with its pre-2025 district."""
    question = "xa tan dan huyen khoai chau hung yen co ke hoach khuyen cong khong"
    found = answers.answer(understander.understand(question), {}, DAY)
    assert found is not None and "không còn cấp huyện" in found.text and "huyện Khoái Châu" in found.text
