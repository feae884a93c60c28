"""The dialog listens: whole messages fill the interview, few messages suffice, and no question repeats without end."""

from __future__ import annotations

import datetime as dt
import functools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dialog import MAX_MISSES, DialogEngine, EngineConfig
from bot.eligibility import Assessor
from bot.faq import FaqIndex
from bot.flows import Dialogs, load_dialogs
from bot.knowledge import Knowledge, load_knowledge
from bot.messages import ConversationKey, Incoming, Reply
from bot.storage.memory import MemoryRepository
from bot.text import fold
from tests.conftest import ROOT
from tests.test_transcripts import START, dialogs  # noqa: F401  (the session fixture)

KEY = ConversationKey("test", "u1")


def _engine(kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex) -> DialogEngine:  # noqa: F811
    return DialogEngine(kb, dialogs, MemoryRepository(), assessor, faq)


@functools.cache
def _bundled() -> tuple[Knowledge, Dialogs, Assessor, FaqIndex]:
    """The bundled knowledge and dialogs, loaded once (hypothesis runs take no pytest fixtures)."""
    kb = load_knowledge(ROOT / "knowledge")
    faq = FaqIndex(kb.faq, kb.out_of_scope, kb.abbreviations.abbreviations, kb.abbreviations.phrases)
    return kb, load_dialogs(ROOT / "dialogs"), Assessor(kb), faq


def _shared_engine() -> tuple[DialogEngine, Dialogs]:
    """A fresh engine (a new in-memory database) over the bundled knowledge."""
    kb, flows, assessor, faq = _bundled()
    return _engine(kb, flows, assessor, faq), flows


def _send(engine: DialogEngine, n: int, text: str | None = None, tap: str | None = None) -> list[Reply]:
    return engine.handle(Incoming(KEY, text=text, button=tap), now=START + dt.timedelta(minutes=n))


def _conversation(engine: DialogEngine, messages: list[str]) -> tuple[int, list[list[Reply]]]:
    """Play messages ('tap:payload' taps a button); the count of messages sent and each turn's replies."""
    turns = []
    for n, m in enumerate(messages, 1):
        turns.append(_send(engine, n, tap=m[4:]) if m.startswith("tap:") else _send(engine, n, text=m))
    return len(messages), turns


def _cited_result(replies: list[Reply]) -> bool:
    said = fold(" ".join(r.text for r in replies))
    return "du dieu kien" in said and "nghi dinh" in said


OPENERS = [
    "HTX bên em làm chiếu cói ở xã Vĩnh Thủy tỉnh Quảng Trị, muốn xin hỗ trợ máy dệt",
    "hkd lam nuoc mam o xa vinh thuy quang tri, muon dang ky ho tro may moc",
    "Hộ kinh doanh làm bánh tráng ở xã Vĩnh Thủy, Quảng Trị, cần hỗ trợ bao bì",
]


def test_a_person_who_states_everything_is_registered_within_six_messages(kb, dialogs, assessor, faq) -> None:  # noqa: F811
    """Was: every fact of the opener ignored, then legal form, product and place asked one by one (13 messages)."""
    for opener in OPENERS:
        engine = _engine(kb, dialogs, assessor, faq)
        messages = [opener, "tap:yes:", "tap:yes:", "Nguyễn Thị Lan, 0912 345 678, Cơ sở Thu Hà", "xác nhận"]
        count, turns = _conversation(engine, messages)
        assert "Tôi hiểu" in turns[0][-1].text, opener
        assert _cited_result(turns[0]) or _cited_result(turns[1]), opener
        leads = engine.repo.leads_of(KEY)
        assert count <= 6 and len(leads) == 1, (opener, [r.text for t in turns for r in t][-3:])
        assert leads[0].name == "Nguyễn Thị Lan" and leads[0].phone == "+84912345678"
        assert leads[0].facility_name == "Cơ sở Thu Hà" and leads[0].commune_code == 19405


@pytest.mark.parametrize(
    "opener", ["hkd lam nuoc mam o xa vinh thuy quang tri", "Hộ kinh doanh làm nước mắm ở xã Vĩnh Thủy, Quảng Trị"]
)
def test_legal_form_product_and_place_alone_are_registered_within_six_messages(
    kb,
    dialogs,  # noqa: F811
    assessor,
    faq,
    opener: str,
) -> None:
    """The Done-when case exactly: an opener with the three facts and nothing else; the result in the 2nd reply."""
    engine = _engine(kb, dialogs, assessor, faq)
    messages = [opener, "đúng", "tap:menu:register", "đồng ý", "Nguyễn Thị Lan, 0912 345 678, Cơ sở Thu Hà"]
    count, turns = _conversation(engine, [*messages, "xác nhận"])
    assert "Tôi hiểu" in turns[0][-1].text and _cited_result(turns[1])
    (lead,) = engine.repo.leads_of(KEY)
    assert count == 6 and lead.facility_name == "Cơ sở Thu Hà" and lead.profile["legal_form"] == "household_business"


