"""The data map of docs/security.md, checked against the schema and against what a person really leaves behind."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.dialog import DialogEngine
from bot.eligibility import Assessor
from bot.faq import FaqIndex
from bot.flows import Dialogs, load_dialogs
from bot.knowledge import Knowledge
from bot.messages import ConversationKey, Incoming
from bot.staff.local_faq import Draft, LocalFaqStore, entry_of
from bot.staff.store import EVERYONE, Staff, StaffStore
from bot.storage.sqlite import SqliteRepository
from tests.conftest import ROOT
from tests.test_engine import REGISTRATION, say

DOC = ROOT / "docs" / "security.md"
USER = "chat-of-lan-77"
# What the person typed, as it may be stored: the name, the phone in any form, the facility, the chat id.
TRACES = ("Nguyen Thi Lan", "912345678", "912 345 678", "Co so nuoc mam Lan", USER)
QUESTION = "xe tải chở hàng đi lạng sơn mất mấy tiếng, gọi Lan 0912 345 678"
# Rows of the data map for tables the doc does not list yet (docs/security.md is the integrator's):
# | `handoff_audit` | `actor`, `detail` | who answered, handed back or was reminded of a handoff, and how (staff
#   data; no text of the person) | kept as the record of changes, gone with its handoff | officers, admins |
# `sent_ids` (the message ids Zalo gave our own sends, a week at most) holds no personal data.
NOT_YET_IN_THE_DOC = {"handoff_audit": {"actor", "detail"}}
NOT_YET_WITHOUT = {"sent_ids"}


def data_map() -> tuple[dict[str, set[str]], set[str]]:
    """The tables of the doc's data map with their personal columns, and the tables it says hold none."""
    text = DOC.read_text("utf-8")
    section = text.split("## Data map", 1)[1].split("\n## ", 1)[0]
    personal: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and re.fullmatch(r"`\w+`", cells[0]):
            personal[cells[0].strip("`")] = set(re.findall(r"`(\w+)`", cells[1]))
    none_line = section.split("Tables with no personal data:", 1)[1].split("\n\n", 1)[0]
    for table, columns in NOT_YET_IN_THE_DOC.items():  # the integrator moves these rows into docs/security.md
        personal.setdefault(table, set()).update(columns)
    return personal, set(re.findall(r"`(\w+)`", none_line)) | NOT_YET_WITHOUT


def schema(repo: SqliteRepository) -> dict[str, set[str]]:
    """Every table of a migrated database and its columns."""
    return {t: {c.name for c in repo.db[t].columns} for t in repo.db.table_names()}


def cells_with_traces(repo: SqliteRepository) -> set[tuple[str, str]]:
    """(table, column) of every stored value holding something the person typed."""
    found = set()
    for table, columns in schema(repo).items():
        for column in columns:
            for (value,) in repo.db.execute(f'SELECT "{column}" FROM "{table}"').fetchall():
                if value is not None and any(t in str(value) for t in TRACES):
                    found.add((table, column))
    return found


@pytest.fixture
def dialogs() -> Dialogs:
    return load_dialogs(ROOT / "dialogs")


def everything(repo: SqliteRepository, engine: DialogEngine) -> None:
    """One person down every path that stores something: interview, registration, a question, staff, a webhook."""
    for n, text in enumerate([*REGISTRATION, QUESTION, "gap can bo"], 1):
        say(engine, USER, text, n, message_id=f"m{n}")
    (lead,) = repo.leads_of(ConversationKey("t", USER))
    # Staff answer in the chat; the person gives a number for a call back (kept with its consent).
    handoff = repo.handoffs.active(ConversationKey("t", USER))
    assert handoff is not None
    repo.handoffs.callback(handoff.id, "+84912345678", None)
    repo.handoffs.staff_said(handoff, "Cán bộ Hà", "Cán bộ Hà (xã Vĩnh Thủy): chị Lan, số 0912 345 678 đúng không?")
    StaffStore(repo).update(EVERYONE, lead.ref, "contacted", "Cán bộ Hà", "", "Chị Lan 0912 345 678 hẹn chiều")
    repo.mark_unreachable(ConversationKey("t", USER), 404)
    event = json.dumps({"sender": {"id": USER}, "message": {"text": "số tôi 0912345678"}})
    repo.claim_events([("zalo", "event-1", event)])
    # A webhook turn keeps its replies in the outbox until the platform takes them ("my data" quotes the phone).
    engine.handle(Incoming(ConversationKey("t", USER), text="du lieu cua toi", message_id="m90", reply_to=USER))


