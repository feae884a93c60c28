"""FAQ retrieval: accuracy on the evaluation set, refusals, and robustness to how people type."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.evaluation.faq import evaluate, load_eval_set
from bot.faq import FaqIndex
from bot.knowledge import FaqFile, Knowledge
from bot.text import fold
from tests.conftest import DATA

EVAL = DATA / "faq_eval.yaml"


def test_evaluation_set_is_large_and_separate_from_the_faq(kb: Knowledge) -> None:
    data = load_eval_set(EVAL)
    assert len(data.in_scope) >= 300 and len(data.out_of_scope) >= 50
    phrasings = {fold(p) for e in kb.faq.entries for p in [e.question, *e.variants]}
    assert not [q for q, _ in data.in_scope if fold(q) in phrasings]
    assert {i for _, i in data.in_scope} <= {e.id for e in kb.faq.entries}


def test_top1_accuracy_and_refusal_rate_meet_the_bar(faq: FaqIndex) -> None:
    result = evaluate(faq, load_eval_set(EVAL))
    assert result.accuracy >= 0.95, result.summary() + "\n" + "\n".join(result.errors)
    assert result.refusal_rate >= 0.95, result.summary() + "\n" + "\n".join(result.errors)


@pytest.mark.parametrize(
    "question",
    [
        "Hộ kinh doanh có được hỗ trợ khuyến công không?",
        "ho kinh doanh co duoc ho tro khuyen cong khong",
        "hkd co dc ho tro kc ko",
        "HỘ KINH DOANH ĐƯỢC HỖ TRỢ KHÔNG",
        "hộ kinh doanh có đuoc hô trợ khuyen cong ko vậy ạ",
    ],
)
def test_same_answer_with_or_without_diacritics_and_abbreviations(faq: FaqIndex, question: str) -> None:
    answer = faq.ask(question)
    assert answer.matched and answer.faq_id == "ho_kinh_doanh"


def test_typos_and_word_order(faq: FaqIndex) -> None:
    assert faq.ask("khuyen cog la gi").faq_id == "kc_la_gi"
    assert faq.ask("may moc ho tro bao nhieu phan tram").faq_id == faq.ask("bao nhieu phan tram ho tro may moc").faq_id


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("giá vàng hôm nay bao nhiêu", "gia_ca_thi_truong"),
        ("làm sổ đỏ ở đâu", "dat_dai_nha_o"),
        ("đăng ký khai sinh cho con", "ho_tich"),
        ("ngày mai trời có mưa không", "weather"),
    ],
)
def test_out_of_scope_is_refused_politely_with_where_to_ask(faq: FaqIndex, question: str, topic: str) -> None:
    answer = faq.ask(question)
    assert not answer.matched and answer.faq_id is None and answer.out_of_scope == topic
    assert "khuyến công" in answer.answer


def test_rain_with_diacritics_is_not_buying_without(faq: FaqIndex) -> None:
    assert faq.ask("mua máy có được hỗ trợ không").matched


@pytest.mark.parametrize("question", ["kỹ thuật trồng lúa năng suất cao", "heo bị dịch tả thì chữa thế nào"])
def test_farming_questions_are_pointed_to_khuyen_nong(faq: FaqIndex, question: str) -> None:
    answer = faq.ask(question)
    assert answer.matched and answer.faq_id == "khuyen_nong"


@pytest.mark.parametrize("question", ["asdkjh qwe zzz", "", "?!?", "x" * 100_000, "<script>alert(1)</script>"])
def test_nonsense_and_hostile_input_gets_a_polite_no_match(faq: FaqIndex, question: str) -> None:
    answer = faq.ask(question)
    assert not answer.matched and "cán bộ" in answer.answer


def test_unsure_answers_offer_alternatives(faq: FaqIndex) -> None:
    answer = faq.ask("hỗ trợ")
    assert answer.alternatives
    assert all(a.faq_id in faq.entries for a in answer.alternatives)


def test_held_out_set_written_blind_stays_answered(faq: FaqIndex) -> None:
    """A second set, written without seeing the FAQ phrasings; guards against tuning to the first set only."""
    result = evaluate(faq, load_eval_set(DATA / "faq_eval_holdout.yaml"))
    assert result.accuracy >= 0.95, result.summary() + "\n" + "\n".join(result.errors)
    assert result.refusal_rate >= 0.9, result.summary() + "\n" + "\n".join(result.errors)


SUBJECTS = DATA / "faq_eval_subjects.yaml"


def test_subject_set_is_large_and_separate_from_the_faq(kb: Knowledge) -> None:
    data = load_eval_set(SUBJECTS)
    assert len(data.in_scope) >= 40
    phrasings = {fold(p) for e in kb.faq.entries for p in [e.question, *e.variants]}
    assert not [q for q, _ in data.in_scope if fold(q) in phrasings]


def test_the_entry_about_the_subject_named_wins(faq: FaqIndex) -> None:
    """Questions naming a legal form, sector, support line or dossier step (76% before subjects were ranked)."""
    result = evaluate(faq, load_eval_set(SUBJECTS))
    assert result.accuracy >= 0.94, result.summary() + "\n" + "\n".join(result.errors)


@pytest.mark.parametrize(
    "question",
    ["htx lam bun co duoc ho tro khong", "htx bên em có được hỗ trợ không", "HTX chúng tôi làm mộc, có được kc không"],
)
def test_a_cooperative_is_not_answered_about_household_businesses(faq: FaqIndex, question: str) -> None:
    answer = faq.ask(question)
    assert answer.matched and answer.faq_id == "hop_tac_xa"
    assert "Hợp tác xã" in answer.answer


@pytest.mark.parametrize("question", ["những lĩnh vực nào được khuyến công", "cac nganh duoc huong chinh sach kc"])
def test_which_sectors_is_not_answered_with_the_priority_list(faq: FaqIndex, question: str) -> None:
    answer = faq.ask(question)
    assert answer.matched and answer.faq_id == "nganh_nghe_duoc_ho_tro"
    assert "ưu tiên" not in answer.answer.split(".")[0]


def test_a_priority_question_still_gets_the_priority_list(faq: FaqIndex) -> None:
    answer = faq.ask("chế biến chè có được ưu tiên không")
    assert answer.matched and answer.faq_id == "uu_tien_nganh"


@pytest.mark.parametrize(
    "question",
    ["hồ sơ tham gia bình chọn sản phẩm tiêu biểu cần chuẩn bị gì", "ảnh sản phẩm dự bình chọn chụp thế nào"],
)
def test_the_voting_dossier_answer_gives_every_figure_of_the_photos(faq: FaqIndex, question: str) -> None:
    answer = faq.ask(question)
    assert answer.matched, answer
    for figure in ("3", "ảnh màu", "10×15 cm", "chính diện", "mặt bên", "từ trên xuống"):
        assert figure in answer.answer, (figure, answer.answer)


def test_where_a_voting_dossier_goes_names_the_sets_and_the_post(faq: FaqIndex) -> None:
    answer = faq.ask("hồ sơ bình chọn sản phẩm tiêu biểu gửi đến đâu")
    assert answer.faq_id == "binh_chon_nop_o_dau"
    for figure in ("Hội đồng bình chọn", "bưu điện", "2 bộ", "bản điện tử", "liên thông"):
        assert figure in answer.answer, figure


@pytest.mark.parametrize(
    ("question", "figures"),
    [
        ("kế hoạch khuyến công xã vĩnh thủy 2026 hỗ trợ gì", ["130 triệu", "3 cơ sở × 20 triệu", "2 lượt × 10 triệu"]),
        ("chương trình khuyến công bắc giang 2021-2025 tổng kinh phí", ["309.600", "27.700", "30.900", "251.000"]),
        ("kế hoạch khuyến công quảng ngãi năm 2025", ["98/KH-UBND", "4 cơ sở", "789/QĐ-UBND"]),
        ("kế hoạch khuyến công xã bình giang 2026", ["Mẫu 01a", "01b", "Phòng Kinh tế", "02a, 02b"]),
    ],
)
def test_the_plans_in_the_seeds_are_answered_with_their_figures(
    faq: FaqIndex, question: str, figures: list[str]
) -> None:
    answer = faq.ask(question)
    assert answer.matched and answer.status == "P", answer
    for figure in figures:
        assert figure in answer.answer, (figure, answer.answer)


def test_a_subject_no_entry_is_about_is_a_knowledge_error(kb: Knowledge) -> None:
    data = kb.faq.model_dump()
    data["subjects"].append({"tag": "khong_ai_dung", "kind": "line", "terms": ["gì đó"]})
    with pytest.raises(ValidationError, match="khong_ai_dung"):
        FaqFile.model_validate(data)


def test_blind_subject_set_stays_answered(kb: Knowledge, faq: FaqIndex) -> None:
    """20 questions written after tuning and run once: 95% (19/20) then; 90% on the ranking before."""
    data = load_eval_set(DATA / "faq_eval_subjects_blind.yaml")
    phrasings = {fold(p) for e in kb.faq.entries for p in [e.question, *e.variants]}
    assert len(data.in_scope) >= 20 and not [q for q, _ in data.in_scope if fold(q) in phrasings]
    result = evaluate(faq, data)
    assert result.accuracy >= 0.9, result.summary() + "\n" + "\n".join(result.errors)


@pytest.mark.parametrize(
    "name", ["Nguyen Van Binh", "Nguyễn Văn Bình", "Trần Thị Lan", "le van hung", "Phạm Minh Tuấn"]
)
def test_a_personal_name_is_no_question_for_the_faq(faq: FaqIndex, name: str) -> None:
    """Was: 'Nguyen Van Binh' got 'Có. Sản xuất sạch hơn là…' ('nguyên' liệu, tư 'vấn' share its words)."""
    answer = faq.ask(name)
    assert not answer.matched and answer.faq_id is None
    assert "Sản xuất sạch hơn" not in answer.answer


@pytest.mark.parametrize("question", ["Lê phí đăng ký bao nhiêu", "hồ sơ gồm những gì", "Hà Nội có hỗ trợ không"])
def test_a_question_starting_like_a_surname_is_still_answered(faq: FaqIndex, question: str) -> None:
    assert faq.ask(question).matched or faq.ask(question).alternatives
