"""Exports read back as staff would open them: CSV bytes, and XLSX cell by cell with openpyxl."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.knowledge import Knowledge
from bot.messages import ConversationKey
from bot.staff.store import EVERYONE, LeadQuery, StaffStore
from bot.storage import Consent, Conversation, Lead
from bot.storage.factory import open_repository
from bot.storage.sqlite import SqliteRepository
from tests.conftest import KNOWLEDGE, Store

HOSTILE = ['=HYPERLINK("http://evil.example","bấm")', "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR"]


def add_lead(
    repo: SqliteRepository,
    i: int,
    name: str = "Nguyễn Thị Lan",
    commune: tuple[int, str, str] = (19405, "Xã Vĩnh Thủy", "Quảng Trị"),
    note: str = "",
    status: str = "new",
    phone: str | None = None,
) -> Lead:
    key = ConversationKey("test", f"u{i}")
    consent = repo.add_consent(Consent("test", key.user, "registration", "v1", "…", True))
    assessment = {
        "eligible": True,
        "sector": "agro_food_processing",
        "reasons": [{"code": "sector_ok", "citation": "x"}],
        "lines": [
            {"code": "advanced_machinery", "funding": "commune", "cap_vnd": 20_000_000},
            {"code": "advanced_machinery", "funding": "national", "cap_vnd": 300_000_000},
        ],
    }
    lead = Lead(
        "",
        "test",
        key.user,
        name,
        phone or f"+8491{i:07d}",
        f"Cơ sở {i}",
        commune[0],
        commune[1],
        commune[2],
        {"legal_form": "household_business", "activity": "làm nước mắm"},
        assessment,
        ["advanced_machinery"],
        note,
        consent,
    )
    stored = repo.save_turn(Conversation(key), None, lead)
    assert stored is not None
    if status != "new":
        repo.db.execute("UPDATE leads SET status = ? WHERE ref = ?", [status, stored.ref])
    return stored


@pytest.fixture
def db(store: Store) -> Path:
    """A database with ordinary leads, hostile text in every user field, and two communes (SQLite, PostgreSQL)."""
    repo = store.open()
    for i, bad in enumerate(HOSTILE):
        add_lead(repo, i, name=bad, note=bad)
    add_lead(repo, 50, commune=(13531, "Xã Bình Giang", "Ninh Bình"), status="contacted")
    repo.close()
    return Path(store.target)


def export(db: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["export", *args, "--db", str(db), "--knowledge", str(KNOWLEDGE)])
    return result.exit_code, result.stdout + result.stderr


def test_csv_opens_in_excel_with_vietnamese_and_no_formulas(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "leads.csv"
    code, said = export(db, "--format", "csv", "--out", str(out))
    assert code == 0 and "Đã xuất 7" in said
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    text = raw.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("Mã đăng ký,Ngày đăng ký,Trạng thái,Họ tên,Số điện thoại")
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text)))
    for row in rows[1:]:
        assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row), row
    first = next(row for row in rows if row[4] == "0910000000")
    assert first[3] == "'" + HOSTILE[0] and first[15] == "'" + HOSTILE[0]


def test_xlsx_is_styled_typed_and_safe(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "leads.xlsx"
    assert export(db, "--format", "xlsx", "--out", str(out))[0] == 0
    sheet = openpyxl.load_workbook(out).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    assert header[:5] == ["Mã đăng ký", "Ngày đăng ký", "Trạng thái", "Họ tên", "Số điện thoại"]
    assert sheet["A1"].font.bold and sheet["A1"].fill.fgColor.rgb.endswith("DCE6F1")
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == f"A1:V{sheet.max_row}"  # 22 columns
    assert sheet.column_dimensions["F"].width >= 20
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f", (cell.coordinate, cell.value)  # never a formula
            if isinstance(cell.value, str):
                assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r")), cell.value
    row = next(r for r in sheet.iter_rows(min_row=2) if r[4].value == "0910000000")
    first = dict(zip(header, row, strict=True))
    assert isinstance(first["Ngày đăng ký"].value, dt.datetime) and "yy" in first["Ngày đăng ký"].number_format
    assert (
        first["Kinh phí dự kiến (đồng)"].value == 20_000_000
        and first["Kinh phí dự kiến (đồng)"].number_format == "#,##0"
    )
    assert first["Số điện thoại"].value == "0910000000" and first["Số điện thoại"].data_type == "s"
    assert first["Họ tên"].value == "'" + HOSTILE[0]
    assert first["Trạng thái"].value == "Mới" and first["Ngành"].value.startswith("Chế biến")


def test_a_possible_duplicate_is_flagged_in_words_in_every_lead_export(db: Path, tmp_path: Path) -> None:
    repo = open_repository(db)
    first = next(lead for lead in repo.leads_of(ConversationKey("test", "u1")))
    second = add_lead(repo, 60, phone=first.phone).ref  # another chat, the same phone and commune
    repo.close()
    out = tmp_path / "leads.csv"
    assert export(db, "--format", "csv", "--out", str(out))[0] == 0
    rows = {row[0]: row for row in csv.reader(io.StringIO(out.read_text("utf-8-sig")))}
    assert rows["Mã đăng ký"][-1] == "Trùng lặp"
    assert rows[second][-1] == f"Có thể trùng với {first.ref}" and rows[first.ref][-1] == ""
    assert export(db, "--format", "xlsx", "--out", str(tmp_path / "leads.xlsx"))[0] == 0
    sheet = openpyxl.load_workbook(tmp_path / "leads.xlsx").active
    assert sheet is not None
    flags = {row[0].value: row[-1].value for row in sheet.iter_rows(min_row=2)}
    assert flags[second] == f"Có thể trùng với {first.ref}" and not flags[first.ref]


def test_summary_rolls_up_by_line_commune_sector_and_status(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "summary.xlsx"
    assert export(db, "--format", "summary", "--out", str(out))[0] == 0
    book = openpyxl.load_workbook(out)
    assert book.sheetnames[:3] == ["Theo nội dung hỗ trợ", "Theo ngành", "Theo trạng thái"]
    assert book.sheetnames[3:] == ["Mẫu 02a - Nhu cầu kinh phí", "Mẫu 02b - Thông tin cơ sở"]  # tests/test_forms.py
    lines = [[c.value for c in row] for row in book["Theo nội dung hỗ trợ"].iter_rows(min_row=2)]
    # Beside the registered amounts, the commune plan's slots: planned, planned amount, approved, remaining.
    assert [
        "Quảng Trị",
        "Xã Vĩnh Thủy",
        "Ứng dụng máy móc, thiết bị tiên tiến",
        6,
        120_000_000,
        3,
        60_000_000,
        0,
        3,
    ] in lines
    assert ["Ninh Bình", "Xã Bình Giang", "Ứng dụng máy móc, thiết bị tiên tiến", 1, 20_000_000] in [
        r[:5] for r in lines
    ]
    assert lines[-1][0] == "Tổng cộng" and lines[-1][3] == 7 and lines[-1][4] == 140_000_000
    statuses = {r[0].value: r[1].value for r in book["Theo trạng thái"].iter_rows(min_row=2)}
    assert statuses["Mới"] == 6 and statuses["Đã liên hệ"] == 1 and statuses["Tổng cộng"] == 7


def test_filters_by_commune_status_and_date(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "f.csv"
    assert "Đã xuất 1 " in export(db, "--format", "csv", "--out", str(out), "--commune", "13531")[1]
    assert "Đã xuất 6 " in export(db, "--format", "csv", "--out", str(out), "--commune", "Vĩnh Thủy, Quảng Trị")[1]
    assert "Đã xuất 1 " in export(db, "--format", "csv", "--out", str(out), "--status", "contacted")[1]
    assert "Đã xuất 0 " in export(db, "--format", "csv", "--out", str(out), "--since", "2099-01-01")[1]
    # dd/mm/yyyy, as officers write a day, as well as ISO
    assert "Đã xuất 0 " in export(db, "--format", "csv", "--out", str(out), "--since", "01/01/2099")[1]
    assert "Đã xuất 7 " in export(db, "--format", "csv", "--out", str(out), "--since", "01/01/2020")[1]
    code, said = export(db, "--format", "csv", "--out", str(out), "--commune", "Bình Giang")
    assert code == 2 and "13531" in said and "10966" in said  # ambiguous: the codes are offered


def test_large_exports_show_progress(tmp_path: Path, kb: Knowledge) -> None:
    path = tmp_path / "big.db"
    repo = SqliteRepository(path)
    for i in range(5000):
        add_lead(repo, i)
    repo.close()
    code, said = export(path, "--format", "xlsx", "--out", str(tmp_path / "big.xlsx"))
    assert code == 0 and "Đang xuất" in said and "Đã xuất 5000" in said


def test_an_empty_excel_list_keeps_its_header_and_odd_characters_are_dropped(db: Path, tmp_path: Path) -> None:
    from bot.staff.exports import COLUMNS

    out = tmp_path / "none.xlsx"
    assert "Đã xuất 0 " in export(db, "--format", "xlsx", "--out", str(out), "--since", "2099-01-01")[1]
    sheet = openpyxl.load_workbook(out).active
    assert sheet is not None
    assert [c.value for c in sheet[1]] == [c.header for c in COLUMNS] and sheet.freeze_panes == "A2"
    assert all(c.value is None for row in sheet.iter_rows(min_row=2) for c in row)  # no lead, no made-up row
    repo = open_repository(db)
    ref = add_lead(repo, 70, name="  Bà Lan\x01\x1f ", note="Ghi chú\x0b dài").ref
    repo.close()
    assert export(db, "--format", "xlsx", "--out", str(out))[0] == 0
    sheet = openpyxl.load_workbook(out).active
    assert sheet is not None
    mine = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == ref)
    assert mine[3].value == "  Bà Lan " and mine[15].value == "Ghi chú dài"  # spaces kept, control characters gone


def test_an_export_reads_the_leads_a_batch_at_a_time(store: Store) -> None:
    """Was, on PostgreSQL: every lead of an export read into memory at once (100,000 of them) before one was written."""
    repo = store.open()
    refs = [add_lead(repo, i).ref for i in range(5)]
    assert [len(rows) for _, rows in repo.batches("SELECT ref FROM leads ORDER BY ref", [], 2)] == [2, 2, 1]
    leads = StaffStore(repo).iter_leads(EVERYONE, LeadQuery(), batch=2)
    first = next(leads)
    if store.kind == "postgres":  # the server holds the rest: it has sent one batch of two so far
        import psycopg

        with psycopg.connect(store.target, autocommit=True) as other:
            asked = [q for (q,) in other.execute("SELECT query FROM pg_stat_activity WHERE state LIKE 'idle in%'")]
        assert any(q.startswith("FETCH FORWARD 2 FROM") for q in asked), asked
    assert sorted([first.ref, *(lead.ref for lead in leads)]) == sorted(refs)  # each once


def test_an_export_to_a_missing_folder_database_or_commune_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    """A slip in a path or a code is said in one Vietnamese line (exit 2), not a traceback or an empty file."""
    db = tmp_path / "k.db"
    SqliteRepository(db).close()
    for args, said in (
        (["--out", str(tmp_path / "no" / "such" / "x.xlsx"), "--db", str(db)], "out: không có thư mục"),
        (["--out", str(tmp_path / "x.xlsx"), "--db", str(tmp_path / "mistyped.db")], "db: không thấy cơ sở dữ liệu"),
        (["--out", str(tmp_path / "x.xlsx"), "--db", str(db), "--commune", "99999"], "commune: không có xã/phường mã"),
    ):
        command = ["export", "--format", "xlsx", *args, "--knowledge", str(KNOWLEDGE)]
        result = CliRunner().invoke(main, command)
        said_back = result.stdout + result.stderr
        assert result.exit_code == 2 and said in said_back and "Traceback" not in said_back, (args, said_back)
        assert len(said_back.strip().splitlines()) == 1, said_back
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.db"]  # nothing written, no new database