def delivered(repo: SqliteRepository) -> None:
    """What the worker does meanwhile: the waiting event's turn runs, and the replies waiting are sent."""
    repo.inbox_done([e.id for e in repo.inbox_after(0, 10)])
    for row_id, _, _ in repo.outbox_of(ConversationKey("t", USER)):
        repo.outbox_sent(row_id)


def test_the_data_map_names_every_table_and_only_real_columns(tmp_path: Path) -> None:
    personal, without = data_map()
    tables = schema(SqliteRepository(tmp_path / "k.db"))
    assert set(personal) | without == set(tables), "a table is missing from the data map, or the map names a gone one"
    assert not set(personal) & without
    for table, columns in personal.items():
        assert columns <= tables[table], f"{table}: {columns - tables[table]} are not columns"


def test_what_a_person_leaves_is_only_where_the_map_says(
    tmp_path: Path, kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex
) -> None:
    repo = SqliteRepository(tmp_path / "k.db")
    everything(repo, DialogEngine(kb, dialogs, repo, assessor, faq))
    personal, _ = data_map()
    found = cells_with_traces(repo)
    assert {"leads", "conversations", "questions", "lead_followup", "handoffs", "outbox", "inbox", "chat_log"} <= {
        t for t, _ in found
    }
    undeclared = {(t, c) for t, c in found if c not in personal.get(t, set())}
    assert not undeclared, f"personal data in columns the data map does not list: {sorted(undeclared)}"


def test_erasure_and_the_purge_leave_nothing_of_the_person(
    tmp_path: Path, kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex
) -> None:
    repo = SqliteRepository(tmp_path / "k.db")
    engine = DialogEngine(kb, dialogs, repo, assessor, faq)
    everything(repo, engine)
    delivered(repo)
    assert "Đã xóa" in say(engine, USER, "xoa du lieu cua toi", 60, "e1") + say(engine, USER, "co", 61, "e2")
    # Only the chat id stays: the erasing message's own id (so a redelivery of it is not run twice) and an
    # empty conversation; nothing the person said.
    left = cells_with_traces(repo)
    assert left <= {("processed", "user"), ("conversations", "user")}, sorted(left)
    assert repo.load(ConversationKey("t", USER)).slots == {}  # type: ignore[union-attr]
    for path in tmp_path.glob("k.db*"):  # nor in the files' free pages or old write-ahead frames
        raw = path.read_bytes()
        assert b"912345678" not in raw and b"Nguyen Thi Lan" not in raw, path.name
    repo.purge("2999-01-01T00:00:00+00:00", "2999-01-01T00:00:00+00:00")
    assert cells_with_traces(repo) == set()


def test_the_retention_purge_alone_leaves_nothing_of_the_person(
    tmp_path: Path, kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex
) -> None:
    repo = SqliteRepository(tmp_path / "k.db")
    everything(repo, DialogEngine(kb, dialogs, repo, assessor, faq))
    delivered(repo)
    repo.purge("2999-01-01T00:00:00+00:00", "2999-01-01T00:00:00+00:00")
    assert cells_with_traces(repo) == set()


def test_a_question_is_kept_without_its_phone_and_a_local_answer_holds_nothing_of_the_person(
    tmp_path: Path, kb: Knowledge, dialogs: Dialogs, assessor: Assessor, faq: FaqIndex
) -> None:
    """Was: the question stored as typed, 'gọi Lan 0912 345 678' shown to staff and kept for the retention period."""
    repo = SqliteRepository(tmp_path / "k.db")
    everything(repo, DialogEngine(kb, dialogs, repo, assessor, faq))
    found = cells_with_traces(repo)
    assert ("questions", "example") not in found and ("questions", "key") not in found
    (asked,) = repo.misses()
    officer = Staff(1, "Cán bộ Hà", (asked["commune_code"],), False)
    draft = Draft(asked["question"], asked["question"], "Dạ, xe khách đi Lạng Sơn khoảng 6 tiếng.")
    LocalFaqStore(repo).add(officer, entry_of(draft, asked["commune_code"], officer.name), asked["key"])
    assert not {t for t, _ in cells_with_traces(repo)} & {"local_faq", "local_faq_audit"}
