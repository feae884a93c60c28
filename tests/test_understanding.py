"""Understanding single messages: spans, confidence, traps, hostile text, and the evaluation floors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.evaluation.understanding import evaluate, load_cases
from bot.flows import load_dialogs
from bot.knowledge import Knowledge
from bot.places import Gazetteer
from bot.understanding import Understander, Understanding, slots_of
from tests.conftest import DATA, KNOWLEDGE, ROOT

EVAL = DATA / "understanding_eval.yaml"


@pytest.fixture(scope="module")
def understander(kb: Knowledge, gazetteer: Gazetteer) -> Understander:
    """The understanding over the bundled knowledge and dialogs."""
    return Understander(kb, load_dialogs(ROOT / "dialogs"), gazetteer)


def _typed(u: Understanding, kind: str) -> str:
    fact = u.fact(kind)  # type: ignore[arg-type]
    assert fact is not None, f"no {kind} in {u.text!r}"
    return u.text[fact.start : fact.end]


# --- one whole opener ---------------------------------------------------------------------------


def test_an_opener_gives_every_fact_with_where_it_was_typed(understander: Understander) -> None:
    u = understander.understand("HTX bên em làm chiếu cói ở xã Vĩnh Thủy tỉnh Quảng Trị, muốn xin hỗ trợ máy dệt")
    assert u.intent == "check_eligibility"
    assert [u.fact(k).value for k in ("legal_form", "sector", "commune", "province", "need")] == [  # type: ignore[union-attr]
        "cooperative",
        "handicrafts",
        19405,
        "Quảng Trị",
        "advanced_machinery",
    ]
    assert _typed(u, "legal_form") == "HTX"
    assert _typed(u, "product") == "làm chiếu cói"
    assert _typed(u, "commune") == "xã Vĩnh Thủy"
    assert _typed(u, "province") == "tỉnh Quảng Trị"
    assert _typed(u, "need") == "máy"


def test_the_same_opener_without_diacritics_reads_the_same(understander: Understander) -> None:
    u = understander.understand("htx ben e lam chieu coi o xa vinh thuy tinh quang tri, muon xin ho tro may det")
    assert (u.fact("legal_form").value, u.fact("commune").value, u.fact("sector").value) == (  # type: ignore[union-attr]
        "cooperative",
        19405,
        "handicrafts",
    )


def test_sizes_keep_their_own_numbers(understander: Understander) -> None:
    u = understander.understand("dn may mac doanh thu 40 ty, 120 lao dong, von 15 ty")
    assert u.values("revenue") == [40_000_000_000]
    assert u.values("workers") == [120]
    assert u.values("capital") == [15_000_000_000]
    assert _typed(u, "workers") == "120 lao"


# --- confidence ---------------------------------------------------------------------------------


def test_a_place_typed_with_its_unit_word_is_surer_than_one_without(understander: Understander) -> None:
    marked = understander.understand("xã Bình Giang tỉnh Ninh Bình").fact("commune")
    bare = understander.understand("binh giang ninh binh").fact("commune")
    typo = understander.understand("xa binh giangg ninh binh").fact("commune")
    assert marked and bare and typo
    assert marked.value == bare.value == typo.value
    assert marked.confidence > bare.confidence > typo.confidence


def test_the_form_denied_is_below_the_form_stated(understander: Understander) -> None:
    u = understander.understand("không phải hộ kinh doanh, là công ty")
    assert u.intent == "correction"
    assert u.fact("legal_form").value == "enterprise"  # type: ignore[union-attr]


def test_an_amount_wanted_is_not_the_revenue(understander: Understander) -> None:
    assert understander.understand("em muốn vay 500 triệu mua máy").values("revenue") == []


# --- traps: folded words that collide -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("xã mình năm nay hỗ trợ đi hội chợ mấy suất?", "commune"),  # 'xã mình' names no commune
        ("hợp tác xã ạ", "commune"),  # the 'xã' of 'hợp tác xã'
        ("cho hỏi chế độ hỗ trợ thế nào", "sector"),  # 'chế' is not 'chè'
        ("có khi nào hết hạn không", "sector"),  # 'có khi' is not 'cơ khí'
        ("mấy người được hỗ trợ?", "need"),  # 'mấy' is not 'máy'
        ("có được hỗ trợ không", "legal_form"),  # 'hỗ' is not 'hộ'
    ],
)
def test_a_word_that_folds_like_another_is_not_read_as_it(understander: Understander, text: str, kind: str) -> None:
    assert understander.understand(text).fact(kind) is None  # type: ignore[arg-type]


def test_rattan_is_a_product_not_a_machine(understander: Understander) -> None:
    u = understander.understand("to hop tac dan may tre")
    assert u.fact("sector").value == "handicrafts"  # type: ignore[union-attr]
    assert u.fact("need") is None


def test_what_comes_after_chu_khong_phai_is_not_the_product(understander: Understander) -> None:
    u = understander.understand("nham roi, lam banh da chu khong phai banh trang")
    assert u.intent == "correction"
    assert u.values("product") == ["lam banh da"]


# --- contact only where asked -------------------------------------------------------------------


def test_a_phone_and_a_name_are_read_only_at_their_steps(understander: Understander) -> None:
    text = "em là Lan, sdt 0912 345 678"
    assert understander.understand(text).fact("phone") is None
    phone = understander.understand(text, "phone").fact("phone")
    assert phone is not None and phone.value == "+84912345678" and text[phone.start : phone.end] == "0912 345 678"
    name = understander.understand("tên tôi là Nguyễn Thị Lan", "name").fact("name")
    assert name is not None and name.value == "Nguyễn Thị Lan"
    assert understander.understand("Minh Anh", "name").fact("name").value == "Minh Anh"  # type: ignore[union-attr]
    assert understander.understand('=HYPERLINK("http://x")', "name").fact("name") is None


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("thôi không cần", "skip"),
        ("để sau", "skip"),
        ("nhờ cán bộ gọi lại buổi chiều", "talk_to_staff"),
        ("không có gì", "skip"),
        ("ko bit", "dont_know"),
        ("cảm ơn ad nhiều nhé", "thanks"),
        ("xóa dữ liệu của tôi", "delete_my_data"),
        ("e muon dky", "register"),
    ],
)
def test_natural_replies(understander: Understander, text: str, intent: str) -> None:
    assert understander.understand(text, "note").intent == intent


# --- hostile text -------------------------------------------------------------------------------


def _spans_hold(u: Understanding) -> None:
    for item in (*u.facts, *u.intents):
        assert 0 <= item.start <= item.end <= len(u.text)
        assert 0.0 <= item.confidence <= 1.0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(max_size=300),
    step=st.sampled_from([None, "legal_form", "place", "workers", "revenue", "phone", "name", "needs", "note"]),
)
def test_any_text_is_read_without_error(understander: Understander, text: str, step: str | None) -> None:
    _spans_hold(understander.understand(text, step))


@pytest.mark.parametrize(
    "text",
    [
        "hkd làm nước mắm " * 6000,  # 100 KB
        "xã " * 40000,
        "\ud800 hkd \udfff lam nuoc mam o vinh thuy quang tri",  # lone surrogates, as JSON allows
        "9" * 5000 + " lao động",
        "𝕙𝕜𝕕 𝕝𝕒𝕞 𝕟𝕦𝕠𝕔 𝕞𝕒𝕞",
        "a\u0301" * 2000,  # NFD marks
        "",
    ],
)
def test_hostile_text_is_read_without_error(understander: Understander, text: str) -> None:
    for step in (None, "place", "phone", "name", "revenue"):
        _spans_hold(understander.understand(text, step))


# --- the evaluation set and its command ----------------------------------------------------------


def test_evaluation_set_is_large_and_half_without_diacritics() -> None:
    cases = load_cases(EVAL)
    assert len(cases) >= 150
    assert sum(c.text.isascii() for c in cases) >= 0.4 * len(cases)


@pytest.mark.parametrize(
    ("name", "intent", "recall", "precision"),
    [
        ("understanding_eval.yaml", 0.98, 0.97, 0.95),  # the tuned set
        # Written after tuning; lexicon gaps keep recall lower. The 16 lines of the review of 3/12 brought two
        # products the lexicon lacked (trà, đồ mã): first run 82.9%. 'đồ mã' was a real gap and is now in the
        # lexicon (85.7%); bare 'tra' stays out ('kiểm tra'). The floor stays where it was before the set grew.
        ("understanding_blind.yaml", 0.97, 0.85, 0.80),
    ],
)
def test_evaluation_floors(
    understander: Understander, gazetteer: Gazetteer, name: str, intent: float, recall: float, precision: float
) -> None:
    # Floors just under what each set gives today: a regression fails here.
    result = evaluate(understander, gazetteer, load_cases(DATA / name))
    assert result.intent_accuracy >= intent, result.summary()
    for kind, counts in result.kinds.items():
        assert counts.recall >= recall, f"{kind}: {result.summary()}"
        assert counts.precision >= precision, f"{kind}: {result.summary()}"


def test_eval_command_prints_the_figures() -> None:
    result = CliRunner().invoke(main, ["kb", "eval-understanding", str(EVAL), "--knowledge", str(KNOWLEDGE)])
    assert result.exit_code == 0, result.output
    assert "intent accuracy" in result.output and "commune" in result.output


@pytest.mark.parametrize(
    "content",
    [
        "messages: 3\n",
        "[unclosed\n",
        "messages:\n  - {text: hi, colour: red}\n",
        "messages:\n  - {text: hi, step: [1]}\n",
    ],
)
def test_eval_command_refuses_a_bad_file_in_one_line(tmp_path: Path, content: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(main, ["kb", "eval-understanding", str(bad), "--knowledge", str(KNOWLEDGE)])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1, result.output


# --- slots for the dialog -----------------------------------------------------------------------


def test_an_opener_fills_the_interview_slots(understander: Understander, gazetteer: Gazetteer) -> None:
    u = understander.understand("hkd lam nuoc mam o xa vinh thuy quang tri, can may moc")
    slots = slots_of(u, gazetteer)
    assert slots.values["legal_form"] == "household_business"
    assert slots.values["activity"] == "lam nuoc mam"  # what the person typed stays the product
    assert slots.values["sector"] == "agro_food_processing"  # the sector beside it
    assert slots.values["place"]["code"] == 19405
    assert slots.values["needs"] == ["advanced_machinery"]
    assert not slots.to_confirm


def test_a_place_read_through_a_typo_is_to_confirm(understander: Understander, gazetteer: Gazetteer) -> None:
    slots = slots_of(understander.understand("xa binh giangg ninh binh"), gazetteer)
    assert slots.values["place"]["code"] == understander.understand("xã Bình Giang, Ninh Bình").fact("commune").value  # type: ignore[union-attr]
    assert "place" in slots.to_confirm


def test_a_commune_in_several_provinces_offers_them(understander: Understander, gazetteer: Gazetteer) -> None:
    slots = slots_of(understander.understand("em ở xã Vĩnh Tuy"), gazetteer)
    assert "place" not in slots.values
    assert len(slots.place_choices) >= 2


# --- a commune named without 'xã' (review of issue 11) -------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["vinh thuy nam nay co bao nhieu tien khuyen cong", "vĩnh thủy có hỗ trợ đào tạo nghề không", "em làm ở vinh thủy"],
)
def test_a_commune_named_without_xa_is_read_less_surely_than_with_it(understander: Understander, text: str) -> None:
    u = understander.understand(text)
    bare, marked = u.fact("commune"), understander.understand("xã Vĩnh Thủy").fact("commune")
    assert bare is not None and marked is not None, text
    assert bare.value == 19405 and u.fact("province").value == "Quảng Trị"  # type: ignore[union-attr]
    assert 0.5 <= bare.confidence < marked.confidence


def test_an_ambiguous_bare_commune_name_is_offered_as_choices(understander: Understander) -> None:
    u = understander.understand("binh giang co ho tro ban hang online ko")
    fact = u.fact("commune")
    assert fact is not None and fact.value is None and len(fact.alternatives) == 3
    assert u.text[fact.start : fact.end] == "binh giang"


@pytest.mark.parametrize(
    "text",
    [
        "là gì",  # La Gi
        "trung tam khuyen cong o dau",  # Trung Tâm
        "htx ben e o quang tri",  # the province, not Phường Quảng Trị
        "lam son mai co duoc ho tro khong",  # a craft before a commune
        "nha em o tien tien",  # ordinary words
        "vinh",  # one word alone
    ],
)
def test_ordinary_words_are_not_read_as_a_bare_commune(understander: Understander, text: str) -> None:
    assert understander.understand(text).fact("commune") is None, text


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("doanh thu 50000000000", "revenue", 50_000_000_000),
        ("dt 3.000.000.000", "revenue", 3_000_000_000),
        ("doanh thu 50.000.000.000, 20 lao động", "revenue", 50_000_000_000),
        ("vốn 800.000.000", "capital", 800_000_000),
    ],
)
def test_a_sum_written_out_in_dong_after_its_cue_is_read(
    understander: Understander, text: str, kind: str, value: int
) -> None:
    """Was (second user review): 'doanh thu 50000000000' was not read, and the revenue was asked again."""
    found = understander.understand(text)
    assert [f.value for f in found.facts if f.kind == kind] == [value]


# --- review of 3/12 (messages typed without diacritics) ------------------------------------------------------


@pytest.mark.parametrize("step", [None, "legal_form"])
def test_ho_tro_is_support_never_a_household(understander: Understander, step: str | None) -> None:
    """Was: 'ho tro' (hỗ trợ) read as 'hộ' at the legal-form step: 'Tôi hiểu: hộ kinh doanh' to a question."""
    u = understander.understand("nam nay xa minh ho tro di trien lam duoc may luot", step)
    assert u.fact("legal_form") is None
    assert u.intent == "ask_question"
    assert understander.understand("ho thoi", "legal_form").values("legal_form") == ["household_business"]


@pytest.mark.parametrize(
    ("text", "revenue"),
    [
        ("doanh thu tam nam tram trieu mot nam", 500_000_000),
        ("doanh thu tầm năm trăm triệu", 500_000_000),
        ("dt tam 2 ty moi nam", 2_000_000_000),
        ("doanh thu tam tram trieu", 800_000_000),
        ("doanh thu tám trăm triệu", 800_000_000),
        ("doanh thu tam muoi trieu", 80_000_000),
    ],
)
def test_tam_before_a_number_is_about_not_eight(understander: Understander, text: str, revenue: int) -> None:
    """Was: 'tam năm trăm triệu' (tầm = about 500 triệu) read as tám (8) then 500: 1,3 tỷ."""
    fact = understander.understand(text).fact("revenue")
    assert fact is not None and fact.value == revenue and fact.confidence >= 0.8


@pytest.mark.parametrize("text", ["ho gia dinh thoi, chua dang ky gi", "hộ gia đình thôi, chưa đăng ký gì cả"])
def test_a_household_not_registered_is_unregistered_and_asks_nothing(understander: Understander, text: str) -> None:
    """Was: read as a household business and as a question ('gì'): an FAQ, then the same question again."""
    u = understander.understand(text, "legal_form")
    assert u.values("legal_form") == ["unregistered"]
    assert all(i.intent != "ask_question" for i in u.intents)
