"""No internal code where a person reads: every dashboard page (every GET route, found from the router),
every export, the Telegram notices and a corpus of chat replies show Vietnamese, never `household_business`,
`contacted`, `jsonl`, an ISO date, a raw 11-digit revenue or an English audit word."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import html.parser
import io
import json
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

import docx
import openpyxl
import pytest

from bot.app import OrderedHandler
from bot.dialog import DialogEngine
from bot.eligibility import Assessor
from bot.faq import FaqIndex
from bot.flows import Dialogs, load_dialogs
from bot.knowledge import Knowledge
from bot.messages import ConversationKey, Incoming
from bot.staff.accounts import AccountBook, hash_password
from bot.staff.exports import STATUS_LABELS
from bot.staff.local_faq import Draft, LocalFaqStore, entry_of
from bot.staff.notify import StaffCommands, handoff_notice, lead_notice
from bot.staff.store import EVERYONE, LeadQuery, StaffStore
from bot.storage.memory import MemoryRepository
from bot.storage.profiles import ProfileStore
from bot.storage.sqlite import lead_changes
from bot.text import fold
from tests.conftest import ROOT
from tests.staff_routes import ADMIN_ONLY, crawl_routes, routes_for
from tests.test_channels import Env, run, running
from tests.test_dashboard import PASSWORD, sign_in
from tests.test_engine import REGISTRATION
from tests.test_exports import add_lead
from tests.test_transcripts import SCRIPTS

CHANNELS = ("zalo", "telegram", "jsonl", "console")  # "web" is also a Vietnamese word ("trang web")
FLAGS = ("difficult", "extremely_difficult", "new_rural", "highland", "island", "border", "ethnic_minority_area")
OWNER_FLAGS = ("women_owned", "ethnic_minority_owned")
ENGLISH = ("created", "updated", "erased", "follow-up", "assignee", "retention", "True", "False", "None")
# Only these routes may answer with something other than a page, a list or a workbook: the YAML of a commune's
# profile is the knowledge file format itself, edited by staff who know its keys (docs/knowledge.md).
DATA_FILES = {"/staff/profiles/{code}/yaml"}


def vocabulary(kb: Knowledge) -> set[str]:
    """Every internal code a person must never read, from the knowledge and the contracts."""
    codes = set(kb.line_names) | set(kb.sector_names) | {str(k) for k in kb.rules.labels.legal_forms}
    codes |= {d.code for d in kb.documents.documents} | set(STATUS_LABELS) | set(CHANNELS) | set(FLAGS)
    codes |= set(OWNER_FLAGS) | set(kb.rules.priorities)
    return codes


class Checker:
    """Finds codes in visible text."""

    def __init__(self, kb: Knowledge) -> None:
        words = sorted(vocabulary(kb) | set(ENGLISH), key=len, reverse=True)
        self.words = re.compile(r"(?<![\w/.-])(" + "|".join(re.escape(w) for w in words) + r")(?![\w/-])")
        self.snake = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
        self.iso = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
        self.phone = re.compile(r"(?<![\d.,])(?:\+84|0)\d{9,10}(?![\d.,])")
        self.raw = re.compile(r"(?<![\d.,])\d{7,}(?![\d.,])")
        self.url = re.compile(r"https?://\S+|\b[\w.-]+\.(?:vn|me|com|org)\S*")

    def __call__(self, text: str) -> list[str]:
        text = self.url.sub(" ", text)
        found = self.words.findall(text) + self.snake.findall(text) + self.iso.findall(text)
        return found + self.raw.findall(self.phone.sub(" ", text))


class Visible(html.parser.HTMLParser):
    """The text a person sees on a page: text outside script/style, and the title/aria-label/alt/placeholder."""

    SHOWN = ("title", "aria-label", "alt", "placeholder")

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.hidden += 1
        self.parts += [v or "" for k, v in attrs if k in self.SHOWN]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible(page: str) -> str:
    parser = Visible()
    parser.feed(page)
    return "\n".join(parser.parts)


# --- what the officer's day leaves in the database ------------------------------------------------------


def busy_day(env: Env) -> None:
    """Leads from real conversations and rich profiles, follow-ups, audit rows, handoffs, questions, a profile."""
    app, repo = env.app, env.app.repo
    engine = app.engine
    for user, lines in (("p1", REGISTRATION), ("p2", [*REGISTRATION[:-3], "Xuong moc Lan", "bo qua", "xac nhan"])):
        for n, text in enumerate(lines):
            engine.handle(Incoming(ConversationKey("web", user), text=text, message_id=f"{user}-{n}"))
    (first,) = repo.leads_of(ConversationKey("web", "p1"))
    changed = dataclasses.replace(
        first,
        facility_name="Cơ sở nước mắm Lan mới",
        profile={**first.profile, "legal_form": "cooperative", "workers": 12, "revenue_vnd": 2_500_000_000},
        lines_wanted=["study_tour", "advanced_machinery"],
        note="gọi buổi sáng",
    )
    with repo._tx() as cur:  # what the bot audits when the same chat registers again, changes and all
        repo._audit(cur, first.ref, "bot", "updated by a new registration", lead_changes(first, changed))
    for user, text, tap in (("q1", "con meo nha toi ten gi", None), ("h1", None, "cmd:staff")):
        engine.handle(
            Incoming(ConversationKey("telegram", user), text="xa vinh thuy quang tri", message_id=f"{user}-a")
        )
        engine.handle(Incoming(ConversationKey("telegram", user), text=text, button=tap, message_id=f"{user}-b"))
    for n, asked in enumerate(("xe khách đi Lạng Sơn mấy tiếng", "giá điện sản xuất ban đêm bao nhiêu")):
        repo.record_miss(fold(asked), asked, ConversationKey("telegram", f"q{n}"), 19405)  # what the FAQ missed
    rich = add_lead(repo, 7, name="Trần Văn Hùng")
    profile = {
        "legal_form": "enterprise",
        "activity": "sản xuất gạch không nung",
        "sector": "building_materials",
        "workers": 45,
        "revenue_vnd": 50_000_000_000,
        "capital_vnd": 12_000_000_000,
        "craft_village": True,
        "area_flags": ["difficult", "new_rural"],
        "owner_flags": ["women_owned"],
        "needs": ["advanced_machinery", "cleaner_production", "làm nhà xưởng"],
    }
    repo.db.execute("UPDATE leads SET profile = ?, channel = 'jsonl' WHERE ref = ?", [json.dumps(profile), rich.ref])
    actions = {a for (a,) in repo.db.execute("SELECT action FROM lead_audit").fetchall()}
    assert {"created", "updated by a new registration"} <= actions, actions  # the bot's own audit rows are there
    assert repo.db.execute("SELECT count(*) FROM handoffs").fetchone()[0] >= 1
    store = StaffStore(repo)
    for ref in [r for (r,) in repo.db.execute("SELECT ref FROM leads").fetchall()]:
        store.update(EVERYONE, ref, "contacted", "Chị Mai", dt.date.today().isoformat(), "Hẹn nộp hồ sơ")
        store.update(EVERYONE, ref, "dossier_submitted", "Anh Tâm", "2026-12-24", "Đã nhận hồ sơ")
    store.add("lan", PASSWORD, [19405], False)
    store.add("tinh", PASSWORD, [], True)
    lan = store.account("lan")
    assert lan is not None
    book = AccountBook(repo, engine.assessor.gazetteer)  # account changes, shown in the admin's history
    tinh = store.account("tinh")
    book.set_access(tinh, lan.id, "Nguyễn Thị Lan", False, (19405, 13531))
    book.create("staff:tinh", "hoa.vt", "Trần Thị Hoa", False, (19405,), hash_password(PASSWORD), True)
    hoa = book.by_login("hoa.vt")
    assert hoa is not None
    book.set_active(tinh, hoa.id, False)
    book.reset_password(tinh, hoa.id, hash_password(PASSWORD))
    (asked,) = repo.db.execute("SELECT key, example, commune_code FROM questions LIMIT 1").fetchall()
    draft = Draft(asked[1], asked[1], "Dạ, xe khách đi Lạng Sơn khoảng 6 tiếng.")
    LocalFaqStore(repo).add(lan, entry_of(draft, asked[2] or 19405, lan.name), asked[0])
    bundled = next(x for x in engine.kb.localities if x.ward_code == 19405)
    ProfileStore(repo).save(bundled, "lan", {"Giờ làm việc": ["(trống)", "7:30–17:00"]})


# --- the dashboard: every GET route ---------------------------------------------------------------------


def docx_text(body: bytes) -> str:
    """Everything a person reads in a Word file: paragraphs, table cells, headers and footers."""
    doc = docx.Document(io.BytesIO(body))
    parts = [p.text for p in doc.paragraphs]
    parts += [cell.text for table in doc.tables for row in table.rows for cell in row.cells]
    for section in doc.sections:
        parts += [p.text for p in section.header.paragraphs] + [p.text for p in section.footer.paragraphs]
    return "\n".join(parts)


def export_problems(check: Checker, url: str, body: bytes) -> list[str]:
    """Codes in a download: CSV cells, XLSX strings and numbers without a money or date format, a Word form's text."""
    if body.startswith(b"PK") and "word/document.xml" in zipfile.ZipFile(io.BytesIO(body)).namelist():
        return [f"{url}: {f}" for f in check(docx_text(body))]  # a filled registration form (Mẫu 01a, 01b)
    if body.startswith(b"PK"):
        book = openpyxl.load_workbook(io.BytesIO(body))
        found = []
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    if isinstance(cell.value, str):
                        found += check(cell.value)
                    elif isinstance(cell.value, int) and cell.value >= 1_000_000 and "#,##0" not in cell.number_format:
                        found.append(f"{cell.value} (no money format)")
                    elif isinstance(cell.value, dt.datetime) and not cell.number_format.startswith("dd/mm/yyyy"):
                        found.append(f"{cell.value} ({cell.number_format})")
            found += check(sheet.title)
        return [f"{url}: {f}" for f in found]
    cells = [c for row in csv.reader(io.StringIO(body.decode("utf-8-sig"))) for c in row]
    return [f"{url}: {f}" for c in cells for f in check(c)]