STEP_BY_STEP = ["xin chào", "tap:menu:register", "ho kinh doanh", "lam nuoc mam", "xa vinh thuy quang tri"]
STEP_BY_STEP += ["may moc", "tap:yes:", "Nguyen Thi Lan", "0912345678", "Co so Thu Ha", "bo qua", "xac nhan"]


def test_a_person_who_states_nothing_is_registered_within_twelve_messages(kb, dialogs, assessor, faq) -> None:  # noqa: F811
    engine = _engine(kb, dialogs, assessor, faq)
    count, turns = _conversation(engine, STEP_BY_STEP)
    assert count <= 12 and len(engine.repo.leads_of(KEY)) == 1, [r.text for r in turns[-1]]


def test_my_data_shows_the_day_as_people_write_it(kb, dialogs, assessor, faq) -> None:  # noqa: F811
    """Was: 'đăng ký ngày 2026-06-01', an ISO date."""
    engine = _engine(kb, dialogs, assessor, faq)
    _conversation(engine, STEP_BY_STEP)
    shown = " ".join(r.text for r in _send(engine, 50, text="dữ liệu của tôi"))
    assert "đăng ký ngày" in shown and re.search(r"\d{2}/\d{2}/\d{4}", shown), shown
    assert not re.search(r"\d{4}-\d{2}-\d{2}", shown), shown


def test_a_sector_button_keeps_the_product_typed(kb, dialogs, assessor, faq) -> None:  # noqa: F811
    """Was: the sector's name was stored as the product, so staff never learnt what the facility makes."""
    engine = _engine(kb, dialogs, assessor, faq)
    _conversation(engine, ["tap:menu:eligibility", "hkd", "làm zzkhô qq", "làm zzkhô qq"])
    _send(engine, 10, tap="sector:agro_food_processing")
    conv = engine.repo.load(KEY)
    assert conv is not None
    assert conv.slots["activity"] == "làm zzkhô qq" and conv.slots["sector"] == "agro_food_processing"


# --- no question repeats without end -----------------------------------------------------------------

NOISE = [
    "",
    "?",
    "abc",
    "xyz qqq",
    "cảm ơn",
    "xin chào",
    "ok",
    "không",
    "có",
    "đúng",
    "123",
    "2",
    "=1+1",
    "<b>hi</b>",
    "😀",
    "hkd",
    "lam nuoc mam",
    "xa vinh thuy quang tri",
    "không phải, là hợp tác xã",
    "hộ kinh doanh có được hỗ trợ máy móc không?",
    "bao nhiêu tiền?",
    "thủ tục thế nào",
    "không biết",
    "để sau",
    "tap:yes:",
    "tap:no:",
    "tap:ans:bogus",
    "tap:sector:bogus",
    "tap:place:1",
    "tap:faq:none",
    "binh giang",
    "quang tri",
    "2",
    "999999999999 người",
]
ENTERPRISE = "cty lam co khi o xa vinh thuy quang tri, 20 lao dong"
_PENDING = (
    "Tôi hiểu:",
    "Ý bà con là",
    "Bà con có đồng ý không",
    "kiểm tra lại thông tin đăng ký",
    "chắc chắn muốn xóa",
)


def _questions(dialogs: Dialogs, replies: list[Reply]) -> set[str]:  # noqa: F811
    """The step prompts and pending questions a turn's replies ask."""
    said = " ".join(r.text for r in replies)
    prompts = {s.prompt for f in dialogs.flows.values() for s in f.steps if s.prompt in said}
    return prompts | {p for p in _PENDING if p in said}


@settings(max_examples=120, deadline=None)
@given(
    start=st.sampled_from(["tap:menu:eligibility", "tap:menu:register", OPENERS[1], "hkd lam nuoc mam", ENTERPRISE]),
    messages=st.lists(st.sampled_from(NOISE) | st.text(max_size=20), min_size=1, max_size=14)
    | st.sampled_from(NOISE).map(lambda m: [m] * 8),  # the same message again and again
)
def test_no_sequence_of_messages_repeats_a_question_without_end(start: str, messages: list[str]) -> None:
    """Was: a digression, an empty message or small talk asked the same question again and again, uncounted."""
    engine, flows = _shared_engine()
    runs: dict[str, int] = {}
    _, turns = _conversation(engine, [start, *messages])
    for replies in turns:
        asked = _questions(flows, replies)
        runs = {q: runs.get(q, 0) + 1 for q in asked}
        too_often = {q: n for q, n in runs.items() if n > MAX_MISSES + 1}
        assert not too_often, (start, messages, too_often)


