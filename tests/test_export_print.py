"""The lists an officer prints and files: follow-up in every export, the commune code as text, a print setup,
and a download named after the commune and the day."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import openpyxl

from bot.knowledge import vn_today
from bot.staff.exports import download_name
from bot.staff.store import EVERYONE, StaffStore
from bot.storage.sqlite import SqliteRepository
from tests.test_channels import run, running
from tests.test_dashboard import seed, sign_in
from tests.test_exports import HOSTILE, add_lead, export

FOLLOW_UP = ("contacted", "Chị Mai Phòng Kinh tế", "2026-12-24", "Hẹn mang sổ hộ kinh doanh")


def followed_db(tmp_path: Path) -> tuple[Path, str]:
    """A lead of a commune whose code starts with a zero, followed up by an officer; and a plain one."""
    path = tmp_path / "k.db"
    repo = SqliteRepository(path)
    ref = add_lead(repo, 1, commune=(4567, "Xã Thử Nghiệm", "Hà Nội")).ref
    add_lead(repo, 2)
    StaffStore(repo).update(EVERYONE, ref, *FOLLOW_UP)
    repo.close()
    return path, ref


def test_the_excel_list_has_the_follow_up_and_the_commune_code_as_text(tmp_path: Path) -> None:
    db, ref = followed_db(tmp_path)
    out = tmp_path / "leads.xlsx"
    assert export(db, "--format", "xlsx", "--out", str(out))[0] == 0
    sheet = openpyxl.load_workbook(out).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    rows = {r[0].value: dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2)}
    mine = rows[ref]
    assert mine["Trạng thái"].value == "Đã liên hệ"
    assert mine["Người phụ trách"].value == "Chị Mai Phòng Kinh tế"
    assert mine["Ngày hẹn gọi lại"].value == dt.datetime(2026, 12, 24)
    assert mine["Ngày hẹn gọi lại"].number_format == "dd/mm/yyyy"
    assert mine["Ghi chú của cán bộ"].value == "Hẹn mang sổ hộ kinh doanh"
    # The commune's name beside its code, and the code as text with its leading zero, as the official lists write it.
    assert header.index("Mã xã") == header.index("Xã/phường") + 1
    assert mine["Xã/phường"].value == "Xã Thử Nghiệm"
    assert mine["Mã xã"].value == "04567" and mine["Mã xã"].data_type == "s" and mine["Mã xã"].number_format == "@"
    plain = next(r for key, r in rows.items() if key != ref)
    assert plain["Người phụ trách"].value is None and plain["Ngày hẹn gọi lại"].value is None


def test_the_csv_list_has_the_follow_up_in_words_and_days(tmp_path: Path) -> None:
    db, ref = followed_db(tmp_path)
    out = tmp_path / "leads.csv"
    assert export(db, "--format", "csv", "--out", str(out))[0] == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8-sig"))))
    mine = next(r for r in rows if r["Mã đăng ký"] == ref)
    assert mine["Người phụ trách"] == "Chị Mai Phòng Kinh tế" and mine["Ngày hẹn gọi lại"] == "24/12/2026"
    assert mine["Ghi chú của cán bộ"] == "Hẹn mang sổ hộ kinh doanh" and mine["Trạng thái"] == "Đã liên hệ"
    assert mine["Mã xã"] == "04567"


def test_a_staff_note_typed_as_a_formula_stays_text(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    repo = SqliteRepository(path)
    refs = [add_lead(repo, i).ref for i in range(len(HOSTILE))]
    for ref, bad in zip(refs, HOSTILE, strict=True):
        StaffStore(repo).update(EVERYONE, ref, "contacted", bad, "", bad)
    repo.close()
    assert export(path, "--format", "xlsx", "--out", str(tmp_path / "l.xlsx"))[0] == 0
    sheet = openpyxl.load_workbook(tmp_path / "l.xlsx").active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        for name in ("Người phụ trách", "Ghi chú của cán bộ"):
            cell = row[header.index(name)]
            assert cell.data_type == "s" and not str(cell.value).startswith(("=", "+", "-", "@", "\t", "\r"))
    assert export(path, "--format", "csv", "--out", str(tmp_path / "l.csv"))[0] == 0
    for row in csv.DictReader(io.StringIO((tmp_path / "l.csv").read_text("utf-8-sig"))):
        assert not row["Ghi chú của cán bộ"].startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_every_workbook_prints_landscape_one_page_wide_with_the_header_on_each_page(tmp_path: Path) -> None:
    db, _ = followed_db(tmp_path)
    for fmt in ("xlsx", "summary"):
        out = tmp_path / f"{fmt}.xlsx"
        assert export(db, "--format", fmt, "--out", str(out))[0] == 0
        book = openpyxl.load_workbook(out)
        for sheet in book.worksheets:
            setup = sheet.page_setup
            assert setup.orientation == "landscape" and setup.paperSize == 9, sheet.title  # A4
            assert sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title
            # One page wide, as long as it takes. An absent fitToWidth is 1 (ECMA-376 CT_PageSetup's default), which
            # Excel and LibreOffice honour; openpyxl reports it as None, and rust_xlsxwriter leaves the default out.
            assert setup.fitToWidth in (None, 1) and setup.fitToHeight == 0, sheet.title
            assert sheet.print_title_rows == "$1:$1", sheet.title  # the header row on every printed page
            assert sheet.freeze_panes == "A2", sheet.title
        with zipfile.ZipFile(out) as raw:  # what Excel reads: the print titles are a defined name per sheet
            workbook = raw.read("xl/workbook.xml").decode()
        assert len(re.findall(r'name="_xlnm.Print_Titles" localSheetId="\d"', workbook)) == len(book.worksheets)


def test_a_download_is_named_after_the_commune_and_the_day_in_ascii() -> None:
    day = dt.date(2026, 12, 3)
    assert download_name("xlsx", "Xã Bình Giang", day) == "dang-ky-khuyen-cong_xa-binh-giang_03-12-2026.xlsx"
    assert download_name("csv", "Phường Đồng Xoài", day) == "dang-ky-khuyen-cong_phuong-dong-xoai_03-12-2026.csv"
    assert download_name("summary", None, day) == "tong-hop-khuyen-cong_tat-ca-xa_03-12-2026.xlsx"


def test_the_command_names_the_file_when_given_a_folder(tmp_path: Path) -> None:
    db, _ = followed_db(tmp_path)
    folder = tmp_path / "xuat"
    folder.mkdir()
    code, said = export(db, "--format", "xlsx", "--out", str(folder), "--commune", "19405")
    name = f"dang-ky-khuyen-cong_xa-vinh-thuy_{vn_today():%d-%m-%Y}.xlsx"
    assert code == 0 and (folder / name).is_file() and name in said, said
    assert export(db, "--format", "summary", "--out", str(folder))[0] == 0
    assert (folder / f"tong-hop-khuyen-cong_tat-ca-xa_{vn_today():%d-%m-%Y}.xlsx").is_file()


@run
async def test_the_dashboard_download_carries_the_commune_the_day_and_the_follow_up(tmp_path: Path) -> None:
    async with running(tmp_path) as env:
        refs = seed(env)
        StaffStore(env.app.repo).update(EVERYONE, refs["mine"], *FOLLOW_UP)
        await sign_in(env, "lan")  # the officer of xã Vĩnh Thủy
        day = vn_today().strftime("%d-%m-%Y")
        for fmt, name in (
            ("xlsx", f"dang-ky-khuyen-cong_xa-vinh-thuy_{day}.xlsx"),
            ("csv", f"dang-ky-khuyen-cong_xa-vinh-thuy_{day}.csv"),
            ("summary", f"tong-hop-khuyen-cong_xa-vinh-thuy_{day}.xlsx"),
        ):
            async with env.http.get(f"{env.url}/staff/export/{fmt}") as resp:
                assert resp.status == 200, fmt
                assert resp.headers["Content-Disposition"] == f'attachment; filename="{name}"'
                body = await resp.read()
            if fmt == "xlsx":
                sheet = openpyxl.load_workbook(io.BytesIO(body)).active
                assert sheet is not None
                header = [c.value for c in sheet[1]]
                row = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[0] == refs["mine"])
                assert row[header.index("Người phụ trách")] == "Chị Mai Phòng Kinh tế"
                assert row[header.index("Ghi chú của cán bộ")] == "Hẹn mang sổ hộ kinh doanh"
        env.http.cookie_jar.clear()
        await sign_in(env, "tinh")  # the province: every commune, unless one is chosen
        async with env.http.get(f"{env.url}/staff/export/xlsx") as resp:
            assert f'filename="dang-ky-khuyen-cong_tat-ca-xa_{day}.xlsx"' in resp.headers["Content-Disposition"]
        async with env.http.get(f"{env.url}/staff/export/xlsx", params={"commune": "13531"}) as resp:
            assert f"_xa-binh-giang_{day}.xlsx" in resp.headers["Content-Disposition"]
