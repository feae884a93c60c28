"""Slots of a commune's plan: the bot says honestly when a line's planned slots are all asked for."""

from __future__ import annotations

import pytest

from bot.eligibility import Assessor
from bot.faq import FaqIndex
from bot.flows import Dialogs, load_dialogs
from bot.knowledge import Knowledge
from bot.slots import Demand, line_slots
from bot.storage.memory import MemoryRepository
from bot.storage.sqlite import SqliteRepository
from tests.conftest import ROOT, Store
from tests.test_engine import REGISTRATION, engine_on, say
from tests.test_exports import add_lead
from tests.test_result_shape import talk

VINH_THUY = 19405  # its plan funds 3 facilities for machinery (knowledge/localities/quang-tri/vinh-thuy.yaml)
OVER = "đã có 5 đăng ký cho 3 suất; xã xét theo thứ tự ưu tiên; bà con vẫn đăng ký được"


@pytest.fixture(scope="module")
def flows() -> Dialogs:
    """The bundled dialogs."""
    return load_dialogs(ROOT / "dialogs")


def registered(repo: SqliteRepository, n: int, status: str = "new") -> None:
    """`n` more leads of other chats wanting machinery in Vĩnh Thủy, each with its own phone."""
    start = repo.db.execute("SELECT count(*) FROM leads").fetchone()[0]
    for i in range(n):
        add_lead(repo, 100 + start + i, status=status)


def test_the_result_tells_the_sixth_applicant_that_five_registered_for_three_slots(
    kb: Knowledge, flows: Dialogs, assessor: Assessor, faq: FaqIndex
) -> None:
    repo = MemoryRepository()
    registered(repo, 5)
    registered(repo, 2, status="withdrawn")  # no longer asking: not counted
    engine = engine_on(repo, kb, flows, assessor, faq)
    replies = [say(engine, "six", text, minute=i) for i, text in enumerate(REGISTRATION[:5])]
    result = replies[-1]
    assert OVER in result and "3 suất" not in result.replace(OVER, "")
    everything = talk(engine, ["kiem tra", "hkd", "lam nuoc mam", "xa vinh thuy quang tri", "may moc", "@result:all"])
    assert OVER in " ".join(r.text for r in everything)  # "Xem tất cả nội dung hỗ trợ" says it too
    confirmed = [say(engine, "six", text, minute=9 + i) for i, text in enumerate(REGISTRATION[5:])][-1]
    assert "Mã đăng ký" in confirmed
    assert "Khoản “Hỗ trợ ứng dụng máy móc, thiết bị tiên tiến vào sản xuất”: đã có 6 đăng ký cho 3 suất" in confirmed


def test_with_free_slots_the_result_says_the_plan_as_before(
    kb: Knowledge, flows: Dialogs, assessor: Assessor, faq: FaqIndex
) -> None:
    repo = MemoryRepository()
    registered(repo, 1)
    engine = engine_on(repo, kb, flows, assessor, faq)
    replies = [say(engine, "two", text, minute=i) for i, text in enumerate(REGISTRATION)]
    assert "3 suất" in replies[4] and "đăng ký cho" not in replies[4]
    assert "đăng ký cho" not in replies[-1] and "Mã đăng ký" in replies[-1]


def test_slots_count_live_registrations_and_approvals_per_line(kb: Knowledge, store: Store) -> None:
    repo = store.open()
    registered(repo, 4)
    registered(repo, 1, status="supported")
    registered(repo, 1, status="declined")
    demand = repo.line_demand([VINH_THUY])[VINH_THUY]
    assert demand == {"advanced_machinery": Demand(registered=5, approved=1)}
    machinery = next(s for s in line_slots(kb.localities, VINH_THUY, demand) if s.code == "advanced_machinery")
    assert (machinery.planned, machinery.registered, machinery.approved, machinery.remaining) == (3, 5, 1, 2)
    assert machinery.over and machinery.amount_vnd == 20_000_000 and machinery.total_vnd == 60_000_000