def test_garbage_forever_ends_in_the_menu_and_staff(kb, dialogs, assessor, faq) -> None:  # noqa: F811
    """Every re-ask counts: after the miss limit the person is offered the buttons and staff, then no more asks."""
    engine = _engine(kb, dialogs, assessor, faq)
    _, turns = _conversation(engine, ["tap:menu:eligibility", "abc", "", "cảm ơn", "xyz", "qqq", "www"])
    prompt = dialogs.flows["eligibility"].step("legal_form").prompt  # type: ignore[union-attr]
    asked = [prompt in " ".join(r.text for r in t) for t in turns]
    assert asked.count(True) <= MAX_MISSES + 1, asked
    offered = {b.payload for r in turns[MAX_MISSES] for b in r.buttons}
    assert "cmd:staff" in offered and "ans:household_business" in offered
    assert not asked[-1]


def test_the_summary_shows_no_code_nor_iso_date(kb, dialogs, assessor, faq) -> None:  # noqa: F811
    """Support lines read from the person's words lie outside the step's buttons: shown by name, never by code."""
    engine = _engine(kb, dialogs, assessor, faq)
    opener = "hkd lam nuoc mam o xa vinh thuy quang tri, muốn hỗ trợ đăng ký nhãn hiệu và chuyển đổi số"
    _, turns = _conversation(engine, [opener, "tap:yes:", "tap:yes:", "Lan, 0912345678, Cơ sở Lan"])
    summary = " ".join(r.text for r in turns[-1])
    assert "kiểm tra lại thông tin đăng ký" in summary and "nhãn hiệu" in summary, summary
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", summary) and not re.search(r"\d{4}-\d{2}-\d{2}", summary), summary


def test_the_lead_keeps_the_product_typed_beside_the_sector_chosen(kb, dialogs, assessor, faq) -> None:  # noqa: F811
    """What staff see (the lead's profile, shown as 'Sản phẩm' in the dashboard) is what the facility makes."""
    engine = _engine(kb, dialogs, assessor, faq)
    messages = ["tap:menu:register", "hkd", "làm zzkhô qq", "làm zzkhô qq", "tap:sector:agro_food_processing"]
    messages += ["xa vinh thuy quang tri", "tap:ans:none", "tap:yes:", "Lan, 0912345678, Cơ sở Lan", "xác nhận"]
    _conversation(engine, messages)
    (lead,) = engine.repo.leads_of(KEY)
    assert lead.profile["activity"] == "làm zzkhô qq" and lead.profile["sector"] == "agro_food_processing"


def test_a_product_typed_without_diacritics_is_shown_as_the_lexicon_spells_it(kb, dialogs, assessor, faq) -> None:  # noqa: F811
    """Was: 'Sản phẩm: lam chieu coi' in the summary; the lead keeps what was typed."""
    engine = _engine(kb, dialogs, assessor, faq)
    messages = ["tap:menu:register", "hkd", "lam chieu coi", "xa vinh thuy quang tri", "tap:ans:none"]
    messages += ["tap:yes:", "Lan, 0912345678, Cơ sở Lan"]
    _, turns = _conversation(engine, messages)
    summary = " ".join(r.text for r in turns[-1])
    assert "Sản phẩm: làm chiếu cói" in summary, summary
    _send(engine, 20, text="xác nhận")
    (lead,) = engine.repo.leads_of(KEY)
    assert lead.profile["activity"] == "lam chieu coi"


# --- review of 3/12 (messages typed without diacritics) ------------------------------------------------------


def _home_engine(kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex) -> DialogEngine:  # noqa: F811
    """An engine deployed by xã Vĩnh Thủy (its plan: 2 fair slots of 10 triệu đồng)."""
    config = EngineConfig(default_locality="quang-tri/vinh-thuy")
    return DialogEngine(kb, dialogs, MemoryRepository(), assessor, faq, config)