async def crawl(env: Env, check: Checker, who: str) -> tuple[list[str], set[str]]:
    """Sign in and follow every link under /staff/ (up to six of each route): the codes seen, and the routes reached."""
    problems, reached = [], set()
    async for got in crawl_routes(env, who):
        reached.add(got.route)
        if got.route in DATA_FILES:
            continue
        if got.page:
            page = got.body.decode("utf-8")
            problems += [f"{got.url}: {f}" for f in check(visible(page))]
            # The browser tab shows the title: a short name, never markup (a merge once pasted a table into it).
            title = re.search(r"<title>(.*?)</title>", page, re.S)
            if title is None or "<" in title.group(1) or len(title.group(1)) > 80:
                problems.append(f"{got.url}: page title {title.group(1)[:60] if title else None!r}")
        else:
            problems += export_problems(check, got.url, got.body)
    return problems, reached


@run
async def test_no_page_or_export_of_the_dashboard_shows_a_code(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        busy_day(env)
        assert env.server is not None
        check = Checker(env.app.engine.kb)
        problems: list[str] = []
        for who in ("lan", "tinh"):
            env.http.cookie_jar.clear()
            found, reached = await crawl(env, check, who)
            problems += found
            missed = routes_for(env.server, who) - reached
            assert not missed, f"{who}: no link reaches these GET routes; give the crawl a way in: {missed}"
        assert not problems, "\n".join(sorted(set(problems)))
        env.http.cookie_jar.clear()
        await sign_in(env, "lan")
        for route in ADMIN_ONLY:
            async with env.http.get(env.url + route.replace("{id}", "1"), allow_redirects=False) as resp:
                assert resp.status == 403, route  # what the officer's crawl may skip, she may not open


# --- chat replies and Telegram notices ------------------------------------------------------------------

MY_CONVERSATIONS = [
    [*REGISTRATION, "du lieu cua toi"],
    ["kiem tra", "cong ty", "san xuat gach khong nung", "doanh thu 50 ty", "200 lao dong", "xa vinh thuy quang tri"],
    ["kiem tra", "htx", "det tho cam", "xa binh giang ninh binh", "may moc", "menu", "ho so can gi"],
    ["kiem tra", "chua dang ky kinh doanh", "nuoi heo", "xa vinh thuy"],
    ["ho tro gi", "tham quan", "gap can bo", "bao lau thi co ket qua", "du lieu cua toi", "xoa du lieu cua toi", "co"],
]


def chat_corpus(engine: DialogEngine) -> Iterable[tuple[str, str]]:
    """(where, text) of every reply and button label of the transcripts and of these conversations."""
    scripts = [[(t.get("say"), t.get("tap")) for t in s["turns"]] for _, s in SCRIPTS]
    scripts += [[(text, None) for text in turns] for turns in MY_CONVERSATIONS]
    start = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
    for n, turns in enumerate(scripts):
        key = ConversationKey("test", f"c{n}")
        for m, (said, tapped) in enumerate(turns):
            for reply in engine.handle(Incoming(key, text=said, button=tapped), now=start + dt.timedelta(minutes=m)):
                yield f"chat {n} turn {m} ({said or tapped!r})", reply.text
                for button in reply.buttons:
                    yield f"chat {n} turn {m} button", button.label


@pytest.fixture(scope="module")
def flows() -> Dialogs:
    """The bundled dialogs."""
    return load_dialogs(ROOT / "dialogs")


def test_no_chat_reply_shows_a_code(kb: Knowledge, flows: Dialogs, assessor: Assessor, faq: FaqIndex) -> None:
    check = Checker(kb)
    engine = DialogEngine(kb, flows, MemoryRepository(), assessor, faq)
    texts = list(chat_corpus(engine))
    assert len(texts) > 300  # the corpus is really played
    problems = [f"{where}: {found} in {text[:200]!r}" for where, text in texts for found in check(text)]
    assert not problems, "\n".join(problems)


@run
async def test_no_telegram_notice_shows_a_code(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        busy_day(env)
        check = Checker(env.app.engine.kb)
        leads = list(StaffStore(env.app.repo).iter_leads(EVERYONE, LeadQuery()))
        texts = [lead_notice(lead, env.app.engine.kb.line_names) for lead in leads]
        texts.append(handoff_notice({"commune": "Xã Vĩnh Thủy", "province": "Quảng Trị"}))
        texts.append(await StaffCommands(env.app, OrderedHandler(env.app.engine), {1})._leads(EVERYONE))
        problems = [f"{found} in {text!r}" for text in texts for found in check(text)]
        assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "shown",
    [
        "Loại hình: household_business",
        "Kênh: jsonl",
        "Hẹn gọi 2026-12-01",
        "Doanh thu 50000000000",
        "Việc: follow-up updated",
        "status: new → contacted",
    ],
)
def test_the_checker_sees_a_code_injected_into_visible_text(kb: Knowledge, shown: str) -> None:
    page = f'<p title="x">Đăng ký</p><select><option value="contacted">Đã liên hệ</option></select><p>{shown}</p>'
    assert Checker(kb)(visible(page)), shown
    assert not Checker(kb)(visible(page.replace(shown, "Doanh thu 50.000.000.000 đồng, gọi 0912345678"))), shown


def test_the_checker_reads_option_labels_and_titles_but_not_values_or_links(kb: Knowledge) -> None:
    check = Checker(kb)
    assert check(visible('<select><option value="x">advanced_machinery</option></select>'))
    assert check(visible('<abbr title="contacted">Đã liên hệ</abbr>'))
    assert not check(visible('<a href="/staff/?status=contacted">Đã liên hệ</a><input value="2026-12-01">'))