def test_ho_tro_at_the_legal_form_step_is_a_question_answered_from_the_plan(kb, dialogs, assessor, faq) -> None:  # noqa: F811
    """Was: 'ho tro' read as 'hộ' (kinh doanh), the question unanswered, the product asked next."""
    engine = _home_engine(kb, dialogs, assessor, faq)
    _, turns = _conversation(engine, ["kiem tra dieu kien", "xa minh nam nay ho tro hoi cho may suat"])
    said = " ".join(r.text for r in turns[1])
    assert "2 suất" in said and "10 triệu đồng" in said
    assert "thuộc loại nào" in turns[1][-1].text  # the legal form is still to be said
    assert "hộ kinh doanh" not in engine.repo.load(KEY).slots.get("legal_form", "")  # type: ignore[union-attr]


def test_a_machine_named_with_sao_che_is_the_need_not_a_question(kb, dialogs, assessor, faq) -> None:  # noqa: F811
    """Was: 'máy sao chè' read as a question ('sao'), the need dropped, the result listing training."""
    engine = _engine(kb, dialogs, assessor, faq)
    _, turns = _conversation(engine, ["hkd che kho o xa tan cuong thai nguyen can may sao che", "tap:yes:"])
    assert "cần máy móc" in turns[0][-1].text
    result = " ".join(r.text for r in turns[1])
    assert "Khoản hỗ trợ hợp với cơ sở:\n• Ứng dụng máy móc" in result and "Đào tạo" not in result


def test_a_household_not_registered_is_taken_as_unregistered(kb, dialogs, assessor, faq) -> None:  # noqa: F811
    """Was: an FAQ answer and the legal-form question again."""
    engine = _engine(kb, dialogs, assessor, faq)
    _, turns = _conversation(engine, ["kiem tra dieu kien", "ho gia dinh thoi, chua dang ky gi"])
    assert "sản phẩm gì" in turns[1][-1].text
    assert engine.repo.load(KEY).slots["legal_form"] == "unregistered"  # type: ignore[union-attr]


def test_drying_said_after_a_no_for_growing_is_reassessed(kb, dialogs, assessor, faq) -> None:  # noqa: F811
    """Was: the bot itself said drying is covered, and 'có, nhà em còn sấy tiêu' got 'chưa tìm được câu trả lời'."""
    engine = _engine(kb, dialogs, assessor, faq)
    messages = ["nha em trong tieu o xa vinh thuy quang tri", "co, nha em con say tieu dong goi ban nua"]
    _, turns = _conversation(engine, [*messages, "tap:ans:household_business", "tap:yes:"])
    assert "❌ Không" in " ".join(r.text for r in turns[0])
    said = " ".join(r.text for t in turns[1:] for r in t)
    assert "chưa tìm được" not in said and "sấy tiêu" in said
    assert "✅" in " ".join(r.text for r in turns[3])
    assert engine.repo.load(KEY).slots["activity"].startswith("say tieu")  # type: ignore[union-attr]


def test_a_product_alone_as_an_opener_starts_the_check(kb, dialogs, assessor, faq) -> None:  # noqa: F811
    """Was: 'em lam gom' got 'Xin lỗi, tôi chưa hiểu ý' (gốm was understood only at the product step)."""
    engine = _engine(kb, dialogs, assessor, faq)
    _, turns = _conversation(engine, ["em lam gom"])
    said = " ".join(r.text for r in turns[0])
    assert "chưa hiểu" not in said and "làm gốm" in said and "thuộc loại nào" in turns[0][-1].text


def test_the_menu_after_a_pause_keeps_the_menus_order(kb, dialogs, assessor, faq) -> None:  # noqa: F811
    """A person who types '7' from memory gets the same entry from both menus ('Gặp cán bộ' is 6 in both)."""
    engine = _engine(kb, dialogs, assessor, faq)
    _, turns = _conversation(engine, ["tap:menu:eligibility", "asdf", "", "cảm ơn", "qwerty"])
    paused = turns[-1][-1]
    assert "tạm dừng" in paused.text
    menu = [item.label for item in dialogs.menu.items]
    assert [b.label for b in paused.buttons] == menu, [b.label for b in paused.buttons]


def test_a_result_followed_at_once_by_the_consent_shows_only_the_consents_choices(kb, dialogs, assessor, faq) -> None:  # noqa: F811
    """Two numbered lists in one turn made a '1' typed on a phone mean two things."""
    engine = _engine(kb, dialogs, assessor, faq)
    _, turns = _conversation(engine, ["hkd lam banh trang o xa vinh thuy quang tri can may say", "tap:yes:"])
    last = turns[-1]
    assert "đồng ý không" in last[-1].text and [b.payload for b in last[-1].buttons] == ["yes:", "no:"]
    assert [r.text[:30] for r in last[:-1] if r.buttons] == []
